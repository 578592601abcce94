"""Retries with backoff and a circuit breaker per upstream provider.

An upstream that answers 429 or 5xx, refuses the connection or times out is retried with exponential backoff and
full jitter (so many gateway workers do not retry in lockstep), honouring its ``Retry-After`` up to a cap: a longer
wait is not worth holding the caller, so the gateway falls back to the next route instead. A provider that keeps
failing opens its circuit: requests skip it without waiting on it until a cool-down has passed, then one probe
request (half-open) decides whether it closes again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts on one route; attempts per route come from the provider's max_retries."""

    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    retry_after_cap_s: float = 10.0
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry number ``attempt`` (0 for the first retry)."""
        return self.rng() * min(self.max_delay_s, self.base_delay_s * (2**attempt))

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the upstream asks for longer than the cap (fall
        back to the next route rather than wait)."""
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.retry_after_cap_s:
            return None
        return retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class BreakerPolicy:
    """A provider's circuit opens after ``failure_threshold`` consecutive failed attempts and is probed again
    ``cooldown_s`` later."""

    failure_threshold: int = 5
    cooldown_s: float = 30.0


class CircuitBreaker:
    """Closed -> open after N consecutive failures -> half-open after the cool-down (one probe at a time) ->
    closed on the probe's success, open again on its failure. Runs on one event loop, so it needs no lock."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self.state = CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probing = False

    def allow(self) -> bool:
        """Whether a request may go to this provider now (claims the probe when half-open)."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            if self._clock() - self._opened_at < self.policy.cooldown_s:
                return False
            self.state = HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        self.state = CLOSED
        self.failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.policy.failure_threshold:
            self.state = OPEN
            self._opened_at = self._clock()
            self._probing = False

    def release(self) -> None:
        """Give back a probe whose request ended without a verdict (the caller went away)."""
        self._probing = False

    def retry_in(self) -> float | None:
        """Seconds until an open circuit lets a probe through (a Retry-After for callers), else None."""
        if self.state != OPEN:
            return None
        return max(0.0, self.policy.cooldown_s - (self._clock() - self._opened_at))


class Breakers:
    """One circuit breaker per provider id, created on first use."""

    def __init__(self, policy: BreakerPolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._by_provider: dict[int, CircuitBreaker] = {}

    def get(self, provider_id: int) -> CircuitBreaker:
        breaker = self._by_provider.get(provider_id)
        if breaker is None:
            breaker = self._by_provider[provider_id] = CircuitBreaker(self.policy, self._clock)
        return breaker
