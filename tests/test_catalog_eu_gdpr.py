"""The shipped EU AI Act and GDPR catalogs and the EU AI Act → ISO/IEC 42001 mapping: the official structure is
complete, every assessable obligation is written for an assessor, the applicability rules select the duties the
Act assigns to each role, tier and GPAI status, and every link resolves."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from aicoe.catalogs import loader
from aicoe.catalogs.schema import MAX_SUMMARY, CatalogFile, MappingFile, RequirementNode
from aicoe.compliance.applicability import NO_RULE, Rule, evaluate

EU_FILE = loader.FRAMEWORKS_DIR / "eu-ai-act.yaml"
GDPR_FILE = loader.FRAMEWORKS_DIR / "gdpr.yaml"
ISO_FILE = loader.FRAMEWORKS_DIR / "iso-iec-42001.yaml"
MAPPING_FILE = loader.MAPPINGS_DIR / "eu-ai-act--iso-iec-42001.yaml"

EU_ARTICLES = [f"Article {n}" for n in (4, 5, 6, *range(8, 28), 43, 47, 48, 49, 50, 53, 54, 55, 72, 73)]
# Articles whose every obligation binds only high-risk systems (Article 49(2) is the not-high-risk registration).
HIGH_RISK_ARTICLES = [f"Article {n}" for n in (*range(8, 28), 43, 47, 48, 72, 73)]
ROLE_OF_ARTICLE = {
    **{f"Article {n}": {"provider"} for n in (*range(8, 23), 43, 47, 48, 72)},
    "Article 23": {"importer"}, "Article 24": {"distributor"},
    "Article 26": {"deployer"}, "Article 27": {"deployer"},
}
ANNEX_III_POINTS = {1: "abc", 2: "", 3: "abcd", 4: "ab", 5: "abcd", 6: "abcde", 7: "abcd", 8: "ab"}
GDPR_ARTICLES = [f"Article {n}" for n in (5, 6, 9, 13, 14, 15, 17, 21, 22, 25, 30, 32, 35)]

PROHIBITIONS = [f"Article 5(1)({c})" for c in "abcdefgh"]
CLASSIFICATION_RULES = ["Article 6(1)", "Article 6(2)", "Article 6(3)"]


@pytest.fixture(scope="module")
def bundle() -> loader.Bundle:
    """The four files validated together by the loader, as shipped (the file name must match the id)."""
    return loader.load_files([EU_FILE, GDPR_FILE, ISO_FILE], [MAPPING_FILE], builtin=True)


@pytest.fixture(scope="module")
def eu(bundle: loader.Bundle) -> CatalogFile:
    return bundle.catalogs[0].document  # type: ignore[return-value]


@pytest.fixture(scope="module")
def gdpr(bundle: loader.Bundle) -> CatalogFile:
    return bundle.catalogs[1].document  # type: ignore[return-value]


@pytest.fixture(scope="module")
def iso(bundle: loader.Bundle) -> CatalogFile:
    return bundle.catalogs[2].document  # type: ignore[return-value]


@pytest.fixture(scope="module")
def mapping(bundle: loader.Bundle) -> MappingFile:
    return bundle.mappings[0].document  # type: ignore[return-value]


def nodes(catalog: CatalogFile) -> dict[str, RequirementNode]:
    return {n.requirement.ref: n.requirement for n in catalog.walk()}


def refs(children: list[RequirementNode]) -> list[str]:
    return [c.ref for c in children]


def descendants(node: RequirementNode) -> list[RequirementNode]:
    out: list[RequirementNode] = []
    for child in node.children:
        out += [child, *descendants(child)]
    return out


def chains(catalog: CatalogFile) -> dict[str, list[Rule]]:
    """Each requirement's effective rule: the non-empty rules of its ancestors (root first) and its own."""
    parent: dict[str, str | None] = {n.requirement.ref: n.parent.ref if n.parent else None for n in catalog.walk()}
    by_ref = nodes(catalog)
    out: dict[str, list[Rule]] = {}
    for ref in by_ref:
        chain: list[Rule] = []
        current: str | None = ref
        while current is not None:
            rule = by_ref[current].applicability
            if rule is not None and rule.rule():
                chain.insert(0, Rule(current, rule.rule()))
            current = parent[current]
        out[ref] = chain
    return out


