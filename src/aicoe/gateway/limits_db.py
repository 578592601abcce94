"""Limits and budgets in the database (``gateway_spend``), for deployments without Redis; SQLite and PostgreSQL.

Every check-and-count is one conditional UPDATE (``... WHERE spent + reserved + :x <= :cap``), atomic on both
backends; a missing row is created with INSERT ... ON CONFLICT DO NOTHING and the UPDATE tried once more. A
reservation over several budgets runs in one short transaction of its own, rows in one global order, and rolls
back whole when any budget refuses. Calls run in a worker thread so the event loop never waits on the database.

Each reservation is also recorded, one ``gateway_reservations`` row per budget row it holds, in the transaction
that raised the counters; settle and release delete those rows in the transaction that lowers them, and adjust
only what they deleted, so a repeated settle or release changes nothing. A reservation still open after its
``expires_at`` (``RESERVATION_TTL_S``; its worker died) is given back by ``reclaim_stale`` (the retention job) or by a
``reserve`` that its hold would refuse: its rows are marked ``reclaimed`` and their amounts leave the counters, in one
transaction. A settle that arrives after that records its spend once and leaves the counters' holds alone; reclaimed
rows are deleted ``SETTLE_GRACE_MS`` after they expired. On PostgreSQL reclaiming skips rows a settle has locked
(``FOR UPDATE SKIP LOCKED``: that settle is closing them), and every transaction locks budget rows in the order of
``limits.ordered``, so reclaim, settle and reserve never deadlock; SQLite runs writers one at a time.

Rate windows live in the same table: scope ``rpm`` or ``tpm``, ``scope_id`` the key, ``period_start`` the
window's epoch minute, the count in ``spent_micros``. ``reclaim_stale`` also deletes windows older than the
previous one and clears holds of ended periods that no open reservation explains (counters from before
reservations were recorded); ``reset_reserved`` clears every reservation and is only for a moment when no gateway
worker runs (startup of the only gateway).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from anyio import to_thread
from sqlalchemy import case, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from aicoe.core.db import session_scope
from aicoe.gateway.limits import (
    RESERVATION_TTL_S,
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
from aicoe.models.gateway import GatewayReservation, GatewaySpend

SPEND = GatewaySpend.__table__
HELD = GatewayReservation.__table__
RATE_SCOPES = ("rpm", "tpm")
SETTLE_GRACE_MS = 86_400_000
PERIOD_RANK = {10: 0, 7: 1}  # period_start's length -> the rank of day, month in ``ordered``; "total" ranks 2


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _row(scope: str, scope_id: int, period: str):  # noqa: ANN202 - a SQL condition
    return (SPEND.c.scope == scope) & (SPEND.c.scope_id == scope_id) & (SPEND.c.period_start == period)


def _ensure_row(session: Session, scope: str, scope_id: int, period: str) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(SPEND).values(scope=scope, scope_id=scope_id, period_start=period, spent_micros=0,
                                                 reserved_micros=0).on_conflict_do_nothing())


def _add(session: Session, scope: str, scope_id: int, period: str, column: str, amount: int, cap: int) -> int | None:
    """Add ``amount`` to ``column`` if spent + reserved stays within ``cap``: the row's id, None when it would not."""
    col = SPEND.c[column]
    stmt = (update(SPEND).where(_row(scope, scope_id, period))
            .where(SPEND.c.spent_micros + SPEND.c.reserved_micros + amount <= cap).values({col: col + amount})
            .returning(SPEND.c.id))
    row_id = session.execute(stmt).scalar()
    if row_id is not None:
        return row_id
    _ensure_row(session, scope, scope_id, period)
    return session.execute(stmt).scalar()


def _count(session: Session, scope: str, scope_id: int, period: str) -> int:
    value = session.execute(select(SPEND.c.spent_micros).where(_row(scope, scope_id, period))).scalar()
    return int(value or 0)


def _unreserve(amount: int):  # noqa: ANN202 - a SQL expression
    held = SPEND.c.reserved_micros
    return case((held >= amount, held - amount), else_=0)


def _close(session: Session, token: str) -> dict[int, tuple[int, bool]]:
    """Delete a reservation's rows: budget row id -> (amount, reclaimed) of those this call deleted."""
    rows = session.execute(delete(HELD).where(HELD.c.token == token)
                           .returning(HELD.c.spend_id, HELD.c.amount_micros, HELD.c.reclaimed))
    return {spend_id: (int(amount), bool(reclaimed)) for spend_id, amount, reclaimed in rows}


def _reap(session: Session, ms: int, spend_ids: Iterable[int] | None = None) -> int:
    """Mark reservations past ``expires_at`` reclaimed (on ``spend_ids`` only, when given) and take what they held
    off the counters, budget rows in the global order; how many reservation rows were reclaimed."""
    due = select(HELD.c.id).where(HELD.c.expires_at <= _at(ms), HELD.c.reclaimed.is_(False))
    if spend_ids is not None:
        due = due.where(HELD.c.spend_id.in_(list(spend_ids)))
    reclaimed = session.execute(update(HELD).where(HELD.c.id.in_(due.with_for_update(skip_locked=True)))
                                .values(reclaimed=True).returning(HELD.c.spend_id, HELD.c.amount_micros)).all()
    totals: dict[int, int] = {}
    for spend_id, amount in reclaimed:
        totals[spend_id] = totals.get(spend_id, 0) + int(amount)
    if totals:
        rows = session.execute(select(SPEND.c.id, SPEND.c.scope, SPEND.c.scope_id, SPEND.c.period_start)
                               .where(SPEND.c.id.in_(list(totals)))).all()
        for row in sorted(rows, key=lambda r: (r.scope, r.scope_id, PERIOD_RANK.get(len(r.period_start), 2),
                                               r.period_start)):
            session.execute(update(SPEND).where(SPEND.c.id == row.id)
                            .values(reserved_micros=_unreserve(totals[row.id])))
    return len(reclaimed)


