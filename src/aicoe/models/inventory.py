"""The AI inventory: AI systems, models, datasets, deployments, vendors, and the lineage links between them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase

ai_system_vendors = Table(
    "ai_system_vendors", Base.metadata,
    Column("ai_system_id", ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True),
    Column("vendor_id", ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Vendor(TimestampMixin, Base):
    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(24))  # constants.VENDOR_TYPES
    status: Mapped[str] = mapped_column(String(16), default="active")  # constants.VENDOR_STATUSES
    website: Mapped[str] = mapped_column(String(500), default="")
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class AISystem(TimestampMixin, Base):
    __tablename__ = "ai_systems"
    __table_args__ = (Index("ix_ai_systems_unit_status", "business_unit_id", "lifecycle_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id", ondelete="SET NULL"), index=True)
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    technical_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ai_type: Mapped[str] = mapped_column(String(20))  # portfolio.constants.AI_TYPES
    lifecycle_status: Mapped[str] = mapped_column(String(20), default="in_development")
    eu_ai_act_role: Mapped[str] = mapped_column(String(16), default="deployer")
    affected_people: Mapped[str] = mapped_column(Text, default="")
    human_oversight: Mapped[str] = mapped_column(Text, default="")
    risk_tier: Mapped[str | None] = mapped_column(String(16), doc="set by the compliance area")
    assessment_status: Mapped[str | None] = mapped_column(String(16), doc="set by the compliance area")

    use_case: Mapped[UseCase | None] = relationship()
    business_unit: Mapped[BusinessUnit] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    technical_owner: Mapped[User | None] = relationship(foreign_keys=[technical_owner_id])
    vendors: Mapped[list[Vendor]] = relationship(secondary=ai_system_vendors, order_by="Vendor.name")
    model_links: Mapped[list[SystemModel]] = relationship(back_populates="ai_system", cascade="all, delete-orphan")
    dataset_links: Mapped[list[SystemDataset]] = relationship(back_populates="ai_system",
                                                              cascade="all, delete-orphan")
    deployments: Mapped[list[Deployment]] = relationship(back_populates="ai_system", cascade="all, delete-orphan",
                                                         order_by="Deployment.id")


class Model(TimestampMixin, Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # constants.MODEL_KINDS
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id", ondelete="RESTRICT"), index=True)
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    licence: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    intended_use: Mapped[str] = mapped_column(Text, default="")
    out_of_scope_uses: Mapped[str] = mapped_column(Text, default="")
    limitations: Mapped[str] = mapped_column(Text, default="")
    known_biases: Mapped[str] = mapped_column(Text, default="")
    evaluation_summary: Mapped[str] = mapped_column(Text, default="")
    artefact_uri: Mapped[str] = mapped_column(String(1000), default="")
    checksum: Mapped[str] = mapped_column(String(80), default="", doc="sha256:<64 hex>")
    # what MLflow sync brings (source = "mlflow"); empty for hand-registered models
    source: Mapped[str] = mapped_column(String(16), default="manual")
    mlflow_name: Mapped[str | None] = mapped_column(String(200))
    mlflow_version: Mapped[str | None] = mapped_column(String(32))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    business_unit: Mapped[BusinessUnit] = relationship()
    owner: Mapped[User | None] = relationship()
    vendor: Mapped[Vendor | None] = relationship()
    base_model: Mapped[Model | None] = relationship(remote_side=[id])
    dataset_links: Mapped[list[ModelDataset]] = relationship(back_populates="model", cascade="all, delete-orphan")


class Dataset(TimestampMixin, Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    steward_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="internal")  # internal, vendor, public
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id", ondelete="RESTRICT"), index=True)
    location_uri: Mapped[str] = mapped_column(String(1000), default="")
    format: Mapped[str] = mapped_column(String(40), default="")
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    classification: Mapped[str] = mapped_column(String(16), default="internal")
    personal_data: Mapped[bool] = mapped_column(default=False)
    special_category_data: Mapped[bool] = mapped_column(default=False)
    legal_basis: Mapped[str | None] = mapped_column(String(24))
    consent_status: Mapped[str] = mapped_column(String(120), default="")
    retention_period_days: Mapped[int | None]
    deletion_date: Mapped[date | None]
    residency: Mapped[str] = mapped_column(String(120), default="")
    licence: Mapped[str] = mapped_column(String(120), default="")
    # what the last sensitive-data scan found (set by the sensitive area)
    pii_entities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, doc="entity type -> occurrences")
    suggested_classification: Mapped[str | None] = mapped_column(String(16))
    last_scanned_at: Mapped[datetime | None]

    business_unit: Mapped[BusinessUnit] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    steward: Mapped[User | None] = relationship(foreign_keys=[steward_id])
    vendor: Mapped[Vendor | None] = relationship()


class ModelDataset(Base):
    """Lineage dataset -> model, with what the dataset is used for (train, fine-tune, evaluate, retrieval)."""

    __tablename__ = "model_datasets"
    __table_args__ = (UniqueConstraint("model_id", "dataset_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))

    model: Mapped[Model] = relationship(back_populates="dataset_links")
    dataset: Mapped[Dataset] = relationship()


class SystemModel(Base):
    """Lineage model -> AI system."""

    __tablename__ = "system_models"
    __table_args__ = (UniqueConstraint("ai_system_id", "model_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ai_system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    role: Mapped[str] = mapped_column(String(120), default="")

    ai_system: Mapped[AISystem] = relationship(back_populates="model_links")
    model: Mapped[Model] = relationship()


class SystemDataset(Base):
    """A dataset an AI system uses directly (e.g. a retrieval corpus or a feature store)."""

    __tablename__ = "system_datasets"
    __table_args__ = (UniqueConstraint("ai_system_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ai_system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"), index=True)
    purpose: Mapped[str] = mapped_column(String(120), default="")

    ai_system: Mapped[AISystem] = relationship(back_populates="dataset_links")
    dataset: Mapped[Dataset] = relationship()


class Deployment(TimestampMixin, Base):
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ai_system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    environment: Mapped[str] = mapped_column(String(16))  # dev, staging, production
    endpoint: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default="planned")  # constants.DEPLOYMENT_STATUSES
    deployed_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]
    gateway_route: Mapped[str] = mapped_column(String(120), default="")

    ai_system: Mapped[AISystem] = relationship(back_populates="deployments")
    model: Mapped[Model | None] = relationship()
