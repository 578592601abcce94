"""The shipped NIST AI RMF 1.0 and ISO/IEC 42001:2023 Annex A catalogs and the mapping between them: complete at
the level of the sources' official structure, written to be useful to an assessor, and every link resolvable."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aicoe.catalogs import loader
from aicoe.catalogs.schema import MAX_SUMMARY, CatalogFile, MappingFile, RequirementNode
from aicoe.compliance.applicability import evaluate

NIST_FILE = loader.FRAMEWORKS_DIR / "nist-ai-rmf.yaml"
ISO_FILE = loader.FRAMEWORKS_DIR / "iso-iec-42001.yaml"
MAPPING_FILE = loader.MAPPINGS_DIR / "nist-ai-rmf--iso-iec-42001.yaml"

# NIST AI 100-1, Tables 1-4: the number of subcategories in each category.
NIST_STRUCTURE: dict[str, dict[int, int]] = {
    "GOVERN": {1: 7, 2: 3, 3: 2, 4: 3, 5: 2, 6: 2},
    "MAP": {1: 6, 2: 3, 3: 5, 4: 2, 5: 2},
    "MEASURE": {1: 3, 2: 13, 3: 3, 4: 3},
    "MANAGE": {1: 4, 2: 4, 3: 2, 4: 3},
}
NIST_CATEGORIES = [f"{fn} {c}" for fn, cats in NIST_STRUCTURE.items() for c in cats]
NIST_SUBCATEGORIES = [f"{fn} {c}.{s}" for fn, cats in NIST_STRUCTURE.items() for c, n in cats.items()
                      for s in range(1, n + 1)]

ISO_OBJECTIVES = ["A.2", "A.3", "A.4", "A.5", "A.6", "A.7", "A.8", "A.9", "A.10"]
ISO_CONTROLS = [
    "A.2.2", "A.2.3", "A.2.4",
    "A.3.2", "A.3.3",
    "A.4.2", "A.4.3", "A.4.4", "A.4.5", "A.4.6",
    "A.5.2", "A.5.3", "A.5.4", "A.5.5",
    "A.6.1.2", "A.6.1.3", "A.6.2.2", "A.6.2.3", "A.6.2.4", "A.6.2.5", "A.6.2.6", "A.6.2.7", "A.6.2.8",
    "A.7.2", "A.7.3", "A.7.4", "A.7.5", "A.7.6",
    "A.8.2", "A.8.3", "A.8.4", "A.8.5",
    "A.9.2", "A.9.3", "A.9.4",
    "A.10.2", "A.10.3", "A.10.4",
]


@pytest.fixture(scope="module")
def bundle() -> loader.Bundle:
    """The three files validated together by the loader, as shipped (the file name must match the id)."""
    return loader.load_files([NIST_FILE, ISO_FILE], [MAPPING_FILE], builtin=True)


@pytest.fixture(scope="module")
def nist(bundle: loader.Bundle) -> CatalogFile:
    return bundle.catalogs[0].document  # type: ignore[return-value]


@pytest.fixture(scope="module")
def iso(bundle: loader.Bundle) -> CatalogFile:
    return bundle.catalogs[1].document  # type: ignore[return-value]


@pytest.fixture(scope="module")
def mapping(bundle: loader.Bundle) -> MappingFile:
    return bundle.mappings[0].document  # type: ignore[return-value]


def _refs(catalog: CatalogFile, kind: str) -> list[str]:
    return [n.requirement.ref for n in catalog.walk() if n.requirement.kind == kind]


def _leaves(catalog: CatalogFile) -> list[RequirementNode]:
    return [n.requirement for n in catalog.walk() if n.requirement.is_assessable]


# --- NIST AI RMF ---------------------------------------------------------------------------------------------------

def test_nist_metadata(nist: CatalogFile) -> None:
    info = nist.framework
    assert (info.id, info.version, info.published.isoformat()) == ("nist-ai-rmf", "1.0", "2023-01-26")
    assert info.source_url == "https://doi.org/10.6028/NIST.AI.100-1"
    assert info.publisher == "National Institute of Standards and Technology (NIST)"
    assert "aicoe's own words" in info.licence


def test_nist_has_4_functions_19_categories_72_subcategories_in_source_order(nist: CatalogFile) -> None:
    assert [r.ref for r in nist.requirements] == ["GOVERN", "MAP", "MEASURE", "MANAGE"]
    assert [r.title for r in nist.requirements] == ["Govern", "Map", "Measure", "Manage"]
    assert _refs(nist, "function") == ["GOVERN", "MAP", "MEASURE", "MANAGE"]
    assert _refs(nist, "category") == NIST_CATEGORIES
    assert len(NIST_CATEGORIES) == 19
    assert _refs(nist, "subcategory") == NIST_SUBCATEGORIES
    assert len(NIST_SUBCATEGORIES) == 72
    assert NIST_SUBCATEGORIES[0] == "GOVERN 1.1" and NIST_SUBCATEGORIES[-1] == "MANAGE 4.3"
    assert Counter(n.requirement.kind for n in nist.walk()) == {"function": 4, "category": 19, "subcategory": 72}


def test_nist_tree_nests_each_subcategory_under_its_category_and_function(nist: CatalogFile) -> None:
    for node in nist.walk():
        requirement, parent = node.requirement, node.parent
        if requirement.kind == "function":
            assert (node.depth, parent) == (0, None)
        elif requirement.kind == "category":
            assert node.depth == 1 and parent is not None
            assert requirement.ref.split(" ")[0] == parent.ref
        else:
            assert node.depth == 2 and parent is not None
            assert requirement.ref.rsplit(".", 1)[0] == parent.ref


def test_nist_only_subcategories_are_assessable(nist: CatalogFile) -> None:
    assert [r.ref for r in _leaves(nist)] == NIST_SUBCATEGORIES


# --- ISO/IEC 42001 -------------------------------------------------------------------------------------------------

def test_iso_metadata(iso: CatalogFile) -> None:
    info = iso.framework
    assert (info.id, info.version, info.published.isoformat()) == ("iso-iec-42001", "2023", "2023-12-18")
    assert info.source_url == "https://www.iso.org/standard/81230.html"
    assert "copyright ISO/IEC" in info.licence and "aicoe's own words" in info.licence


def test_iso_has_9_control_objectives_and_38_controls_in_source_order(iso: CatalogFile) -> None:
    assert [r.ref for r in iso.requirements] == ISO_OBJECTIVES
    assert _refs(iso, "control") == ISO_CONTROLS
    assert len(ISO_CONTROLS) == 38
    assert [r.ref for r in _leaves(iso)] == ISO_CONTROLS
    titles = {n.requirement.ref: n.requirement.title for n in iso.walk()}
    assert (titles["A.2"], titles["A.2.2"], titles["A.5.2"], titles["A.10"]) == (
        "Policies related to AI", "AI policy", "AI system impact assessment process",
        "Third-party and customer relationships")


def test_iso_keeps_the_two_objectives_of_the_life_cycle_topic(iso: CatalogFile) -> None:
    a6 = next(r for r in iso.requirements if r.ref == "A.6")
    assert (a6.kind, a6.assessable) == ("topic", False)
    assert [(c.ref, c.kind, c.assessable) for c in a6.children] == [
        ("A.6.1", "objective", False), ("A.6.2", "objective", False)]
    assert [c.ref for c in a6.children[0].children] == ["A.6.1.2", "A.6.1.3"]
    assert [c.ref for c in a6.children[1].children] == [f"A.6.2.{i}" for i in range(2, 9)]
    for objective in iso.requirements:
        if objective.ref != "A.6":
            assert objective.kind == "objective"
            assert all(c.kind == "control" and c.ref.startswith(objective.ref + ".") for c in objective.children)


# --- content quality (both catalogs) -------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["nist", "iso"])
def test_every_assessable_requirement_has_summary_guidance_and_evidence(which: str,
                                                                         request: pytest.FixtureRequest) -> None:
    catalog: CatalogFile = request.getfixturevalue(which)
    for requirement in _leaves(catalog):
        where = requirement.ref
        assert requirement.title and requirement.title != requirement.summary, where
        assert 40 <= len(requirement.summary) <= MAX_SUMMARY, where
        assert requirement.summary.endswith("."), where
        assert 1 <= len(requirement.guidance) <= 3, where
        assert all(q.endswith("?") and "  " not in q for q in requirement.guidance), where
        assert 1 <= len(requirement.evidence_types) <= 3, where


@pytest.mark.parametrize("which", ["nist", "iso"])
def test_every_node_has_a_summary_and_no_text_is_copied_between_requirements(
        which: str, request: pytest.FixtureRequest) -> None:
    catalog: CatalogFile = request.getfixturevalue(which)
    summaries = [n.requirement.summary for n in catalog.walk()]
    assert all(s.strip() and len(s) <= MAX_SUMMARY and "  " not in s for s in summaries)
    assert len(set(summaries)) == len(summaries)
    questions = [q for n in catalog.walk() for q in n.requirement.guidance]
    assert [q for q, count in Counter(questions).items() if count > 1] == []


def test_nist_applicability_narrows_only_post_deployment_and_privacy_items(nist: CatalogFile) -> None:
    rules = {n.requirement.ref: n.requirement.applicability.rule() for n in nist.walk()
             if n.requirement.applicability is not None}
    assert rules == {
        "MEASURE 2.4": {"lifecycle_stages": ["in_production"]},
        "MEASURE 2.10": {"personal_data": True},
        "MANAGE 2.2": {"lifecycle_stages": ["in_production"]},
        "MANAGE 4.1": {"lifecycle_stages": ["in_production"]},
    }


def test_iso_controls_apply_to_every_system(iso: CatalogFile) -> None:
    assert [n.requirement.ref for n in iso.walk() if n.requirement.applicability is not None] == []


def _applying(catalog: CatalogFile, profile: dict[str, object]) -> list[str]:
    """The assessable refs whose effective rule (ancestors' and own, root first) the profile satisfies."""
    chains: dict[str, list[tuple[str, dict[str, object]]]] = {}
    applying = []
    for node in catalog.walk():
        requirement = node.requirement
        own = [(requirement.ref, requirement.applicability.rule())] if requirement.applicability else []
        chains[requirement.ref] = (chains[node.parent.ref] if node.parent else []) + own
        if requirement.is_assessable and evaluate(chains[requirement.ref], profile)[0]:
            applying.append(requirement.ref)
    return applying


def test_nist_subcategories_selected_for_systems_in_development_and_in_production(nist: CatalogFile) -> None:
    base = {"ai_type": "predictive_ml", "risk_tier": "high", "eu_role": "deployer", "gpai": None}
    in_development = _applying(nist, {**base, "lifecycle_stage": "in_development", "personal_data": False})
    assert sorted(set(NIST_SUBCATEGORIES) - set(in_development)) == [
        "MANAGE 2.2", "MANAGE 4.1", "MEASURE 2.10", "MEASURE 2.4"]
    assert len(in_development) == 68
    in_production = _applying(nist, {**base, "lifecycle_stage": "in_production", "personal_data": True})
    assert in_production == NIST_SUBCATEGORIES
    retired = _applying(nist, {**base, "lifecycle_stage": "retired", "personal_data": True})
    assert sorted(set(NIST_SUBCATEGORIES) - set(retired)) == ["MANAGE 2.2", "MANAGE 4.1", "MEASURE 2.4"]


# --- the mapping ---------------------------------------------------------------------------------------------------

def test_mapping_metadata_names_both_frameworks_and_its_provenance(mapping: MappingFile) -> None:
    info = mapping.mapping
    assert (info.id, info.source_framework, info.target_framework) == (
        "nist-ai-rmf--iso-iec-42001", "nist-ai-rmf", "iso-iec-42001")
    assert "aicoe's own mapping" in info.provenance and "https://airc.nist.gov/" in info.provenance


def test_every_link_resolves_from_a_subcategory_to_a_control(mapping: MappingFile) -> None:
    links = [(link.source, link.target) for link in mapping.links]
    assert len(links) >= 60
    assert len(set(links)) == len(links)
    assert {source for source, _ in links} <= set(NIST_SUBCATEGORIES)
    assert {target for _, target in links} == set(ISO_CONTROLS)  # every Annex A control has a NIST counterpart


def test_links_are_grouped_in_nist_order(mapping: MappingFile) -> None:
    order = [NIST_SUBCATEGORIES.index(link.source) for link in mapping.links]
    assert order == sorted(order)


def test_only_subcategories_without_an_annex_a_counterpart_are_unmapped(mapping: MappingFile) -> None:
    """The provenance tells users which subcategories are left out, and it must stay true."""
    mapped = {link.source for link in mapping.links}
    assert [ref for ref in NIST_SUBCATEGORIES if ref not in mapped] == [
        "MAP 1.5", "MEASURE 3.2", "MANAGE 1.2", "MANAGE 1.3"]
    assert mapping.mapping.provenance.endswith("no link: MAP 1.5, MEASURE 3.2, MANAGE 1.2 and MANAGE 1.3.")


def test_equivalence_is_claimed_only_where_both_require_the_same(mapping: MappingFile) -> None:
    relations = Counter(link.relation for link in mapping.links)
    assert set(relations) == {"equivalent", "subset", "superset", "related"}
    assert [(link.source, link.target) for link in mapping.links if link.relation == "equivalent"] == [
        ("GOVERN 2.1", "A.3.2")]
    directional = {(link.source, link.target): link.relation for link in mapping.links
                   if link.relation in ("subset", "superset")}
    assert directional == {
        ("GOVERN 3.2", "A.3.2"): "subset", ("MAP 1.1", "A.9.4"): "superset", ("MAP 1.6", "A.6.2.2"): "superset",
        ("MEASURE 2.1", "A.6.2.4"): "subset", ("MEASURE 2.4", "A.6.2.6"): "subset",
        ("MANAGE 4.1", "A.6.2.6"): "superset", ("MANAGE 4.3", "A.8.4"): "superset",
    }
    assert all(link.note for link in mapping.links if link.relation != "related")


def test_a_link_to_a_ref_missing_from_iso_is_refused(mapping: MappingFile, tmp_path: Path) -> None:
    broken = tmp_path / MAPPING_FILE.name
    broken.write_text(MAPPING_FILE.read_text(encoding="utf-8").replace("target: A.3.2\n", "target: A.3.9\n", 1),
                      encoding="utf-8")
    index = next(i for i, link in enumerate(mapping.links) if link.target == "A.3.2")
    with pytest.raises(loader.CatalogError) as caught:
        loader.load_files([NIST_FILE, ISO_FILE], [broken], builtin=True)
    assert [(p.file, p.path, p.reason) for p in caught.value.problems] == [
        (broken.name, f"links[{index}].target", "'A.3.9' is not a requirement of iso-iec-42001")]
