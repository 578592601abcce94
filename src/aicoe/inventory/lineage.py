"""Lineage over the inventory tables, and the impact questions it answers.

The graph is never stored twice: its edges are the link tables themselves (dataset -> model in
``model_datasets`` with a purpose, model -> model through ``base_model_id``, model -> AI system in
``system_models``, dataset -> AI system in ``system_datasets``, AI system -> deployment, and a vendor -> the
models, datasets and systems it supplies). Transitive steps ("every model derived from these, at any depth")
are recursive CTEs, which SQLite and PostgreSQL both run, so each question costs a handful of indexed queries
however large the inventory is. ``UNION`` (not ``UNION ALL``) keeps a walk finite even if a cycle slipped in.

Scoping: a question about an asset outside the caller's units is answered 404, and impact results list only
systems, models and deployments inside them. A system's own lineage shows its whole upstream, wherever each
asset is registered (what a visible system is built from is part of what it is), flagging the nodes outside
the caller's units so pages do not link to records the caller cannot open.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import CTE, Select, select, union
from sqlalchemy.orm import Session, aliased

from aicoe.auth.principal import Actor, Scope, scope_of
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.inventory.constants import (
    DATASET_PURPOSES,
    DEPLOYMENT_STATUSES,
    ENVIRONMENTS,
    LIFECYCLE_STATUSES,
    MODEL_KINDS,
    VENDOR_TYPES,
)
from aicoe.models.inventory import (
    AISystem,
    Dataset,
    Deployment,
    Model,
    ModelDataset,
    SystemDataset,
    SystemModel,
    Vendor,
    ai_system_vendors,
)

READ = "inventory:read"
KINDS = ("vendor", "dataset", "model", "system", "deployment")  # left to right in a drawing


# --- shapes ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    id: str  # "<kind>:<record id>", unique in one graph
    kind: str
    ref_id: int
    label: str
    detail: str
    in_scope: bool = True


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str
    label: str


@dataclass
class Lineage:
    system_id: int
    nodes: list[Node]
    edges: list[Edge]


@dataclass
class ImpactModel:
    id: int
    name: str
    version: str
    kind: str
    business_unit_id: int
    base_model_id: int | None
    direct: bool  # linked to the subject itself, not only derived from a model that is


@dataclass
class ImpactSystem:
    id: int
    name: str
    lifecycle_status: str
    business_unit_id: int
    direct: bool  # uses the subject itself (a dataset, or names the vendor), not only through a model
    via_model_ids: list[int] = field(default_factory=list)


@dataclass
class ImpactDeployment:
    id: int
    ai_system_id: int
    environment: str
    status: str
    endpoint: str


@dataclass
class Impact:
    subject_kind: str
    subject_id: int
    subject_name: str
    status: str | None
    models: list[ImpactModel]
    systems: list[ImpactSystem]
    deployments: list[ImpactDeployment]


def _visible(scope: Scope, unit_id: int) -> bool:
    return scope is None or unit_id in scope


# --- recursive walks -------------------------------------------------------------------------------------------

def derived_closure(seed: Select[tuple[int]]) -> CTE:
    """The seed model ids and every model derived from any of them, at any depth (column ``id``)."""
    closure = seed.cte("derived", recursive=True)
    child = aliased(Model)
    return closure.union(select(child.id).where(child.base_model_id == closure.c.id))


def base_closure(seed: Select[tuple[int]]) -> CTE:
    """The seed model ids and their base models, all the way up the chain (column ``id``)."""
    closure = seed.cte("bases", recursive=True)
    parent, child = aliased(Model), aliased(Model)
    step = select(parent.id).join(child, child.base_model_id == parent.id).where(child.id == closure.c.id)
    return closure.union(step)


# --- impact ----------------------------------------------------------------------------------------------------

def _check_status(status: str | None) -> None:
    if status is not None and status not in LIFECYCLE_STATUSES:
        raise ValidationFailed(f"unknown lifecycle status {status!r}", errors=[
            FieldError("status", f"One of: {', '.join(LIFECYCLE_STATUSES)}.")])


def _impact(session: Session, scope: Scope, subject: tuple[str, int, str], *, seed: Select[tuple[int]],
            direct_models: set[int], direct_systems: Select[tuple[int]], status: str | None,
            exclude_model: int | None = None) -> Impact:
    """Everything downstream of the seed models (and the directly linked systems), limited to ``scope``."""
    closure = derived_closure(seed)
    models: dict[int, ImpactModel] = {}
    for row in session.execute(
            select(Model.id, Model.name, Model.version, Model.kind, Model.business_unit_id, Model.base_model_id)
            .where(Model.id.in_(select(closure.c.id))).order_by(Model.name, Model.version, Model.id)):
        models[row.id] = ImpactModel(row.id, row.name, row.version, row.kind, row.business_unit_id,
                                     row.base_model_id, row.id in direct_models)
    via: dict[int, list[int]] = defaultdict(list)
    for system_id, model_id in session.execute(
            select(SystemModel.ai_system_id, SystemModel.model_id).where(SystemModel.model_id.in_(sorted(models)))
            .order_by(SystemModel.model_id)):
        via[system_id].append(model_id)
    direct = set(session.scalars(direct_systems))
    wanted = set(via) | direct
    stmt = select(AISystem.id, AISystem.name, AISystem.lifecycle_status, AISystem.business_unit_id).where(
        AISystem.id.in_(sorted(wanted))).order_by(AISystem.name, AISystem.id)
    if status is not None:
        stmt = stmt.where(AISystem.lifecycle_status == status)
    visible_models = {i for i, m in models.items() if _visible(scope, m.business_unit_id) and i != exclude_model}
    systems = [ImpactSystem(r.id, r.name, r.lifecycle_status, r.business_unit_id, r.id in direct,
                            [m for m in via.get(r.id, []) if m in visible_models])
               for r in session.execute(stmt) if _visible(scope, r.business_unit_id)]
    order = {s.id: n for n, s in enumerate(systems)}
    deployments = sorted(
        (ImpactDeployment(d.id, d.ai_system_id, d.environment, d.status, d.endpoint) for d in session.execute(
            select(Deployment.id, Deployment.ai_system_id, Deployment.environment, Deployment.status,
                   Deployment.endpoint).where(Deployment.ai_system_id.in_(sorted(order))))),
        key=lambda d: (order[d.ai_system_id], d.id))
    kind, subject_id, name = subject
    return Impact(kind, subject_id, name, status, [m for i, m in models.items() if i in visible_models], systems,
                  deployments)


def _scoped(session: Session, principal: Actor, model: type[Dataset] | type[Model], record_id: int
            ) -> Dataset | Model:
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(f"no {model.__name__.lower()} with id {record_id}")
    if principal is not None:
        principal.check_unit(READ, record.business_unit_id)
    return record


def dataset_impact(session: Session, principal: Actor, dataset_id: int, *, status: str | None = None) -> Impact:
    """Which systems use dataset X: directly, or through any model trained, fine-tuned, evaluated or retrieving
    on it, or derived (at any depth) from such a model."""
    _check_status(status)
    scope = scope_of(principal, READ)
    dataset = _scoped(session, principal, Dataset, dataset_id)
    direct = set(session.scalars(select(ModelDataset.model_id).where(ModelDataset.dataset_id == dataset_id)))
    return _impact(session, scope, ("dataset", dataset.id, dataset.name),
                   seed=select(ModelDataset.model_id.label("id")).where(ModelDataset.dataset_id == dataset_id),
                   direct_models=direct, status=status,
                   direct_systems=select(SystemDataset.ai_system_id).where(SystemDataset.dataset_id == dataset_id))


def vendor_impact(session: Session, principal: Actor, vendor_id: int, *, status: str | None = None) -> Impact:
    """What depends on vendor Y: its models and every model derived from them, models built on the datasets it
    supplies, the systems using any of those (or its datasets, or naming it as a supplier), their deployments."""
    _check_status(status)
    scope = scope_of(principal, READ)
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound(f"no vendor with id {vendor_id}")
    its_datasets = select(Dataset.id).where(Dataset.vendor_id == vendor_id)
    seed = union(select(Model.id.label("id")).where(Model.vendor_id == vendor_id),
                 select(ModelDataset.model_id).where(ModelDataset.dataset_id.in_(its_datasets)))
    direct_models = set(session.scalars(select(seed.subquery().c.id)))
    direct_systems = union(
        select(ai_system_vendors.c.ai_system_id).where(ai_system_vendors.c.vendor_id == vendor_id),
        select(SystemDataset.ai_system_id).where(SystemDataset.dataset_id.in_(its_datasets)))
    return _impact(session, scope, ("vendor", vendor.id, vendor.name), seed=select(seed.subquery().c.id),
                   direct_models=direct_models, status=status,
                   direct_systems=select(direct_systems.subquery().c.ai_system_id))


def model_impact(session: Session, principal: Actor, model_id: int, *, status: str | None = None) -> Impact:
    """What depends on model M: the models derived from it at any depth, the systems using M or any of those,
    their deployments. M itself is the subject, not listed among the models."""
    _check_status(status)
    scope = scope_of(principal, READ)
    model = _scoped(session, principal, Model, model_id)
    children = set(session.scalars(select(Model.id).where(Model.base_model_id == model_id)))
    return _impact(session, scope, ("model", model.id, f"{model.name} {model.version}"),
                   seed=select(Model.id.label("id")).where(Model.id == model_id), direct_models=children,
                   status=status, exclude_model=model_id,
                   direct_systems=select(SystemModel.ai_system_id).where(SystemModel.model_id == model_id))


# --- one system's lineage --------------------------------------------------------------------------------------

def get_system(session: Session, principal: Actor, system_id: int) -> AISystem:
    system = session.get(AISystem, system_id)
    if system is None:
        raise NotFound(f"no AI system with id {system_id}")
    if principal is not None:
        principal.check_unit(READ, system.business_unit_id)
    return system


def system_lineage(session: Session, principal: Actor, system_id: int) -> Lineage:
    """Upstream of one system (its models and their base chain, the datasets behind them and behind the system,
    the vendors supplying any of these) and downstream (its deployments), as nodes and edges."""
    system = get_system(session, principal, system_id)
    scope = scope_of(principal, READ)
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str, str], list[str]] = defaultdict(list)

    def edge(source: str, target: str, kind: str, label: str) -> None:
        labels = edges[(source, target, kind)]
        if label and label not in labels:
            labels.append(label)

    sid = f"system:{system.id}"
    nodes[sid] = Node(sid, "system", system.id, system.name, LIFECYCLE_STATUSES.get(system.lifecycle_status, ""),
                      True)
    uses = select(SystemModel.model_id.label("id")).where(SystemModel.ai_system_id == system.id)
    closure = base_closure(uses)
    models = session.scalars(select(Model).where(Model.id.in_(select(closure.c.id)))).all()
    for m in models:
        nodes[f"model:{m.id}"] = Node(f"model:{m.id}", "model", m.id, f"{m.name} {m.version}",
                                      MODEL_KINDS.get(m.kind, m.kind), _visible(scope, m.business_unit_id))
        if m.base_model_id is not None:
            edge(f"model:{m.base_model_id}", f"model:{m.id}", "derived_from", "derived from")
    for model_id, role in session.execute(select(SystemModel.model_id, SystemModel.role)
                                          .where(SystemModel.ai_system_id == system.id)):
        edge(f"model:{model_id}", sid, "model_system", role or "used by")
    links = session.execute(select(ModelDataset.dataset_id, ModelDataset.model_id, ModelDataset.purpose)
                            .where(ModelDataset.model_id.in_([m.id for m in models]))
                            .order_by(ModelDataset.id)).all()
    direct = session.execute(select(SystemDataset.dataset_id, SystemDataset.purpose)
                             .where(SystemDataset.ai_system_id == system.id)).all()
    dataset_ids = sorted({d for d, _, _ in links} | {d for d, _ in direct})
    datasets = session.scalars(select(Dataset).where(Dataset.id.in_(dataset_ids))).all()
    for d in datasets:
        nodes[f"dataset:{d.id}"] = Node(f"dataset:{d.id}", "dataset", d.id, d.name, d.classification,
                                        _visible(scope, d.business_unit_id))
    for dataset_id, model_id, purpose in links:
        edge(f"dataset:{dataset_id}", f"model:{model_id}", "dataset_model", DATASET_PURPOSES.get(purpose, purpose))
    for dataset_id, purpose in direct:
        edge(f"dataset:{dataset_id}", sid, "dataset_system", purpose or "used by")
    supplied: list[tuple[int, str, str]] = [(m.vendor_id, f"model:{m.id}", "vendor_model") for m in models
                                            if m.vendor_id is not None]
    supplied += [(d.vendor_id, f"dataset:{d.id}", "vendor_dataset") for d in datasets if d.vendor_id is not None]
    supplied += [(v, sid, "vendor_system") for v in session.scalars(
        select(ai_system_vendors.c.vendor_id).where(ai_system_vendors.c.ai_system_id == system.id))]
    vendors = session.scalars(select(Vendor).where(Vendor.id.in_(sorted({v for v, _, _ in supplied})))).all()
    for v in vendors:
        nodes[f"vendor:{v.id}"] = Node(f"vendor:{v.id}", "vendor", v.id, v.name, VENDOR_TYPES.get(v.type, v.type))
    for vendor_id, target, kind in supplied:
        edge(f"vendor:{vendor_id}", target, kind, "supplies" if kind == "vendor_system" else "provides")
    for dep in session.scalars(select(Deployment).where(Deployment.ai_system_id == system.id)):
        nid = f"deployment:{dep.id}"
        nodes[nid] = Node(nid, "deployment", dep.id, ENVIRONMENTS.get(dep.environment, dep.environment),
                          DEPLOYMENT_STATUSES.get(dep.status, dep.status))
        edge(sid, nid, "system_deployment", "deploys")
    rank = {k: i for i, k in enumerate(KINDS)}
    ordered = sorted(nodes.values(), key=lambda n: (rank[n.kind], n.label.lower(), n.ref_id))
    position = {n.id: i for i, n in enumerate(ordered)}
    edge_list = sorted((Edge(s, t, k, ", ".join(labels)) for (s, t, k), labels in edges.items()),
                       key=lambda e: (position[e.source], position[e.target], e.kind))
    return Lineage(system.id, ordered, edge_list)
