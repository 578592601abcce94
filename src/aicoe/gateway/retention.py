"""Retention of gateway prompt logs: a log row carries its own ``expires_at`` (the key's retention when it was
written), and this job deletes the rows whose time has come, in batches so no transaction holds many rows.

One audit event (action "purge") records how many rows went, never what they held. The same job reclaims what
the limit store left behind: reservations past their expiry (a worker died holding them) in the database and, with
Redis, in Redis too, and stale rate windows. Safe to repeat: a second run finds nothing to do. It runs as the
background job ``gateway.retention``; queue it daily from cron (a reservation that an expired hold would refuse
reclaims that hold itself, so the job only tidies up).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.gateway import limits_db
from aicoe.jobs.registry import JobContext, job_handler
from aicoe.models.gateway import PromptLog

JOB_KIND = "gateway.retention"
BATCH = 5000
log = logging.getLogger(__name__)


def purge_batch(session: Session, now: datetime, batch: int = BATCH) -> int:
    """Delete up to ``batch`` expired prompt logs; how many went (flushes, the caller commits)."""
    ids = list(session.scalars(select(PromptLog.id).where(PromptLog.expires_at <= now)
                               .order_by(PromptLog.id).limit(batch)))
    if not ids:
        return 0
    session.execute(delete(PromptLog).where(PromptLog.id.in_(ids)))
    ledger.append(session, ledger.SYSTEM, "purge", "gateway_prompt_log", "expired",
                  {"expired_before": [None, now], "purged": [None, len(ids)]})
    return len(ids)


async def _reclaim_redis(settings: Settings) -> int:
    from aicoe.gateway.limits_redis import RedisLimitStore

    store = RedisLimitStore.from_url(settings.redis_url or "")
    try:
        return await store.reclaim_stale()
    finally:
        await store.aclose()


@job_handler(JOB_KIND)
def retention_job(ctx: JobContext) -> dict[str, Any]:
    now = utcnow()
    purged = 0
    while True:
        ctx.check_cancelled()
        with ctx.session(write=True) as session:
            n = purge_batch(session, now)
        purged += n
        if n < BATCH:
            break
        ctx.progress(0.5, f"{purged} expired prompt log(s) purged so far")
    with ctx.session(write=True) as session:
        reclaimed = limits_db.reclaim_stale(session)
    if ctx.settings.redis_url:
        reclaimed += asyncio.run(_reclaim_redis(ctx.settings))
    log.info("gateway retention: %s expired prompt log(s) purged, %s stale limit row(s) reclaimed", purged, reclaimed)
    ctx.progress(1.0, f"{purged} expired prompt log(s) purged, {reclaimed} stale limit row(s) reclaimed")
    return {"purged": purged, "reclaimed": reclaimed}
