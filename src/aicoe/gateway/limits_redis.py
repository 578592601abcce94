"""Limits and budgets in Redis: one Lua script per operation, so every check-and-count is atomic across workers.

Keys (under ``prefix``): ``w:{rpm|tpm}:{key_id}:{window}`` counters that expire after two windows;
``b:{scope}:{scope_id}:{period}`` hashes (``spent``, ``reserved``) that expire a week after their period ends
(``total`` never); ``r:{token}`` one hash per open reservation (amount and budget keys) and ``r:due``, a sorted
set of open reservations by deadline. A worker that dies holding reservations leaks nothing for long: every
``reserve`` first reclaims up to ``REAP_BATCH`` reservations past their deadline, and ``reclaim_stale`` reclaims
them all. A settle that arrives after its reservation was reclaimed still records the spend.
Meant for a single Redis (or a primary with replicas), not Redis Cluster: scripts touch reservation keys by name.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from aicoe.gateway.limits import (
    RESERVATION_TTL_S,
    BudgetRef,
    Clock,
    Reservation,
    budget_error,
    now_ms,
    ordered,
    period_end_ms,
    period_key,
    rate_error,
    window_of,
)

DEFAULT_PREFIX = "aicoe:gw:"
REAP_BATCH = 16
BUDGET_GRACE_MS = 7 * 86_400_000
MAX_CONNECTIONS = 64
POOL_WAIT_S = 5.0

# Give back what reservations past their deadline hold. KEYS[1] = r:due; ARGV[1] = now ms, ARGV[2] = prefix,
# ARGV[3] = how many at most.
_REAP = """
local function reap(due, now, prefix, batch)
  local tokens = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, batch)
  for _, tok in ipairs(tokens) do
    local rk = prefix .. 'r:' .. tok
    local held = redis.call('HMGET', rk, 'a', 'k')
    if held[1] then
      for _, bk in ipairs(cjson.decode(held[2])) do
        if redis.call('EXISTS', bk) == 1 then redis.call('HINCRBY', bk, 'reserved', 0 - tonumber(held[1])) end
      end
      redis.call('DEL', rk)
    end
    redis.call('ZREM', due, tok)
  end
  return #tokens
end
"""

# KEYS: rpm cur, rpm prev, tpm cur, tpm prev. ARGV: elapsed ms, rpm limit (-1: none), tpm limit (-1), tokens.
# Returns {0} when admitted, else {1 (rpm) | 2 (tpm), prev, cur}.
ADMIT = """
local elapsed, rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function fits(limit, cur_key, prev_key, need)
  local cur = tonumber(redis.call('GET', cur_key) or '0')
  local prev = tonumber(redis.call('GET', prev_key) or '0')
  local cap = math.floor((limit * 60000 - prev * (60000 - elapsed)) / 60000)
  return cur + need <= cap, prev, cur
end
if rpm >= 0 then
  local ok, prev, cur = fits(rpm, KEYS[1], KEYS[2], 1)
  if not ok then return {1, prev, cur} end
end
if tpm >= 0 then
  local ok, prev, cur = fits(tpm, KEYS[3], KEYS[4], tokens)
  if not ok then return {2, prev, cur} end
end
if rpm >= 0 then redis.call('INCRBY', KEYS[1], 1); redis.call('PEXPIRE', KEYS[1], 120000) end
if tpm >= 0 then redis.call('INCRBY', KEYS[3], tokens); redis.call('PEXPIRE', KEYS[3], 120000) end
return {0}
"""

# KEYS: r:due, r:{token}, budget keys... ARGV: now ms, prefix, amount, deadline ms, token, then per budget key its
# limit and its time to live (ms from now, 0: none). Returns 0 when reserved, else the 1-based index of the refusing
# budget.
RESERVE = _REAP + """
local now, prefix, amount = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
reap(KEYS[1], now, prefix, REAP_BATCH)
local n = #KEYS - 2
for i = 1, n do
  local held = redis.call('HMGET', KEYS[i + 2], 'spent', 'reserved')
  local used = tonumber(held[1] or '0') + tonumber(held[2] or '0')
  if used + amount > tonumber(ARGV[5 + 2 * i - 1]) then return i end
end
local keys = {}
for i = 1, n do
  local bk = KEYS[i + 2]
  redis.call('HINCRBY', bk, 'reserved', amount)
  redis.call('HSETNX', bk, 'spent', 0)
  local ttl = tonumber(ARGV[5 + 2 * i])
  if ttl > 0 then redis.call('PEXPIRE', bk, ttl) end
  keys[i] = bk
end
redis.call('HSET', KEYS[2], 'a', amount, 'k', cjson.encode(keys))
redis.call('ZADD', KEYS[1], tonumber(ARGV[4]), ARGV[5])
return 0
""".replace("REAP_BATCH", str(REAP_BATCH))

# KEYS: r:due, r:{token}, tpm window, budget keys... ARGV: token, reserved amount, spent amount, token correction.
SETTLE = """
local amount, spend, delta = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local open = redis.call('DEL', KEYS[2]) == 1
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 4, #KEYS do
  if open then redis.call('HINCRBY', KEYS[i], 'reserved', 0 - amount) end
  redis.call('HINCRBY', KEYS[i], 'spent', spend)
end
if delta ~= 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  local left = redis.call('INCRBY', KEYS[3], delta)
  if left < 0 then redis.call('SET', KEYS[3], 0, 'KEEPTTL') end
