"""The organisation's control library, its mappings to framework requirements, where each control is implemented,
and which controls are in effect for an AI system through inheritance.

The library is CoE-wide: ``compliance:read`` to see it, ``control:write`` (never unit-scoped) to change it and its
mappings. A control is implemented on a subject (an AI system, a model, a dataset or a vendor); writing an
implementation needs ``compliance:write`` in the subject's business unit, and vendors, shared by the whole CoE,
need it CoE-wide. An AI system inherits every control implemented on the models it uses (and their base models),
on the datasets it or its models use, and on the vendors of the system, its models and its datasets; a control
implemented on the system itself wins over an inherited one. Services flush and audit, never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.compliance import schemas_controls as schemas
from aicoe.compliance.constants import CONTROL_CATEGORIES
from aicoe.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.models.compliance import (
    Control,
    ControlImplementation,
    ControlRequirement,
    EvidenceLink,
    Framework,
    Requirement,
)
from aicoe.models.inventory import (
    AISystem,
    Dataset,
    Model,
    ModelDataset,
    SystemDataset,
    SystemModel,
    Vendor,
    ai_system_vendors,
)
from aicoe.models.org import User
from aicoe.models.risk import risk_controls

READ, LIBRARY, IMPLEMENT = "compliance:read", "control:write", "compliance:write"
SORT_COLUMNS: dict[str, Any] = {"code": Control.code, "name": func.lower(Control.name),
                                "category": Control.category, "updated_at": Control.updated_at}
SUBJECT_TABLES: dict[str, Any] = {"ai_system": AISystem, "model": Model, "dataset": Dataset, "vendor": Vendor}
SUBJECT_NOUNS = {"ai_system": "AI system", "model": "model", "dataset": "dataset", "vendor": "vendor"}  # in sentences
# Among inherited implementations of one control, a working one is preferred, then the nearest in the lineage.
STATUS_RANK = {"implemented": 0, "not_effective": 1, "planned": 2}


def _need(principal: Actor, permission: str) -> None:
    if principal is not None:
        principal.scope(permission)


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, message)])


# --- the library -----------------------------------------------------------------------------------------------

def _with_mappings(stmt: Select[Any]) -> Select[Any]:
    return stmt.options(selectinload(Control.owner), selectinload(Control.requirement_links)
                        .selectinload(ControlRequirement.requirement).selectinload(Requirement.framework))


def list_controls(session: Session, principal: Actor, params: PageParams, *, category: str | None = None,
                  framework_id: int | None = None, requirement_id: int | None = None,
                  q: str | None = None) -> Page[Control]:
    """Sort by code (default), name, category or updated_at. ``q`` matches the code, name or description."""
    _need(principal, READ)
    stmt = _with_mappings(select(Control))
    if choice("category", category, CONTROL_CATEGORIES):
        stmt = stmt.where(Control.category == category)
    if framework_id is not None:
        stmt = stmt.where(exists().where(ControlRequirement.control_id == Control.id,
                                         ControlRequirement.requirement_id == Requirement.id,
                                         Requirement.framework_id == framework_id))
    if requirement_id is not None:
        stmt = stmt.where(exists().where(ControlRequirement.control_id == Control.id,
                                         ControlRequirement.requirement_id == requirement_id))
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(Control.code).like(pattern, escape="\\"),
                              func.lower(Control.name).like(pattern, escape="\\"),
                              func.lower(Control.description).like(pattern, escape="\\")))
    return paginate(session, apply_sort(stmt, params.sort or "code", SORT_COLUMNS, [Control.id]), params)


def controls_for_requirements(session: Session, requirement_ids: Iterable[int]) -> dict[int, list[Control]]:
    """The controls mapped to each requirement (by code), for pages that show requirements."""
    wanted = sorted(set(requirement_ids))
    out: dict[int, list[Control]] = defaultdict(list)
    if not wanted:
        return out
    rows = session.execute(select(ControlRequirement.requirement_id, Control)
                           .join(Control, Control.id == ControlRequirement.control_id)
                           .where(ControlRequirement.requirement_id.in_(wanted)).order_by(Control.code))
    for requirement_id, control in rows:
        out[requirement_id].append(control)
    return out


def get_control(session: Session, principal: Actor, control_id: int) -> Control:
    _need(principal, READ)
    control = session.scalar(_with_mappings(select(Control)).where(Control.id == control_id).options(
        selectinload(Control.implementations).selectinload(ControlImplementation.owner)))
    if control is None:
        raise NotFound(f"no control {control_id}")
    return control


def find_control(session: Session, code_or_id: str) -> Control:
    """By code (case-insensitive), else by numeric id; for the CLI and the demo."""
    key = code_or_id.strip()
    control = session.scalar(select(Control).where(Control.code == key.upper()))
    if control is None and key.isdigit():
        control = session.get(Control, int(key))
    if control is None:
        raise NotFound(f"no control with code or id {code_or_id!r}")
    return control


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is not None and session.get(User, owner_id) is None:
        raise _refuse("owner_id", f"No person {owner_id}.")


def _check_code(session: Session, code: str, exclude: int | None = None) -> None:
    stmt = select(Control.id).where(Control.code == code)
    if exclude is not None:
        stmt = stmt.where(Control.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(f"a control with code {code!r} already exists",
                       errors=[FieldError("code", f"{code!r} is already taken.")])


def create_control(session: Session, principal: Actor, data: schemas.ControlCreate) -> Control:
    _need(principal, LIBRARY)
    _check_owner(session, data.owner_id)
    _check_code(session, data.code)
    control = Control(**data.model_dump())
    session.add(control)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "control", control.id, ledger.created(control))
    return control


def update_control(session: Session, principal: Actor, control_id: int, data: schemas.ControlUpdate) -> Control:
    _need(principal, LIBRARY)
    control = get_control(session, principal, control_id)
    changes = data.model_dump(exclude_unset=True)
    empty = [FieldError(k, "Cannot be empty.") for k in ("code", "name", "description", "category")
             if k in changes and changes[k] is None]
    if empty:
        raise ValidationFailed("; ".join(f"{e.field}: cannot be empty" for e in empty), errors=empty)
    _check_owner(session, changes.get("owner_id"))
    if "code" in changes:
        _check_code(session, changes["code"], exclude=control.id)
    for field, value in changes.items():
        setattr(control, field, value)
    diff = ledger.changed(control)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "control", control.id, diff)
        session.expire(control, ["owner"])  # reload the person the new owner_id names
    return control


def delete_control(session: Session, principal: Actor, control_id: int) -> None:
    """Refused (409) while the control is implemented anywhere or a risk relies on it."""
    _need(principal, LIBRARY)
    control = get_control(session, principal, control_id)
    risks = session.scalar(select(func.count()).select_from(risk_controls)
                           .where(risk_controls.c.control_id == control.id)) or 0
    if control.implementations or risks:
        parts = []
        if control.implementations:
            parts.append(f"{len(control.implementations)} implementation(s)")
        if risks:
            parts.append(f"{risks} risk(s)")
        raise Conflict(f"{control.code} is still used by {' and '.join(parts)}; remove those first",
                       implementations=len(control.implementations), risks=risks)
    diff = ledger.deleted(control)
    diff["requirement_ids"] = [sorted(link.requirement_id for link in control.requirement_links), None]
    session.delete(control)
    ledger.append(session, audit_actor(principal), "delete", "control", control_id, diff)


def requirement_label(requirement: Requirement) -> str:
    return f"{requirement.framework.key} {requirement.ref}"


def requirement_by_ref(session: Session, framework_key: str, ref: str) -> Requirement | None:
    """A requirement of the current version of a framework, by its official identifier."""
    return session.scalar(select(Requirement).join(Framework, Framework.id == Requirement.framework_id).where(
        Framework.key == framework_key, Framework.is_current.is_(True), Requirement.ref == ref))


def find_requirement(session: Session, text: str) -> Requirement:
    """'<framework id> <ref>' (e.g. 'nist-ai-rmf MEASURE 2.11'), or a ref alone that only one current framework
    has; refused with a field error ``requirement`` otherwise."""
    text = " ".join(text.split())
    key, _, ref = text.partition(" ")
    found = requirement_by_ref(session, key.lower(), ref) if ref else None
    if found is not None:
        return found
    matches = list(session.scalars(select(Requirement).join(Framework, Framework.id == Requirement.framework_id)
                                   .where(Framework.is_current.is_(True), Requirement.ref == text)
                                   .options(selectinload(Requirement.framework))))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise _refuse("requirement", f"No requirement {text!r} in the current frameworks; give the framework id "
                                     "and the reference, e.g. 'nist-ai-rmf MEASURE 2.11'.")
    keys = ", ".join(sorted(m.framework.key for m in matches))
    raise _refuse("requirement", f"{text!r} is in several frameworks ({keys}); put the framework id first.")


def requirement_choices(session: Session) -> list[tuple[str, str]]:
    """('<framework id> <ref>', title) for every requirement of the current frameworks, in catalog order."""
    rows = session.execute(select(Framework.key, Requirement.ref, Requirement.title)
                           .join(Framework, Framework.id == Requirement.framework_id)
                           .where(Framework.is_current.is_(True)).order_by(Framework.key, Requirement.position))
    return [(f"{key} {ref}", title) for key, ref, title in rows]


def set_requirements(session: Session, principal: Actor, control_id: int, requirement_ids: Iterable[int]) -> Control:
    """Map the control to exactly these requirements (of any frameworks); unknown ids are refused, nothing changed."""
    _need(principal, LIBRARY)
    control = get_control(session, principal, control_id)
    wanted = sorted(set(requirement_ids))
    found = {r.id: r for r in session.scalars(select(Requirement).where(Requirement.id.in_(wanted))
                                              .options(selectinload(Requirement.framework)))}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _refuse("requirement_ids", f"No requirement {', '.join(map(str, missing))}.")
    before = {link.requirement_id: link for link in control.requirement_links}
    if sorted(before) == wanted:
        return control
    old_labels = sorted(requirement_label(link.requirement) for link in before.values())
    control.requirement_links = [before.get(i) or ControlRequirement(requirement_id=i, requirement=found[i])
                                 for i in wanted]
    session.flush()
    ledger.append(session, audit_actor(principal), "map_requirements", "control", control.id, {
        "requirement_ids": [sorted(before), wanted],
        "requirements": [old_labels, sorted(requirement_label(found[i]) for i in wanted)]})
    return control


# --- implementations -------------------------------------------------------------------------------------------

def subject_label(subject_type: str, subject: Any) -> str:
    if subject_type == "model":
        return f"{subject.name} {subject.version}"
    return subject.name


def subject_labels(session: Session, implementations: Iterable[ControlImplementation]) -> dict[tuple[str, int], str]:
    """``(subject_type, subject_id) -> label`` for many implementations at once (a deleted subject: '#id')."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for impl in implementations:
        wanted[impl.subject_type].add(impl.subject_id)
    out: dict[tuple[str, int], str] = {}
    for subject_type, ids in wanted.items():
        table = SUBJECT_TABLES[subject_type]
        for row in session.scalars(select(table).where(table.id.in_(sorted(ids)))):
            out[(subject_type, row.id)] = subject_label(subject_type, row)
        for missing in ids - {i for t, i in out if t == subject_type}:
            out[(subject_type, missing)] = f"#{missing} (deleted)"
    return out


