"""Framework catalogs in the database: loading shipped and user files, versions, and reading requirements and
their cross-framework mappings.

A catalog file becomes one Framework row (one per id and version) with its Requirement tree; a mapping file
becomes RequirementMapping rows tagged with the mapping's id. Loading is idempotent: the same id, version and
content is left unchanged; a new version is added next to the old ones (assessments keep the version they
started on), and becomes current unless it was published before the current one; the same id and version with
other content is refused, because results recorded against that version would silently change meaning.

Frameworks are CoE-wide: reading needs compliance:read, importing catalog:import. Services flush and audit,
never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, scope_of
from aicoe.catalogs import loader
from aicoe.catalogs.schema import CatalogFile, MappingFile
from aicoe.compliance.constants import GPAI_FLAGS, MAPPING_RELATIONS, RISK_TIERS
from aicoe.core.errors import Conflict, FieldError, NotFound, PayloadTooLarge, ValidationFailed
from aicoe.core.filters import like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.inventory.constants import EU_AI_ACT_ROLES, LIFECYCLE_STATUSES
from aicoe.models.compliance import Framework, Requirement, RequirementMapping
from aicoe.portfolio.constants import AI_TYPES

READ, IMPORT = "compliance:read", "catalog:import"
INVERSE = {"equivalent": "equivalent", "related": "related", "subset": "superset", "superset": "subset"}
REQUIREMENT_SORT = {"position": Requirement.position, "ref": Requirement.ref, "title": func.lower(Requirement.title)}
Status = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class ImportOutcome:
    """What loading one file did. ``counts``: requirements of a framework; links added, removed, changed and in
    total for a mapping."""

    kind: Literal["framework", "mapping"]
    key: str
    version: str | None
    status: Status
    framework_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.key} {self.version}" if self.version else self.key


@dataclass(frozen=True)
class FrameworkListing:
    framework: Framework
    requirements: int
    assessable: int


@dataclass
class TreeNode:
    requirement: Requirement
    children: list[TreeNode] = field(default_factory=list)


@dataclass(frozen=True)
class MappedRequirement:
    """A requirement of another framework linked to this one; ``relation`` reads from this requirement to it."""

    relation: str
    direction: Literal["outgoing", "incoming"]
    requirement: Requirement
    mapping_set: str
    note: str


@dataclass(frozen=True)
class MappingSet:
    id: str
    source: Framework
    target: Framework
    links: int
    relations: dict[str, int]


def _reader(principal: Actor) -> None:
    scope_of(principal, READ)  # frameworks are CoE-wide: holding the permission anywhere is enough


def _importer(principal: Actor) -> None:
    scope_of(principal, IMPORT)


# --- loading -------------------------------------------------------------------------------------------------

def sync_builtin(session: Session, principal: Actor) -> list[ImportOutcome]:
    """Load every shipped catalog, then every shipped mapping (linked to the shipped versions it was written
    for). Refused as a whole if a shipped file is invalid or conflicts with what the database holds."""
    _importer(principal)
    bundle = loader.load_builtin()
    outcomes = [_store_catalog(session, principal, c, origin="builtin") for c in bundle.catalogs]
    versions = {o.key: o.framework_id for o in outcomes}
    for loaded in bundle.mappings:
        info = loaded.document.mapping  # type: ignore[union-attr]
        pair = (session.get(Framework, versions[info.source_framework]),
                session.get(Framework, versions[info.target_framework]))
        outcomes.append(_store_mapping(session, principal, loaded, pair))  # type: ignore[arg-type]
    return outcomes


def _checked_size(data: bytes, filename: str) -> None:
    if len(data) > loader.MAX_FILE_BYTES:
        raise PayloadTooLarge(f"{filename} is larger than the limit of {loader.MAX_FILE_BYTES // 2**20} MiB",
                              limit_bytes=loader.MAX_FILE_BYTES)


def import_catalog(session: Session, principal: Actor, data: bytes, filename: str) -> ImportOutcome:
    """Validate and load a framework catalog file (YAML, or JSON by its name); CatalogError lists every
    problem of an invalid file and nothing is written."""
    _importer(principal)
    _checked_size(data, filename)
    return _store_catalog(session, principal, loader.load_catalog(data, filename), origin="imported")


def import_mapping(session: Session, principal: Actor, data: bytes, filename: str) -> ImportOutcome:
    """Validate and load a mapping file against the current versions of the two frameworks it names; loading it
    again replaces the set's links between those versions."""
    _importer(principal)
    _checked_size(data, filename)
    loaded = loader.load_mapping(data, filename)
    info = loaded.document.mapping  # type: ignore[union-attr]
    current = {f.key: f for f in session.scalars(select(Framework).where(
        Framework.key.in_([info.source_framework, info.target_framework]), Framework.is_current))}
    loader.check_links(loaded, {key: _refs(session, f.id) for key, f in current.items()})
    return _store_mapping(session, principal, loaded, (current[info.source_framework],
                                                       current[info.target_framework]))


