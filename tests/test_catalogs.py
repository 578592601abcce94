"""Framework catalogs: the file format and its validator (exact file, path, line and reason for bad files, and a
property test that random damage never crashes the loader), the shipped catalogs' counts, loading into the
database on SQLite and PostgreSQL (idempotent, versions, conflicts, audit), the API, the pages and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.auth.principal import Principal
from aicoe.catalogs import loader
from aicoe.catalogs.schema import CatalogFile
from aicoe.cli.main import app as cli_app
from aicoe.compliance import frameworks
from aicoe.config import Settings
from aicoe.core import migrate
from aicoe.core.errors import Conflict, PermissionDenied
from aicoe.core.pagination import PageParams
from aicoe.demo import DemoResult
from aicoe.demo.governance_catalogs import seed_catalogs
from aicoe.models.audit import AuditEvent
from aicoe.models.compliance import Framework, Requirement, RequirementMapping
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    login,
    make_settings,
    make_token,
    make_unit,
    make_user,
    use_cli_database,
)

API = "/api/v1"

# A small valid catalog; the line numbers in the comments are the ones problems report.
BASE = """\
schema: aicoe-catalog/1
framework:
  id: test-fw
  name: Test framework
  version: "1.0"
  publisher: Test publisher
  source_url: https://example.org/fw
  licence: Test data, our own words.
  published: 2024-01-01
requirements:
  - ref: A
    title: Area A
    kind: area
    summary: Groups the controls of area A.
    children:
      - ref: A.1
        title: First control
        kind: control
        summary: Do the first thing.
        guidance: ["Is the first thing done?"]
        evidence_types: [policy, record]
        applicability: {ai_types: [generative_ai]}
      - ref: A.2
        title: Second control
        kind: control
  - ref: B
    title: Bias testing
    kind: control
    assessable: true
"""
# Lines problems report: framework 2, id 3, version 5, source_url 7, published 9, requirements 10, A 11, A.1 16,
# its summary 19, evidence_types 21, applicability 22, A.2 23, B 26, B's title 27, B's assessable 29.

MAPPING = """\
schema: aicoe-mapping/1
mapping:
  id: test-fw--other-fw
  name: Test to other
  source_framework: test-fw
  target_framework: other-fw
  provenance: Written for the tests.
  licence: Our own work.
  published: 2024-02-01
links:
  - source: A.1
    target: X.1
    relation: equivalent
    note: Same thing.
  - source: B
    target: X.2
    relation: subset
"""

OTHER = """\
schema: aicoe-catalog/1
framework:
  id: other-fw
  name: Other framework
  version: "2"
  publisher: Another publisher
  source_url: https://example.org/other
  licence: Test data.
  published: 2023-05-01
requirements:
  - ref: X.1
    title: Matching control
    kind: control
  - ref: X.2
    title: Broader control
    kind: control
