"""Handlers the platform itself needs: verifying the audit chain in the background."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aicoe.audit import ledger
from aicoe.jobs.registry import JobContext, job_handler


@job_handler("audit.verify")
def verify_audit_chain(ctx: JobContext) -> dict[str, Any]:
    """Walk the whole ledger; a large chain takes a while, so it belongs off the request path."""
    ctx.progress(0.0, "verifying the audit chain")
    with ctx.session() as session:
        result = ledger.verify(session)
    ctx.progress(1.0, "chain intact" if result.ok else f"broken at event {result.broken_seq}")
    return asdict(result)