def visible_implementations(principal: Actor, permission: str = READ) -> ColumnElement[bool]:
    """Implementations in the caller's units, and those on vendors (shared by every unit)."""
    scope = scope_of(principal, permission)
    if scope is None:
        return ControlImplementation.id.is_not(None)
    return or_(ControlImplementation.business_unit_id.is_(None),
               in_scope(ControlImplementation.business_unit_id, scope))


def _subject(session: Session, principal: Actor, subject_type: str, subject_id: int) -> tuple[Any, int | None]:
    """The subject and its unit; one outside the caller's readable units is answered as missing."""
    subject = session.get(SUBJECT_TABLES[subject_type], subject_id)
    unit_id = getattr(subject, "business_unit_id", None)
    if subject is None or (principal is not None and unit_id is not None and not principal.may(READ, unit_id)):
        what = SUBJECT_NOUNS[subject_type]
        raise NotFound(f"no {what} {subject_id}", errors=[FieldError("subject_id", f"No {what} {subject_id}.")])
    return subject, unit_id


def _check_writable(principal: Actor, subject_type: str, unit_id: int | None) -> None:
    if principal is None:
        return
    if unit_id is None and principal.scope(IMPLEMENT) is not None:
        raise PermissionDenied(f"{SUBJECT_NOUNS[subject_type]}s are shared by the whole CoE: "
                               f"implementing a control on one needs the {IMPLEMENT!r} permission CoE-wide")
    principal.check_unit(IMPLEMENT, unit_id, hide=False)


