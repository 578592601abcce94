"""Evaluation runs: a prediction log evaluated by the evaluation engine for an AI system and/or a model, run as
a background job; the full structured result is stored with the input's hash, so a report can be re-rendered
and cited as evidence long after the file is gone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base
from aicoe.core.time import utcnow
from aicoe.models.inventory import AISystem, Model


class EvaluationRun(Base):
    __tablename__ = "evaluation_runs"
    __table_args__ = (Index("ix_evaluation_runs_system_created", "ai_system_id", "created_at"),
                      Index("ix_evaluation_runs_model_created", "model_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    ai_system_id: Mapped[int | None] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"), index=True)
    source: Mapped[str] = mapped_column(String(1000), doc="path or URI read, or 'file:<id>' for an upload")
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    reference_source: Mapped[str] = mapped_column(String(1000), default="")
    reference_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, doc="the engine's ColumnSpec as a dict")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy: Mapped[str] = mapped_column(Text, default="", doc="the evaluation policy (YAML) the run checks")
    engine: Mapped[str] = mapped_column(String(8), default="local")  # local, ray
    gate: Mapped[bool] = mapped_column(default=True, doc="a failed policy check blocks the use case's gates")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, running, completed, failed, cancelled
    rows: Mapped[int | None] = mapped_column(BigInteger)
    input_sha256: Mapped[str | None] = mapped_column(String(64), doc="sha256 over the input files' bytes")
    fingerprint: Mapped[str | None] = mapped_column(String(64), doc="the engine's fingerprint of the data")
    passed: Mapped[bool | None] = mapped_column(doc="every policy check passed; None without a policy")
    checks_total: Mapped[int] = mapped_column(default=0)
    checks_failed: Mapped[int] = mapped_column(default=0)
    headline: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, doc="key metrics for lists and cards")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="the engine's full result (to_dict)")
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    ai_system: Mapped[AISystem | None] = relationship()
    model: Mapped[Model | None] = relationship()