def effective(chain: list[Rule], key: str) -> set[Any] | None:
    """The values a key allows after AND-ing the chain (None: the key is never restricted)."""
    allowed: set[Any] | None = None
    for _, conditions in chain:
        if key in conditions:
            values = conditions[key] if isinstance(conditions[key], list) else [conditions[key]]
            allowed = set(values) if allowed is None else allowed & set(values)
    return allowed


def applicable(catalog: CatalogFile, profile: dict[str, Any]) -> set[str]:
    rules = chains(catalog)
    return {n.requirement.ref for n in catalog.walk()
            if n.requirement.is_assessable and evaluate(rules[n.requirement.ref], profile)[0]}


def profile(**facts: Any) -> dict[str, Any]:
    base = {"ai_type": "predictive_ml", "risk_tier": "minimal", "eu_role": "provider",
            "lifecycle_stage": "in_production", "personal_data": False, "gpai": None}
    return {**base, **facts}


# --- EU AI Act: structure ------------------------------------------------------------------------------------

def test_eu_ai_act_provenance(eu: CatalogFile) -> None:
    info = eu.framework
    assert (info.id, info.version, info.published.isoformat()) == ("eu-ai-act", "2024/1689", "2024-07-12")
    assert info.source_url == "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"
    assert "aicoe's own words" in info.licence


def test_eu_ai_act_has_exactly_the_articles_that_bind_operators_then_annexes_i_and_iii(eu: CatalogFile) -> None:
    assert refs(eu.requirements) == [*EU_ARTICLES, "Annex I", "Annex III"]
    assert all(node.kind == "article" for node in eu.requirements[:-2])


def test_article_5_lists_exactly_the_eight_prohibited_practices(eu: CatalogFile) -> None:
    article_5 = nodes(eu)["Article 5"]
    assert refs(article_5.children) == PROHIBITIONS
    assert {c.kind for c in article_5.children} == {"prohibition"}
    assert all(not c.children and c.is_assessable for c in article_5.children)


def test_annex_iii_has_the_eight_areas_with_their_points(eu: CatalogFile) -> None:
    annex = nodes(eu)["Annex III"]
    assert refs(annex.children) == [f"Annex III point {i}" for i in range(1, 9)]
    for area, letters in zip(annex.children, ANNEX_III_POINTS.values(), strict=True):
        assert refs(area.children) == [f"{area.ref}({c})" for c in letters]
    assert nodes(eu)["Annex III point 5(b)"].title == "Creditworthiness and credit scoring"


def test_annex_i_lists_the_twenty_acts_in_its_two_sections(eu: CatalogFile) -> None:
    annex = nodes(eu)["Annex I"]
    assert refs(annex.children) == ["Annex I Section A", "Annex I Section B"]
    section_a, section_b = annex.children
    assert refs(section_a.children) == [f"Annex I point {i}" for i in range(1, 13)]
    assert refs(section_b.children) == [f"Annex I point {i}" for i in range(13, 21)]
    assert "2017/745" in nodes(eu)["Annex I point 11"].title


def test_annexes_classify_and_are_never_assessed(eu: CatalogFile) -> None:
    for annex in ("Annex I", "Annex III"):
        node = nodes(eu)[annex]
        assert [n.ref for n in [node, *descendants(node)] if n.is_assessable] == []


