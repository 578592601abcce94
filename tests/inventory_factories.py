"""Plain factory functions for inventory tests. They insert rows directly (no service rules, no audit) and
commit, so a test can arrange any state, including ones the services would refuse."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from aicoe.models.inventory import (
    AISystem,
    Dataset,
    Deployment,
    Model,
    ModelDataset,
    SystemDataset,
    SystemModel,
    Vendor,
)
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase
from tests.factories import _writing

_seq = itertools.count(1)


def _add(session: Session, obj: Any) -> Any:
    session.add(obj)
    session.commit()
    return obj


def make_vendor(session: Session, *, name: str | None = None, type: str = "model_provider",  # noqa: A002
                status: str = "active", **fields: Any) -> Vendor:
    _writing(session)
    return _add(session, Vendor(name=name or f"Vendor {next(_seq)}", type=type, status=status, **fields))


def make_system(session: Session, *, unit: BusinessUnit, name: str | None = None, ai_type: str = "predictive_ml",
                lifecycle_status: str = "in_development", owner: User | None = None,
                technical_owner: User | None = None, use_case: UseCase | None = None,
                vendors: list[Vendor] | None = None, **fields: Any) -> AISystem:
    """Further keywords set columns as is (e.g. ``risk_tier="high"``, ``eu_ai_act_role="provider"``)."""
    _writing(session)
    system = AISystem(name=name or f"AI system {next(_seq)}", business_unit_id=unit.id, ai_type=ai_type,
                      lifecycle_status=lifecycle_status, owner_id=owner.id if owner else None,
                      technical_owner_id=technical_owner.id if technical_owner else None,
                      use_case_id=use_case.id if use_case else None, **fields)
    system.vendors = list(vendors or [])
    return _add(session, system)


def make_model(session: Session, *, unit: BusinessUnit, name: str | None = None, version: str = "1",
               kind: str = "in_house", vendor: Vendor | None = None, base_model: Model | None = None,
               owner: User | None = None, **fields: Any) -> Model:
    _writing(session)
    return _add(session, Model(name=name or f"model-{next(_seq)}", version=version, kind=kind,
                               business_unit_id=unit.id, vendor_id=vendor.id if vendor else None,
                               base_model_id=base_model.id if base_model else None,
                               owner_id=owner.id if owner else None, **fields))


def make_dataset(session: Session, *, unit: BusinessUnit, name: str | None = None, source: str = "internal",
                 classification: str = "internal", vendor: Vendor | None = None, owner: User | None = None,
                 **fields: Any) -> Dataset:
    _writing(session)
    return _add(session, Dataset(name=name or f"dataset-{next(_seq)}", business_unit_id=unit.id, source=source,
                                 classification=classification, vendor_id=vendor.id if vendor else None,
                                 owner_id=owner.id if owner else None, **fields))


def link_model_dataset(session: Session, model: Model, dataset: Dataset, purpose: str = "train") -> ModelDataset:
    _writing(session)
    return _add(session, ModelDataset(model_id=model.id, dataset_id=dataset.id, purpose=purpose))


def link_system_model(session: Session, system: AISystem, model: Model, role: str = "") -> SystemModel:
    _writing(session)
    return _add(session, SystemModel(ai_system_id=system.id, model_id=model.id, role=role))


def link_system_dataset(session: Session, system: AISystem, dataset: Dataset, purpose: str = "") -> SystemDataset:
    _writing(session)
    return _add(session, SystemDataset(ai_system_id=system.id, dataset_id=dataset.id, purpose=purpose))


def make_deployment(session: Session, system: AISystem, *, model: Model | None = None,
                    environment: str = "production", status: str = "active", endpoint: str = "",
                    deployed_at: datetime | None = None, **fields: Any) -> Deployment:
    """Inserted as is: ``model`` need not be linked to the system (the service would insist)."""
    _writing(session)
    return _add(session, Deployment(ai_system_id=system.id, model_id=model.id if model else None,
                                    environment=environment, status=status, endpoint=endpoint,
                                    deployed_at=deployed_at, **fields))
