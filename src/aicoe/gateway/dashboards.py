"""Usage and cost aggregates for the gateway pages: totals, usage by use case, business unit, model and day, and
spend against budgets, all limited to the reader's business units.

Counts, tokens and cost are SQL ``GROUP BY`` sums. Latency percentiles cannot be summed, and SQLite has no
percentile function, so p50/p95 are computed here by nearest rank over a bounded sample: the most recent
``LATENCY_SAMPLE`` requests of each group, picked in SQL with ``row_number()`` (one query, at most
``LATENCY_SAMPLE`` rows per group however long the history). An intervention is a request whose guardrail outcome
was "blocked" or "anonymised"; log-only findings are not interventions. Usage records of guardrails' embedding calls
(endpoint ``guardrail_embeddings``) add their tokens and cost to the request's use case, unit and model but are not
requests: they count in no request, error or latency figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor, in_scope, scope_of
from aicoe.core.time import utcnow
from aicoe.gateway import budgets
from aicoe.models.gateway import GUARDRAIL_EMBEDDINGS, GatewayBudget, UsageRecord, VirtualKey
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase

READ = "gateway:read"
LATENCY_SAMPLE = 5000
PERIODS: dict[str, tuple[str, int]] = {"7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30),
                                       "90d": ("Last 90 days", 90)}
DEFAULT_PERIOD = "30d"
DIMENSIONS: dict[str, str] = {"use_case": "Use case", "business_unit": "Business unit", "model": "Model",
                              "day": "Day"}
INTERVENED = ("blocked", "anonymised")
NO_USE_CASE = "No use case"


@dataclass(frozen=True)
class Window:
    """Whole UTC days, ``start`` included and ``end`` excluded."""

    key: str
    label: str
    start: datetime
    end: datetime

    @property
    def days(self) -> list[date]:
        return [self.start.date() + timedelta(days=i) for i in range((self.end - self.start).days)]


def window(key: str | None, now: datetime | None = None) -> Window:
    """The period ``key`` (7d, 30d, 90d; unknown keys read as the default) ending with today."""
    key = key if key in PERIODS else DEFAULT_PERIOD
    label, days = PERIODS[key]
    end = datetime.combine((now or utcnow()).astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)
    return Window(key, label, end - timedelta(days=days), end)


@dataclass
class Usage:
    """The figures of one group of requests (or of all of them)."""

    key: Any
    label: str
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_micros: int = 0
    blocked: int = 0
    intervened: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    @property
    def intervention_rate(self) -> float | None:
        return self.intervened / self.requests if self.requests else None


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ascending values (p in 0..100); None for no values."""
    if not sorted_values:
        return None
    rank = max(math.ceil(p / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def _day(session: Session) -> ColumnElement[Any]:
    """The UTC calendar day of a request (PostgreSQL's date() would follow the session's time zone)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", UsageRecord.ts))
    return func.date(UsageRecord.ts)


def _group_column(session: Session, dimension: str) -> ColumnElement[Any]:
    columns: dict[str, ColumnElement[Any]] = {"use_case": UsageRecord.use_case_id,
                                              "business_unit": UsageRecord.business_unit_id,
                                              "model": UsageRecord.alias, "day": _day(session)}
    return columns[dimension]


def _where(principal: Actor, win: Window) -> ColumnElement[bool]:
    return and_(UsageRecord.ts >= win.start, UsageRecord.ts < win.end,
                in_scope(UsageRecord.business_unit_id, scope_of(principal, READ)))


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _aggregate(session: Session, where: ColumnElement[bool], group: ColumnElement[Any] | None) -> list[Any]:
    request = UsageRecord.endpoint != GUARDRAIL_EMBEDDINGS
    sums = [_count_if(request), func.coalesce(func.sum(UsageRecord.tokens_in), 0),
            func.coalesce(func.sum(UsageRecord.tokens_out), 0), func.coalesce(func.sum(UsageRecord.cost_micros), 0),
            _count_if(UsageRecord.guardrail == "blocked"), _count_if(UsageRecord.guardrail.in_(INTERVENED)),
            _count_if(request & (UsageRecord.outcome == "error"))]
    if group is None:
        return [(None, *session.execute(select(*sums).where(where)).one())]
    return list(session.execute(select(group, *sums).where(where).group_by(group)))


def _latencies(session: Session, where: ColumnElement[bool],
               group: ColumnElement[Any] | None) -> dict[Any, list[float]]:
    """The latencies of each group's most recent ``LATENCY_SAMPLE`` requests, ascending."""
    key = group if group is not None else literal(0)
    rank = func.row_number().over(partition_by=group, order_by=UsageRecord.id.desc())
    inner = (select(key.label("g"), UsageRecord.latency_ms.label("ms"), rank.label("rank"))
             .where(where, UsageRecord.endpoint != GUARDRAIL_EMBEDDINGS).subquery())
    out: dict[Any, list[float]] = {}
    for g, ms in session.execute(select(inner.c.g, inner.c.ms).where(inner.c.rank <= LATENCY_SAMPLE)):
        out.setdefault(g if group is not None else None, []).append(float(ms))
    for values in out.values():
        values.sort()
    return out


def _usage(session: Session, where: ColumnElement[bool], group: ColumnElement[Any] | None) -> dict[Any, Usage]:
    found: dict[Any, Usage] = {}
    for g, requests, t_in, t_out, cost, blocked, intervened, errors in _aggregate(session, where, group):
        found[g] = Usage(key=g, label="", requests=int(requests), tokens_in=int(t_in), tokens_out=int(t_out),
                         cost_micros=int(cost), blocked=int(blocked), intervened=int(intervened), errors=int(errors))
    for g, values in _latencies(session, where, group).items():
        if g in found:
            found[g].p50_ms, found[g].p95_ms = percentile(values, 50), percentile(values, 95)
    return found


def totals(session: Session, principal: Actor, win: Window) -> Usage:
    """All requests in the window, in the reader's units."""
    return _usage(session, _where(principal, win), None).get(None) or Usage(key=None, label="All")


def _labels(session: Session, dimension: str, keys: list[Any]) -> dict[Any, str]:
    ids = [k for k in keys if k is not None]
    if dimension == "use_case":
        rows = session.execute(select(UseCase.id, UseCase.key, UseCase.title).where(UseCase.id.in_(ids)))
        return {i: f"{k} {t}" for i, k, t in rows} | {None: NO_USE_CASE}
    if dimension == "business_unit":
        return dict(session.execute(select(BusinessUnit.id, BusinessUnit.name).where(BusinessUnit.id.in_(ids))).all())
    return {k: str(k) for k in keys}


def by(session: Session, principal: Actor, win: Window, dimension: str) -> list[Usage]:
    """Usage grouped by ``dimension`` (see ``DIMENSIONS``): by day in date order with every day of the window
    (quiet days as zeros), otherwise by cost, highest first."""
    rows = _usage(session, _where(principal, win), _group_column(session, dimension))
    if dimension == "day":
        by_day = {date.fromisoformat(str(k)[:10]): u for k, u in rows.items()}
        out = [by_day.get(d) or Usage(key=d, label="") for d in win.days]
        for day, usage in zip(win.days, out, strict=True):
            usage.key, usage.label = day, day.isoformat()
        return out
    labels = _labels(session, dimension, list(rows))
    for key, usage in rows.items():
        usage.label = labels.get(key, str(key))
    return sorted(rows.values(), key=lambda u: (-u.cost_micros, -u.requests, u.label))


# --- spend against budgets -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BudgetStatus:
    budget: GatewayBudget
    scope_label: str
    business_unit_id: int | None
    period_key: str
    spent_micros: int
    reserved_micros: int

    @property
    def share(self) -> float | None:
        return self.spent_micros / self.budget.limit_micros if self.budget.limit_micros > 0 else None


def _owners(session: Session, budgets: list[GatewayBudget]) -> dict[tuple[str, int], tuple[str, int | None]]:
    """(scope, id) -> (label, business unit) for every budget's owner."""
    ids: dict[str, set[int]] = {}
    for b in budgets:
        ids.setdefault(b.scope, set()).add(b.scope_id)
    out: dict[tuple[str, int], tuple[str, int | None]] = {}
    for i, name in session.execute(select(BusinessUnit.id, BusinessUnit.name).where(
            BusinessUnit.id.in_(ids.get("business_unit", set())))):
        out[("business_unit", i)] = (name, i)
    for i, key, title, unit in session.execute(select(UseCase.id, UseCase.key, UseCase.title,
                                                      UseCase.business_unit_id).where(
            UseCase.id.in_(ids.get("use_case", set())))):
        out[("use_case", i)] = (f"{key} {title}", unit)
    for i, name, prefix, unit in session.execute(select(VirtualKey.id, VirtualKey.name, VirtualKey.prefix,
                                                        VirtualKey.business_unit_id).where(
            VirtualKey.id.in_(ids.get("key", set())))):
        out[("key", i)] = (f"{name} ({prefix}…)", unit)
    return out


def budget_status(session: Session, principal: Actor, now: datetime | None = None) -> list[BudgetStatus]:
    """Each budget the reader may see with its current period's settled spend and open reservations (what the
    limit store enforces), fullest first."""
    all_budgets = list(session.scalars(select(GatewayBudget).order_by(GatewayBudget.id)))
    owners = _owners(session, all_budgets)
    spend = budgets.spend_of(session, all_budgets, now)
    scope = scope_of(principal, READ)
    out = []
    for budget in all_budgets:
        label, unit = owners.get((budget.scope, budget.scope_id), (f"{budget.scope} {budget.scope_id}", None))
        if scope is not None and unit not in scope:
            continue
        period_key, spent, reserved = spend[budget.id]
        out.append(BudgetStatus(budget, label, unit, period_key, spent, reserved))
    return sorted(out, key=lambda s: (-(s.share or 0), s.scope_label))
