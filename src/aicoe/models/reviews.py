"""Review requests to a board (ethics board, steering committee) on a use case or AI system, the members'
decisions and comments, and the re-review cadence by risk tier."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, User

review_required_approvers = Table(
    "review_required_approvers", Base.metadata,
    Column("review_id", ForeignKey("review_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ReviewRequest(TimestampMixin, Base):
    __tablename__ = "review_requests"
    __table_args__ = (Index("ix_review_requests_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # REV-0001
    board: Mapped[str] = mapped_column(String(24))  # reviews.constants.BOARDS
    subject_type: Mapped[str] = mapped_column(String(16))  # use_case, ai_system
    subject_id: Mapped[int]
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    quorum: Mapped[int] = mapped_column(default=1, doc="approving decisions needed, the required approvers' included")
    status: Mapped[str] = mapped_column(String(24), default="open")  # reviews.constants.REQUEST_STATUSES
    conditions: Mapped[str] = mapped_column(Text, default="")
    due_date: Mapped[date | None]
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]

    business_unit: Mapped[BusinessUnit] = relationship()
    requested_by: Mapped[User | None] = relationship()
    required_approvers: Mapped[list[User]] = relationship(secondary=review_required_approvers,
                                                          order_by="User.full_name")
    decisions: Mapped[list[ReviewDecision]] = relationship(back_populates="review", cascade="all, delete-orphan",
                                                           order_by="ReviewDecision.id")
    comments: Mapped[list[ReviewComment]] = relationship(back_populates="review", cascade="all, delete-orphan",
                                                         order_by="ReviewComment.id")


class ReviewDecision(Base):
    """One member's decision on a review request (their latest decision counts)."""

    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("review_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review_requests.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(24))  # approve, approve_with_conditions, reject
    conditions: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[ReviewRequest] = relationship(back_populates="decisions")
    user: Mapped[User] = relationship()


class ReviewComment(Base):
    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review_requests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[ReviewRequest] = relationship(back_populates="comments")
    user: Mapped[User | None] = relationship()


class ReviewCadence(TimestampMixin, Base):
    """How often AI systems of a risk tier must be re-reviewed, and by which board."""

    __tablename__ = "review_cadences"

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_tier: Mapped[str] = mapped_column(String(16), unique=True)  # compliance.constants.RISK_TIERS
    interval_months: Mapped[int]
    board: Mapped[str] = mapped_column(String(24))
