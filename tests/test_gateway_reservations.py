"""The database limit store records each reservation, so a crashed worker's hold is given back after its expiry
(not before), exactly once, whatever settles, releases and reclaims race with it; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from aicoe.core.db import make_engine, make_sessionmaker, session_scope
from aicoe.gateway.limits import RESERVATION_TTL_S, BudgetRef, LimitExceeded
from aicoe.gateway.limits_db import SETTLE_GRACE_MS, DbLimitStore, reclaim_stale
from aicoe.models.gateway import GatewayReservation, GatewaySpend

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
TTL = 10.0
TOTAL = BudgetRef("key", 1, "total", 1_000)
UNIT = BudgetRef("business_unit", 2, "month", 5_000)


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def factory(any_db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(any_db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def reclaim(factory: sessionmaker[Session], at: float) -> int:
    with session_scope(factory) as session:
        return reclaim_stale(session, now=at)


def held_rows(factory: sessionmaker[Session]) -> list[tuple[int, bool]]:
    with factory() as session:
        return sorted((int(a), bool(r)) for a, r in session.execute(
            select(GatewayReservation.amount_micros, GatewayReservation.reclaimed)))


def test_the_default_expiry_is_the_redis_one() -> None:
    store = DbLimitStore(sessionmaker())
    assert store.reservation_ttl_ms == RESERVATION_TTL_S * 1000 == 600_000


def test_a_crashed_workers_reservation_is_reclaimed_after_expiry_and_not_before(
        factory: sessionmaker[Session]) -> None:
    clock = Clock()
    store = DbLimitStore(factory, clock=clock, reservation_ttl_s=TTL)

    async def crash() -> tuple[object, object]:
        lost = await store.reserve([TOTAL, UNIT], 700)  # its worker "dies" here: never settled nor released
        return lost, await store.budget_state(TOTAL)

    lost, state = asyncio.run(crash())
    assert state == (0, 700)
    assert held_rows(factory) == [(700, False), (700, False)]
    assert reclaim(factory, T0 + TTL - 1) == 0
    assert asyncio.run(store.budget_state(TOTAL)) == (0, 700)
    assert reclaim(factory, T0 + TTL) == 2  # one row per budget the reservation held
    assert asyncio.run(store.budget_state(TOTAL)) == asyncio.run(store.budget_state(UNIT)) == (0, 0)
    assert held_rows(factory) == [(700, True), (700, True)]
    assert reclaim(factory, T0 + TTL + 1) == 0  # reclaiming twice gives back nothing more


def test_a_reserve_refused_by_an_expired_hold_reclaims_it(factory: sessionmaker[Session]) -> None:
    clock = Clock()
    store = DbLimitStore(factory, clock=clock, reservation_ttl_s=TTL)

    async def body() -> list[object]:
        await store.reserve([TOTAL], 800)  # crashed
        try:
            await store.reserve([TOTAL], 300)
            refused = None
        except LimitExceeded as exc:
            refused = exc
        clock.t += TTL
        second = await store.reserve([TOTAL], 300)
        state = await store.budget_state(TOTAL)
        await store.settle(second, 250)
        return [refused, state, await store.budget_state(TOTAL)]

    refused, state, final = asyncio.run(body())
    assert isinstance(refused, LimitExceeded) and refused.kind == "budget"
    assert state == (0, 300) and final == (250, 0)
    assert held_rows(factory) == [(800, True)]


def test_settle_after_reclaim_counts_the_spend_once_and_never_the_hold_again(factory: sessionmaker[Session]) -> None:
    clock = Clock()
    store = DbLimitStore(factory, clock=clock, reservation_ttl_s=TTL)

    async def body() -> list[object]:
        slow = await store.reserve([TOTAL], 400)
        clock.t += TTL
        reclaim(factory, clock.t)
        other = await store.reserve([TOTAL], 300)  # holds 300 the late settle must not free
        await store.settle(slow, 350)
        after_late = await store.budget_state(TOTAL)
        await store.settle(slow, 350)  # settling twice changes nothing
        await store.release(slow)
        after_repeat = await store.budget_state(TOTAL)
        await store.settle(other, 100)
        await store.settle(other, 100)
        await store.release(other)
        return [after_late, after_repeat, await store.budget_state(TOTAL)]

    after_late, after_repeat, final = asyncio.run(body())
    assert after_late == after_repeat == (350, 300)
    assert final == (450, 0)
    assert held_rows(factory) == []


def test_release_after_reclaim_and_twice_frees_nothing_more(factory: sessionmaker[Session]) -> None:
    clock = Clock()
    store = DbLimitStore(factory, clock=clock, reservation_ttl_s=TTL)

    async def body() -> tuple[int, int]:
        gone = await store.reserve([TOTAL], 200)
        clock.t += TTL
        reclaim(factory, clock.t)
        kept = await store.reserve([TOTAL], 600)
        await store.release(gone)
        await store.release(kept)
        await store.release(kept)
        return await store.budget_state(TOTAL)

    assert asyncio.run(body()) == (0, 0)
    assert held_rows(factory) == []


def test_reclaimed_records_wait_for_a_late_settle_then_go(factory: sessionmaker[Session]) -> None:
    clock = Clock()
    store = DbLimitStore(factory, clock=clock, reservation_ttl_s=TTL)
    lost = asyncio.run(store.reserve([TOTAL], 500))
    assert reclaim(factory, T0 + TTL) == 1
    grace = SETTLE_GRACE_MS / 1000
    assert reclaim(factory, T0 + TTL + grace - 1) == 0
    assert reclaim(factory, T0 + TTL + grace) == 1
    assert held_rows(factory) == []
    asyncio.run(store.settle(lost, 500))  # too late to be told apart from a repeat: nothing is recorded
    assert asyncio.run(store.budget_state(TOTAL)) == (0, 0)


def test_ended_periods_holds_without_an_open_reservation_are_cleared(factory: sessionmaker[Session]) -> None:
    """Counters raised before reservations were recorded (an upgraded database) still get cleared."""
    clock = Clock()
    day = BudgetRef("key", 3, "day", 1_000)
    store = DbLimitStore(factory, clock=clock, reservation_ttl_s=2 * 86_400)
    asyncio.run(store.reserve([day], 100))  # open for two days: its day ends first
    with session_scope(factory) as session:
        session.execute(update(GatewaySpend).where(GatewaySpend.scope == "key", GatewaySpend.scope_id == 3)
                        .values(reserved_micros=GatewaySpend.reserved_micros + 40))
        session.add(GatewaySpend(scope="use_case", scope_id=9, period_start="2025-12-31", spent_micros=0,
                                 reserved_micros=70))
    assert reclaim(factory, T0 + 86_400 + 60) == 1  # the legacy row only: the key's day still has a reservation
    with factory() as session:
        held = dict(session.execute(select(GatewaySpend.scope, GatewaySpend.reserved_micros)).all())
    assert held == {"key": 140, "use_case": 0}


def test_reclaim_racing_settles_gives_back_and_spends_exactly_once(factory: sessionmaker[Session]) -> None:
    clock = Clock()
    store = DbLimitStore(factory, clock=clock, reservation_ttl_s=TTL)
    ref = BudgetRef("use_case", 4, "total", 10_000_000)

    async def reserve_all() -> list[object]:
        return [await store.reserve([ref, BudgetRef("key", 5, "total", 10_000_000)], 1_000)
                for _ in range(60)]

    reservations = asyncio.run(reserve_all())
    clock.t += TTL
    reclaimed: list[int] = []

    def reclaimer() -> None:
        for _ in range(5):
            reclaimed.append(reclaim(factory, clock.t))

    async def settle_all() -> None:
        await asyncio.gather(*(store.settle(r, 600) for r in reservations))

    thread = threading.Thread(target=reclaimer)
    thread.start()
    asyncio.run(settle_all())
    thread.join()
    assert asyncio.run(store.budget_state(ref)) == (60 * 600, 0)
    with factory() as session:
        left = session.execute(select(func.count()).select_from(GatewayReservation)).scalar()
    assert left == 0  # every reservation was settled, reclaimed first or not
    assert sum(reclaimed) <= 120