def test_obligations_are_the_paragraphs_of_their_article(eu: CatalogFile) -> None:
    for article in EU_ARTICLES:
        node = nodes(eu)[article]
        assert all(d.ref.startswith(f"{article}(") for d in descendants(node)), article
        assert node.is_assessable is (not node.children)
    by_ref = nodes(eu)
    assert refs(by_ref["Article 16"].children) == [f"Article 16({c})" for c in "abcdefghijkl"]
    assert refs(by_ref["Article 17(1)"].children) == [f"Article 17(1)({c})" for c in "abcdefghijklm"]
    assert refs(by_ref["Article 26"].children) == [f"Article 26({n})" for n in (1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12)]
    assert refs(by_ref["Article 50"].children) == [f"Article 50({n})" for n in range(1, 6)]
    assert refs(by_ref["Article 53"].children) == ["Article 53(1)", "Article 53(3)", "Article 53(4)"]
    assert refs(by_ref["Article 55"].children) == ["Article 55(1)", "Article 55(2)"]
    for paragraph in ("Article 53(1)", "Article 55(1)"):
        assert refs(by_ref[paragraph].children) == [f"{paragraph}({c})" for c in "abcd"]
        assert not by_ref[paragraph].is_assessable
    assert refs(by_ref["Article 73"].children) == [f"Article 73({n})" for n in (1, 2, 3, 4, 6)]
    assert by_ref["Article 4"].children == [] and by_ref["Article 4"].is_assessable


def test_eu_ai_act_counts(eu: CatalogFile) -> None:
    walked = list(eu.walk())
    assert len(walked) == 248
    assert sum(n.requirement.is_assessable for n in walked) == 157
    assert Counter(n.requirement.kind for n in walked if n.requirement.is_assessable) == {
        "obligation": 145, "prohibition": 8, "rule": 3, "article": 1}


# --- both catalogs: content written for an assessor ----------------------------------------------------------

@pytest.mark.parametrize("which", ["eu", "gdpr"])
def test_every_node_has_a_summary_and_every_assessable_node_guidance_and_evidence(
        which: str, request: pytest.FixtureRequest) -> None:
    catalog: CatalogFile = request.getfixturevalue(which)
    for walked in catalog.walk():
        node = walked.requirement
        assert 0 < len(node.summary) <= MAX_SUMMARY, node.ref
        if node.is_assessable:
            assert 1 <= len(node.guidance) <= 4, node.ref
            assert all(q[0].isupper() and "?" in q for q in node.guidance), node.ref
            assert node.evidence_types, node.ref
        else:
            assert node.guidance == [] and node.evidence_types == [], node.ref


# --- EU AI Act: applicability -----------------------------------------------------------------------------------

def test_high_risk_obligations_apply_only_to_high_risk_systems(eu: CatalogFile) -> None:
    rules = chains(eu)
    by_ref = nodes(eu)
    for article in HIGH_RISK_ARTICLES:
        for node in descendants(by_ref[article]):
            assert effective(rules[node.ref], "risk_tiers") == {"high"}, node.ref
    for ref in ("Article 49(1)", "Article 49(3)", "Article 49(4)", "Article 49(5)"):
        assert effective(rules[ref], "risk_tiers") == {"high"}, ref
    for ref in ("Article 6(4)", "Article 49(2)"):  # the provider who concluded an Annex III system is not high-risk
        assert effective(rules[ref], "risk_tiers") == {"limited", "minimal"}, ref
        assert effective(rules[ref], "eu_roles") == {"provider"}, ref


def test_each_operators_articles_carry_its_role(eu: CatalogFile) -> None:
    rules = chains(eu)
    by_ref = nodes(eu)
    for article, roles in ROLE_OF_ARTICLE.items():
        for node in [by_ref[article], *descendants(by_ref[article])]:
            assert effective(rules[node.ref], "eu_roles") == roles, node.ref
    assert effective(rules["Article 25(1)"], "eu_roles") == {"deployer", "importer", "distributor"}
    assert effective(rules["Article 25(4)"], "eu_roles") == {"provider"}
    assert effective(rules["Article 73(2)"], "eu_roles") == {"provider", "deployer"}
    assert effective(rules["Article 73(6)"], "eu_roles") == {"provider"}


def test_gpai_articles_carry_gpai_rules_and_nothing_else_does(eu: CatalogFile) -> None:
    rules = chains(eu)
    by_ref = nodes(eu)
    for article, flags in (("Article 53", {"gpai", "gpai_systemic"}), ("Article 54", {"gpai", "gpai_systemic"}),
                           ("Article 55", {"gpai_systemic"})):
        for node in [by_ref[article], *descendants(by_ref[article])]:
            assert effective(rules[node.ref], "gpai") == flags, node.ref
    outside = {ref for ref, chain in rules.items() if effective(chain, "gpai") is not None}
    assert outside == {n.ref for a in ("Article 53", "Article 54", "Article 55")
                       for n in [by_ref[a], *descendants(by_ref[a])]}


