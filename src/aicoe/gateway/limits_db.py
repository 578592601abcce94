"""Limits and budgets in the database (``gateway_spend``), for deployments without Redis; SQLite and PostgreSQL.

Every check-and-count is one conditional UPDATE (``... WHERE spent + reserved + :x <= :cap``), atomic on both
backends; a missing row is created with INSERT ... ON CONFLICT DO NOTHING and the UPDATE tried once more. A
reservation over several budgets runs in one short transaction of its own, rows in one global order, and rolls
back whole when any budget refuses. Calls run in a worker thread so the event loop never waits on the database.

Rate windows live in the same table: scope ``rpm`` or ``tpm``, ``scope_id`` the key, ``period_start`` the
window's epoch minute, the count in ``spent_micros``. ``reclaim_stale`` (run by the retention job) deletes
windows older than the previous one and clears what ended periods still hold reserved; ``reset_reserved``
clears every reservation and is only for a moment when no gateway worker runs (startup of the only gateway).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from anyio import to_thread
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from aicoe.core.db import session_scope
from aicoe.gateway.limits import (
    BudgetRef,
    Clock,
    Reservation,
    budget_error,
    now_ms,
    ordered,
    period_key,
    rate_error,
    window_cap,
    window_of,
)
from aicoe.models.gateway import GatewaySpend

SPEND = GatewaySpend.__table__
RATE_SCOPES = ("rpm", "tpm")


def _row(scope: str, scope_id: int, period: str):  # noqa: ANN202 - a SQL condition
    return (SPEND.c.scope == scope) & (SPEND.c.scope_id == scope_id) & (SPEND.c.period_start == period)


def _ensure_row(session: Session, scope: str, scope_id: int, period: str) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(SPEND).values(scope=scope, scope_id=scope_id, period_start=period, spent_micros=0,
                                                 reserved_micros=0).on_conflict_do_nothing())


def _add(session: Session, scope: str, scope_id: int, period: str, column: str, amount: int, cap: int) -> bool:
    """Add ``amount`` to ``column`` if spent + reserved stays within ``cap``; False when it would not."""
    col = SPEND.c[column]
    stmt = (update(SPEND).where(_row(scope, scope_id, period))
            .where(SPEND.c.spent_micros + SPEND.c.reserved_micros + amount <= cap).values({col: col + amount}))
    if session.execute(stmt).rowcount:
        return True
    _ensure_row(session, scope, scope_id, period)
    return bool(session.execute(stmt).rowcount)


def _count(session: Session, scope: str, scope_id: int, period: str) -> int:
    value = session.execute(select(SPEND.c.spent_micros).where(_row(scope, scope_id, period))).scalar()
    return int(value or 0)


def _unreserve(amount: int):  # noqa: ANN202 - a SQL expression
    held = SPEND.c.reserved_micros
    return case((held >= amount, held - amount), else_=0)


class DbLimitStore:
    """The database backend, on its own short transactions (the gateway's hot path, not a request's)."""

    def __init__(self, session_factory: sessionmaker[Session], *, clock: Clock = time.time) -> None:
        self.factory = session_factory
        self.clock = clock

    async def admit(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> None:
        checks = [(kind, limit, need) for kind, limit, need in (("rpm", rpm, 1), ("tpm", tpm, tokens))
                  if limit is not None]
        if checks:
            await to_thread.run_sync(self._admit, key_id, checks, now_ms(self.clock))

    def _admit(self, key_id: int, checks: list[tuple[str, int, int]], ms: int) -> None:
        window, elapsed = window_of(ms)
        with session_scope(self.factory) as session:
            for kind, limit, need in checks:
                prev = _count(session, kind, key_id, str(window - 1))
                if not _add(session, kind, key_id, str(window), "spent_micros", need, window_cap(limit, prev, elapsed)):
                    cur = _count(session, kind, key_id, str(window))
                    raise rate_error(kind, limit, prev, cur, need, elapsed)

    async def reserve(self, refs: Sequence[BudgetRef], amount_micros: int, *, key_id: int | None = None,
                      tokens: int = 0) -> Reservation:
        ms = now_ms(self.clock)
        refs = ordered(refs)
        periods = tuple(period_key(ref.period, ms) for ref in refs)
        reservation = Reservation(uuid.uuid4().hex, refs, amount_micros, periods, key_id, tokens, window_of(ms)[0])
        for ref in refs:
            if amount_micros > ref.limit_micros:
                raise budget_error(ref, ms)
        if refs:
            await to_thread.run_sync(self._reserve, reservation, ms)
        return reservation

    def _reserve(self, reservation: Reservation, ms: int) -> None:
        with session_scope(self.factory) as session:
            for ref, period in zip(reservation.refs, reservation.period_keys, strict=True):
                if not _add(session, ref.scope, ref.scope_id, period, "reserved_micros", reservation.amount_micros,
                            ref.limit_micros):
                    raise budget_error(ref, ms)

    async def settle(self, reservation: Reservation, actual_micros: int, actual_tokens: int | None = None) -> None:
        delta = 0 if actual_tokens is None or reservation.key_id is None else actual_tokens - reservation.tokens
        if reservation.refs or delta:
            spend = max(0, min(actual_micros, reservation.amount_micros))
            await to_thread.run_sync(self._settle, reservation, spend, delta)

    def _settle(self, reservation: Reservation, spend: int, delta: int) -> None:
        with session_scope(self.factory) as session:
            for ref, period in zip(reservation.refs, reservation.period_keys, strict=True):
                session.execute(update(SPEND).where(_row(ref.scope, ref.scope_id, period)).values(
                    reserved_micros=_unreserve(reservation.amount_micros), spent_micros=SPEND.c.spent_micros + spend))
            if delta:
                count = SPEND.c.spent_micros
                session.execute(update(SPEND).where(_row("tpm", reservation.key_id or 0, str(reservation.window)))
                                .values(spent_micros=case((count + delta >= 0, count + delta), else_=0)))

    async def release(self, reservation: Reservation) -> None:
        if reservation.refs:
            await to_thread.run_sync(self._release, reservation)

    def _release(self, reservation: Reservation) -> None:
        with session_scope(self.factory) as session:
            for ref, period in zip(reservation.refs, reservation.period_keys, strict=True):
                session.execute(update(SPEND).where(_row(ref.scope, ref.scope_id, period))
                                .values(reserved_micros=_unreserve(reservation.amount_micros)))

    async def budget_state(self, ref: BudgetRef) -> tuple[int, int]:
        """(spent, reserved) of ``ref``'s current period, for dashboards and tests."""
        return await to_thread.run_sync(self._budget_state, ref, period_key(ref.period, now_ms(self.clock)))

    def _budget_state(self, ref: BudgetRef, period: str) -> tuple[int, int]:
        with self.factory() as session:
            row = session.execute(select(SPEND.c.spent_micros, SPEND.c.reserved_micros)
                                  .where(_row(ref.scope, ref.scope_id, period))).first()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def aclose(self) -> None:
        """Nothing to close: the engine belongs to whoever made the session factory."""