def _refs(session: Session, framework_id: int) -> dict[str, int]:
    rows = session.execute(select(Requirement.ref, Requirement.id).where(Requirement.framework_id == framework_id))
    return {ref: requirement_id for ref, requirement_id in rows}


def _store_catalog(session: Session, principal: Actor, loaded: loader.Loaded, *,
                   origin: Literal["builtin", "imported"]) -> ImportOutcome:
    document: CatalogFile = loaded.document  # type: ignore[assignment]
    info = document.framework
    existing = session.scalar(select(Framework).where(Framework.key == info.id, Framework.version == info.version))
    if existing is not None:
        if existing.file_sha256 != loaded.sha256:
            raise Conflict(
                f"{info.id} version {info.version} is already loaded with different content; a changed catalog "
                "needs a new version so that assessments made against the old one keep their meaning",
                errors=[FieldError("framework.version", f"{info.version!r} is already loaded with other content: "
                                                        "give this file a new version.")])
        count = session.scalar(select(func.count()).where(Requirement.framework_id == existing.id)) or 0
        return ImportOutcome("framework", info.id, info.version, "unchanged", existing.id, {"requirements": count})
    current = session.scalar(select(Framework).where(Framework.key == info.id, Framework.is_current))
    becomes_current = current is None or current.published is None or info.published >= current.published
    framework = Framework(
        key=info.id, version=info.version, name=info.name, publisher=info.publisher, source_url=info.source_url,
        licence=info.licence, published=info.published, description=info.description, origin=origin,
        file_sha256=loaded.sha256, is_current=becomes_current,
        imported_by_id=principal.user.id if principal is not None else None)
    try:
        with session.begin_nested():
            session.add(framework)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{info.id} version {info.version} was loaded by someone else at the same time") from None
    count = _insert_requirements(session, framework.id, document)
    actor = audit_actor(principal)
    diff = ledger.created(framework)
    diff["requirements"] = [None, count]
    ledger.append(session, actor, "import", "framework", framework.id, diff)
    if becomes_current and current is not None:
        current.is_current = False
        ledger.append(session, actor, "supersede", "framework", current.id,
                      {**ledger.changed(current), "superseded_by": [None, framework.id]})
    return ImportOutcome("framework", info.id, info.version, "created", framework.id, {"requirements": count})


def _insert_requirements(session: Session, framework_id: int, document: CatalogFile) -> int:
    """Insert the tree level by level (one batched insert per depth): position is the pre-order index, the
    rule stored is the node's own (ancestors' rules apply too, see the assessments' applicability)."""
    levels: dict[int, list[tuple[Any, Requirement]]] = defaultdict(list)
    rows: dict[int, Requirement] = {}
    for position, node in enumerate(document.walk()):
        item = node.requirement
        row = Requirement(
            framework_id=framework_id, ref=item.ref, title=item.title, kind=item.kind, summary=item.summary,
            guidance=list(item.guidance), evidence_types=list(item.evidence_types),
            applicability=item.applicability.rule() if item.applicability else {},
            assessable=item.is_assessable, position=position, depth=node.depth)
        rows[id(item)] = row
        levels[node.depth].append((node.parent, row))
    for depth in sorted(levels):
        for parent, row in levels[depth]:
            row.parent_id = rows[id(parent)].id if parent is not None else None
        session.add_all(row for _, row in levels[depth])
        session.flush()
    return len(rows)