def _check_implemented_on(status: str, implemented_on: date | None) -> None:
    if implemented_on is not None and status != "planned" and implemented_on > date.today():
        raise _refuse("implemented_on", "Cannot be in the future unless the status is planned.")


def implement(session: Session, principal: Actor, control_id: int,
              data: schemas.ImplementationCreate) -> ControlImplementation:
    """Record that the control is implemented (or planned) on a subject; one implementation per subject."""
    control = get_control(session, principal, control_id)
    subject, unit_id = _subject(session, principal, data.subject_type, data.subject_id)
    _check_writable(principal, data.subject_type, unit_id)
    _check_owner(session, data.owner_id)
    _check_implemented_on(data.status, data.implemented_on)
    label = subject_label(data.subject_type, subject)
    if any(i.subject_type == data.subject_type and i.subject_id == data.subject_id for i in control.implementations):
        raise Conflict(f"{control.code} is already implemented on {label}; edit that implementation",
                       errors=[FieldError("subject_id", f"{control.code} is already recorded on {label}.")])
    impl = ControlImplementation(control=control, business_unit_id=unit_id, **data.model_dump())
    session.add(impl)
    session.flush()
    diff = {**ledger.created(impl), "control": [None, control.code], "subject": [None, label]}
    ledger.append(session, audit_actor(principal), "create", "control_implementation", impl.id, diff)
    return impl


