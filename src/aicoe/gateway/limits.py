"""Per-key rate limits (RPM, TPM) and budget reservations, shared by every gateway worker.

Two backends keep the same semantics: Redis (Lua scripts, one per operation, so a check and its increment are
atomic across workers) when ``AICOE_REDIS_URL`` is set, else the database (one conditional UPDATE per row).

Rate limits use a sliding-window counter over 60-second windows aligned to the epoch minute: a request at
``elapsed`` ms into window ``w`` sees ``prev * (60000 - elapsed) / 60000 + cur``, where ``prev`` and ``cur`` are
what windows ``w - 1`` and ``w`` counted, and is admitted when that estimate plus its own count stays within the
limit. The arithmetic is integer (milliseconds), so both backends decide identically.

Budgets are reserved for a request's maximum cost before it goes upstream, settled with the actual cost after
(never more than reserved) and released on failure; a reservation over several budgets is all-or-nothing. A
reservation not settled within ``RESERVATION_TTL_S`` is taken for one whose worker died and is given back: ten
minutes, well past the longest legitimate request (a streamed answer may outlast the upstream read timeout, which
bounds the wait between chunks, not the whole answer), and the same on both backends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from aicoe.config import Settings

WINDOW_MS = 60_000
PERIODS = ("day", "month", "total")
SCOPE_LABELS = {"key": "key", "use_case": "use case", "business_unit": "business unit"}
PERIOD_LABELS = {"day": "daily", "month": "monthly", "total": "total"}

RPM_EXCEEDED = "Rate limit reached: this key allows {limit} requests per minute."
TPM_EXCEEDED = "Rate limit reached: this key allows {limit} tokens per minute."
TPM_TOO_LARGE = "This request needs {tokens} tokens but the key allows {limit} tokens per minute."
BUDGET_EXCEEDED = "Budget exhausted: the {scope} {period} budget has no room for this request's maximum cost."
NO_BACKEND = "gateway limits need AICOE_REDIS_URL or a database session factory"
RESERVATION_TTL_S = 600.0

Clock = Callable[[], float]


@dataclass(frozen=True)
class BudgetRef:
    """One budget a request spends from: ``scope`` is key, use_case or business_unit."""

    scope: str
    scope_id: int
    period: str
    limit_micros: int


@dataclass(frozen=True)
class Reservation:
    """What ``reserve`` holds: the budgets (with the period each was reserved in) and the maximum cost.

    ``key_id``, ``tokens`` and ``window`` let ``settle`` correct the key's TPM count with the actual tokens;
    ``holds`` are the database backend's budget rows (``gateway_spend`` ids, in ``refs`` order).
    """

    token: str
    refs: tuple[BudgetRef, ...]
    amount_micros: int
    period_keys: tuple[str, ...]
    key_id: int | None = None
    tokens: int = 0
    window: int = 0
    holds: tuple[int, ...] = ()


class LimitExceeded(Exception):
    """A rate limit or a budget refuses the request; ``retry_after`` is None when waiting will not help."""

    def __init__(self, kind: str, scope: str, retry_after: float | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.scope = scope
        self.retry_after = retry_after
        self.message = message


class LimitStore(Protocol):
    async def admit(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> None: ...

    async def reserve(self, refs: Sequence[BudgetRef], amount_micros: int, *, key_id: int | None = None,
                      tokens: int = 0) -> Reservation: ...

    async def settle(self, reservation: Reservation, actual_micros: int, actual_tokens: int | None = None) -> None: ...

    async def release(self, reservation: Reservation) -> None: ...

    async def aclose(self) -> None: ...


def now_ms(clock: Clock) -> int:
    return int(clock() * 1000)


def window_of(ms: int) -> tuple[int, int]:
    """(window index, ms elapsed in it)."""
    return divmod(ms, WINDOW_MS)


def window_cap(limit: int, prev: int, elapsed_ms: int) -> int:
    """The most the current window may hold, given what the previous one counted (integer, exact)."""
    return (limit * WINDOW_MS - prev * (WINDOW_MS - elapsed_ms)) // WINDOW_MS


def window_retry_after(limit: int, prev: int, cur: int, need: int, elapsed_ms: int) -> float | None:
    """Seconds until ``need`` more fits under ``limit`` if nothing else arrives; None if it never will."""
    if need > limit:
        return None
    room = limit - cur - need
    if room >= 0 and prev > 0:  # the previous window's share decays enough within this window
        at = WINDOW_MS - (room * WINDOW_MS) // prev
        if at > elapsed_ms:
            return (at - elapsed_ms) / 1000
    # only the next window helps: there ``cur`` becomes the decaying previous count
    into_next = math.ceil(WINDOW_MS * (cur + need - limit) / cur) if cur else 0
    return (WINDOW_MS - elapsed_ms + max(into_next, 0)) / 1000


def rate_error(kind: str, limit: int, prev: int, cur: int, need: int, elapsed_ms: int) -> LimitExceeded:
    if kind == "tpm" and need > limit:
        return LimitExceeded("tpm", "key", None, TPM_TOO_LARGE.format(tokens=need, limit=limit))
    message = (RPM_EXCEEDED if kind == "rpm" else TPM_EXCEEDED).format(limit=limit)
    return LimitExceeded(kind, "key", window_retry_after(limit, prev, cur, need, elapsed_ms), message)


def period_key(period: str, ms: int) -> str:
    """The UTC period an instant falls in: ``YYYY-MM-DD``, ``YYYY-MM`` or ``total``."""
    if period == "total":
        return "total"
    day = datetime.fromtimestamp(ms / 1000, UTC)
    return day.strftime("%Y-%m-%d") if period == "day" else day.strftime("%Y-%m")


def period_end_ms(period: str, ms: int) -> int | None:
    """When the period holding ``ms`` ends (UTC); None for ``total``."""
    if period == "total":
        return None
    at = datetime.fromtimestamp(ms / 1000, UTC)
    if period == "day":
        start = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(start.timestamp() * 1000) + 86_400_000
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def budget_error(ref: BudgetRef, ms: int) -> LimitExceeded:
    end = period_end_ms(ref.period, ms)
    message = BUDGET_EXCEEDED.format(scope=SCOPE_LABELS.get(ref.scope, ref.scope), period=PERIOD_LABELS[ref.period])
    return LimitExceeded("budget", ref.scope, None if end is None else (end - ms) / 1000, message)


def ordered(refs: Sequence[BudgetRef]) -> tuple[BudgetRef, ...]:
    """Refs in one global order, so concurrent reservations lock rows in the same order (no deadlocks)."""
    return tuple(sorted(refs, key=lambda r: (r.scope, r.scope_id, r.period)))


def make_store(settings: Settings, session_factory: sessionmaker[Session] | None, *,
               clock: Clock = time.time) -> LimitStore:
    """Redis when ``settings.redis_url`` is set, else the database."""
    if settings.redis_url:
        from aicoe.gateway.limits_redis import RedisLimitStore

        return RedisLimitStore.from_url(settings.redis_url, clock=clock)
    if session_factory is None:
        raise ValueError(NO_BACKEND)
    from aicoe.gateway.limits_db import DbLimitStore

    return DbLimitStore(session_factory, clock=clock)