def _store_mapping(session: Session, principal: Actor, loaded: loader.Loaded,
                   frameworks: tuple[Framework, Framework]) -> ImportOutcome:
    document: MappingFile = loaded.document  # type: ignore[assignment]
    info = document.mapping
    source, target = frameworks
    source_refs, target_refs = _refs(session, source.id), _refs(session, target.id)
    wanted = {(source_refs[link.source], target_refs[link.target]): link for link in document.links}
    existing = {(m.source_id, m.target_id): m for m in session.scalars(select(RequirementMapping).where(
        RequirementMapping.source_id.in_(source_refs.values()),
        RequirementMapping.target_id.in_(target_refs.values())))}
    taken = [(pair, existing[pair].mapping_set) for pair in wanted  # in the file's order
             if pair in existing and existing[pair].mapping_set != info.id]
    if taken:
        by_id = {v: k for k, v in {**source_refs, **target_refs}.items()}
        listed = "; ".join(f"{by_id[s]} → {by_id[t]} (in {name})" for (s, t), name in taken[:10])
        raise Conflict(f"{len(taken)} link(s) of {info.id} are already mapped by another mapping set: {listed}",
                       errors=[FieldError("links", "Remove these links, or the other mapping set's.")])
    own = {pair: m for pair, m in existing.items() if m.mapping_set == info.id}
    added = [pair for pair in wanted if pair not in own]
    removed = [m for pair, m in own.items() if pair not in wanted]
    changed = 0
    for pair, row in own.items():
        link = wanted.get(pair)
        if link is not None and (row.relation, row.note) != (link.relation, link.note):
            row.relation, row.note = link.relation, link.note
            changed += 1
    for row in removed:
        session.delete(row)
    session.add_all(RequirementMapping(source_id=s, target_id=t, relation=wanted[(s, t)].relation,
                                       mapping_set=info.id, note=wanted[(s, t)].note) for s, t in added)
    counts = {"links": len(wanted), "added": len(added), "removed": len(removed), "changed": changed}
    if not (added or removed or changed):
        return ImportOutcome("mapping", info.id, None, "unchanged", None, counts)
    session.flush()
    ledger.append(session, audit_actor(principal), "import", "mapping_set", info.id, {
        "links": [len(own), len(wanted)], "added": [None, len(added)], "removed": [None, len(removed)],
        "changed": [None, changed], "source": [None, f"{source.key} {source.version}"],
        "target": [None, f"{target.key} {target.version}"], "sha256": [None, loaded.sha256]})
    return ImportOutcome("mapping", info.id, None, "updated" if own else "created", None, counts)


# --- reading frameworks ------------------------------------------------------------------------------------------

def list_frameworks(session: Session, principal: Actor, *, current_only: bool = False) -> list[FrameworkListing]:
    """Every framework version with its number of requirements and of assessable ones, by name, the current
    version first."""
    _reader(principal)
    return _listings(session, *([Framework.is_current] if current_only else []))


def listing_of(session: Session, framework: Framework) -> FrameworkListing:
    return _listings(session, Framework.id == framework.id)[0]


def _listings(session: Session, *where: Any) -> list[FrameworkListing]:
    counts = (select(Requirement.framework_id, func.count().label("n"),
                     func.sum(case((Requirement.assessable, 1), else_=0)).label("assessable"))
              .group_by(Requirement.framework_id).subquery())
    stmt = (select(Framework, func.coalesce(counts.c.n, 0), func.coalesce(counts.c.assessable, 0))
            .outerjoin(counts, counts.c.framework_id == Framework.id).where(*where)
            .order_by(func.lower(Framework.name), Framework.key, Framework.is_current.desc(),
                      Framework.published.desc(), Framework.id.desc()))
    return [FrameworkListing(f, int(n), int(a)) for f, n, a in session.execute(stmt)]


