"""The risk register: risks on AI systems, use cases, datasets, models and vendors, scored on a configurable
likelihood × impact matrix, with treatment and linked controls."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.models.compliance import Control
from aicoe.models.org import BusinessUnit, User

risk_controls = Table(
    "risk_controls", Base.metadata,
    Column("risk_id", ForeignKey("risks.id", ondelete="CASCADE"), primary_key=True),
    Column("control_id", ForeignKey("controls.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class RiskMatrix(TimestampMixin, Base):
    """The scoring matrix (one row): axis labels and the score bands that name a level."""

    __tablename__ = "risk_matrices"

    id: Mapped[int] = mapped_column(primary_key=True)
    likelihood_labels: Mapped[list[str]] = mapped_column(JSON)  # index 0 = score 1
    impact_labels: Mapped[list[str]] = mapped_column(JSON)
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"level": "low", "min": 1, "max": 4}, …]


class Risk(TimestampMixin, Base):
    __tablename__ = "risks"
    __table_args__ = (Index("ix_risks_subject", "subject_type", "subject_id"),
                      Index("ix_risks_unit_status", "business_unit_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)  # RSK-0001
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(24))  # risk.constants.CATEGORIES
    subject_type: Mapped[str] = mapped_column(String(16))  # ai_system, use_case, dataset, model, vendor
    subject_id: Mapped[int]
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"),
                                                  doc="the subject's unit, for scoping")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    inherent_likelihood: Mapped[int]
    inherent_impact: Mapped[int]
    residual_likelihood: Mapped[int | None]
    residual_impact: Mapped[int | None]
    inherent_score: Mapped[int]
    residual_score: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default="open")  # risk.constants.STATUSES
    treatment: Mapped[str | None] = mapped_column(String(16))  # mitigate, accept, transfer, avoid
    treatment_plan: Mapped[str] = mapped_column(Text, default="")
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acceptance_expires_on: Mapped[date | None]
    due_date: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    business_unit: Mapped[BusinessUnit] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])
    controls: Mapped[list[Control]] = relationship(secondary=risk_controls, order_by="Control.code")