def test_ai_literacy_and_prohibitions_apply_to_every_system(eu: CatalogFile) -> None:
    rules = chains(eu)
    for ref in ["Article 4", *PROHIBITIONS, *CLASSIFICATION_RULES]:
        assert evaluate(rules[ref], profile()) == (True, NO_RULE), ref


def test_transparency_rules_follow_article_50(eu: CatalogFile) -> None:
    rules = chains(eu)
    for ref in (f"Article 50({n})" for n in range(1, 6)):
        assert effective(rules[ref], "risk_tiers") == {"limited", "high"}, ref
    assert effective(rules["Article 50(2)"], "ai_types") == {"generative_ai", "agentic"}
    assert effective(rules["Article 50(4)"], "ai_types") == {"generative_ai", "agentic"}
    assert evaluate(rules["Article 50(2)"], profile(risk_tier="limited", ai_type="predictive_ml")) == (
        False, "Out of scope: the system's AI type is Predictive ML; Article 50(2) applies to Generative AI and "
               "Agentic AI systems.")


def test_scope_for_a_provider_of_a_minimal_risk_system(eu: CatalogFile) -> None:
    assert applicable(eu, profile()) == {"Article 4", *PROHIBITIONS, *CLASSIFICATION_RULES, "Article 6(4)",
                                         "Article 49(2)"}


def test_scope_for_a_deployer_of_a_high_risk_credit_system(eu: CatalogFile) -> None:
    credit = profile(risk_tier="high", eu_role="deployer", personal_data=True)
    assert applicable(eu, credit) == {
        "Article 4", *PROHIBITIONS, *CLASSIFICATION_RULES, "Article 25(1)",
        *(f"Article 26({n})" for n in (1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12)),
        *(f"Article 27({n})" for n in (1, 2, 3, 4)),
        "Article 49(3)", "Article 49(4)", "Article 49(5)", "Article 50(3)", "Article 50(5)",
        *(f"Article 73({n})" for n in (1, 2, 3, 4)),
    }


def test_scope_for_a_provider_of_a_high_risk_system(eu: CatalogFile) -> None:
    scope = applicable(eu, profile(risk_tier="high", personal_data=True))
    provider_articles = [f"Article {n}" for n in (*range(8, 23), 43, 47, 48, 72)]
    assert {r for r in scope if r.split("(")[0] in provider_articles} == {
        n.ref for a in provider_articles for n in descendants(nodes(eu)[a]) if n.is_assessable}
    assert not any(r.startswith(("Article 23(", "Article 24(", "Article 26(", "Article 27(", "Article 53("))
                   for r in scope)
    assert {"Article 25(2)", "Article 25(3)", "Article 25(4)", "Article 49(1)", "Article 73(6)",
            "Article 10(5)"} <= scope
    assert "Article 6(4)" not in scope and "Article 49(2)" not in scope


def test_scope_for_providers_of_general_purpose_ai_models(eu: CatalogFile) -> None:
    gpai_refs = {n.ref for a in ("Article 53", "Article 54", "Article 55")
                 for n in descendants(nodes(eu)[a]) if n.is_assessable}
    systemic = applicable(eu, profile(risk_tier="limited", ai_type="generative_ai", gpai="gpai_systemic"))
    assert systemic == {"Article 4", *PROHIBITIONS, *CLASSIFICATION_RULES, "Article 6(4)", "Article 49(2)",
                        "Article 50(1)", "Article 50(2)", "Article 50(5)", *gpai_refs}
    plain = applicable(eu, profile(risk_tier="limited", ai_type="generative_ai", gpai="gpai"))
    assert systemic - plain == {n.ref for n in descendants(nodes(eu)["Article 55"]) if n.is_assessable}
    assert applicable(eu, profile(risk_tier="limited", ai_type="generative_ai")) & gpai_refs == set()