end
return open and 1 or 0
"""

# KEYS: r:due, r:{token}, budget keys... ARGV: token, amount.
RELEASE = """
if redis.call('DEL', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]); return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 3, #KEYS do redis.call('HINCRBY', KEYS[i], 'reserved', 0 - tonumber(ARGV[2])) end
return 1
"""

RECLAIM = _REAP + "return reap(KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]))"


class RedisLimitStore:
    """The Redis backend; ``client`` is a ``redis.asyncio.Redis``."""

    def __init__(self, client: object, *, prefix: str = DEFAULT_PREFIX, clock: Clock = time.time,
                 reservation_ttl_s: float = RESERVATION_TTL_S) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.reservation_ttl_ms = int(reservation_ttl_s * 1000)
        register = client.register_script  # type: ignore[attr-defined]
        self._admit, self._reserve = register(ADMIT), register(RESERVE)
        self._settle, self._release, self._reclaim = register(SETTLE), register(RELEASE), register(RECLAIM)

    @classmethod
    def from_url(cls, url: str, *, max_connections: int = MAX_CONNECTIONS, **kwargs: object) -> RedisLimitStore:
        """A client whose pool waits for a free connection rather than failing under a burst."""
        from redis.asyncio import BlockingConnectionPool, Redis

        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=POOL_WAIT_S)
        return cls(Redis(connection_pool=pool), **kwargs)  # type: ignore[arg-type]

    def _window_key(self, kind: str, key_id: int, window: int) -> str:
        return f"{self.prefix}w:{kind}:{key_id}:{window}"

    def _budget_key(self, ref: BudgetRef, period: str) -> str:
        return f"{self.prefix}b:{ref.scope}:{ref.scope_id}:{period}"

    def _reservation_keys(self, token: str) -> list[str]:
        return [f"{self.prefix}r:due", f"{self.prefix}r:{token}"]

    async def admit(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> None:
        if rpm is None and tpm is None:
            return
        window, elapsed = window_of(now_ms(self.clock))
        keys = [self._window_key(kind, key_id, w) for kind in ("rpm", "tpm") for w in (window, window - 1)]
        args = [elapsed, -1 if rpm is None else rpm, -1 if tpm is None else tpm, tokens]
        result = await self._admit(keys=keys, args=args)
        if int(result[0]) == 1:
            raise rate_error("rpm", rpm or 0, int(result[1]), int(result[2]), 1, elapsed)
        if int(result[0]) == 2:
            raise rate_error("tpm", tpm or 0, int(result[1]), int(result[2]), tokens, elapsed)

    async def reserve(self, refs: Sequence[BudgetRef], amount_micros: int, *, key_id: int | None = None,
                      tokens: int = 0) -> Reservation:
        ms = now_ms(self.clock)
        refs = ordered(refs)
        periods = tuple(period_key(ref.period, ms) for ref in refs)
        reservation = Reservation(uuid.uuid4().hex, refs, amount_micros, periods, key_id, tokens, window_of(ms)[0])
        if not refs:
            return reservation
        for ref in refs:
            if amount_micros > ref.limit_micros:
                raise budget_error(ref, ms)
        args: list[object] = [ms, self.prefix, amount_micros, ms + self.reservation_ttl_ms, reservation.token]
        for ref in refs:
            end = period_end_ms(ref.period, ms)
            args += [ref.limit_micros, 0 if end is None else end + BUDGET_GRACE_MS - ms]
        budget_keys = [self._budget_key(ref, p) for ref, p in zip(refs, periods, strict=True)]
        refused = int(await self._reserve(keys=self._reservation_keys(reservation.token) + budget_keys, args=args))
        if refused:
            raise budget_error(refs[refused - 1], ms)
        return reservation

    async def settle(self, reservation: Reservation, actual_micros: int, actual_tokens: int | None = None) -> None:
        delta = 0 if actual_tokens is None or reservation.key_id is None else actual_tokens - reservation.tokens
        if not reservation.refs and delta == 0:
            return
        tpm_key = self._window_key("tpm", reservation.key_id or 0, reservation.window)
        spend = max(0, min(actual_micros, reservation.amount_micros))
        keys = self._reservation_keys(reservation.token) + [tpm_key] + self._budget_keys(reservation)
        await self._settle(keys=keys, args=[reservation.token, reservation.amount_micros, spend, delta])

    async def release(self, reservation: Reservation) -> None:
        if not reservation.refs:
            return
        keys = self._reservation_keys(reservation.token) + self._budget_keys(reservation)
        await self._release(keys=keys, args=[reservation.token, reservation.amount_micros])

    async def reclaim_stale(self) -> int:
        """Give back every reservation past its deadline (a worker died holding it); returns how many."""
        due = self._reservation_keys("")[0]
        total = 0
        while True:
            count = int(await self._reclaim(keys=[due], args=[now_ms(self.clock), self.prefix, 500]))
            total += count
            if count < 500:
                return total

    async def budget_state(self, ref: BudgetRef) -> tuple[int, int]:
        """(spent, reserved) of ``ref``'s current period, for dashboards and tests."""
        key = self._budget_key(ref, period_key(ref.period, now_ms(self.clock)))
        spent, reserved = await self.client.hmget(key, ["spent", "reserved"])  # type: ignore[attr-defined]
        return int(spent or 0), int(reserved or 0)

    def _budget_keys(self, reservation: Reservation) -> list[str]:
        return [self._budget_key(r, p) for r, p in zip(reservation.refs, reservation.period_keys, strict=True)]

    async def aclose(self) -> None:
        await self.client.aclose()  # type: ignore[attr-defined]