class DbLimitStore:
    """The database backend, on its own short transactions (the gateway's hot path, not a request's)."""

    def __init__(self, session_factory: sessionmaker[Session], *, clock: Clock = time.time,
                 reservation_ttl_s: float = RESERVATION_TTL_S) -> None:
        self.factory = session_factory
        self.clock = clock
        self.reservation_ttl_ms = int(reservation_ttl_s * 1000)

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
                cap = window_cap(limit, prev, elapsed)
                if _add(session, kind, key_id, str(window), "spent_micros", need, cap) is None:
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
            holds = await to_thread.run_sync(self._reserve, reservation, ms)
            reservation = dataclasses.replace(reservation, holds=holds)
        return reservation

    def _reserve(self, reservation: Reservation, ms: int) -> tuple[int, ...]:
        amount = reservation.amount_micros
        holds = []
        with session_scope(self.factory) as session:
            for ref, period in zip(reservation.refs, reservation.period_keys, strict=True):
                row_id = _add(session, ref.scope, ref.scope_id, period, "reserved_micros", amount, ref.limit_micros)
                if row_id is None and _reap(session, ms, [self._spend_id(session, ref, period)]):
                    row_id = _add(session, ref.scope, ref.scope_id, period, "reserved_micros", amount,
                                  ref.limit_micros)
                if row_id is None:
                    raise budget_error(ref, ms)
                holds.append(row_id)
            session.execute(insert(HELD), [
                {"token": reservation.token, "spend_id": row_id, "amount_micros": amount, "reserved_at": _at(ms),
                 "expires_at": _at(ms + self.reservation_ttl_ms), "reclaimed": False} for row_id in holds])
        return tuple(holds)

    @staticmethod
    def _spend_id(session: Session, ref: BudgetRef, period: str) -> int:
        return session.execute(select(SPEND.c.id).where(_row(ref.scope, ref.scope_id, period))).scalar_one()

    async def settle(self, reservation: Reservation, actual_micros: int, actual_tokens: int | None = None) -> None:
        delta = 0 if actual_tokens is None or reservation.key_id is None else actual_tokens - reservation.tokens
        if reservation.refs or delta:
            spend = max(0, min(actual_micros, reservation.amount_micros))
            await to_thread.run_sync(self._settle, reservation, spend, delta)

    def _settle(self, reservation: Reservation, spend: int, delta: int) -> None:
        with session_scope(self.factory) as session:
            closed = _close(session, reservation.token) if reservation.refs else {}
            for row_id in reservation.holds:
                if row_id not in closed:  # settled or released before
                    continue
                amount, reclaimed = closed[row_id]
                values = {SPEND.c.spent_micros: SPEND.c.spent_micros + spend}
                if not reclaimed:
                    values[SPEND.c.reserved_micros] = _unreserve(amount)
                session.execute(update(SPEND).where(SPEND.c.id == row_id).values(values))
            if delta and (closed or not reservation.refs):
                count = SPEND.c.spent_micros
                session.execute(update(SPEND).where(_row("tpm", reservation.key_id or 0, str(reservation.window)))
                                .values(spent_micros=case((count + delta >= 0, count + delta), else_=0)))

    async def release(self, reservation: Reservation) -> None:
        if reservation.refs:
            await to_thread.run_sync(self._release, reservation)

    def _release(self, reservation: Reservation) -> None:
        with session_scope(self.factory) as session:
            closed = _close(session, reservation.token)
            for row_id in reservation.holds:
                amount, reclaimed = closed.get(row_id, (0, True))
                if not reclaimed:
                    session.execute(update(SPEND).where(SPEND.c.id == row_id)
                                    .values(reserved_micros=_unreserve(amount)))

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
    """Give back reservations past their expiry, delete rate windows no longer read and reclaimed reservations past
    ``SETTLE_GRACE_MS``, and clear holds of ended periods that no open reservation explains; returns rows touched.

    Runs in the caller's transaction (the retention job's): flushes, never commits.
    """
    ms = int((time.time() if now is None else now) * 1000)
    touched = _reap(session, ms)
    touched += session.execute(delete(HELD).where(HELD.c.reclaimed.is_(True),
                                                  HELD.c.expires_at <= _at(ms - SETTLE_GRACE_MS))).rowcount
    window = window_of(ms)[0]
    rows = session.execute(select(SPEND.c.id, SPEND.c.period_start).where(SPEND.c.scope.in_(RATE_SCOPES))).all()
    old = [row.id for row in rows if int(row.period_start) < window - 1]
    touched += session.execute(delete(SPEND).where(SPEND.c.id.in_(old))).rowcount if old else 0
    ended = ((SPEND.c.period_start < period_key("day", ms)) & (SPEND.c.period_start.like("____-__-__"))) | (
        (SPEND.c.period_start < period_key("month", ms)) & (SPEND.c.period_start.like("____-__"))
    )
    open_hold = exists().where(HELD.c.spend_id == SPEND.c.id, HELD.c.reclaimed.is_(False))
    touched += session.execute(update(SPEND).where(~SPEND.c.scope.in_(RATE_SCOPES), ended, ~open_hold,
                                                   SPEND.c.reserved_micros != 0).values(reserved_micros=0)).rowcount
    session.flush()
    return touched


def reset_reserved(session: Session) -> int:
    """Clear every reservation; only safe while no gateway worker runs (none can hold one). Flushes."""
    session.execute(delete(HELD))
    count = session.execute(update(SPEND).where(SPEND.c.reserved_micros != 0).values(reserved_micros=0)).rowcount
    session.flush()
    return count