def get_framework(session: Session, principal: Actor, ident: int | str, version: str | None = None) -> Framework:
    """By numeric id, or by key (``nist-ai-rmf``): the given version, else the current one."""
    _reader(principal)
    text = str(ident).strip()
    if text.isdigit():
        framework = session.get(Framework, int(text))
    else:
        stmt = select(Framework).where(Framework.key == text)
        stmt = stmt.where(Framework.version == version) if version else stmt.where(Framework.is_current)
        framework = session.scalar(stmt)
    if framework is None:
        raise NotFound(f"no framework {text}" + (f" version {version}" if version and not text.isdigit() else ""))
    return framework


def versions_of(session: Session, principal: Actor, key: str) -> list[Framework]:
    _reader(principal)
    return list(session.scalars(select(Framework).where(Framework.key == key)
                                .order_by(Framework.is_current.desc(), Framework.published.desc())))


def requirement_tree(session: Session, framework_id: int, *, only: Iterable[int] | None = None) -> list[TreeNode]:
    """The framework's requirements as a tree in the source's order; with ``only``, just those requirements and
    their ancestors (a filtered view that keeps each match in context)."""
    rows = list(session.scalars(select(Requirement).where(Requirement.framework_id == framework_id)
                                .order_by(Requirement.position)))
    keep: set[int] | None = None
    if only is not None:
        parents = {r.id: r.parent_id for r in rows}
        keep = set()
        for rid in only:
            current: int | None = rid
            while current is not None and current not in keep:
                keep.add(current)
                current = parents.get(current)
    nodes: dict[int, TreeNode] = {}
    roots: list[TreeNode] = []
    for row in rows:
        if keep is not None and row.id not in keep:
            continue
        node = nodes[row.id] = TreeNode(row)
        parent = nodes.get(row.parent_id) if row.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


# --- reading requirements ------------------------------------------------------------------------------------

def get_requirement(session: Session, principal: Actor, requirement_id: int) -> Requirement:
    _reader(principal)
    requirement = session.scalar(select(Requirement).where(Requirement.id == requirement_id)
                                 .options(selectinload(Requirement.framework)))
    if requirement is None:
        raise NotFound(f"no requirement {requirement_id}")
    return requirement


def ancestors(requirement: Requirement) -> list[Requirement]:
    """From the root down to the requirement's parent."""
    chain: list[Requirement] = []
    current = requirement.parent
    while current is not None:
        chain.append(current)
        current = current.parent
    return chain[::-1]


def children_of(session: Session, requirement_id: int) -> list[Requirement]:
    return list(session.scalars(select(Requirement).where(Requirement.parent_id == requirement_id)
                                .order_by(Requirement.position)))


def search_requirements(session: Session, principal: Actor, params: PageParams, *, framework_id: int | None = None,
                        q: str | None = None, kind: str | None = None, assessable: bool | None = None,
                        current_only: bool = False) -> Page[Requirement]:
    """Requirements whose ref, title or summary contains ``q`` (case-insensitive), in the source's order. Sort
    by position (default), ref or title."""
    _reader(principal)
    stmt = select(Requirement).join(Requirement.framework).options(selectinload(Requirement.framework))
    if framework_id is not None:
        stmt = stmt.where(Requirement.framework_id == framework_id)
    if current_only:
        stmt = stmt.where(Framework.is_current)
    if kind and kind.strip():
        stmt = stmt.where(Requirement.kind == kind.strip())
    if assessable is not None:
        stmt = stmt.where(Requirement.assessable == assessable)
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in (
            Requirement.ref, Requirement.title, Requirement.summary))))
    default = [Framework.key, Framework.id, Requirement.position]
    return paginate(session, apply_sort(stmt, params.sort, REQUIREMENT_SORT, default), params)


def kinds_of(session: Session, framework_id: int) -> list[str]:
    """The kinds of requirement a framework uses, in the order they first appear."""
    rows = session.execute(select(Requirement.kind, func.min(Requirement.position)).where(
        Requirement.framework_id == framework_id).group_by(Requirement.kind).order_by(func.min(Requirement.position)))
    return [kind for kind, _ in rows]