def reclaim_stale(session: Session, now: float | None = None) -> int:
    """Delete rate windows no longer read and clear reservations left in ended periods; returns rows touched.

    Runs in the caller's transaction (the retention job's): flushes, never commits.
    """
    ms = int((time.time() if now is None else now) * 1000)
    window = window_of(ms)[0]
    rows = session.execute(select(SPEND.c.id, SPEND.c.period_start).where(SPEND.c.scope.in_(RATE_SCOPES))).all()
    old = [row.id for row in rows if int(row.period_start) < window - 1]
    touched = session.execute(delete(SPEND).where(SPEND.c.id.in_(old))).rowcount if old else 0
    ended = ((SPEND.c.period_start < period_key("day", ms)) & (SPEND.c.period_start.like("____-__-__"))) | (
        (SPEND.c.period_start < period_key("month", ms)) & (SPEND.c.period_start.like("____-__"))
    )
    touched += session.execute(update(SPEND).where(~SPEND.c.scope.in_(RATE_SCOPES), ended,
                                                   SPEND.c.reserved_micros != 0).values(reserved_micros=0)).rowcount
    session.flush()
    return touched


def reset_reserved(session: Session) -> int:
    """Clear every reservation; only safe while no gateway worker runs (none can hold one). Flushes."""
    count = session.execute(update(SPEND).where(SPEND.c.reserved_micros != 0).values(reserved_micros=0)).rowcount
    session.flush()
    return count
