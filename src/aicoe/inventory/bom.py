"""The AI bill of materials: one AI system, or the whole inventory, as a CycloneDX 1.6 ML-BOM (JSON).

Built with cyclonedx-python-lib and serialised by its JSON outputter for schema 1.6, so the document follows
the schema as the library understands it (the tests validate it against the schema as well). The system is an
``application`` component, models are ``machine-learning-model`` components and datasets ``data`` components;
vendors appear as each model's or dataset's supplier and manufacturer. Dependencies run system -> models and
the datasets it uses directly, model -> its base model and its datasets.

The library does not model ``modelCard`` or ``data`` yet, so the model card's content (kind, intended and
out-of-scope uses, limitations, biases, evaluation summary, which dataset serves which purpose) travels as
``aicoe:``-namespaced properties, which the schema allows on any component.

What a BOM lists is the closure of what it describes: a system's BOM has every model in its base chain and
every dataset behind them, wherever they are registered; the inventory BOM has everything in the caller's units
plus whatever that is built from (a dependency must name a component in the same document).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.exception.model import InvalidUriException
from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.output.json import JsonV1Dot6
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

import aicoe
from aicoe.auth.principal import Actor, in_scope, scope_of
from aicoe.inventory import lineage
from aicoe.inventory.constants import MODEL_KINDS
from aicoe.models.inventory import AISystem, Dataset, Model, ModelDataset, SystemDataset, SystemModel, Vendor

MEDIA_TYPE = "application/vnd.cyclonedx+json"
NS = "aicoe"
INVENTORY_REF = "inventory"


def system_ref(system_id: int) -> str:
    return f"system-{system_id}"


def model_ref(model_id: int) -> str:
    return f"model-{model_id}"


def dataset_ref(dataset_id: int) -> str:
    return f"dataset-{dataset_id}"


def _props(pairs: Iterable[tuple[str, object]]) -> list[Property]:
    """Properties for the non-empty values, names under the ``aicoe:`` namespace."""
    out = []
    for name, value in pairs:
        if value is None or value == "":
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append(Property(name=f"{NS}:{name}", value=text))
    return out


def _uri(value: str) -> XsUri | None:
    try:
        return XsUri(value) if value else None
    except InvalidUriException:
        return None


def _refs(uri: str, kind: ExternalReferenceType) -> list[ExternalReference]:
    parsed = _uri(uri)
    return [ExternalReference(type=kind, url=parsed)] if parsed else []


def _org(vendor: Vendor | None) -> OrganizationalEntity | None:
    if vendor is None:
        return None
    site = _uri(vendor.website)
    return OrganizationalEntity(name=vendor.name, urls=[site] if site else None)


def _licences(text: str) -> list:  # noqa: ANN401 -- the library's License union
    return [LicenseFactory().make_from_string(text)] if text.strip() else []


def _hashes(checksum: str) -> list[HashType]:
    alg, _, digest = checksum.partition(":")
    return [HashType(alg=HashAlgorithm.SHA_256, content=digest.lower())] if alg == "sha256" and digest else []


def system_component(system: AISystem) -> Component:
    return Component(
        type=ComponentType.APPLICATION, bom_ref=system_ref(system.id), name=system.name,
        description=system.purpose or None,
        properties=_props([("ai_type", system.ai_type), ("lifecycle_status", system.lifecycle_status),
                           ("eu_ai_act_role", system.eu_ai_act_role), ("business_unit", system.business_unit.code),
                           ("risk_tier", system.risk_tier), ("affected_people", system.affected_people),
                           ("human_oversight", system.human_oversight)]
                          + [("vendor", v.name) for v in system.vendors]))


def model_component(model: Model, purposes: list[tuple[str, int]]) -> Component:
    card = [("model:kind", MODEL_KINDS.get(model.kind, model.kind)), ("model:intended_use", model.intended_use),
            ("model:out_of_scope_uses", model.out_of_scope_uses), ("model:limitations", model.limitations),
            ("model:known_biases", model.known_biases), ("model:evaluation_summary", model.evaluation_summary),
            ("model:base_model", model_ref(model.base_model_id) if model.base_model_id else None),
            ("business_unit", model.business_unit.code)]
    card += [(f"dataset:{purpose}", dataset_ref(dataset_id)) for purpose, dataset_id in purposes]
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL, bom_ref=model_ref(model.id), name=model.name,
        version=model.version, description=model.description or None, supplier=_org(model.vendor),
        manufacturer=_org(model.vendor), licenses=_licences(model.licence), hashes=_hashes(model.checksum),
        external_references=_refs(model.artefact_uri, ExternalReferenceType.DISTRIBUTION), properties=_props(card))


def dataset_component(dataset: Dataset) -> Component:
    return Component(
        type=ComponentType.DATA, bom_ref=dataset_ref(dataset.id), name=dataset.name,
        description=dataset.description or None, supplier=_org(dataset.vendor), licenses=_licences(dataset.licence),
        external_references=_refs(dataset.location_uri, ExternalReferenceType.DISTRIBUTION),
        properties=_props([("dataset:source", dataset.source), ("dataset:format", dataset.format),
                           ("dataset:classification", dataset.classification),
                           ("dataset:personal_data", dataset.personal_data),
                           ("dataset:special_category_data", dataset.special_category_data),
                           ("dataset:legal_basis", dataset.legal_basis), ("dataset:residency", dataset.residency),
                           ("dataset:row_count", dataset.row_count), ("dataset:size_bytes", dataset.size_bytes),
                           ("dataset:retention_period_days", dataset.retention_period_days),
                           ("business_unit", dataset.business_unit.code)]))


def _assemble(session: Session, systems: list[AISystem], model_seed: set[int], dataset_seed: set[int],
              root: Component) -> Bom:
    """A BOM of these systems, the seed models and datasets, and everything they are built from."""
    system_ids = [s.id for s in systems]
    uses: dict[int, list[int]] = defaultdict(list)
    for system_id, model_id in session.execute(select(SystemModel.ai_system_id, SystemModel.model_id)
                                               .where(SystemModel.ai_system_id.in_(system_ids))
                                               .order_by(SystemModel.model_id)):
        uses[system_id].append(model_id)
    direct: dict[int, list[int]] = defaultdict(list)
    for system_id, dataset_id in session.execute(select(SystemDataset.ai_system_id, SystemDataset.dataset_id)
                                                 .where(SystemDataset.ai_system_id.in_(system_ids))
                                                 .order_by(SystemDataset.dataset_id)):
        direct[system_id].append(dataset_id)
    seeds = sorted(model_seed | {m for ids in uses.values() for m in ids})
    closure = lineage.base_closure(select(Model.id).where(Model.id.in_(seeds)))
    models = session.scalars(select(Model).where(Model.id.in_(select(closure.c.id))).order_by(Model.id)
                             .options(selectinload(Model.vendor), selectinload(Model.business_unit))).all()
    trained: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for model_id, dataset_id, purpose in session.execute(
            select(ModelDataset.model_id, ModelDataset.dataset_id, ModelDataset.purpose)
            .where(ModelDataset.model_id.in_([m.id for m in models]))
            .order_by(ModelDataset.model_id, ModelDataset.dataset_id, ModelDataset.purpose)):
        trained[model_id].append((purpose, dataset_id))
    wanted = dataset_seed | {d for ids in direct.values() for d in ids} | {
        d for links in trained.values() for _, d in links}
    datasets = session.scalars(select(Dataset).where(Dataset.id.in_(sorted(wanted))).order_by(Dataset.id)
                               .options(selectinload(Dataset.vendor), selectinload(Dataset.business_unit))).all()

    bom = Bom()
    bom.metadata.component = root
    bom.metadata.tools.components.add(Component(type=ComponentType.APPLICATION, name="aicoe",
                                                version=aicoe.__version__))
    by_ref: dict[str, Component] = {}
    for component in ([system_component(s) for s in systems] if root.bom_ref.value == INVENTORY_REF else []) + [
            model_component(m, trained[m.id]) for m in models] + [dataset_component(d) for d in datasets]:
        bom.components.add(component)
        by_ref[component.bom_ref.value] = component  # type: ignore[index]
    by_ref[root.bom_ref.value] = root  # type: ignore[index]
    for system in systems:
        bom.register_dependency(by_ref[system_ref(system.id)], [by_ref[model_ref(m)] for m in uses[system.id]]
                                + [by_ref[dataset_ref(d)] for d in direct[system.id]])
    for model in models:
        parts = ([by_ref[model_ref(model.base_model_id)]] if model.base_model_id else []) + [
            by_ref[dataset_ref(d)] for d in sorted({d for _, d in trained[model.id]})]
        bom.register_dependency(by_ref[model_ref(model.id)], parts)
    for dataset in datasets:
        bom.register_dependency(by_ref[dataset_ref(dataset.id)])
    if root.bom_ref.value == INVENTORY_REF:
        bom.register_dependency(root, [by_ref[system_ref(s.id)] for s in systems])
    return bom


def system_bom(session: Session, principal: Actor, system_id: int) -> Bom:
    """One system's ML-BOM: the system is the BOM's subject (``metadata.component``)."""
    system = lineage.get_system(session, principal, system_id)
    return _assemble(session, [system], set(), set(), system_component(system))


def inventory_bom(session: Session, principal: Actor) -> Bom:
    """Every system, model and dataset in the caller's units (and what they are built from)."""
    scope = scope_of(principal, lineage.READ)
    systems = list(session.scalars(select(AISystem).where(in_scope(AISystem.business_unit_id, scope))
                                   .order_by(AISystem.id)
                                   .options(selectinload(AISystem.vendors), selectinload(AISystem.business_unit))))
    models = set(session.scalars(select(Model.id).where(in_scope(Model.business_unit_id, scope))))
    datasets = set(session.scalars(select(Dataset.id).where(in_scope(Dataset.business_unit_id, scope))))
    root = Component(type=ComponentType.APPLICATION, bom_ref=INVENTORY_REF, name="AI inventory",
                     description="Every AI system, model and dataset registered in the AI/ML Center of Excellence.")
    return _assemble(session, systems, models, datasets, root)


def to_json(bom: Bom) -> str:
    """The document as CycloneDX 1.6 JSON."""
    return JsonV1Dot6(bom).output_as_string(indent=2)


def filename(system: AISystem | None) -> str:
    """A safe download name: ``<system-slug>.cdx.json`` or ``ai-inventory.cdx.json``."""
    if system is None:
        return "ai-inventory.cdx.json"
    slug = "".join(c if c.isalnum() else "-" for c in system.name.lower()).strip("-")
    return f"{'-'.join(p for p in slug.split('-') if p) or f'system-{system.id}'}.cdx.json"
