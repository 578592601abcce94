"""Strategy: the CoE mission (versioned), strategic objectives and KPIs with their measurements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Float, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, User

objective_units = Table(
    "objective_units", Base.metadata,
    Column("objective_id", ForeignKey("objectives.id", ondelete="CASCADE"), primary_key=True),
    Column("business_unit_id", ForeignKey("business_units.id", ondelete="RESTRICT"), primary_key=True),
)


class MissionVersion(Base):
    """One version of the mission statement; the highest version is the current one, earlier ones are history."""

    __tablename__ = "mission_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    statement: Mapped[str] = mapped_column(Text)
    vision: Mapped[str] = mapped_column(Text, default="")
    change_note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()


class Objective(TimestampMixin, Base):
    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, achieved, dropped

    owner: Mapped[User | None] = relationship()
    units: Mapped[list[BusinessUnit]] = relationship(secondary=objective_units, order_by="BusinessUnit.name")
    kpis: Mapped[list[Kpi]] = relationship(back_populates="objective", order_by="Kpi.name")


class Kpi(TimestampMixin, Base):
    __tablename__ = "kpis"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(40), default="")
    direction: Mapped[str] = mapped_column(String(8))  # higher or lower (is better)
    baseline: Mapped[float] = mapped_column(Float)
    target: Mapped[float] = mapped_column(Float)
    target_date: Mapped[date | None]
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    objective: Mapped[Objective | None] = relationship(back_populates="kpis")
    owner: Mapped[User | None] = relationship()
    measurements: Mapped[list[KpiMeasurement]] = relationship(
        back_populates="kpi", cascade="all, delete-orphan", order_by="KpiMeasurement.measured_on"
    )


class KpiMeasurement(Base):
    __tablename__ = "kpi_measurements"
    __table_args__ = (UniqueConstraint("kpi_id", "measured_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
    measured_on: Mapped[date]
    value: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    kpi: Mapped[Kpi] = relationship(back_populates="measurements")
