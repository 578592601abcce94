"""Reminders for evidence that is about to expire or has expired, so its owners renew it in time.

Each run looks at the latest version of every evidence series that expires within ``evidence_reminder_days`` (or
already has), skips what was reminded in the last ``REMIND_EVERY`` days, stamps ``last_reminded_at`` and records
one audit event (action "remind") and one log line (ids and titles only) per reminder. Running twice in a row
reminds nobody twice, so the job is safe to repeat. It runs as the background job
``compliance.evidence_reminders``, from ``aicoe evidence remind`` and from ``POST /api/v1/evidence/reminders``
(limited there to the units the caller may write).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor
from aicoe.compliance.evidence import WRITE, evidence_query
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.jobs.registry import JobContext, job_handler
from aicoe.models.compliance import Evidence

JOB_KIND = "compliance.evidence_reminders"
REMIND_EVERY = timedelta(days=7)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReminderReport:
    expiring: int
    expired: int
    evidence_ids: list[int]

    @property
    def reminded(self) -> int:
        return self.expiring + self.expired

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reminded": self.reminded}


def send_reminders(session: Session, principal: Actor, settings: Settings, *,
                   now: datetime | None = None) -> ReminderReport:
    """Remind about every due evidence in the caller's writable units (all of them for the system)."""
    now = now or utcnow()
    today = now.date()
    horizon: date = today + timedelta(days=settings.evidence_reminder_days)
    due = session.scalars(evidence_query(principal, WRITE).where(
        Evidence.is_latest.is_(True), Evidence.expires_on.is_not(None), Evidence.expires_on <= horizon,
        or_(Evidence.last_reminded_at.is_(None), Evidence.last_reminded_at <= now - REMIND_EVERY),
    ).order_by(Evidence.expires_on, Evidence.id).with_for_update())
    counts = {"expiring": 0, "expired": 0}
    reminded: list[int] = []
    for evidence in due:
        expires_on: date = evidence.expires_on  # type: ignore[assignment]  # the query requires one
        state = "expired" if expires_on < today else "expiring"
        days = (expires_on - today).days
        counts[state] += 1
        reminded.append(evidence.id)
        previous = evidence.last_reminded_at
        evidence.last_reminded_at = now
        ledger.append(session, audit_actor(principal), "remind", "evidence", evidence.id, {
            "state": [None, state], "expires_on": [None, expires_on.isoformat()],
            "last_reminded_at": [previous, now]})
        when = f"expired {-days} day(s) ago" if days < 0 else f"expires in {days} day(s)"
        log.info("evidence reminder: evidence %s %r %s (on %s)", evidence.id, evidence.title, when,
                 expires_on.isoformat())
    return ReminderReport(expiring=counts["expiring"], expired=counts["expired"], evidence_ids=reminded)


@job_handler(JOB_KIND)
def reminders_job(ctx: JobContext) -> dict[str, Any]:
    """The background form: one run over all units, as the system."""
    ctx.progress(0.0, "looking for evidence that expires soon")
    with ctx.session(write=True) as session:
        report = send_reminders(session, None, ctx.settings)
    ctx.progress(1.0, f"{report.reminded} reminder(s): {report.expiring} expiring, {report.expired} expired")
    return report.as_dict()
