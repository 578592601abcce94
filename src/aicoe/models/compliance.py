"""Compliance: framework catalogs (frameworks, requirements, mappings), EU AI Act classifications, assessments and
their per-requirement results, the organisation's controls and where they are implemented, and evidence."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.core.time import utcnow
from aicoe.models.files import StoredFile
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit, User


class Framework(Base):
    """One version of a framework catalog, loaded from its file; ``is_current`` marks the version in use."""

    __tablename__ = "frameworks"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "nist-ai-rmf"
    version: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    publisher: Mapped[str] = mapped_column(String(200))
    source_url: Mapped[str] = mapped_column(String(1000))
    licence: Mapped[str] = mapped_column(Text)
    published: Mapped[date | None]
    description: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(16), default="builtin")  # builtin, imported
    file_sha256: Mapped[str] = mapped_column(String(64))
    is_current: Mapped[bool] = mapped_column(default=True)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    requirements: Mapped[list[Requirement]] = relationship(back_populates="framework", cascade="all, delete-orphan",
                                                           order_by="Requirement.position")


class Requirement(Base):
    """A node of a framework's tree (function, category, article, control…) with its official identifier."""

    __tablename__ = "requirements"
    __table_args__ = (UniqueConstraint("framework_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("frameworks.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"), index=True)
    ref: Mapped[str] = mapped_column(String(64))  # exactly as the source writes it: "GOVERN 1.1", "A.6.2.4"
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(32))  # function, category, subcategory, article, control, …
    summary: Mapped[str] = mapped_column(Text, default="")
    guidance: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    applicability: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assessable: Mapped[bool] = mapped_column(default=True, doc="a leaf or an obligation results are recorded on")
    position: Mapped[int] = mapped_column(default=0)
    depth: Mapped[int] = mapped_column(default=0)

    framework: Mapped[Framework] = relationship(back_populates="requirements")
    parent: Mapped[Requirement | None] = relationship(remote_side=[id])


class RequirementMapping(Base):
    """A cross-framework link from one requirement to another (``relation`` reads source → target)."""

    __tablename__ = "requirement_mappings"
    __table_args__ = (UniqueConstraint("source_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(16))  # constants.MAPPING_RELATIONS
    mapping_set: Mapped[str] = mapped_column(String(120))  # the mapping file's id
    note: Mapped[str] = mapped_column(Text, default="")

    source: Mapped[Requirement] = relationship(foreign_keys=[source_id])
    target: Mapped[Requirement] = relationship(foreign_keys=[target_id])


class Classification(Base):
    """An EU AI Act classification of an AI system: the answers, the tier, obligations and cited rationale."""

    __tablename__ = "classifications"
    __table_args__ = (UniqueConstraint("ai_system_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ai_system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    is_current: Mapped[bool] = mapped_column(default=True)
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    tier: Mapped[str] = mapped_column(String(16))  # constants.RISK_TIERS
    gpai: Mapped[str | None] = mapped_column(String(16))  # constants.GPAI_FLAGS
    obligations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rationale: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    classified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ai_system: Mapped[AISystem] = relationship()
    classified_by: Mapped[User | None] = relationship()


class Assessment(TimestampMixin, Base):
    """An assessment of one AI system against one framework version."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ai_system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("frameworks.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")  # constants.ASSESSMENT_STATUSES
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_date: Mapped[date | None]
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, doc="the system profile applicability used")
    completion: Mapped[float] = mapped_column(default=0.0, doc="share of applicable results decided, 0..1")
    compliance: Mapped[float] = mapped_column(default=0.0, doc="met (+ half partially met) / applicable, 0..1")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    completed_at: Mapped[datetime | None]

    ai_system: Mapped[AISystem] = relationship()
    framework: Mapped[Framework] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    results: Mapped[list[RequirementResult]] = relationship(back_populates="assessment",
                                                            cascade="all, delete-orphan",
                                                            order_by="RequirementResult.position")


class RequirementResult(Base):
    """The state of one requirement within an assessment."""

    __tablename__ = "requirement_results"
    __table_args__ = (UniqueConstraint("assessment_id", "requirement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    applicable: Mapped[bool] = mapped_column(default=True)
    applicability_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="not_started")  # constants.RESULT_STATUSES
    justification: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_date: Mapped[date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    inferred_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("requirement_results.id", ondelete="SET NULL"),
        doc="set while the status was offered from an equivalent requirement's result and not yet confirmed")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    assessment: Mapped[Assessment] = relationship(back_populates="results")
    requirement: Mapped[Requirement] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    inferred_from: Mapped[RequirementResult | None] = relationship(remote_side=[id])


class Control(TimestampMixin, Base):
    """One of the organisation's own controls, e.g. "bias testing before release"."""

    __tablename__ = "controls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. "CTL-BIAS-01"
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(24))  # constants.CONTROL_CATEGORIES
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    owner: Mapped[User | None] = relationship()
    requirement_links: Mapped[list[ControlRequirement]] = relationship(back_populates="control",
                                                                       cascade="all, delete-orphan")
    implementations: Mapped[list[ControlImplementation]] = relationship(back_populates="control",
                                                                        cascade="all, delete-orphan")


class ControlRequirement(Base):
    """A control satisfies (part of) a requirement of some framework."""

    __tablename__ = "control_requirements"
    __table_args__ = (UniqueConstraint("control_id", "requirement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(ForeignKey("controls.id", ondelete="CASCADE"))
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"), index=True)

    control: Mapped[Control] = relationship(back_populates="requirement_links")
    requirement: Mapped[Requirement] = relationship()


class ControlImplementation(TimestampMixin, Base):
    """A control implemented on an AI system, or on a shared model, dataset or vendor (inherited by its users)."""

    __tablename__ = "control_implementations"
    __table_args__ = (UniqueConstraint("control_id", "subject_type", "subject_id"),
                      Index("ix_control_implementations_subject", "subject_type", "subject_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(ForeignKey("controls.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(16))  # constants.CONTROL_SUBJECTS
    subject_id: Mapped[int]
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"),
                                                         doc="the subject's unit, for scoping (None: a vendor)")
    status: Mapped[str] = mapped_column(String(16), default="implemented")  # constants.IMPLEMENTATION_STATUSES
    notes: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    implemented_on: Mapped[date | None]

    control: Mapped[Control] = relationship(back_populates="implementations")
    owner: Mapped[User | None] = relationship()


class Evidence(Base):
    """A piece of evidence: a stored file, a link or a reference to a platform record; one version of a series."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("series_id", "version"), Index("ix_evidence_expires_on", "expires_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"),
                                                  doc="the first version's id (None on the first version)")
    version: Mapped[int] = mapped_column(default=1)
    is_latest: Mapped[bool] = mapped_column(default=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))  # constants.EVIDENCE_KINDS
    evidence_type: Mapped[str | None] = mapped_column(String(24))  # constants.EVIDENCE_TYPES
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="RESTRICT"))
    url: Mapped[str] = mapped_column(String(2000), default="")
    record_type: Mapped[str | None] = mapped_column(String(24))  # constants.EVIDENCE_RECORD_TYPES
    record_ref: Mapped[str] = mapped_column(String(200), default="")
    sha256: Mapped[str] = mapped_column(String(64), doc="of the file's bytes, or of the link / record snapshot")
    size: Mapped[int | None] = mapped_column(BigInteger)
    effective_date: Mapped[date]
    expires_on: Mapped[date | None]
    review_status: Mapped[str] = mapped_column(String(16), default="pending")  # constants.REVIEW_STATUSES
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str] = mapped_column(Text, default="")
    last_reminded_at: Mapped[datetime | None]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    business_unit: Mapped[BusinessUnit] = relationship()
    file: Mapped[StoredFile | None] = relationship()
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])


class EvidenceLink(Base):
    """Evidence attached to a requirement result, a control implementation or a risk."""

    __tablename__ = "evidence_links"
    __table_args__ = (UniqueConstraint("evidence_id", "target_type", "target_id"),
                      Index("ix_evidence_links_target", "target_type", "target_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(24))  # requirement_result, control_implementation, risk
    target_id: Mapped[int]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    evidence: Mapped[Evidence] = relationship()