def check_kind(kind: str | None, allowed: Iterable[str]) -> None:
    """A requirement-kind filter must name a kind the framework uses."""
    allowed = list(allowed)
    if kind and kind not in allowed:
        raise ValidationFailed(f"unknown kind {kind!r}", errors=[FieldError(
            "kind", f"Unknown kind {kind!r}; this framework uses: {', '.join(allowed)}.")])


# --- mappings --------------------------------------------------------------------------------------------------

def mappings_for(session: Session, requirement_ids: Sequence[int]) -> dict[int, list[MappedRequirement]]:
    """For each requirement, the requirements of other frameworks mapped to it, in either direction (an
    incoming ``subset`` reads as ``superset`` from this side)."""
    out: dict[int, list[MappedRequirement]] = defaultdict(list)
    if not requirement_ids:
        return out
    ids = sorted(set(requirement_ids))
    other = aliased(Requirement)
    for own_column, other_column, direction in (
            (RequirementMapping.source_id, RequirementMapping.target_id, "outgoing"),
            (RequirementMapping.target_id, RequirementMapping.source_id, "incoming")):
        for start in range(0, len(ids), 500):  # keep the IN list within every backend's parameter limit
            stmt = (select(RequirementMapping, own_column, other)
                    .join(other, other.id == other_column)
                    .where(own_column.in_(ids[start:start + 500]))
                    .options(selectinload(other.framework)))
            for mapping, own_id, requirement in session.execute(stmt):
                relation = mapping.relation if direction == "outgoing" else INVERSE[mapping.relation]
                out[own_id].append(MappedRequirement(relation, direction, requirement, mapping.mapping_set,
                                                     mapping.note))
    for links in out.values():
        links.sort(key=lambda m: (m.requirement.framework.name, m.requirement.position))
    return out


def requirement_mappings(session: Session, requirement_id: int) -> list[MappedRequirement]:
    """The cross-framework links of one requirement, both directions."""
    return mappings_for(session, [requirement_id]).get(requirement_id, [])


def list_mapping_sets(session: Session, principal: Actor) -> list[MappingSet]:
    """Each mapping set with the framework versions it links and its number of links by relation."""
    _reader(principal)
    source, target = aliased(Requirement), aliased(Requirement)
    rows = session.execute(
        select(RequirementMapping.mapping_set, source.framework_id, target.framework_id, RequirementMapping.relation,
               func.count())
        .join(source, source.id == RequirementMapping.source_id)
        .join(target, target.id == RequirementMapping.target_id)
        .group_by(RequirementMapping.mapping_set, source.framework_id, target.framework_id,
                  RequirementMapping.relation)).all()
    frameworks = {f.id: f for f in session.scalars(select(Framework).where(
        Framework.id.in_({r[1] for r in rows} | {r[2] for r in rows})))}
    grouped: dict[tuple[str, int, int], dict[str, int]] = defaultdict(dict)
    for name, source_id, target_id, relation, count in rows:
        grouped[(name, source_id, target_id)][relation] = count
    sets = [MappingSet(name, frameworks[s], frameworks[t], sum(by.values()),
                       {r: by[r] for r in MAPPING_RELATIONS if r in by})
            for (name, s, t), by in grouped.items()]
    return sorted(sets, key=lambda m: (m.id, m.source.is_current is False, m.source.id))


# --- presentation shared by the pages and the CLI --------------------------------------------------------------

_RULE_TERMS: dict[str, tuple[str, dict[str, str]]] = {
    "ai_types": ("AI type", AI_TYPES), "risk_tiers": ("risk tier", RISK_TIERS),
    "eu_roles": ("EU AI Act role", EU_AI_ACT_ROLES), "lifecycle_stages": ("lifecycle stage", LIFECYCLE_STATUSES),
    "gpai": ("general-purpose AI", GPAI_FLAGS),
}


def rule_text(rule: dict[str, Any]) -> list[str]:
    """An applicability rule in words, one condition per line (all must hold; any of the values within one)."""
    lines = []
    for key, (label, names) in _RULE_TERMS.items():
        if rule.get(key):
            lines.append(f"{label}: {' or '.join(names.get(v, v) for v in rule[key])}")
    if rule.get("personal_data") is not None:
        lines.append("processes personal data" if rule["personal_data"] else "does not process personal data")
    return lines