def get_implementation(session: Session, principal: Actor, implementation_id: int) -> ControlImplementation:
    _need(principal, READ)
    impl = session.scalar(select(ControlImplementation).where(
        ControlImplementation.id == implementation_id, visible_implementations(principal)).options(
        selectinload(ControlImplementation.control), selectinload(ControlImplementation.owner)))
    if impl is None:
        raise NotFound(f"no control implementation {implementation_id}")
    return impl


def update_implementation(session: Session, principal: Actor, implementation_id: int,
                          data: schemas.ImplementationUpdate) -> ControlImplementation:
    impl = get_implementation(session, principal, implementation_id)
    _check_writable(principal, impl.subject_type, impl.business_unit_id)
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise _refuse("status", "Cannot be empty.")
    _check_owner(session, changes.get("owner_id"))
    _check_implemented_on(changes.get("status", impl.status), changes.get("implemented_on", impl.implemented_on))
    for field, value in changes.items():
        setattr(impl, field, value)
    diff = ledger.changed(impl)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "control_implementation", impl.id, diff)
        session.expire(impl, ["owner"])  # reload the person the new owner_id names
    return impl


def delete_implementation(session: Session, principal: Actor, implementation_id: int) -> None:
    """Removes the implementation and the evidence links attached to it (the evidence itself stays)."""
    impl = get_implementation(session, principal, implementation_id)
    _check_writable(principal, impl.subject_type, impl.business_unit_id)
    links = list(session.scalars(select(EvidenceLink.evidence_id).where(
        EvidenceLink.target_type == "control_implementation", EvidenceLink.target_id == impl.id)))
    diff = {**ledger.deleted(impl), "control": [impl.control.code, None]}
    if links:
        diff["evidence_ids"] = [sorted(links), None]
        session.execute(delete(EvidenceLink).where(EvidenceLink.target_type == "control_implementation",
                                                   EvidenceLink.target_id == impl.id))
    session.delete(impl)
    ledger.append(session, audit_actor(principal), "delete", "control_implementation", implementation_id, diff)


