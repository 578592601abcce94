"""Data-governance rules over lineage, and what a scan's findings mean for a dataset.

**What findings mean.** Each entity type belongs to a category (``aicoe.engines.sensitive.model.CATEGORIES``).
A dataset holds *personal data* when any finding is in a personal category (contact details, government ids,
financial identifiers, health data, network and wallet identifiers (online identifiers under GDPR recital 30),
names); *special-category data* (GDPR Art. 9) when a finding is health or special-category data — an NHS number
identifies a patient of the health service, so it counts as health data. The suggested classification is the
first row of ``SUGGESTIONS`` whose categories were found; with no finding at all it is ``internal``, the default
for company data (making data public is a human decision, never a scan's).

**Rules.** Each rule is data (id, title, severity, rationale) plus the check that finds its violations on one
dataset of the lineage graph: dataset -> model (``model_datasets``, and every model derived from that one at any
depth), model -> AI system (``system_models``), dataset -> AI system (``system_datasets``). Retired systems
process nothing and are left out. A dataset's *effective* classification is the stricter of its declared and its
suggested one. A model is *third-party hosted* when it is a third-party API, or fine-tuned (at any depth) from
one, because such fine-tuning happens on the provider's platform.

A violation names its dataset and, where the rule is about a use, the model and the AI system involved.
Records outside the reader's business units are flagged, not named, by the pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor, Scope, scope_of
from aicoe.engines.sensitive.recognizers import DEFAULT_RECOGNIZERS
from aicoe.inventory.constants import CLASSIFICATIONS
from aicoe.models.compliance import Classification
from aicoe.models.inventory import AISystem, Dataset, Model, ModelDataset, SystemDataset, SystemModel
from aicoe.sensitive.service import READ

PERSONAL_CATEGORIES = frozenset({"contact", "government_id", "financial", "health", "network", "crypto", "personal",
                                 "special_category"})
SPECIAL_CATEGORIES = frozenset({"health", "special_category"})
HEALTH_ENTITIES = frozenset({"UK_NHS"})  # identifiers issued by a health service: health data wherever found
NER_CATEGORIES: dict[str, str] = {"PERSON": "personal", "LOCATION": "personal", "ORGANIZATION": "contact"}
# (classification, categories that call for it, why) — the first row that matches wins
SUGGESTIONS: tuple[tuple[str, frozenset[str], str], ...] = (
    ("restricted", frozenset({"credential"}), "credentials found"),
    ("restricted", SPECIAL_CATEGORIES, "special-category data found"),
    ("confidential", frozenset({"government_id", "financial", "crypto"}), "government or financial identifiers"),
    ("confidential", frozenset({"contact", "personal"}), "contact details or other personal data"),
    ("internal", frozenset({"network"}), "network identifiers only"),
)
NOTHING_FOUND = ("internal", "no sensitive data found")
RANK = {name: n for n, name in enumerate(CLASSIFICATIONS)}  # public < internal < confidential < restricted
HOSTED_KINDS = frozenset({"third_party_api"})
URL_PREFIXES = {"dataset": "/datasets", "model": "/models", "ai_system": "/ai-systems"}


# --- what findings mean ----------------------------------------------------------------------------------------

@cache
def _categories() -> dict[str, str]:
    return {**NER_CATEGORIES, **{r.entity: r.category for r in DEFAULT_RECOGNIZERS}}


def category_of(entity: str, category: str | None = None) -> str | None:
    """The category an entity counts in (the finding's own category when given; health for health-service ids)."""
    if entity in HEALTH_ENTITIES:
        return "health"
    return category if category is not None else _categories().get(entity)


def categories_found(entities: Iterable[str]) -> frozenset[str]:
    return frozenset(c for e in entities if (c := category_of(e)) is not None)


def holds_personal_data(categories: Collection[str]) -> bool:
    return not PERSONAL_CATEGORIES.isdisjoint(categories)


def holds_special_category_data(categories: Collection[str]) -> bool:
    return not SPECIAL_CATEGORIES.isdisjoint(categories)


def suggest_classification(categories: Collection[str]) -> tuple[str, str]:
    """The suggested classification and the reason for it (see ``SUGGESTIONS``)."""
    for classification, wanted, why in SUGGESTIONS:
        if not wanted.isdisjoint(categories):
            return classification, why
    return NOTHING_FOUND


def stricter(a: str | None, b: str | None) -> str | None:
    known = [c for c in (a, b) if c in RANK]
    return max(known, key=RANK.__getitem__) if known else None


# --- the lineage graph -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    type: str  # "dataset", "model", "ai_system"
    id: int
    name: str
    business_unit_id: int

    @property
    def url(self) -> str:
        return f"{URL_PREFIXES[self.type]}/{self.id}"


@dataclass
class _Dataset:
    ref: Ref
    classification: str
    suggested: str | None
    personal: bool
    special: bool
    legal_basis: str | None
    entities: Mapping[str, Any]


@dataclass
class _Model:
    ref: Ref
    kind: str
    base_id: int | None


@dataclass
class Graph:
    """The part of the lineage the rules need, loaded in a handful of queries."""

    datasets: dict[int, _Dataset] = field(default_factory=dict)
    models: dict[int, _Model] = field(default_factory=dict)
    systems: dict[int, Ref] = field(default_factory=dict)  # not retired
    classified: set[int] = field(default_factory=set)  # systems with a current EU AI Act classification
    dataset_models: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    dataset_systems: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    system_models: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    model_systems: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    derived: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    def hosted(self, model_id: int) -> bool:
        """Third-party API, or fine-tuned (at any depth) from one."""
        seen: set[int] = set()
        model = self.models.get(model_id)
        while model is not None and model.ref.id not in seen:
            if model.kind in HOSTED_KINDS:
                return True
            if model.kind != "fine_tuned" or model.base_id is None:
                return False
            seen.add(model.ref.id)
            model = self.models.get(model.base_id)
        return False

    def fed_models(self, dataset_id: int) -> list[int]:
        """The models the dataset feeds: linked ones and every model derived from them, sorted by name."""
        todo, seen = list(self.dataset_models.get(dataset_id, ())), set()
        while todo:
            model_id = todo.pop()
            if model_id not in seen:
                seen.add(model_id)
                todo.extend(self.derived.get(model_id, ()))
        return self.models_by_name(seen)

    def systems_using(self, dataset_id: int) -> dict[int, int | None]:
        """Each (non-retired) AI system using the dataset -> the model it uses it through (None: directly)."""
        out: dict[int, int | None] = dict.fromkeys(self.systems_by_name(self.dataset_systems.get(dataset_id, ())))
        for model_id in self.fed_models(dataset_id):
            for system_id in self.systems_by_name(self.model_systems.get(model_id, ())):
                out.setdefault(system_id, model_id)
        return out

    def models_by_name(self, ids: Iterable[int]) -> list[int]:
        return sorted((i for i in ids if i in self.models), key=lambda i: (self.models[i].ref.name.lower(), i))

    def systems_by_name(self, ids: Iterable[int]) -> list[int]:
        """The non-retired systems among ``ids``, by name."""
        return sorted((i for i in ids if i in self.systems), key=lambda i: (self.systems[i].name.lower(), i))

    def upstream_datasets(self, system_id: int) -> set[int]:
        """Datasets feeding the system: used directly, or feeding any of its models or their bases."""
        models: set[int] = set()
        for model_id in self.system_models.get(system_id, ()):
            while model_id is not None and model_id not in models:
                models.add(model_id)
                model_id = self.models[model_id].base_id if model_id in self.models else None
        return ({d for d, systems in self.dataset_systems.items() if system_id in systems}
                | {d for d, linked in self.dataset_models.items() if not linked.isdisjoint(models)})


def load_graph(session: Session, *, dataset_ids: Collection[int] | None = None,
               system_id: int | None = None) -> Graph:
    """The datasets that may break a rule (all of them, ``dataset_ids``, or those feeding ``system_id``), their
    links, every model (for base chains) and the systems they reach."""
    graph = Graph()
    for m in session.execute(select(Model.id, Model.name, Model.version, Model.kind, Model.base_model_id,
                                    Model.business_unit_id)):
        graph.models[m.id] = _Model(Ref("model", m.id, f"{m.name} {m.version}", m.business_unit_id), m.kind,
                                    m.base_model_id)
        if m.base_model_id is not None:
            graph.derived[m.base_model_id].add(m.id)
    for s, m in session.execute(select(SystemModel.ai_system_id, SystemModel.model_id)):
        graph.system_models[s].add(m)
        graph.model_systems[m].add(s)
    links = select(ModelDataset.dataset_id, ModelDataset.model_id)
    direct = select(SystemDataset.dataset_id, SystemDataset.ai_system_id)
    if system_id is not None:
        for d, s in session.execute(direct):
            graph.dataset_systems[d].add(s)
        for d, m in session.execute(links):
            graph.dataset_models[d].add(m)
        dataset_ids = graph.upstream_datasets(system_id)
    elif dataset_ids is not None:
        for d, m in session.execute(links.where(ModelDataset.dataset_id.in_(sorted(dataset_ids)))):
            graph.dataset_models[d].add(m)
        for d, s in session.execute(direct.where(SystemDataset.dataset_id.in_(sorted(dataset_ids)))):
            graph.dataset_systems[d].add(s)
    else:
        for d, m in session.execute(links):
            graph.dataset_models[d].add(m)
        for d, s in session.execute(direct):
            graph.dataset_systems[d].add(s)
    stmt = select(Dataset.id, Dataset.name, Dataset.business_unit_id, Dataset.classification,
                  Dataset.suggested_classification, Dataset.personal_data, Dataset.special_category_data,
                  Dataset.legal_basis, Dataset.pii_entities).where(or_(
                      Dataset.personal_data.is_(True), Dataset.special_category_data.is_(True),
                      Dataset.classification == "restricted", Dataset.suggested_classification.is_not(None)))
    if dataset_ids is not None:
        stmt = stmt.where(Dataset.id.in_(sorted(dataset_ids)))
    for d in session.execute(stmt):
        graph.datasets[d.id] = _Dataset(Ref("dataset", d.id, d.name, d.business_unit_id), d.classification,
                                        d.suggested_classification, d.personal_data, d.special_category_data,
                                        d.legal_basis, d.pii_entities or {})
    wanted = ({s for d in graph.datasets for s in graph.dataset_systems.get(d, ())}
              | {s for m in graph.models for s in graph.model_systems.get(m, ())})
    for s in session.execute(select(AISystem.id, AISystem.name, AISystem.business_unit_id)
                             .where(AISystem.id.in_(sorted(wanted)), AISystem.lifecycle_status != "retired")):
        graph.systems[s.id] = Ref("ai_system", s.id, s.name, s.business_unit_id)
    graph.classified = set(session.scalars(select(Classification.ai_system_id).where(
        Classification.is_current.is_(True), Classification.ai_system_id.in_(sorted(graph.systems)))))
    return graph


# --- the rules -------------------------------------------------------------------------------------------------

Use = tuple[int | None, int | None]  # (model id, system id) a violation is about; (None, None): the dataset itself


def _special_to_third_party(graph: Graph, d: _Dataset) -> Iterator[Use]:
    if not d.special:
        return
    for model_id in graph.fed_models(d.ref.id):
        if graph.hosted(model_id):
            users = graph.systems_by_name(graph.model_systems.get(model_id, ()))
            yield from ((model_id, s) for s in users) if users else [(model_id, None)]
    for system_id in graph.systems_by_name(graph.dataset_systems.get(d.ref.id, ())):
        for model_id in graph.models_by_name(graph.system_models.get(system_id, ())):
            if graph.hosted(model_id):
                yield model_id, system_id


def _restricted_needs_classification(graph: Graph, d: _Dataset) -> Iterator[Use]:
    if stricter(d.classification, d.suggested) == "restricted":
        yield from ((m, s) for s, m in graph.systems_using(d.ref.id).items() if s not in graph.classified)


def _personal_needs_legal_basis(graph: Graph, d: _Dataset) -> Iterator[Use]:
    if d.personal and not d.legal_basis:
        yield None, None


def _credentials_unused(graph: Graph, d: _Dataset) -> Iterator[Use]:
    if "credential" in categories_found(d.entities):
        yield from ((m, s) for s, m in graph.systems_using(d.ref.id).items())


def _classified_as_suggested(graph: Graph, d: _Dataset) -> Iterator[Use]:
    if d.suggested in RANK and RANK[d.suggested] > RANK.get(d.classification, 0):
        yield None, None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str  # aicoe.engines.sensitive.model.SEVERITIES
    rationale: str
    check: Callable[[Graph, _Dataset], Iterator[Use]] = field(repr=False, compare=False)


RULES: tuple[Rule, ...] = (
    Rule("special-category-third-party", "Special-category data may not feed a third-party-hosted model",
         "critical",
         "Health and other special-category data (GDPR Art. 9) sent to a model the provider hosts leaves the "
         "organisation's control: the provider processes it, may retain it, and may be outside the EU. Such data "
         "needs an explicit Art. 9 condition, a data-processing agreement and a transfer assessment first; the "
         "CoE's policy is to keep it on models it hosts itself.", _special_to_third_party),
    Rule("credentials-in-use", "Datasets with credentials found must not be used by any AI system", "critical",
         "A key, token or password in data that a model learns from or retrieves can be reproduced in its output "
         "and leak. Rotate the credential, remove it from the data and scan again before any system uses it.",
         _credentials_unused),
    Rule("restricted-unclassified-system",
         "Restricted datasets may not be used by systems without a current EU AI Act classification", "high",
         "Restricted data raises the stakes of every system that uses it; the system's risk tier and obligations "
         "under the EU AI Act must be known (a current classification) before it does.",
         _restricted_needs_classification),
    Rule("personal-data-legal-basis", "Datasets with personal data need a legal basis", "high",
         "Processing personal data is lawful only on one of the bases in GDPR Art. 6(1); record it on the dataset "
         "(a scan that finds personal data marks the dataset as holding it).", _personal_needs_legal_basis),
    Rule("classification-below-suggested", "Datasets should be classified at least as strictly as their scan "
         "suggests", "medium",
         "The latest scan found data that calls for a stricter classification than the dataset's; handling rules "
         "(access, encryption, sharing) follow the classification, so review it.", _classified_as_suggested),
)
BY_ID = {r.id: r for r in RULES}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class Violation:
    rule: Rule
    dataset: Ref
    model: Ref | None = None
    system: Ref | None = None

    def as_dict(self) -> dict[str, Any]:
        def ref(r: Ref | None) -> dict[str, Any] | None:
            return None if r is None else {"id": r.id, "name": r.name, "business_unit_id": r.business_unit_id}
        return {"rule": self.rule.id, "title": self.rule.title, "severity": self.rule.severity,
                "dataset": ref(self.dataset), "model": ref(self.model), "ai_system": ref(self.system)}


def evaluate(graph: Graph) -> list[Violation]:
    """Every violation in the graph, most severe first, then by rule, dataset, model and system name."""
    out: dict[tuple[str, int, int | None, int | None], Violation] = {}
    for rule in RULES:
        for d in graph.datasets.values():
            for model_id, system_id in rule.check(graph, d):
                key = (rule.id, d.ref.id, model_id, system_id)
                out.setdefault(key, Violation(
                    rule, d.ref, graph.models[model_id].ref if model_id is not None else None,
                    graph.systems[system_id] if system_id is not None else None))
    order = {r.id: n for n, r in enumerate(RULES)}
    return sorted(out.values(), key=lambda v: (
        SEVERITY_ORDER[v.rule.severity], order[v.rule.id], v.dataset.name.lower(),
        v.model.name.lower() if v.model else "", v.system.name.lower() if v.system else ""))


def _visible(scope: Scope, ref: Ref | None) -> bool:
    return ref is not None and (scope is None or ref.business_unit_id in scope)


def violations_for_dataset(session: Session, dataset: Dataset) -> list[Violation]:
    """The dataset's violations (the caller has checked it may see the dataset)."""
    return evaluate(load_graph(session, dataset_ids=[dataset.id]))


def violations_for_system(session: Session, system: AISystem) -> list[Violation]:
    """Violations about the system's use of a dataset (the caller has checked it may see the system)."""
    return [v for v in evaluate(load_graph(session, system_id=system.id))
            if v.system is not None and v.system.id == system.id]


def all_violations(session: Session, principal: Actor) -> list[Violation]:
    """Every violation whose dataset, model or AI system lies in the reader's units (``sensitive:read``)."""
    scope = scope_of(principal, READ)
    return [v for v in evaluate(load_graph(session))
            if _visible(scope, v.dataset) or _visible(scope, v.model) or _visible(scope, v.system)]


def visible(principal: Actor, ref: Ref | None) -> bool:
    """Whether the reader may see the record's name (it lies in their units for ``sensitive:read``)."""
    return ref is not None and (principal is None or principal.may(READ, ref.business_unit_id))
