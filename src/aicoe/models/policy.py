"""Policies with Markdown versions, and the attestations people are asked to give on a published version."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.core.time import utcnow
from aicoe.models.org import User


class Policy(TimestampMixin, Base):
    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # POL-001
    title: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_cycle_months: Mapped[int] = mapped_column(default=12)
    next_review_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, active, retired

    owner: Mapped[User | None] = relationship()
    versions: Mapped[list[PolicyVersion]] = relationship(back_populates="policy", cascade="all, delete-orphan",
                                                         order_by="PolicyVersion.version")


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    version: Mapped[int]
    body_md: Mapped[str] = mapped_column(Text)
    change_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, published, superseded
    effective_date: Mapped[date | None]
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    policy: Mapped[Policy] = relationship(back_populates="versions")


class Attestation(Base):
    """A person asked to attest a policy version, and whether (and when) they did."""

    __tablename__ = "attestations"
    __table_args__ = (UniqueConstraint("policy_version_id", "user_id"),
                      Index("ix_attestations_user_status", "user_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, attested
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_date: Mapped[date | None]
    attested_at: Mapped[datetime | None]
    reminder_count: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[datetime | None]

    policy_version: Mapped[PolicyVersion] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