# --- inheritance -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EffectiveControl:
    """A control in effect for an AI system, the implementation that provides it, and where it comes from."""

    control: Control
    implementation: ControlImplementation
    inherited_from: str | None  # e.g. "model credit-scorer 3"; None when implemented on the system itself
    requirement_ids: frozenset[int]


def _models(session: Session, ids: Iterable[int]) -> list[Model]:
    wanted = sorted(set(ids))
    return list(session.scalars(select(Model).where(Model.id.in_(wanted)).order_by(Model.name, Model.version))) \
        if wanted else []


def lineage(session: Session, system_id: int) -> list[tuple[str, int, str]]:
    """The shared assets an AI system inherits controls from, nearest first, as (subject type, id, label): its
    models, their base models (transitively), the datasets it and those models use, then the vendors of the
    system, its models and its datasets."""
    out: list[tuple[str, int, str]] = []
    seen_models: dict[int, Model] = {}
    frontier = _models(session, session.scalars(select(SystemModel.model_id)
                                                .where(SystemModel.ai_system_id == system_id)))
    derived_from: dict[int, Model] = {}
    while frontier:
        for model in frontier:
            seen_models[model.id] = model
            child = derived_from.get(model.id)
            suffix = f" (base of {child.name} {child.version})" if child else ""
            out.append(("model", model.id, f"model {model.name} {model.version}{suffix}"))
        bases = {m.base_model_id: m for m in frontier if m.base_model_id and m.base_model_id not in seen_models}
        derived_from.update(bases)
        frontier = _models(session, bases)
    dataset_ids = list(session.scalars(select(SystemDataset.dataset_id)
                                       .where(SystemDataset.ai_system_id == system_id)))
    if seen_models:
        dataset_ids += session.scalars(select(ModelDataset.dataset_id)
                                       .where(ModelDataset.model_id.in_(sorted(seen_models))))
    datasets = list(session.scalars(select(Dataset).where(Dataset.id.in_(sorted(set(dataset_ids))))
                                    .order_by(Dataset.name))) if dataset_ids else []
    out += [("dataset", d.id, f"dataset {d.name}") for d in datasets]
    vendor_ids = set(session.scalars(select(ai_system_vendors.c.vendor_id)
                                     .where(ai_system_vendors.c.ai_system_id == system_id)))
    vendor_ids |= {m.vendor_id for m in seen_models.values() if m.vendor_id} | {d.vendor_id for d in datasets
                                                                                if d.vendor_id}
    if vendor_ids:
        vendors = session.scalars(select(Vendor).where(Vendor.id.in_(sorted(vendor_ids))).order_by(Vendor.name))
        out += [("vendor", v.id, f"vendor {v.name}") for v in vendors]
    return out


def _subjects_clause(subjects: Iterable[tuple[str, int]]) -> ColumnElement[bool]:
    grouped: dict[str, set[int]] = defaultdict(set)
    for subject_type, subject_id in subjects:
        grouped[subject_type].add(subject_id)
    clauses = [and_(ControlImplementation.subject_type == t, ControlImplementation.subject_id.in_(sorted(ids)))
               for t, ids in sorted(grouped.items())]
    return or_(*clauses) if clauses else false()


def effective_for_system(session: Session, system_id: int) -> list[EffectiveControl]:
    """Every control in effect for the system, by code: implemented on it directly, or inherited from its lineage.

    A direct implementation wins over inherited ones. Among inherited implementations of the same control, an
    implemented one is preferred to a not-effective one, that to a planned one, then the nearest in the lineage.
    The caller has already checked that the reader may see the system.
    """
    if session.get(AISystem, system_id) is None:
        raise NotFound(f"no AI system {system_id}")
    sources = [("ai_system", system_id, None), *lineage(session, system_id)]
    rank = {(t, i): (n, label) for n, (t, i, label) in enumerate(sources)}
    impls = session.scalars(select(ControlImplementation).where(_subjects_clause((t, i) for t, i, _ in sources))
                            .options(selectinload(ControlImplementation.control)
                                     .selectinload(Control.requirement_links),
                                     selectinload(ControlImplementation.owner)))
    best: dict[int, tuple[tuple[int, int, int], ControlImplementation]] = {}
    for impl in impls:
        distance = rank[(impl.subject_type, impl.subject_id)][0]
        key = (0 if distance == 0 else 1, STATUS_RANK.get(impl.status, 3), distance)
        if impl.control_id not in best or key < best[impl.control_id][0]:
            best[impl.control_id] = (key, impl)
    out = [EffectiveControl(control=impl.control, implementation=impl,
                            inherited_from=rank[(impl.subject_type, impl.subject_id)][1],
                            requirement_ids=frozenset(link.requirement_id for link in impl.control.requirement_links))
           for _, impl in best.values()]
    return sorted(out, key=lambda e: e.control.code)


