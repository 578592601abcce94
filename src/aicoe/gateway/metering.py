"""Usage records, guardrail events and prompt logs, written off the hot path in batches.

Requests append plain rows to an in-memory buffer; one task writes the buffer every ``gateway_usage_flush_s``
seconds, or as soon as ``gateway_usage_batch`` usage rows wait, in a worker thread and one transaction per batch
(bulk inserts, plus each key's ``last_used_at``). ``close()`` (the gateway's shutdown) writes whatever is pending,
so a clean stop loses nothing it acknowledged; a crash loses at most one flush interval. While the database is
unavailable the rows stay pending and are retried; past ``MAX_PENDING_BATCHES`` batches the oldest are dropped
and counted (``aicoe_gateway_usage_dropped_total``) so memory stays bounded.

Prompt logs are redacted in the writer thread (``redact_for_log``), never on the request path, and raw text is
kept only in memory until then.

Guard checks that call the embedding route run in worker threads; they queue their usage rows through
``add_threadsafe``, which hands them to the event loop the writer runs on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session, sessionmaker

from aicoe.core.db import session_scope
from aicoe.core.time import utcnow
from aicoe.engines.guardrails.guard import redact_for_log
from aicoe.engines.guardrails.policy import GuardPolicy
from aicoe.gateway import metrics
from aicoe.models.gateway import GuardrailEvent, PromptLog, UsageRecord, VirtualKey

log = logging.getLogger("aicoe.gateway.metering")

MAX_PENDING_BATCHES = 100
WRITE_FAILED = "writing %d gateway usage rows failed (%s); they stay pending and are retried"
DROPPED = "dropped %d gateway usage rows: the database stayed unavailable and the pending queue is full"
NOT_RUNNING = "a %s usage row arrived while the usage writer was not running; it is not recorded"


@dataclass
class PromptEntry:
    """A prompt and its answer for a key that logs them; ``mode`` is "redacted" or "full"."""

    request_id: str
    key_id: int
    mode: str
    prompt: str
    response: str
    retention_days: int
    policy: GuardPolicy | None = None
    ts: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, Any]:
        prompt, response = self.prompt, self.response
        if self.mode != "full":
            prompt, response = redact_for_log(prompt, self.policy), redact_for_log(response, self.policy)
        return {"ts": self.ts, "request_id": self.request_id, "key_id": self.key_id, "mode": self.mode,
                "prompt": prompt, "response": response,
                "expires_at": self.ts + timedelta(days=self.retention_days)}


@dataclass
class _Batch:
    usage: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[PromptEntry] = field(default_factory=list)
    last_used: dict[int, datetime] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.usage) + len(self.events) + len(self.prompts)


class UsageWriter:
    """Batches rows in memory and writes them in a thread; one per gateway process."""

    def __init__(self, session_factory: sessionmaker[Session], *, flush_s: float, batch: int) -> None:
        self._factory, self._flush_s, self._batch_size = session_factory, flush_s, batch
        self._pending = _Batch()
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    def start(self) -> None:
        self._wake, self._lock = asyncio.Event(), asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="gateway-usage-writer")

    def add(self, usage: dict[str, Any], events: list[dict[str, Any]] | None = None,
            prompt: PromptEntry | None = None) -> None:
        pending = self._pending
        pending.usage.append(usage)
        if events:
            pending.events.extend(events)
        if prompt is not None:
            pending.prompts.append(prompt)
        if usage.get("key_id") is not None:
            pending.last_used[usage["key_id"]] = usage["ts"]
        metrics.USAGE_PENDING.set(len(pending))
        if len(pending.usage) >= self._batch_size and self._wake is not None:
            self._wake.set()

    def add_threadsafe(self, usage: dict[str, Any]) -> None:
        """``add`` from a worker thread: the buffer belongs to the event loop, so the row is handed to it."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning(NOT_RUNNING, usage.get("endpoint", ""))
            return
        loop.call_soon_threadsafe(self.add, usage)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything pending now (in a thread); on failure keep it pending."""
        assert self._lock is not None
        async with self._lock:
            batch, self._pending = self._pending, _Batch()
            if not len(batch):
                return
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # noqa: BLE001 -- keep the rows, retry on the next flush
                log.warning(WRITE_FAILED, len(batch), type(exc).__name__)
                self._requeue(batch)
            metrics.USAGE_PENDING.set(len(self._pending))

    def _requeue(self, batch: _Batch) -> None:
        newer = self._pending
        batch.usage += newer.usage
        batch.events += newer.events
        batch.prompts += newer.prompts
        batch.last_used.update(newer.last_used)
        cap = MAX_PENDING_BATCHES * self._batch_size
        dropped = 0
        for rows in (batch.usage, batch.events, batch.prompts):
            if len(rows) > cap:
                dropped += len(rows) - cap
                del rows[: len(rows) - cap]
        if dropped:
            log.error(DROPPED, dropped)
            metrics.USAGE_DROPPED.inc(dropped)
        self._pending = batch

    def _write(self, batch: _Batch) -> None:
        with session_scope(self._factory) as session:
            if batch.usage:
                session.execute(insert(UsageRecord), batch.usage)
            if batch.events:
                session.execute(insert(GuardrailEvent), batch.events)
            if batch.prompts:
                session.execute(insert(PromptLog), [p.row() for p in batch.prompts])
            if batch.last_used:
                table = VirtualKey.__table__
                session.execute(update(table).where(table.c.id == bindparam("b_id"))
                                .values(last_used_at=bindparam("b_ts")),
                                [{"b_id": k, "b_ts": ts} for k, ts in batch.last_used.items()])

    async def close(self) -> None:
        """Stop the timer and write what is pending."""
        self._closing = True
        if self._task is not None and self._wake is not None:
            self._wake.set()
            await self._task
            self._task = None
        if self._lock is not None:
            await self.flush()
