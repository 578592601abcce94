"""Reminders for attestations: pending ones of a version in force that fall due within a week, or are overdue,
and were not reminded in the last three days.

Each reminder stamps the attestation (``reminder_count``, ``last_reminded_at``), writes one audit event
("remind") and one log line (ids only: no names or addresses in the log). Delivery to people (mail, chat) is a
notifier's job reading these stamps; running twice within three days reminds nobody twice. The background job
``policy.attestation_reminders`` and the CLI/API call the same function.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.core.time import utcnow
from aicoe.jobs.registry import JobContext, job_handler
from aicoe.models.policy import Attestation, Policy, PolicyVersion

log = logging.getLogger(__name__)

JOB_KIND = "policy.attestation_reminders"
DUE_WITHIN_DAYS = 7
QUIET_DAYS = 3


@dataclass
class ReminderRun:
    reminded: int = 0
    overdue: int = 0
    due_soon: int = 0

    @property
    def summary(self) -> str:
        return f"reminded {self.reminded} ({self.overdue} overdue, {self.due_soon} due within {DUE_WITHIN_DAYS} days)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def send_reminders(session: Session, *, now: datetime | None = None,
                   actor: ledger.AuditActor = ledger.SYSTEM) -> ReminderRun:
    """Stamp and audit every attestation that needs a reminder now. Flushes, never commits."""
    moment = now or utcnow()
    today = moment.date()
    stmt = (select(Attestation).join(PolicyVersion).join(Policy)
            .where(Attestation.status == "pending", PolicyVersion.status == "published", Policy.status == "active",
                   Attestation.due_date <= today + timedelta(days=DUE_WITHIN_DAYS),
                   or_(Attestation.last_reminded_at.is_(None),
                       Attestation.last_reminded_at <= moment - timedelta(days=QUIET_DAYS)))
            .options(selectinload(Attestation.policy_version).selectinload(PolicyVersion.policy))
            .order_by(Attestation.due_date, Attestation.id))
    run = ReminderRun()
    for attestation in session.scalars(stmt):
        assert attestation.due_date is not None
        overdue = attestation.due_date < today
        run.reminded += 1
        run.overdue += overdue
        run.due_soon += not overdue
        attestation.reminder_count += 1
        attestation.last_reminded_at = moment
        version = attestation.policy_version
        diff = ledger.changed(attestation)
        diff.update({"policy": [None, version.policy.key], "version": [None, version.version],
                     "due_date": [None, attestation.due_date]})
        ledger.append(session, actor, "remind", "attestation", attestation.id, diff)
        log.info("attestation reminder: attestation=%s policy=%s version=%s user=%s due=%s overdue=%s",
                 attestation.id, version.policy.key, version.version, attestation.user_id,
                 attestation.due_date.isoformat(), overdue)
    return run


@job_handler(JOB_KIND)
def reminder_job(ctx: JobContext) -> dict[str, Any]:
    """Safe to repeat: a second run within three days finds nothing left to remind."""
    ctx.progress(0.0, "finding attestations to remind")
    with ctx.session(write=True) as session:
        run = send_reminders(session)
    ctx.progress(1.0, run.summary)
    return run.as_dict()
