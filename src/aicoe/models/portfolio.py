"""The use-case portfolio: intake, scoring, stage transitions, proof-of-concept criteria, value, patterns.

A few figures are kept on the use case itself (scores, expected and realised value, stage dates) by the services
that change their inputs, so the pipeline and the dashboard read one row per use case, never the detail tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Float, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, User
from aicoe.models.strategy import Kpi, Objective

use_case_objectives = Table(
    "use_case_objectives", Base.metadata,
    Column("use_case_id", ForeignKey("use_cases.id", ondelete="CASCADE"), primary_key=True),
    Column("objective_id", ForeignKey("objectives.id", ondelete="CASCADE"), primary_key=True),
)
use_case_kpis = Table(
    "use_case_kpis", Base.metadata,
    Column("use_case_id", ForeignKey("use_cases.id", ondelete="CASCADE"), primary_key=True),
    Column("kpi_id", ForeignKey("kpis.id", ondelete="CASCADE"), primary_key=True),
)
use_case_patterns = Table(
    "use_case_patterns", Base.metadata,
    Column("use_case_id", ForeignKey("use_cases.id", ondelete="CASCADE"), primary_key=True),
    Column("pattern_id", ForeignKey("patterns.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Counter(Base):
    """Named counters handed out under the row lock (``UPDATE ... RETURNING``), e.g. use-case key numbers."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class UseCase(TimestampMixin, Base):
    __tablename__ = "use_cases"
    __table_args__ = (
        Index("ix_use_cases_stage_unit", "stage", "business_unit_id"),
        Index("ix_use_cases_score_total", "score_total"),
        Index("ix_use_cases_unit_score", "business_unit_id", "score_total"),
        # the dashboard (portfolio/dashboard.py) reads these instead of the wide table rows: its counts and sums
        # (a covering index), its median delivery time and its top use cases by realised benefit
        Index("ix_use_cases_dashboard", "business_unit_id", "stage", "stage_before_hold", "production_at",
              "stage_entered_at", "expected_benefit_annual", "realised_benefit", "realised_cost"),
        Index("ix_use_cases_delivered", "business_unit_id", "production_at", "submitted_at"),
        Index("ix_use_cases_realised_benefit", "realised_benefit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # UC-0001
    title: Mapped[str] = mapped_column(String(200))
    problem_statement: Mapped[str] = mapped_column(Text, default="")
    opportunity_statement: Mapped[str] = mapped_column(Text, default="")
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"))
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    affected_users: Mapped[str] = mapped_column(Text, default="")
    data_needed: Mapped[str] = mapped_column(Text, default="")
    personal_data: Mapped[bool] = mapped_column(default=False)
    ai_type: Mapped[str] = mapped_column(String(20))  # predictive_ml, generative_ai, agentic
    delivery_mode: Mapped[str | None] = mapped_column(String(10))  # build, buy, partner
    delivery_rationale: Mapped[str] = mapped_column(Text, default="")
    build_cost_estimate: Mapped[float] = mapped_column(Float, default=0.0)
    run_cost_estimate: Mapped[float] = mapped_column(Float, default=0.0, doc="per year")
    target_date: Mapped[date | None]
    stage: Mapped[str] = mapped_column(String(20), default="idea")
    stage_before_hold: Mapped[str | None] = mapped_column(String(20))
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    production_at: Mapped[datetime | None]
    # maintained by the services that change their inputs (see module docstring)
    expected_benefit_annual: Mapped[float] = mapped_column(Float, default=0.0)
    realised_benefit: Mapped[float] = mapped_column(Float, default=0.0)
    realised_cost: Mapped[float] = mapped_column(Float, default=0.0)
    score_total: Mapped[float | None] = mapped_column(Float)
    score_value: Mapped[float | None] = mapped_column(Float)
    score_feasibility: Mapped[float | None] = mapped_column(Float)
    score_spread: Mapped[float | None] = mapped_column(Float)
    scorer_count: Mapped[int] = mapped_column(default=0)

    business_unit: Mapped[BusinessUnit] = relationship()
    sponsor: Mapped[User | None] = relationship(foreign_keys=[sponsor_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    benefits: Mapped[list[ExpectedBenefit]] = relationship(
        back_populates="use_case", cascade="all, delete-orphan", order_by="ExpectedBenefit.id")
    objectives: Mapped[list[Objective]] = relationship(secondary=use_case_objectives, order_by="Objective.title")
    kpis: Mapped[list[Kpi]] = relationship(secondary=use_case_kpis, order_by="Kpi.name")
    patterns: Mapped[list[Pattern]] = relationship(secondary=use_case_patterns, back_populates="use_cases",
                                                   order_by="Pattern.name")
    transitions: Mapped[list[StageTransition]] = relationship(
        back_populates="use_case", cascade="all, delete-orphan", order_by="StageTransition.id")
    criteria: Mapped[list[SuccessCriterion]] = relationship(
        back_populates="use_case", cascade="all, delete-orphan", order_by="SuccessCriterion.id")


class ExpectedBenefit(Base):
    __tablename__ = "expected_benefits"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # one of constants.BENEFIT_KINDS
    amount: Mapped[float] = mapped_column(Float, doc="money per year")
    quantity: Mapped[float | None] = mapped_column(Float, doc="e.g. hours saved per year, NPS points")
    confidence: Mapped[int] = mapped_column(default=50, doc="percent")
    note: Mapped[str] = mapped_column(Text, default="")

    use_case: Mapped[UseCase] = relationship(back_populates="benefits")


class ScoringModel(TimestampMixin, Base):
    __tablename__ = "scoring_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=False)

    criteria: Mapped[list[ScoringCriterion]] = relationship(
        back_populates="model", cascade="all, delete-orphan", order_by="ScoringCriterion.position")


class ScoringCriterion(Base):
    __tablename__ = "scoring_criteria"
    __table_args__ = (UniqueConstraint("model_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("scoring_models.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    inverse: Mapped[bool] = mapped_column(default=False, doc="a high rating is bad (e.g. risk)")
    axis: Mapped[str] = mapped_column(String(12))  # value or feasibility (for the matrix)
    position: Mapped[int] = mapped_column(default=0)

    model: Mapped[ScoringModel] = relationship(back_populates="criteria")


class Score(TimestampMixin, Base):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("use_case_id", "criterion_id", "scorer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("scoring_criteria.id", ondelete="CASCADE"), index=True)
    scorer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    value: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")

    criterion: Mapped[ScoringCriterion] = relationship()
    scorer: Mapped[User] = relationship()


class StageTransition(Base):
    """A recorded stage decision: who, when, why, and the gate checks as they stood."""

    __tablename__ = "stage_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_label: Mapped[str] = mapped_column(String(254))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    override_reason: Mapped[str | None] = mapped_column(Text)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    use_case: Mapped[UseCase] = relationship(back_populates="transitions")


class SuccessCriterion(TimestampMixin, Base):
    """A proof-of-concept success criterion and, once measured, its result and evidence."""

    __tablename__ = "success_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(200))
    comparator: Mapped[str] = mapped_column(String(2))  # >=, >, <=, <, ==
    threshold: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40), default="")
    how_measured: Mapped[str] = mapped_column(Text, default="")
    result_value: Mapped[float | None] = mapped_column(Float)
    result_note: Mapped[str] = mapped_column(Text, default="")
    result_link: Mapped[str] = mapped_column(String(500), default="")
    result_evidence: Mapped[str] = mapped_column(String(120), default="", doc="e.g. evaluation-run:42")
    result_recorded_at: Mapped[datetime | None]
    result_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    use_case: Mapped[UseCase] = relationship(back_populates="criteria")


class ValueEntry(Base):
    """A cost or benefit realised in one month (money; ``quantity`` for non-money measures like hours)."""

    __tablename__ = "value_entries"
    __table_args__ = (Index("ix_value_entries_use_case_period", "use_case_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case_id: Mapped[int] = mapped_column(ForeignKey("use_cases.id", ondelete="CASCADE"))
    period: Mapped[date] = mapped_column(doc="first day of the month")
    kind: Mapped[str] = mapped_column(String(32))  # cost_build, cost_run, cost_licence, cost_inference, benefit_*
    amount: Mapped[float] = mapped_column(Float)
    quantity: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pattern(TimestampMixin, Base):
    """A reusable solution pattern (e.g. document summarisation) shared across business units."""

    __tablename__ = "patterns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")

    use_cases: Mapped[list[UseCase]] = relationship(secondary=use_case_patterns, back_populates="patterns")