def for_system(session: Session, principal: Actor, system_id: int) -> list[EffectiveControl]:
    """``effective_for_system`` for a reader: a system outside the caller's units is answered as missing."""
    visible = session.scalar(select(AISystem.id).where(
        AISystem.id == system_id, in_scope(AISystem.business_unit_id, scope_of(principal, READ))))
    if visible is None:
        raise NotFound(f"no AI system {system_id}")
    return effective_for_system(session, system_id)


def _descendants(session: Session, model_ids: set[int]) -> set[int]:
    """The models and every model derived from them (fine-tunes of fine-tunes included)."""
    children: dict[int, list[int]] = defaultdict(list)
    for model_id, base_id in session.execute(select(Model.id, Model.base_model_id)
                                             .where(Model.base_model_id.is_not(None))):
        children[base_id].append(model_id)
    found, stack = set(model_ids), list(model_ids)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def systems_inheriting(session: Session, implementation: ControlImplementation) -> list[AISystem]:
    """The AI systems that benefit from an implementation: the system itself for a direct one; for a shared asset,
    every system whose lineage includes it, less those that implement the same control themselves."""
    subject_type, subject_id = implementation.subject_type, implementation.subject_id
    if subject_type == "ai_system":
        system = session.get(AISystem, subject_id)
        return [system] if system is not None else []
    system_ids: set[int] = set()
    models: set[int] = set()
    datasets: set[int] = set()
    if subject_type == "model":
        models = {subject_id}
    elif subject_type == "dataset":
        datasets = {subject_id}
    else:
        system_ids |= set(session.scalars(select(ai_system_vendors.c.ai_system_id)
                                          .where(ai_system_vendors.c.vendor_id == subject_id)))
        models = set(session.scalars(select(Model.id).where(Model.vendor_id == subject_id)))
        datasets = set(session.scalars(select(Dataset.id).where(Dataset.vendor_id == subject_id)))
    if datasets:
        system_ids |= set(session.scalars(select(SystemDataset.ai_system_id)
                                          .where(SystemDataset.dataset_id.in_(sorted(datasets)))))
        models |= set(session.scalars(select(ModelDataset.model_id)
                                      .where(ModelDataset.dataset_id.in_(sorted(datasets)))))
    if models:
        system_ids |= set(session.scalars(select(SystemModel.ai_system_id)
                                          .where(SystemModel.model_id.in_(sorted(_descendants(session, models))))))
    if not system_ids:
        return []
    direct = select(ControlImplementation.subject_id).where(
        ControlImplementation.control_id == implementation.control_id,
        ControlImplementation.subject_type == "ai_system")
    return list(session.scalars(select(AISystem).where(AISystem.id.in_(sorted(system_ids)), AISystem.id.not_in(direct))
                                .options(selectinload(AISystem.business_unit)).order_by(AISystem.name)))


def implementation_counts(session: Session, principal: Actor, control_ids: Iterable[int]) -> dict[int, int]:
    """How many implementations of each control the caller can see."""
    wanted = sorted(set(control_ids))
    if not wanted:
        return {}
    rows = session.execute(select(ControlImplementation.control_id, func.count()).where(
        ControlImplementation.control_id.in_(wanted), visible_implementations(principal))
        .group_by(ControlImplementation.control_id))
    return {control_id: n for control_id, n in rows}