"""


def problems_of(text: str | bytes, file: str = "fw.yaml") -> list[tuple[str, str, int | None]]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(loader.CatalogError) as caught:
        loader.load_catalog(data, file)
    assert all(p.file == file for p in caught.value.problems)
    return [(p.path, p.reason, p.line) for p in caught.value.problems]


# --- the format and its validator ----------------------------------------------------------------------------

def test_a_valid_catalog_loads_with_its_tree_and_resolved_assessability() -> None:
    loaded = loader.load_catalog(BASE.encode(), "fw.yaml")
    doc: CatalogFile = loaded.document  # type: ignore[assignment]
    assert (doc.framework.id, doc.framework.version, str(doc.framework.published)) == ("test-fw", "1.0", "2024-01-01")
    assert [(n.requirement.ref, n.depth, n.parent.ref if n.parent else None, n.requirement.is_assessable)
            for n in doc.walk()] == [("A", 0, None, False), ("A.1", 1, "A", True), ("A.2", 1, "A", True),
                                     ("B", 0, None, True)]
    first = doc.requirements[0].children[0]
    assert first.applicability is not None and first.applicability.rule() == {"ai_types": ["generative_ai"]}
    assert len(loaded.sha256) == 64


def test_the_fingerprint_ignores_comments_formatting_and_json_versus_yaml() -> None:
    yaml_sha = loader.load_catalog(BASE.encode(), "fw.yaml").sha256
    commented = "# a comment\n" + BASE.replace("kind: area", "kind:    area   # grouping")
    assert loader.load_catalog(commented.encode(), "fw.yaml").sha256 == yaml_sha
    as_json = json.dumps(yaml.safe_load(BASE), default=str, indent=1)
    assert loader.load_catalog(as_json.encode(), "fw.json").sha256 == yaml_sha
    folded = BASE.replace("licence: Test data, our own words.", "licence: >\n    Test data,\n    our own words.")
    assert loader.load_catalog(folded.encode(), "fw.yaml").sha256 == yaml_sha  # ">" keeps a newline: trimmed
    changed = BASE.replace("Do the first thing.", "Do the first thing well.")
    assert loader.load_catalog(changed.encode(), "fw.yaml").sha256 != yaml_sha


BAD_CATALOGS = [
    pytest.param(BASE.replace('version: "1.0"', "version: 1.0"),
                 [("framework.version", 'must be text: quote it (e.g. "1.0")', 5)], id="unquoted-version"),
    pytest.param(BASE.replace("id: test-fw", "id: Test_FW"),
                 [("framework.id", "'Test_FW' is not an id: use lowercase letters, digits, '.' and '-', starting "
                                   "with a letter or digit and containing at least one letter", 3)], id="bad-id"),
    pytest.param(BASE.replace("id: test-fw", "id: '2024'"),
                 [("framework.id", "'2024' is not an id: use lowercase letters, digits, '.' and '-', starting "
                                   "with a letter or digit and containing at least one letter", 3)], id="digit-id"),
    pytest.param(BASE.replace("  name: Test framework\n", ""), [("framework.name", "is required", 2)],
                 id="missing-name"),
    pytest.param(BASE.replace("source_url: https://example.org/fw", "source_url: ftp://example.org/fw"),
                 [("framework.source_url", "'ftp://example.org/fw' is not an http(s) URL", 7)], id="ftp-url"),
    pytest.param(BASE.replace("published: 2024-01-01", "published: 20240101"),
                 [("framework.published", "must be a date written as YYYY-MM-DD", 9)], id="numeric-date"),
    pytest.param(BASE.replace("        title: First control\n", ""),
                 [("requirements[0].children[0].title", "is required", 16)], id="missing-title"),
    pytest.param(BASE.replace("title: First control", "title: '  '"),
                 [("requirements[0].children[0].title", "must not be empty", 17)], id="blank-title"),
    pytest.param(BASE.replace("ref: A.2", "ref: A.1"),
                 [("requirements[0].children[1].ref", "duplicate ref 'A.1' (first at requirements[0].children[0])",
                   23)], id="duplicate-ref"),
    pytest.param(BASE.replace("ref: B", "ref: 7"),
                 [("requirements[1].ref", 'must be text: quote it (e.g. "7")', 26)], id="numeric-ref"),
    pytest.param(BASE.replace("kind: area", "kind: Area Group"),
                 [("requirements[0].kind", "'Area Group' is not a kind: use at most 32 lowercase letters, digits "
                                           "and '_', starting with a letter (e.g. article, category, control)", 13)],
                 id="bad-kind"),
    pytest.param(BASE.replace("Do the first thing.", "x" * 1001),
                 [("requirements[0].children[0].summary", "is 1001 characters long; the limit is 1000", 19)],
                 id="long-summary"),
    pytest.param(BASE.replace("[policy, record]", "[policy, memo]"),
                 [("requirements[0].children[0].evidence_types[1]", "'memo' is not a known evidence type; allowed: "
                   "policy, record, report, test_result, assessment, documentation, contract, training_record, "
                   "approval, register, notice, configuration", 21)], id="unknown-evidence-type"),
    pytest.param(BASE.replace("[policy, record]", "[policy, policy]"),
                 [("requirements[0].children[0].evidence_types", "'policy' is listed twice", 21)],
                 id="repeated-evidence-type"),
    pytest.param(BASE.replace("{ai_types: [generative_ai]}", "{ai_types: [robot]}"),
                 [("requirements[0].children[0].applicability.ai_types[0]",
                   "'robot' is not a known AI type; allowed: predictive_ml, generative_ai, agentic", 22)],
                 id="unknown-ai-type"),
    pytest.param(BASE.replace("{ai_types: [generative_ai]}", "{sectors: [banking]}"),
                 [("requirements[0].children[0].applicability.sectors", "is not a known field; allowed: ai_types, "
                   "risk_tiers, eu_roles, lifecycle_stages, personal_data, gpai", 22)], id="unknown-rule-key"),
    pytest.param(BASE.replace("{ai_types: [generative_ai]}", "{personal_data: sometimes, risk_tiers: []}"),
                 [("requirements[0].children[0].applicability.risk_tiers", "must list at least one entry", 22),
                  ("requirements[0].children[0].applicability.personal_data", "must be true or false", 22)],
                 id="bad-rule-values"),
    pytest.param(BASE.replace('["Is the first thing done?"]', "[" + ", ".join(["Q"] * 21) + "]"),
                 [("requirements[0].children[0].guidance", "lists 21 entries; the limit is 20", 20)],
                 id="too-many-questions"),
    pytest.param(BASE.replace("    assessable: true\n", "    asessable: true\n"),
                 [("requirements[1].asessable", "is not a known field; allowed: ref, title, kind, summary, guidance, "
                   "evidence_types, assessable, applicability, children", 29)], id="misspelt-field"),
    pytest.param(BASE.replace("schema: aicoe-catalog/1", "schema: aicoe-catalog/2"),
                 [("schema", "'aicoe-catalog/2' is not a supported schema; expected 'aicoe-catalog/1'", 1)],
                 id="unknown-schema"),
    pytest.param(BASE.replace("schema: aicoe-catalog/1\n", ""),
                 [("schema", "is required: write 'schema: aicoe-catalog/1' as the first line", 1)],
                 id="missing-schema"),
    pytest.param(BASE.split("requirements:")[0] + "requirements: []\n",
                 [("requirements", "must list at least one entry", 10)], id="no-requirements"),
    pytest.param(BASE.replace("version: \"1.0\"", "version: \"1.0\"\n  version: \"1.1\""),
                 [("", "YAML syntax: duplicate key 'version'", 6)], id="duplicate-key"),
    pytest.param(BASE.replace("title: Area A", "title: &t Area A").replace("title: Bias testing", "title: *t"),
                 [("", "YAML syntax: anchors and aliases (*name) are not allowed in catalog files", 27)], id="alias"),
    pytest.param(BASE.replace('["Is the first thing done?"]', '["Is the first thing done?"'),
                 [("", "YAML syntax: expected ',' or ']', but got '<scalar>' (while parsing a flow sequence)", 21)],
                 id="syntax"),
    pytest.param("", [("", "the file is empty", None)], id="empty"),
    pytest.param("- just\n- a list\n", [("", "the file must hold a mapping with the keys 'schema' and 'framework'",
                                         1)], id="a-list"),
    pytest.param(b"schema: aicoe-catalog/1\nname: caf\xe9\n",
                 [("", "the file is not UTF-8 text (undecodable byte at position 33)", None)], id="latin-1"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CATALOGS)
def test_bad_catalogs_are_refused_with_path_line_and_reason(text: str, expected: list[tuple[str, str, int | None]],
                                                            ) -> None:
    assert problems_of(text) == expected


def test_every_problem_of_a_file_is_reported_in_line_order() -> None:
    text = (BASE.replace('version: "1.0"', "version: 2").replace("ref: A.2", "ref: A.1")
            .replace("[policy, record]", "[memo]").replace("kind: control\n    assessable", "kind: ''\n    assessable"))
    found = problems_of(text)
    assert [(path, line) for path, _, line in found] == [
        ("framework.version", 5), ("requirements[0].children[0].evidence_types[0]", 21),
        ("requirements[0].children[1].ref", 23), ("requirements[1].kind", 28)]
    with pytest.raises(loader.CatalogError) as caught:
        loader.load_catalog(text.encode(), "fw.yaml")
    assert caught.value.detail == "fw.yaml is not valid: 4 problems"
    assert caught.value.status == 422
    assert str(caught.value.problems[0]) == 'fw.yaml:5: framework.version: must be text: quote it (e.g. "2")'


def test_a_mapping_file_given_as_a_catalog_says_so() -> None:
    assert problems_of(MAPPING)[0] == (
        "schema", "this file is a cross-framework mapping ('aicoe-mapping/1'), expected 'aicoe-catalog/1'", 1)


def test_json_catalogs_report_syntax_and_duplicate_keys() -> None:
    assert problems_of('{"schema": "aicoe-catalog/1",\n "framework": }', "fw.json") == [
        ("", "JSON syntax: Expecting value (column 15)", 2)]
    assert problems_of('{"schema": "aicoe-catalog/1", "schema": "x"}', "fw.json") == [
        ("", "JSON: duplicate key 'schema'", None)]


def test_nesting_deeper_than_the_limit_is_refused_without_recursing() -> None:
    node: dict[str, Any] = {"ref": "L11", "title": "Leaf", "kind": "item"}
    for level in range(10, 0, -1):
        node = {"ref": f"L{level}", "title": "Level", "kind": "item", "children": [node]}
    doc = {**yaml.safe_load(BASE), "requirements": [node]}
    found = problems_of(yaml.safe_dump(doc))
    assert [(path, reason) for path, reason, _ in found] == [
        ("requirements[0]" + ".children[0]" * 9 + ".children", "requirements nest deeper than 10 levels")]
    deep = "requirements: " + "[" * 5000 + "]" * 5000
    assert problems_of(deep) == [("", "the document is nested too deeply", None)]


BAD_MAPPINGS = [
    pytest.param(MAPPING.replace("target: X.1", "target: X.9"),
                 [("links[0].target", "'X.9' is not a requirement of other-fw", 12)], id="unknown-target-ref"),
    pytest.param(MAPPING.replace("relation: subset", "relation: overlaps"),
                 [("links[1].relation", "'overlaps' is not a known relation; allowed: equivalent, subset, superset, "
                   "related", 17)], id="unknown-relation"),
    pytest.param(MAPPING.replace("source: B\n    target: X.2", "source: A.1\n    target: X.1"),
                 [("links[1]", "duplicate link A.1 → X.1 (first at links[0])", 15)], id="duplicate-pair"),
    pytest.param(MAPPING.replace("target_framework: other-fw", "target_framework: test-fw"),
                 [("mapping.target_framework", "must differ from source_framework", 6)], id="same-framework"),
    pytest.param(MAPPING.replace("target_framework: other-fw", "target_framework: nowhere"),
                 [("mapping.target_framework", "unknown framework 'nowhere'; load its catalog first", 6)],
                 id="unknown-framework"),
    pytest.param(MAPPING.replace("  provenance: Written for the tests.\n", ""),
                 [("mapping.provenance", "is required", 2)], id="missing-provenance"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_MAPPINGS)
def test_bad_mappings_are_refused_with_path_line_and_reason(text: str, expected: list[tuple[str, str, int]]) -> None:
    known = {"test-fw": {"A", "A.1", "A.2", "B"}, "other-fw": {"X.1", "X.2"}}
    with pytest.raises(loader.CatalogError) as caught:
        loader.load_mapping(text.encode(), "map.yaml", known)
    assert [(p.path, p.reason, p.line) for p in caught.value.problems] == expected


def test_load_files_checks_mappings_against_the_catalogs_given_and_file_names(tmp_path: Path) -> None:
    (tmp_path / "test-fw.yaml").write_text(BASE)
    (tmp_path / "other-fw.yaml").write_text(OTHER)
    (tmp_path / "test-fw--other-fw.yaml").write_text(MAPPING)
    catalogs, mappings = loader.split_by_schema(sorted(tmp_path.iterdir()))
    assert [p.name for p in catalogs] == ["other-fw.yaml", "test-fw.yaml"]
    assert [p.name for p in mappings] == ["test-fw--other-fw.yaml"]
    bundle = loader.load_files(catalogs, mappings, builtin=True)
    assert [c.document.framework.id for c in bundle.catalogs] == ["other-fw", "test-fw"]  # type: ignore[union-attr]
    (tmp_path / "renamed.yaml").write_text(OTHER)
    with pytest.raises(loader.CatalogError) as caught:
        loader.load_files([tmp_path / "other-fw.yaml", tmp_path / "renamed.yaml"], builtin=True)
    assert [(p.file, p.path, p.reason) for p in caught.value.problems] == [
        ("renamed.yaml", "framework.id", "'other-fw' does not match the file name 'renamed.yaml'"),
        ("renamed.yaml", "framework.id", "'other-fw' is also the id of another catalog file")]


# Damage of every kind at any place: the loader answers with a document or a CatalogError, never a crash.
_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                               max_size=2))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


def _mutate(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_damage_never_crashes_the_loader(data: st.DataObject) -> None:
    doc = yaml.safe_load(BASE)
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths))
    doc = _mutate(doc, path, data.draw(_values), delete=bool(path) and data.draw(st.booleans()))
    text = yaml.safe_dump(doc, allow_unicode=True) if data.draw(st.booleans()) else json.dumps(doc, default=str)
    raw = text.encode()
    if data.draw(st.booleans()) and raw:  # and sometimes damage the bytes too
        at = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + data.draw(st.binary(max_size=4)) + raw[at + 1:]
    try:
        loaded = loader.load_catalog(raw, data.draw(st.sampled_from(["fw.yaml", "fw.json"])))
    except loader.CatalogError as exc:
        assert exc.problems and all(isinstance(p.reason, str) and p.reason for p in exc.problems)
    else:
        assert loaded.document.framework.id  # type: ignore[union-attr]


# --- the shipped catalogs --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped() -> dict[str, CatalogFile]:
    bundle = loader.load_builtin()
    return {c.document.framework.id: c.document for c in bundle.catalogs}  # type: ignore[union-attr,misc]


def test_every_shipped_catalog_and_mapping_is_valid() -> None:
    assert loader.validate_all() == []
    assert {p.stem for p in loader.builtin_frameworks()} >= {
        "eu-ai-act", "nist-ai-rmf", "iso-iec-42001", "owasp-llm-top-10", "mitre-atlas", "gdpr", "pipeda", "lgpd"}
    assert {p.stem for p in loader.builtin_mappings()} >= {"nist-ai-rmf--iso-iec-42001", "eu-ai-act--iso-iec-42001"}


def _kinds(catalog: CatalogFile) -> Counter[str]:
    return Counter(n.requirement.kind for n in catalog.walk())


def test_owasp_llm_top_10_2025(shipped: dict[str, CatalogFile]) -> None:
    owasp = shipped["owasp-llm-top-10"]
    assert owasp.framework.version == "2025"
    assert [(r.ref, r.title) for r in owasp.requirements] == [
        ("LLM01:2025", "Prompt Injection"), ("LLM02:2025", "Sensitive Information Disclosure"),
        ("LLM03:2025", "Supply Chain"), ("LLM04:2025", "Data and Model Poisoning"),
        ("LLM05:2025", "Improper Output Handling"), ("LLM06:2025", "Excessive Agency"),
        ("LLM07:2025", "System Prompt Leakage"), ("LLM08:2025", "Vector and Embedding Weaknesses"),
        ("LLM09:2025", "Misinformation"), ("LLM10:2025", "Unbounded Consumption")]
    for entry in owasp.requirements:
        assert entry.is_assessable and entry.summary and 1 <= len(entry.guidance) <= 4 and entry.evidence_types
        assert entry.applicability is not None
        assert entry.applicability.rule() == {"ai_types": ["generative_ai", "agentic"]}


def test_nist_ai_rmf_has_4_functions_19_categories_72_subcategories(shipped: dict[str, CatalogFile]) -> None:
    nist = shipped["nist-ai-rmf"]
    assert _kinds(nist) == {"function": 4, "category": 19, "subcategory": 72}
    assert [r.ref for r in nist.requirements] == ["GOVERN", "MAP", "MEASURE", "MANAGE"]
    assert sum(1 for n in nist.walk() if n.requirement.is_assessable) == 72


def test_iso_iec_42001_annex_a_has_9_objectives_and_38_controls(shipped: dict[str, CatalogFile]) -> None:
    iso = shipped["iso-iec-42001"]
    assert [r.ref for r in iso.requirements] == [f"A.{n}" for n in range(2, 11)]
    assessable = [n.requirement for n in iso.walk() if n.requirement.is_assessable]
    assert len(assessable) == 38 and {r.kind for r in assessable} == {"control"}


def test_mitre_atlas_tactics_in_matrix_order(shipped: dict[str, CatalogFile]) -> None:
    atlas = shipped["mitre-atlas"]
    assert [r.ref for r in atlas.requirements] == [
        "AML.TA0002", "AML.TA0003", "AML.TA0004", "AML.TA0000", "AML.TA0005", "AML.TA0006", "AML.TA0012",
        "AML.TA0007", "AML.TA0013", "AML.TA0008", "AML.TA0015", "AML.TA0009", "AML.TA0001", "AML.TA0014",
        "AML.TA0010", "AML.TA0011"]
    assert _kinds(atlas) == {"tactic": 16}


def test_privacy_principles(shipped: dict[str, CatalogFile]) -> None:
    pipeda, lgpd = shipped["pipeda"], shipped["lgpd"]
    assert [(r.ref, r.title) for r in pipeda.requirements[0].children] == [
        ("4.1", "Accountability"), ("4.2", "Identifying Purposes"), ("4.3", "Consent"),
        ("4.4", "Limiting Collection"), ("4.5", "Limiting Use, Disclosure, and Retention"), ("4.6", "Accuracy"),
        ("4.7", "Safeguards"), ("4.8", "Openness"), ("4.9", "Individual Access"), ("4.10", "Challenging Compliance")]
    numerals = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
    assert [r.ref for r in lgpd.requirements[0].children] == [f"Art. 6º, {n}" for n in numerals]
    for catalog in (pipeda, lgpd):
        root = catalog.requirements[0]
        assert root.applicability is not None and root.applicability.rule() == {"personal_data": True}
        assert not root.is_assessable and all(c.is_assessable for c in root.children)


# --- loading into the database ---------------------------------------------------------------------------------

@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    """Loading and searching run on SQLite and on PostgreSQL."""
    return make_settings(any_db_url, tmp_path)


def events(db: Session, entity_type: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq)))


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def load(db: Session, text: str, file: str = "fw.yaml", *, mapping: bool = False) -> frameworks.ImportOutcome:
    fn = frameworks.import_mapping if mapping else frameworks.import_catalog
    outcome = fn(db, None, text.encode(), file)
    db.commit()
    return outcome


def test_sync_builtin_loads_everything_once(db: Session) -> None:
    outcomes = frameworks.sync_builtin(db, None)
    db.commit()
    keys = {o.key for o in outcomes if o.kind == "framework"}
    assert keys == {p.stem for p in loader.builtin_frameworks()}
    assert {o.status for o in outcomes} == {"created"}
    nist = db.scalar(select(Framework).where(Framework.key == "nist-ai-rmf"))
    assert (nist.version, nist.origin, nist.is_current, nist.imported_by_id) == ("1.0", "builtin", True, None)
    assessable = db.scalar(select(func.count()).where(Requirement.framework_id == nist.id, Requirement.assessable))
    assert assessable == 72
    govern_1_1 = db.scalar(select(Requirement).where(Requirement.framework_id == nist.id,
                                                     Requirement.ref == "GOVERN 1.1"))
    assert (govern_1_1.depth, govern_1_1.parent.ref, govern_1_1.parent.parent.ref) == (2, "GOVERN 1", "GOVERN")
    mapped = {o.key: o.counts["links"] for o in outcomes if o.kind == "mapping"}
    assert count(db, RequirementMapping) == sum(mapped.values())
    assert len(events(db, "framework")) == len(keys) and len(events(db, "mapping_set")) == len(mapped)
    again = frameworks.sync_builtin(db, None)
    db.commit()
    assert {o.status for o in again} == {"unchanged"} and len(again) == len(outcomes)
    assert len(events(db, "framework")) == len(keys)


def test_importing_stores_the_tree_in_order_with_the_nodes_own_rules(db: Session) -> None:
    user = make_user(db)
    principal = _principal(db, user)
    outcome = frameworks.import_catalog(db, principal, BASE.encode(), "fw.yaml")
    db.commit()
    assert (outcome.kind, outcome.key, outcome.version, outcome.status, outcome.counts) == (
        "framework", "test-fw", "1.0", "created", {"requirements": 4})
    framework = db.get(Framework, outcome.framework_id)
    assert (framework.origin, framework.imported_by_id, framework.is_current, str(framework.published)) == (
        "imported", user.id, True, "2024-01-01")
    rows = list(db.scalars(select(Requirement).where(Requirement.framework_id == framework.id)
                           .order_by(Requirement.position)))
    by_id = {r.id: r.ref for r in rows}
    assert [(r.position, r.ref, r.depth, by_id.get(r.parent_id), r.assessable, r.applicability, r.evidence_types)
            for r in rows] == [
        (0, "A", 0, None, False, {}, []), (1, "A.1", 1, "A", True, {"ai_types": ["generative_ai"]},
                                            ["policy", "record"]),
        (2, "A.2", 1, "A", True, {}, []), (3, "B", 0, None, True, {}, [])]
    [event] = events(db, "framework")
    assert (event.action, event.entity_id, event.actor_label) == ("import", str(framework.id), user.email)
    diff = json.loads(event.diff)
    assert diff["requirements"] == [None, 4] and diff["key"] == [None, "test-fw"]
    assert diff["file_sha256"] == [None, framework.file_sha256]


def _principal(db: Session, user: Any) -> Principal:
    db.rollback()
    return Principal.resolve(db, db.merge(user))


def test_versions_conflicts_and_refusals(db: Session) -> None:
    first = load(db, BASE)
    assert load(db, "# same content\n" + BASE).status == "unchanged"
    with pytest.raises(Conflict) as caught:
        frameworks.import_catalog(db, None, BASE.replace("Do the first thing.", "Changed.").encode(), "fw.yaml")
    db.rollback()
    assert caught.value.detail == ("test-fw version 1.0 is already loaded with different content; a changed catalog "
                                   "needs a new version so that assessments made against the old one keep their "
                                   "meaning")
    newer = load(db, BASE.replace('"1.0"', '"1.1"').replace("2024-01-01", "2024-06-01"))
    older = load(db, BASE.replace('"1.0"', '"0.9"').replace("2024-01-01", "2023-01-01"))
    db.rollback()
    current = {f.version: f.is_current for f in db.scalars(select(Framework))}
    assert current == {"1.0": False, "1.1": True, "0.9": False}
    supersede = [e for e in events(db, "framework") if e.action == "supersede"]
    assert [(e.entity_id, json.loads(e.diff)) for e in supersede] == [
        (str(first.framework_id), {"is_current": [True, False], "superseded_by": [None, newer.framework_id]})]
    assert older.status == "created"
    assert frameworks.get_framework(db, None, "test-fw").version == "1.1"
    assert frameworks.get_framework(db, None, "test-fw", "1.0").id == first.framework_id
    before = (count(db, Framework), count(db, Requirement), count(db, AuditEvent))
    with pytest.raises(loader.CatalogError):
        frameworks.import_catalog(db, None, BASE.replace("kind: area", "kind: 9").encode(), "fw.yaml")
    db.rollback()
    assert (count(db, Framework), count(db, Requirement), count(db, AuditEvent)) == before


def test_import_needs_the_import_permission(db: Session) -> None:
    reader = _principal(db, make_user(db, roles=[("auditor", None)]))
    with pytest.raises(PermissionDenied):
        frameworks.import_catalog(db, reader, BASE.encode(), "fw.yaml")
    unit = make_unit(db)
    scoped = _principal(db, make_user(db, roles=[("risk_compliance", unit)]))
    with pytest.raises(PermissionDenied):  # a CoE-wide permission: a unit-scoped grant does not give it
        frameworks.import_catalog(db, scoped, BASE.encode(), "fw.yaml")


def test_mappings_import_update_and_read_in_both_directions(db: Session) -> None:
    load(db, BASE)
    load(db, OTHER, "other.yaml")
    created = load(db, MAPPING, "map.yaml", mapping=True)
    assert (created.status, created.counts) == ("created", {"links": 2, "added": 2, "removed": 0, "changed": 0})
    assert load(db, MAPPING, "map.yaml", mapping=True).status == "unchanged"
    changed = MAPPING.replace("relation: subset", "relation: related").replace(
        "  - source: A.1\n    target: X.1\n    relation: equivalent\n    note: Same thing.\n",
        "  - source: A.2\n    target: X.1\n    relation: superset\n")
    updated = load(db, changed, "map.yaml", mapping=True)
    assert (updated.status, updated.counts) == ("updated", {"links": 2, "added": 1, "removed": 1, "changed": 1})
    [first, second] = events(db, "mapping_set")
    assert json.loads(second.diff)["links"] == [2, 2] and json.loads(first.diff)["source"] == [None, "test-fw 1.0"]
    ref = {r.ref: r for r in db.scalars(select(Requirement))}
    assert [(m.relation, m.direction, m.requirement.ref, m.requirement.framework.key, m.mapping_set)
            for m in frameworks.requirement_mappings(db, ref["A.2"].id)] == [
        ("superset", "outgoing", "X.1", "other-fw", "test-fw--other-fw")]
    assert [(m.relation, m.direction, m.requirement.ref) for m in frameworks.requirement_mappings(db, ref["X.1"].id)] \
        == [("subset", "incoming", "A.2")]
    [listed] = frameworks.list_mapping_sets(db, None)
    assert (listed.id, listed.source.key, listed.target.key, listed.links, listed.relations) == (
        "test-fw--other-fw", "test-fw", "other-fw", 2, {"superset": 1, "related": 1})


def test_mapping_refusals_write_nothing(db: Session) -> None:
    load(db, BASE)
    with pytest.raises(loader.CatalogError) as caught:  # other-fw is not loaded yet
        frameworks.import_mapping(db, None, MAPPING.encode(), "map.yaml")
    db.rollback()
    assert [(p.path, p.reason) for p in caught.value.problems] == [
        ("mapping.target_framework", "unknown framework 'other-fw'; load its catalog first")]
    load(db, OTHER, "other.yaml")
    other_set = MAPPING.replace("id: test-fw--other-fw", "id: someone-else")
    load(db, other_set, "other-set.yaml", mapping=True)
    before = count(db, RequirementMapping), count(db, AuditEvent)
    with pytest.raises(Conflict) as conflict:
        frameworks.import_mapping(db, None, MAPPING.encode(), "map.yaml")
    db.rollback()
    assert conflict.value.detail == ("2 link(s) of test-fw--other-fw are already mapped by another mapping set: "
                                     "A.1 → X.1 (in someone-else); B → X.2 (in someone-else)")
    assert (count(db, RequirementMapping), count(db, AuditEvent)) == before


def test_search_requirements_filters_case_insensitively(db: Session) -> None:
    load(db, BASE)
    load(db, OTHER, "other.yaml")
    framework = frameworks.get_framework(db, None, "test-fw")

    def refs(**filters: Any) -> list[str]:
        return [r.ref for r in frameworks.search_requirements(db, None, PageParams(), **filters).items]

    assert refs(framework_id=framework.id, q="FIRST") == ["A.1"]
    assert refs(framework_id=framework.id, q="control") == ["A", "A.1", "A.2"]  # summary "...controls of area A"
    assert refs(framework_id=framework.id, kind="control", assessable=True) == ["A.1", "A.2", "B"]
    assert refs(q="control", kind="control") == ["X.1", "X.2", "A.1", "A.2"]
    assert refs(q="100%") == []
    assert frameworks.kinds_of(db, framework.id) == ["area", "control"]


# --- API ---------------------------------------------------------------------------------------------------------

def upload(client: TestClient, headers: dict[str, str], text: str, name: str = "fw.yaml", *,
           mapping: bool = False) -> Any:
    path = "/mappings/import" if mapping else "/frameworks/import"
    return client.post(f"{API}{path}", headers=headers, files={"file": (name, text.encode(), "application/yaml")})


def test_api_import_read_and_refuse(client: TestClient, db: Session) -> None:
    admin = bearer(make_token(db, make_user(db, roles=[("risk_compliance", None)])))
    r = upload(client, admin, BASE)
    assert r.status_code == 201, r.text
    assert r.json() == {"kind": "framework", "key": "test-fw", "version": "1.0", "status": "created",
                        "framework_id": r.json()["framework_id"], "counts": {"requirements": 4}}
    fid = r.json()["framework_id"]
    assert upload(client, admin, BASE).status_code == 200
    bad = upload(client, admin, BASE.replace("ref: A.2", "ref: A.1").replace('"1.0"', "1.0"))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["detail"] == "fw.yaml is not valid: 2 problems"
    assert bad.json()["problems"] == [
        {"file": "fw.yaml", "path": "framework.version", "line": 5, "reason": 'must be text: quote it (e.g. "1.0")'},
        {"file": "fw.yaml", "path": "requirements[0].children[1].ref", "line": 23,
         "reason": "duplicate ref 'A.1' (first at requirements[0].children[0])"}]
    conflict = upload(client, admin, BASE.replace("Do the first thing.", "Other."))
    assert conflict.status_code == 409
    assert count(db, Framework) == 1
    assert upload(client, admin, OTHER, "other.yaml").status_code == 201
    r = upload(client, admin, MAPPING, "map.yaml", mapping=True)
    assert r.status_code == 201 and r.json()["counts"] == {"links": 2, "added": 2, "removed": 0, "changed": 0}

    listed = client.get(f"{API}/frameworks", headers=admin).json()
    assert [(f["key"], f["version"], f["requirement_count"], f["assessable_count"], f["is_current"]) for f in listed] \
        == [("other-fw", "2", 2, 2, True), ("test-fw", "1.0", 4, 3, True)]
    by_key = client.get(f"{API}/frameworks/test-fw", headers=admin).json()
    assert by_key["id"] == fid and by_key["licence"] == "Test data, our own words."
    tree = by_key["requirements"]
    assert [(n["ref"], [c["ref"] for c in n["children"]]) for n in tree] == [("A", ["A.1", "A.2"]), ("B", [])]
    assert client.get(f"{API}/frameworks/{fid}", headers=admin).json()["key"] == "test-fw"
    assert client.get(f"{API}/frameworks/test-fw", headers=admin, params={"version": "9"}).status_code == 404
    assert client.get(f"{API}/frameworks/999", headers=admin).status_code == 404

    flat = client.get(f"{API}/frameworks/{fid}/requirements", headers=admin, params={"kind": "control"}).json()
    assert [r["ref"] for r in flat["items"]] == ["A.1", "A.2", "B"] and flat["total"] == 3
    wrong = client.get(f"{API}/frameworks/{fid}/requirements", headers=admin, params={"kind": "clause"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"] == [{"field": "kind", "message": "Unknown kind 'clause'; this framework uses: "
                                                                   "area, control."}]
    a1 = next(r for r in flat["items"] if r["ref"] == "A.1")
    detail = client.get(f"{API}/requirements/{a1['id']}", headers=admin).json()
    assert [a["ref"] for a in detail["ancestors"]] == ["A"] and detail["children"] == []
    assert [(m["relation"], m["direction"], m["requirement"]["ref"], m["requirement"]["framework"]["key"])
            for m in detail["mappings"]] == [("equivalent", "outgoing", "X.1", "other-fw")]
    found = client.get(f"{API}/requirements", headers=admin, params={"q": "bias"}).json()
    assert [(r["ref"], r["framework"]["key"]) for r in found["items"]] == [("B", "test-fw")]
    assert client.get(f"{API}/requirements/99999", headers=admin).status_code == 404
    sets = client.get(f"{API}/mappings", headers=admin).json()
    assert [(s["id"], s["source"]["key"], s["target"]["key"], s["links"], s["relations"]) for s in sets] == [
        ("test-fw--other-fw", "test-fw", "other-fw", 2, {"equivalent": 1, "subset": 1})]


def test_api_reader_cannot_import(client: TestClient, db: Session) -> None:
    reader = bearer(make_token(db, make_user(db, roles=[("practitioner", None)])))
    r = upload(client, reader, BASE)
    assert r.status_code == 403 and count(db, Framework) == 0
    assert client.get(f"{API}/frameworks", headers=reader).status_code == 200


def test_api_refuses_oversized_and_malformed_uploads_before_reading_them(client: TestClient, db: Session) -> None:
    admin = bearer(make_token(db, make_user(db)))
    huge = client.post(f"{API}/frameworks/import", headers={**admin, "Content-Length": str(6 * 2**20)},
                       content=b"x" * 16)
    assert huge.status_code == 413 and huge.json()["limit_bytes"] == loader.MAX_FILE_BYTES
    anonymous = client.post(f"{API}/mappings/import", headers={"Content-Length": str(6 * 2**20)}, content=b"x")
    assert anonymous.status_code == 413  # refused before anything is read, even before authentication
    as_json = client.post(f"{API}/frameworks/import", headers=admin, json={"file": BASE})
    assert as_json.status_code == 422 and as_json.json()["errors"] == [{"field": "file", "message": "Missing."}]
    wrong_part = client.post(f"{API}/frameworks/import", headers=admin, files={"catalog": ("fw.yaml", BASE.encode())})
    assert wrong_part.status_code == 422 and wrong_part.json()["detail"] == (
        "attach the file as the multipart part named 'file'")
    over = upload(client, admin, BASE + "#" * (loader.MAX_FILE_BYTES - len(BASE) + 1))
    assert over.status_code == 413 and count(db, Framework) == 0


# --- pages -------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings: Settings) -> TestClient:
    make_user(db, email="rita@example.com", full_name="Rita Risk", password=PASSWORD, settings=settings,
              roles=[("risk_compliance", None)])
    login(client, "rita@example.com")
    return client


def test_pages_list_show_filter_and_import(browser: TestClient, db: Session) -> None:
    empty = browser.get("/frameworks")
    assert empty.status_code == 200 and "No framework is loaded yet" in empty.text
    form = browser.get("/frameworks/import")
    token = csrf_from(form.text)
    bad = browser.post("/frameworks/import", data={"csrf_token": token, "kind": "catalog"},
                       files={"file": ("fw.yaml", BASE.replace("ref: A.2", "ref: A.1").encode(), "text/yaml")})
    assert bad.status_code == 422
    assert "1 problem found — nothing was imported" in bad.text
    assert "requirements[0].children[1].ref" in bad.text and "duplicate ref &#39;A.1&#39;" in bad.text
    assert count(db, Framework) == 0
    missing = browser.post("/frameworks/import", data={"csrf_token": token, "kind": "catalog"})
    assert missing.status_code == 422 and 'id="e-file"' in missing.text
    r = browser.post("/frameworks/import", data={"csrf_token": token, "kind": "catalog"},
                     files={"file": ("fw.yaml", BASE.encode(), "text/yaml")}, follow_redirects=False)
    assert r.status_code == 303
    framework_url = r.headers["location"]
    for body, name, kind in ((OTHER, "other.yaml", "catalog"), (MAPPING, "map.yaml", "mapping")):
        r = browser.post("/frameworks/import", data={"csrf_token": token, "kind": kind},
                         files={"file": (name, body.encode(), "text/yaml")})
        assert r.status_code == 200
    assert "Imported test-fw--other-fw. 2 links: 2 added, 0 removed, 0 changed." in r.text
    assert "test-fw--other-fw" in r.text and "Test framework" in r.text

    page = browser.get(framework_url)
    assert page.status_code == 200
    for text in ("Test publisher", "https://example.org/fw", "2024-01-01", "Test data, our own words.",
                 "Imported by Rita Risk", "Is the first thing done?", "Policy or procedure",
                 "Applies when</strong> AI type: Generative AI.", "Equivalent", "Matching control",
                 "4 requirements, of which 3 are assessed"):
        assert text in page.text, text
    filtered = browser.get(framework_url, params={"q": "second"})
    assert "1 requirement matches" in filtered.text
    assert "Second control" in filtered.text and "Area A" in filtered.text  # the match, in its group
    assert "Bias testing" not in filtered.text and "Do the first thing." not in filtered.text
    assert browser.get(framework_url, params={"kind": "nope"}).status_code == 422

    db.rollback()
    a1 = db.scalar(select(Requirement).where(Requirement.ref == "A.1"))
    x1 = db.scalar(select(Requirement).where(Requirement.ref == "X.1"))
    detail = browser.get(f"/requirements/{a1.id}")
    assert detail.status_code == 200
    assert "Do the first thing." in detail.text and "Matching control" in detail.text
    assert f'href="/requirements/{a1.parent_id}"' in detail.text
    reverse = browser.get(f"/requirements/{x1.id}")
    assert "Equivalent" in reverse.text and "First control" in reverse.text


def test_pages_hide_import_from_readers(client: TestClient, db: Session, settings: Settings) -> None:
    load(db, BASE)
    make_user(db, email="pat@example.com", password=PASSWORD, settings=settings, roles=[("practitioner", None)])
    login(client, "pat@example.com")
    page = client.get("/frameworks")
    assert page.status_code == 200 and "Test framework" in page.text and "/frameworks/import" not in page.text
    assert client.get("/frameworks/import").status_code == 403


# --- CLI and demo ------------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    use_cli_database(monkeypatch, url, tmp_path / "data")
    migrate.upgrade(url)
    return url


def catalog(*args: str) -> Any:
    return runner.invoke(cli_app, ["catalog", *args], catch_exceptions=False)


def test_cli_validate_needs_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICOE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    good, other, mapping = tmp_path / "good.yaml", tmp_path / "other.yaml", tmp_path / "map.yaml"
    good.write_text(BASE)
    other.write_text(OTHER)
    mapping.write_text(MAPPING)
    r = catalog("validate", str(good), str(other), str(mapping))
    assert r.exit_code == 0, r.output
    assert f"ok  {good}: test-fw 1.0, 4 requirements" in r.output
    assert f"ok  {mapping}: test-fw--other-fw, 2 links (test-fw → other-fw)" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace('"1.0"', "1.0").replace("[policy, record]", "[memo]"))
    r = catalog("validate", str(bad), str(mapping))
    assert r.exit_code == 1
    assert f'{bad}:5: framework.version: must be text: quote it (e.g. "1.0")' in r.output
    assert f"{bad}:21: requirements[0].children[0].evidence_types[0]: 'memo' is not a known evidence type" in r.output
    assert f"{mapping}:6: mapping.target_framework: unknown framework 'other-fw'" in r.output
    r = catalog("validate", "--builtin")
    assert r.exit_code == 0 and "owasp-llm-top-10 2025, 10 requirements" in r.output
    assert catalog("validate").exit_code == 2


def test_cli_import_list_show_and_sync(cli_db: str, tmp_path: Path) -> None:
    path, mapping_path = tmp_path / "fw.yaml", tmp_path / "map.yaml"
    path.write_text(BASE)
    mapping_path.write_text(MAPPING)
    r = catalog("import", str(path))
    assert r.exit_code == 0 and "created   framework test-fw 1.0 (4 requirements)" in r.output
    assert "unchanged framework test-fw 1.0" in catalog("import", str(path)).output
    r = catalog("import", str(mapping_path), "--mapping")
    assert r.exit_code == 1 and "mapping.target_framework: unknown framework 'other-fw'" in r.output
    path.write_text(BASE.replace("Do the first thing.", "Changed."))
    r = catalog("import", str(path))
    assert r.exit_code == 1 and "already loaded with different content" in r.output
    r = catalog("sync")
    assert r.exit_code == 0 and "created   framework owasp-llm-top-10 2025 (10 requirements)" in r.output
    assert "created   mapping nist-ai-rmf--iso-iec-42001" in r.output
    r = catalog("list")
    assert r.exit_code == 0 and "Test framework" in r.output and "OWASP Foundation" in r.output
    assert f"{len(loader.builtin_frameworks()) + 1} framework versions" in r.output
    r = catalog("show", "owasp-llm-top-10", "--summaries")
    assert r.exit_code == 0 and "LLM10:2025 Unbounded Consumption" in r.output and "OWASP Foundation" in r.output
    r = catalog("show", "owasp-llm-top-10", "--version", "2019")
    assert r.exit_code == 1 and "no framework owasp-llm-top-10 version 2019" in r.output


def test_demo_seeder_counts_what_it_created(db: Session, settings: Settings) -> None:
    result = DemoResult()
    seed_catalogs(db, settings, result)
    db.commit()
    assert result.created == {"frameworks": len(loader.builtin_frameworks()),
                              "framework mappings": len(loader.builtin_mappings())}
    again = DemoResult()
    seed_catalogs(db, settings, again)
    assert again.created == {}
