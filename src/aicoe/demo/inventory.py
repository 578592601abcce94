"""Seed Meridian Trust's AI inventory through the services (idempotent: skips what exists)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.demo.inventory_data import DATASETS, FOUNDATION_MODELS, OWN_MODELS, SYSTEMS, VENDORS, DemoSystem
from aicoe.demo.org import DOMAIN
from aicoe.inventory import datasets, deployments, model_registry, systems, vendors
from aicoe.inventory.schemas_assets import DatasetCreate, ModelCreate
from aicoe.inventory.schemas_systems import (
    DatasetLinkIn,
    DeploymentCreate,
    ModelLinkIn,
    SystemCreate,
    VendorCreate,
)
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

STATUS_DEPLOYMENTS = {  # lifecycle status -> (environment, deployment status) pairs to record
    "in_production": [("staging", "active"), ("production", "active")],
    "in_validation": [("staging", "active")],
    "in_development": [("dev", "active")],
    "retired": [("production", "decommissioned")],
}


def _count(result: DemoResult, what: str) -> None:
    result.created[what] = result.created.get(what, 0) + 1


def seed_inventory(session: Session, settings: Settings, result: DemoResult) -> None:
    people = {u.email.split("@")[0]: u.id for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    units = {u.code: u.id for u in session.scalars(select(BusinessUnit))}
    vendor_ids = {v.name: v.id for v in session.scalars(select(Vendor))}
    for name, kind, website, contact, email in VENDORS:
        if name not in vendor_ids:
            vendor_ids[name] = vendors.create_vendor(session, None, VendorCreate(
                name=name, type=kind, website=website, contact_name=contact, contact_email=email)).id
            _count(result, "vendors")
    dataset_ids = {d.name: d.id for d in session.scalars(select(Dataset))}
    for (name, unit, owner, source, vendor, uri, fmt, rows, classification, personal, special, basis,
         retention) in DATASETS:
        if name in dataset_ids:
            continue
        dataset_ids[name] = datasets.create_dataset(session, None, DatasetCreate(
            name=name, business_unit_id=units[unit], owner_id=people[owner], steward_id=people["fatima.zahra"],
            source=source, vendor_id=vendor_ids[vendor] if vendor else None, location_uri=uri, format=fmt,
            row_count=rows or None, classification=classification, personal_data=personal,
            special_category_data=special, legal_basis=basis, retention_period_days=retention,
            residency="EU (Frankfurt)", consent_status="not relied on" if personal and basis != "consent" else "",
            licence="Proprietary" if source != "public" else "Public sector information")).id
        _count(result, "datasets")
    model_ids = {(m.name, m.version): m.id for m in session.scalars(select(Model))}
    for name, version, kind, vendor, licence in FOUNDATION_MODELS:
        if (name, version) not in model_ids:
            model_ids[(name, version)] = model_registry.create_model(session, None, ModelCreate(
                name=name, version=version, kind=kind, business_unit_id=units["COE"], owner_id=people["marcus.chen"],
                vendor_id=vendor_ids[vendor], licence=licence,
                intended_use="General-purpose language tasks behind the CoE's GenAI gateway.",
                limitations="May produce plausible but wrong text; no knowledge after its cut-off date.",
                known_biases="Reflects biases of web-scale training data; evaluated per use case.")).id
            _count(result, "models")
    for name, version, kind, unit, owner, base, links, metrics in OWN_MODELS:
        if (name, version) in model_ids:
            continue
        digest = hashlib.sha256(f"{name}:{version}".encode()).hexdigest()
        model = model_registry.create_model(session, None, ModelCreate(
            name=name, version=version, kind=kind, business_unit_id=units[unit], owner_id=people[owner],
            base_model_id=model_ids[base] if base else None, licence="Proprietary",
            intended_use="Decision support within the documented use case only.",
            out_of_scope_uses="Any decision outside the use case; use on populations not covered by training data.",
            limitations="Performance degrades under drift; monitored monthly.",
            known_biases="Checked for disparate impact by age band and gender before each release.",
            evaluation_summary=", ".join(f"{k} = {v}" for k, v in metrics.items()),
            artefact_uri=f"s3://meridian-models/{name}/{version}/model.tar.gz", checksum=f"sha256:{digest}"))
        model_ids[(name, version)] = model.id
        for dataset, purpose in links:
            model_registry.link_dataset(session, None, model.id, dataset_ids[dataset], purpose)
        _count(result, "models")
    existing = set(session.scalars(select(AISystem.name)))
    use_cases = {u.title: u.id for u in session.scalars(select(UseCase))}
    for demo in SYSTEMS:
        if demo.name not in existing:
            _seed_system(session, demo, people, units, vendor_ids, dataset_ids, model_ids, use_cases)
            _count(result, "AI systems")


def _seed_system(session: Session, demo: DemoSystem, people: dict[str, int], units: dict[str, int],
                 vendor_ids: dict[str, int], dataset_ids: dict[str, int], model_ids: dict[tuple[str, str], int],
                 use_cases: dict[str, int]) -> None:
    system = systems.create_system(session, None, SystemCreate(
        name=demo.name, purpose=f"Delivers: {demo.use_case}." if demo.use_case else "CoE platform capability.",
        use_case_id=use_cases.get(demo.use_case or ""), business_unit_id=units[demo.unit],
        owner_id=people[demo.owner], technical_owner_id=people[demo.tech_owner], ai_type=demo.ai_type,
        lifecycle_status=demo.status, eu_ai_act_role=demo.role, human_oversight=demo.oversight,
        affected_people="Customers and colleagues served by the business unit.",
        vendor_ids=[vendor_ids[v] for v in demo.vendors]))
    for n, model in enumerate(demo.models):
        systems.link_model(session, None, system.id, model_ids[model], ModelLinkIn(role="primary" if n == 0 else
                                                                                    "embeddings"))
    for dataset in demo.datasets:
        systems.link_dataset(session, None, system.id, dataset_ids[dataset], DatasetLinkIn(purpose="retrieval corpus"))
    since = datetime.now(UTC) - timedelta(days=120)
    for environment, status in STATUS_DEPLOYMENTS[demo.status]:
        slug = demo.name.lower().replace(" ", "-").replace("(", "").replace(")", "")
        deployments.create_deployment(session, None, system.id, DeploymentCreate(
            environment=environment, status=status, model_id=model_ids[demo.models[0]] if demo.models else None,
            endpoint=f"https://{slug}.{environment}.meridian.example/v1", deployed_at=since,
            retired_at=since + timedelta(days=60) if status == "decommissioned" else None,
            gateway_route=demo.route if environment == "production" else ""))
