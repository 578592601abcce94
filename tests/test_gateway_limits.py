"""Rate limits and budgets: exact under concurrency on Redis, SQLite and PostgreSQL, across worker processes,
with injected clocks for windows, period rollover and Retry-After."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from aicoe.core.db import make_engine, make_sessionmaker, session_scope
from aicoe.gateway.limits import (
    BUDGET_EXCEEDED,
    NO_BACKEND,
    RPM_EXCEEDED,
    TPM_EXCEEDED,
    TPM_TOO_LARGE,
    BudgetRef,
    LimitExceeded,
    make_store,
    period_end_ms,
    period_key,
    window_retry_after,
)
from aicoe.gateway.limits_db import DbLimitStore, reclaim_stale, reset_reserved
from aicoe.gateway.limits_redis import RedisLimitStore
from aicoe.models.gateway import GatewayReservation, GatewaySpend
from tests.conftest import fresh_sqlite
from tests.factories import make_settings

REDIS_URL = os.environ.get("AICOE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the start of a rate window
DAY = 86_400.0


class Clock:
    """An injected clock: epoch seconds, moved by the test."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _redis_reason() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
        return None
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own, deleted afterwards."""
    reason = _redis_reason()
    if reason:
        if os.environ.get("AICOE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"AICOE_REQUIRE_POSTGRES=1 (CI) but {reason}")
        pytest.skip(reason)
    prefix = f"aicoe:test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


Factory = Callable[[Clock], object]


@pytest.fixture(params=["redis", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def make(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[Factory]:
    """Builds a store on each backend in turn; call it inside the event loop that uses it."""
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        yield lambda clock, **kw: RedisLimitStore.from_url(REDIS_URL, prefix=prefix, clock=clock, **kw)
        return
    url = fresh_sqlite(sqlite_template, tmp_path) if request.param == "sqlite" else request.getfixturevalue(
        "pg_url_fresh")
    engine = make_engine(url)
    yield lambda clock: DbLimitStore(make_sessionmaker(engine), clock=clock)
    engine.dispose()


def run(factory: Factory, clock: Clock, body: Callable) -> object:  # type: ignore[type-arg]
    async def main() -> object:
        store = factory(clock)
        try:
            return await body(store)
        finally:
            await store.aclose()  # type: ignore[attr-defined]

    return asyncio.run(main())


async def attempt(coro) -> object:  # noqa: ANN001
    try:
        return await coro
    except LimitExceeded as exc:
        return exc


# --- the window and period arithmetic -------------------------------------------------------------------------


def test_retry_after_within_and_across_windows() -> None:
    # previous window counted 5 of 5: its share decays to 4 after 12 s, leaving room for one
    assert window_retry_after(5, 5, 0, 1, 0) == 12.0
    # the current window is full: only the next one helps, once this window's 5 decay to 4
    assert window_retry_after(5, 0, 5, 1, 30_000) == 42.0
    assert window_retry_after(1000, 0, 600, 600, 0) == 80.0
    assert window_retry_after(1000, 0, 0, 1001, 0) is None


def test_periods_are_utc_and_end_at_midnight_or_month_start() -> None:
    ms = int((T0 - 1) * 1000)  # 2025-12-31T23:59:59Z
    assert (period_key("day", ms), period_key("month", ms), period_key("total", ms)) == ("2025-12-31", "2025-12",
                                                                                           "total")
    assert period_end_ms("day", ms) == period_end_ms("month", ms) == int(T0 * 1000)
    assert period_end_ms("total", ms) is None


# --- budgets --------------------------------------------------------------------------------------------------


def test_budget_exact_under_200_concurrent_reservations(make: Factory) -> None:
    ref = BudgetRef("use_case", 7, "month", 1_000_000)

    async def body(store) -> tuple[int, tuple[int, int]]:  # noqa: ANN001
        async def one() -> bool:
            try:
                reservation = await store.reserve([ref], 7_000, key_id=1, tokens=10)
            except LimitExceeded:
                return False
            await store.settle(reservation, 7_000)
            return True

        results = await asyncio.gather(*(one() for _ in range(200)))
        return sum(results), await store.budget_state(ref)

    admitted, (spent, reserved) = run(make, Clock(), body)
    assert admitted == 1_000_000 // 7_000 == 142
    assert (spent, reserved) == (142 * 7_000, 0)


def test_reservation_over_several_budgets_is_all_or_nothing(make: Factory) -> None:
    key = BudgetRef("key", 1, "day", 1_000_000)
    unit = BudgetRef("business_unit", 3, "total", 500_000)

    async def body(store) -> tuple[list[object], tuple[int, int], tuple[int, int]]:  # noqa: ANN001
        results = await asyncio.gather(*(attempt(store.reserve([key, unit], 7_000)) for _ in range(200)))
        return results, await store.budget_state(key), await store.budget_state(unit)

    results, key_state, unit_state = run(make, Clock(), body)
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert len(results) - len(refused) == 500_000 // 7_000 == 71
    assert key_state == unit_state == (0, 71 * 7_000)  # a refusal by the unit left nothing reserved on the key
    assert {(e.kind, e.scope, e.retry_after) for e in refused} == {("budget", "business_unit", None)}
    assert refused[0].message == BUDGET_EXCEEDED.format(scope="business unit", period="total")


def test_mixed_settle_and_release_leave_nothing_reserved(make: Factory) -> None:
    ref = BudgetRef("key", 2, "total", 100_000)

    async def body(store) -> tuple[int, tuple[int, int], tuple[int, int]]:  # noqa: ANN001
        async def one(i: int) -> int:
            try:
                reservation = await store.reserve([ref], 1_000)
            except LimitExceeded:
                return 0
            if i % 3 == 0:
                await store.release(reservation)
                return 0
            actual = 2_500 if i % 3 == 1 else 400  # settling above the reservation spends the reservation only
            await store.settle(reservation, actual)
            return min(actual, 1_000)

        spent = sum(await asyncio.gather(*(one(i) for i in range(200))))
        state = await store.budget_state(ref)
        await store.release(await store.reserve([ref], ref.limit_micros - state[0]))  # exactly what is left fits
        return spent, state, await store.budget_state(ref)

    expected, state, after = run(make, Clock(), body)
    assert state == (expected, 0) and after == state
    assert 0 < expected <= ref.limit_micros


def test_budget_period_rollover_and_retry_after(make: Factory) -> None:
    day = BudgetRef("key", 5, "day", 10_000)
    month = BudgetRef("use_case", 5, "month", 10_000)
    clock = Clock(T0 - 90)  # 2025-12-31T23:58:30Z

    async def body(store) -> list[object]:  # noqa: ANN001
        await store.settle(await store.reserve([day], 10_000), 10_000)
        await store.settle(await store.reserve([month], 10_000), 10_000)
        refused = [await attempt(store.reserve([day], 1)), await attempt(store.reserve([month], 1))]
        clock.t = T0  # a new day and a new month
        fresh = [await store.reserve([day], 10_000), await store.reserve([month], 10_000)]
        return refused + [await store.budget_state(day), fresh[1].period_keys]

    day_refused, month_refused, day_state, month_keys = run(make, clock, body)
    assert (day_refused.kind, day_refused.scope, day_refused.retry_after) == ("budget", "key", 90.0)
    assert day_refused.message == BUDGET_EXCEEDED.format(scope="key", period="daily")
    assert (month_refused.scope, month_refused.retry_after) == ("use_case", 90.0)
    assert day_state == (0, 10_000) and month_keys == ("2026-01",)


def test_a_reservation_larger_than_the_budget_and_an_empty_one(make: Factory) -> None:
    ref = BudgetRef("key", 9, "total", 1_000)

    async def body(store) -> list[object]:  # noqa: ANN001
        too_big = await attempt(store.reserve([ref], 1_001))
        empty = await store.reserve([], 5_000)
        await store.settle(empty, 5_000)
        await store.release(empty)
        return [too_big, empty, await store.budget_state(ref)]

    too_big, empty, state = run(make, Clock(), body)
    assert (too_big.kind, too_big.retry_after) == ("budget", None)
    assert (empty.refs, empty.amount_micros) == ((), 5_000) and state == (0, 0)


# --- rate limits ----------------------------------------------------------------------------------------------


def test_rpm_sliding_window_and_retry_after(make: Factory) -> None:
    clock = Clock(T0 + 30)

    async def body(store) -> list[object]:  # noqa: ANN001
        out: list[object] = [await attempt(store.admit(1, 5, None, 0)) for _ in range(6)]
        await store.admit(2, 5, None, 0)  # another key has its own window
        clock.t = T0 + 60 + 11.999  # the 5 of the last window still weigh more than 4
        out.append(await attempt(store.admit(1, 5, None, 0)))
        clock.t = T0 + 60 + 12  # now exactly 4
        out.append(await attempt(store.admit(1, 5, None, 0)))
        out.append(await attempt(store.admit(1, 5, None, 0)))
        return out

    results = run(make, clock, body)
    assert results[:5] == [None] * 5 and results[7] is None
    refused, late, full = results[5], results[6], results[8]
    assert (refused.kind, refused.scope, refused.retry_after) == ("rpm", "key", 42.0)
    assert refused.message == RPM_EXCEEDED.format(limit=5)
    assert late.retry_after == 0.001
    # 5 decaying over the window plus 1 now: room again once the old share falls to 3, at 24 s
    assert full.retry_after == 12.0


def test_tpm_counts_estimates_and_is_corrected_at_settle(make: Factory) -> None:
    async def body(store) -> list[object]:  # noqa: ANN001
        out: list[object] = [await attempt(store.admit(1, None, 1000, 600))]
        out.append(await attempt(store.admit(1, None, 1000, 600)))
        out.append(await attempt(store.admit(1, None, 1000, 1001)))
        await store.settle(await store.reserve([], 0, key_id=1, tokens=600), 0, actual_tokens=100)
        out.append(await attempt(store.admit(1, None, 1000, 600)))
        out.append(await attempt(store.admit(1, 100, 1000, 400)))  # TPM refuses: the RPM count is not taken either
        out.append(await attempt(store.admit(1, 1, 1000, 0)))
        out.append(await attempt(store.admit(1, 1, 1000, 0)))
        return out

    first, second, huge, corrected, over, rpm1, rpm2 = run(make, Clock(), body)
    assert first is None and corrected is None and rpm1 is None
    assert (second.kind, second.retry_after, second.message) == ("tpm", 80.0, TPM_EXCEEDED.format(limit=1000))
    assert (huge.kind, huge.retry_after, huge.message) == ("tpm", None, TPM_TOO_LARGE.format(tokens=1001, limit=1000))
    assert over.kind == "tpm"
    assert rpm2.kind == "rpm"


def _hammer(prefix: str, rpm: int, n: int, barrier, out) -> None:  # noqa: ANN001 - a worker process
    async def main() -> int:
        store = RedisLimitStore.from_url(REDIS_URL, prefix=prefix, clock=lambda: T0 + 1)
        barrier.wait()
        results = await asyncio.gather(*(attempt(store.admit(42, rpm, None, 0)) for _ in range(n)))
        await store.aclose()
        return sum(r is None for r in results)

    out.put(asyncio.run(main()))


def test_rpm_holds_across_two_worker_processes(redis_prefix: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_hammer, args=(redis_prefix, 100, 150, barrier, out)) for _ in range(2)]
    for worker in workers:
        worker.start()
    counts = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sum(counts) == 100


# --- reclaiming what a crashed worker held --------------------------------------------------------------------


def test_redis_reclaims_expired_reservations(redis_prefix: str) -> None:
    ref, other = BudgetRef("key", 1, "total", 150), BudgetRef("key", 2, "total", 10)
    clock = Clock()

    async def body() -> list[object]:
        store = RedisLimitStore.from_url(REDIS_URL, prefix=redis_prefix, clock=clock, reservation_ttl_s=10)
        try:
            lost = await store.reserve([ref], 100)  # its worker "dies" here
            refused = await attempt(store.reserve([ref], 100))
            clock.t += 11
            second = await store.reserve([ref], 100)  # reserving reaps the expired one first
            late = await store.settle(lost, 100)  # a late settle still counts its spend
            after_late = await store.budget_state(ref)
            await store.reserve([other], 0)
            clock.t += 11
            reclaimed = await store.reclaim_stale()
            await store.settle(second, 30)
            return [refused, late, after_late, reclaimed, await store.budget_state(ref)]
        finally:
            await store.aclose()

    refused, late, after_late, reclaimed, final = asyncio.run(body())
    assert refused.kind == "budget" and late is None
    assert after_late == (100, 100)
    assert reclaimed == 2  # the second reservation and the empty one
    assert final == (130, 0)


def test_db_reclaim_stale_and_reset(sqlite_template: Path, tmp_path: Path) -> None:
    engine = make_engine(fresh_sqlite(sqlite_template, tmp_path))
    factory = make_sessionmaker(engine)
    clock = Clock()
    day, total = BudgetRef("key", 1, "day", 1_000), BudgetRef("key", 1, "total", 1_000)

    async def body(refs: list[BudgetRef]) -> None:
        store = DbLimitStore(factory, clock=clock)
        await store.admit(1, 10, 100, 5)
        await store.reserve(refs, 300)

    asyncio.run(body([day, total]))
    with session_scope(factory) as session:
        assert reclaim_stale(session, now=T0 + 90) == 0  # the windows are still read, the reservation not expired
        # two old windows and the expired reservation's two budget rows
        assert reclaim_stale(session, now=T0 + DAY + 120) == 4
        rows = session.execute(select(GatewaySpend.scope, GatewaySpend.period_start,
                                      GatewaySpend.reserved_micros)).all()
        assert sorted(rows) == [("key", "2026-01-01", 0), ("key", "total", 0)]
    clock.t = T0 + DAY + 180
    asyncio.run(body([total]))
    with session_scope(factory) as session:
        assert reset_reserved(session) == 1
        assert session.execute(select(GatewaySpend.reserved_micros).where(
            GatewaySpend.period_start == "total")).scalar() == 0
        assert session.execute(select(func.count()).select_from(GatewayReservation)).scalar() == 0
    engine.dispose()


# --- choosing the backend -------------------------------------------------------------------------------------


def test_make_store_picks_redis_or_the_database(db_url: str, tmp_path: Path, redis_prefix: str) -> None:
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    assert isinstance(make_store(make_settings(db_url, tmp_path), factory), DbLimitStore)
    with pytest.raises(ValueError) as caught:
        make_store(make_settings(db_url, tmp_path), None)
    assert str(caught.value) == NO_BACKEND

    async def redis_store() -> object:
        store = make_store(make_settings(db_url, tmp_path, redis_url=REDIS_URL), None)
        await store.aclose()
        return store

    assert isinstance(asyncio.run(redis_store()), RedisLimitStore)
    engine.dispose()


def test_redis_release_twice_frees_once_and_settle_leaves_no_stray_keys(redis_prefix: str) -> None:
    ref = BudgetRef("key", 1, "total", 1_000)

    async def body() -> list[object]:
        store = RedisLimitStore.from_url(REDIS_URL, prefix=redis_prefix, clock=Clock())
        try:
            first = await store.reserve([ref], 400, key_id=7, tokens=50)
            await store.settle(first, 300, actual_tokens=10)  # key 7 has no TPM window: nothing is created
            second, third = await store.reserve([ref], 400), await store.reserve([ref], 300)
            await store.release(second)
            await store.release(second)  # a repeated release must not free the third reservation's hold
            held = await store.budget_state(ref)
            await store.release(third)
            keys = [k.decode().removeprefix(redis_prefix) async for k in store.client.scan_iter(f"{redis_prefix}*")]
            return [held, await store.budget_state(ref), sorted(keys)]
        finally:
            await store.aclose()

    held, state, keys = asyncio.run(body())
    assert held == (300, 300) and state == (300, 0)
    assert keys == ["b:key:1:total"]
