"""Inference cost into value: each use case's gateway spend per calendar month becomes one value entry of kind
``cost_inference``, so the use case's realised cost includes what its models cost to call.

The gateway's entry of a month is recognised by its note (``NOTE_PREFIX``) and having no author; a run replaces
its amount and note with the month's current sum (through the value service, so the use case's realised totals
and the audit trail follow), creates it when missing and deletes it when the month has no cost any more. Entries
people made by hand are never touched. Running twice changes nothing the second time. Amounts are the usage
records' integer micro-units rounded to the cent, like every value entry. The cost includes what the use case's
guardrails spent on embedding calls (endpoint ``guardrail_embeddings``); the note counts those calls in its tokens,
not in its requests.

It runs as the background job ``gateway.value_sync`` (payload ``{"months": N}``: the current month and the N-1
before it; default ``DEFAULT_MONTHS``, since a month's records stop changing once it is over).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from aicoe.core.time import utcnow
from aicoe.jobs.registry import JobContext, PermanentJobError, job_handler
from aicoe.models.gateway import GUARDRAIL_EMBEDDINGS, UsageRecord
from aicoe.models.portfolio import UseCase, ValueEntry
from aicoe.portfolio import value

JOB_KIND = "gateway.value_sync"
KIND = "cost_inference"
NOTE_PREFIX = "Inference cost metered by the GenAI gateway"
DEFAULT_MONTHS = 2
MAX_MONTHS = 120
BAD_MONTHS = f"months must be a whole number from 1 to {MAX_MONTHS}"


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def note_for(requests: int, tokens: int) -> str:
    return f"{NOTE_PREFIX}: {requests:,} requests, {tokens:,} tokens."


def _at(month: date) -> datetime:
    return datetime.combine(month, time(), tzinfo=UTC)


def _month_costs(session: Session, month: date) -> dict[int, tuple[int, int, int]]:
    """use case id -> (cost micros, requests, tokens) of the month's usage records."""
    rows = session.execute(
        select(UsageRecord.use_case_id, func.coalesce(func.sum(UsageRecord.cost_micros), 0),
               func.coalesce(func.sum(case((UsageRecord.endpoint != GUARDRAIL_EMBEDDINGS, 1), else_=0)), 0),
               func.coalesce(func.sum(UsageRecord.tokens_in + UsageRecord.tokens_out), 0))
        .where(UsageRecord.use_case_id.is_not(None), UsageRecord.ts >= _at(month),
               UsageRecord.ts < _at(add_months(month, 1)))
        .group_by(UsageRecord.use_case_id))
    return {uc: (int(cost), int(n), int(tokens)) for uc, cost, n, tokens in rows}


def _gateway_entries(session: Session, month: date) -> dict[int, list[ValueEntry]]:
    entries = session.scalars(select(ValueEntry).where(
        ValueEntry.period == month, ValueEntry.kind == KIND, ValueEntry.created_by_id.is_(None),
        ValueEntry.note.startswith(NOTE_PREFIX)).order_by(ValueEntry.id))
    out: dict[int, list[ValueEntry]] = {}
    for entry in entries:
        out.setdefault(entry.use_case_id, []).append(entry)
    return out


def sync_month(session: Session, month: date, report: SyncReport) -> None:
    """Make the month's gateway entries equal to its usage, use case by use case."""
    costs = _month_costs(session, month)
    entries = _gateway_entries(session, month)
    keys = dict(session.execute(select(UseCase.id, UseCase.key).where(UseCase.id.in_(set(costs) | set(entries)))).all())
    for use_case_id in sorted(set(costs) | set(entries)):
        key = keys.get(use_case_id)
        if key is None:
            continue
        cost, requests, tokens = costs.get(use_case_id, (0, 0, 0))
        amount = round(cost / 1_000_000, 2)
        existing = entries.get(use_case_id, [])
        for extra in existing[1:]:  # a duplicate left by an interrupted run
            value.delete_entry(session, None, key, extra.id)
            report.deleted += 1
        current = existing[0] if existing else None
        if amount <= 0:
            if current is not None:
                value.delete_entry(session, None, key, current.id)
                report.deleted += 1
            continue
        note = note_for(requests, tokens)
        if current is None:
            value.add_entry(session, None, key, value.ValueEntryIn(period=month, kind=KIND, amount=amount, note=note))
            report.created += 1
        elif (current.amount, current.note) != (amount, note):
            value.update_entry(session, None, key, current.id, value.ValueEntryUpdate(amount=amount, note=note))
            report.updated += 1
        else:
            report.unchanged += 1


def sync(session: Session, *, months: int = DEFAULT_MONTHS, now: datetime | None = None) -> SyncReport:
    """Sync the current month and the ``months - 1`` before it (as the system; flushes, the caller commits)."""
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(BAD_MONTHS)
    this_month = (now or utcnow()).astimezone(UTC).date().replace(day=1)
    report = SyncReport()
    for n in range(months - 1, -1, -1):
        sync_month(session, add_months(this_month, -n), report)
    session.flush()
    return report


@job_handler(JOB_KIND)
def value_sync_job(ctx: JobContext) -> dict[str, Any]:
    months = ctx.payload.get("months", DEFAULT_MONTHS)
    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= MAX_MONTHS:
        raise PermanentJobError(BAD_MONTHS)
    ctx.progress(0.0, f"summing gateway cost of the last {months} month(s)")
    with ctx.session(write=True) as session:
        report = sync(session, months=months)
    ctx.progress(1.0, f"{report.created} created, {report.updated} updated, {report.deleted} deleted")
    return report.as_dict()