def test_unclassified_systems_keep_tier_and_gpai_obligations_in_scope(eu: CatalogFile) -> None:
    scope = applicable(eu, profile(risk_tier=None, eu_role="provider"))
    assert {"Article 9(1)", "Article 53(1)(a)", "Article 55(1)(a)", "Article 6(4)"} <= scope


# --- GDPR -------------------------------------------------------------------------------------------------------

def test_gdpr_provenance(gdpr: CatalogFile) -> None:
    info = gdpr.framework
    assert (info.id, info.version, info.published.isoformat()) == ("gdpr", "2016/679", "2016-05-04")
    assert info.source_url == "https://eur-lex.europa.eu/eli/reg/2016/679/oj"


def test_gdpr_has_exactly_the_articles_that_bind_ai_processing(gdpr: CatalogFile) -> None:
    assert refs(gdpr.requirements) == GDPR_ARTICLES
    by_ref = nodes(gdpr)
    assert refs(by_ref["Article 5"].children) == [*(f"Article 5(1)({c})" for c in "abcdef"), "Article 5(2)"]
    assert refs(by_ref["Article 22"].children) == [f"Article 22({n})" for n in range(1, 5)]
    assert {"Article 35(1)", "Article 35(3)", "Article 35(7)"} <= set(refs(by_ref["Article 35"].children))
    assert all(d.ref.startswith(f"{a.ref}(") for a in gdpr.requirements for d in descendants(a))
    assert sum(n.requirement.is_assessable for n in gdpr.walk()) == 47


def test_every_gdpr_article_applies_only_to_personal_data(gdpr: CatalogFile) -> None:
    for article in gdpr.requirements:
        assert article.applicability is not None and article.applicability.rule() == {"personal_data": True}
        assert all(d.applicability is None for d in descendants(article)), article.ref
    assessable = {n.requirement.ref for n in gdpr.walk() if n.requirement.is_assessable}
    assert applicable(gdpr, profile(personal_data=True)) == assessable
    assert applicable(gdpr, profile(personal_data=False)) == set()


# --- EU AI Act → ISO/IEC 42001 mapping --------------------------------------------------------------------------

def test_mapping_links_resolve_against_both_catalogs(mapping: MappingFile, eu: CatalogFile,
                                                      iso: CatalogFile) -> None:
    info = mapping.mapping
    assert (info.id, info.source_framework, info.target_framework) == (
        "eu-ai-act--iso-iec-42001", "eu-ai-act", "iso-iec-42001")
    eu_refs, iso_nodes = nodes(eu), nodes(iso)
    assert len(mapping.links) >= 40
    for link in mapping.links:
        assert link.source in eu_refs and link.source.startswith("Article "), link
        assert iso_nodes[link.target].kind == "control", link


def test_mapping_uses_equivalent_only_where_the_duties_match(mapping: MappingFile) -> None:
    relations = Counter(link.relation for link in mapping.links)
    assert relations["related"] > len(mapping.links) * 3 / 4
    assert {(link.source, link.target) for link in mapping.links if link.relation == "equivalent"} == {
        ("Article 9(8)", "A.6.2.4"), ("Article 26(1)", "A.9.4")}


def test_mapping_covers_the_core_high_risk_duties(mapping: MappingFile) -> None:
    mapped_articles = {link.source.split("(")[0] for link in mapping.links}
    assert {f"Article {n}" for n in (4, 9, 10, 11, 12, 13, 14, 15, 17, 26, 27, 50, 53, 55, 72, 73)} <= mapped_articles


def test_a_mapping_link_to_a_missing_requirement_is_refused(eu: CatalogFile, iso: CatalogFile) -> None:
    broken = MAPPING_FILE.read_text(encoding="utf-8").replace("target: A.9.4", "target: A.9.9", 1)
    with pytest.raises(loader.CatalogError) as caught:
        loader.load_mapping(broken.encode(), "eu-ai-act--iso-iec-42001.yaml",
                            {"eu-ai-act": loader.refs_of(eu), "iso-iec-42001": loader.refs_of(iso)})
    [problem] = caught.value.problems
    assert problem.reason == "'A.9.9' is not a requirement of iso-iec-42001"
    assert problem.path.endswith(".target")
