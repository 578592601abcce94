"""Sensitive-data scans of datasets and their findings. Findings keep counts, locations and masked previews
only: a raw matched value is never stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base
from aicoe.core.time import utcnow
from aicoe.models.inventory import Dataset


class SensitiveScan(Base):
    __tablename__ = "sensitive_scans"
    __table_args__ = (Index("ix_sensitive_scans_dataset_created", "dataset_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"), index=True)
    source: Mapped[str] = mapped_column(String(1000), doc="the path or URI scanned, or 'file:<id>' for an upload")
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, running, completed, failed, cancelled
    mode: Mapped[str] = mapped_column(String(8), default="full")  # full, sample
    sample_rows: Mapped[int | None]
    confidence: Mapped[float | None] = mapped_column(doc="stated confidence of a sampled scan, 0..1")
    entities: Mapped[list[str]] = mapped_column(JSON, default=list, doc="entity types asked for; empty: all")
    files_scanned: Mapped[int] = mapped_column(default=0)
    files_skipped: Mapped[int] = mapped_column(default=0)
    rows_scanned: Mapped[int] = mapped_column(BigInteger, default=0)
    cells_scanned: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_scanned: Mapped[int] = mapped_column(BigInteger, default=0)
    entity_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    severity_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    skipped: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, doc="[{file, reason}]")
    suggested_classification: Mapped[str | None] = mapped_column(String(16))
    personal_data: Mapped[bool | None]
    special_category_data: Mapped[bool | None]
    fingerprint: Mapped[str | None] = mapped_column(String(64), doc="sha256 over the scanned files' bytes")
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    dataset: Mapped[Dataset] = relationship()
    findings: Mapped[list[SensitiveFinding]] = relationship(back_populates="scan", cascade="all, delete-orphan",
                                                            order_by="SensitiveFinding.id")


class SensitiveFinding(Base):
    """One entity type found in one column (or text file) of a scan, with capped, masked sample locations."""

    __tablename__ = "sensitive_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("sensitive_scans.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(24))
    severity: Mapped[str] = mapped_column(String(10))
    file: Mapped[str] = mapped_column(String(1000))
    column: Mapped[str | None] = mapped_column(String(200))
    occurrences: Mapped[int] = mapped_column(BigInteger)
    max_score: Mapped[float]
    samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, doc="[{row, start, end, preview}]")

    scan: Mapped[SensitiveScan] = relationship(back_populates="findings")
