"""The EU AI Act classifier (pure): a table of scenarios with the expected tier, GPAI flag, the exact articles the
rationale cites and the exact obligations; every input error message; the questionnaire's own consistency; and a
property test that any complete answer set is classified without error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.compliance import eu_ai_act as act
from aicoe.compliance.eu_ai_act import ClassificationInputError, classify

ART5 = {f"Article 5(1)({p})" for p in "abcdefgh"}
AS_DEPLOYER = {"Article 3(4)", "Article 25(1)"}  # role deployer, role_change none
AS_PROVIDER = {"Article 3(3)", "Article 3(4)"}  # role provider, provider_uses_itself answered
NOTHING_ELSE = {"Article 6(1)(a)", "Article 6(2)", "Annex III", "Article 50", "Article 3(63)"}
WITH_AREAS = NOTHING_ELSE - {"Annex III"}  # Annex III areas chosen: the points are cited instead
PROVIDER_HIGH = {(f"Article {n}", "provider") for n in (8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 43,
                                                         47, 48, 72, 73)}
DEPLOYER_HIGH = {("Article 26", "deployer"), ("Article 73", "deployer"), ("Article 86", "deployer")}


def answers(**changes: Any) -> dict[str, Any]:
    """A deployer's system with no prohibited practice, no Annex I product or Annex III use, no transparency duty and
    no general-purpose AI model; ``changes`` override (None removes a key)."""
    base: dict[str, Any] = {"role": "deployer", "role_change": ["none"],
                            **{q: False for q in act.PRACTICE_QUESTIONS.values()}, "annex_i_product": "none",
                            "annex_iii_areas": ["none"], "transparency": ["none"], "gpai_model": False}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def provider(**changes: Any) -> dict[str, Any]:
    return answers(**{"role": "provider", "role_change": None, "provider_uses_itself": False, **changes})


def uses(area: str, *chosen: str, exception: tuple[str, ...] = ("none",), **changes: Any) -> dict[str, Any]:
    return {"annex_iii_areas": [area], f"annex_iii_{area}": list(chosen), "art6_3_exception": list(exception),
            **changes}


def with_(*parts: set[str], drop: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    return set().union(*parts) - set(drop)


SCENARIOS: list[tuple[str, dict[str, Any], str, str | None, set[str], set[tuple[str, str]]]] = [
    ("minimal deployer", answers(), "minimal", None, with_(AS_DEPLOYER, ART5, NOTHING_ELSE),
     {("Article 4", "deployer"), ("Article 95", "deployer")}),
    ("minimal provider using it itself", provider(provider_uses_itself=True), "minimal", None,
     with_(AS_PROVIDER, ART5, NOTHING_ELSE), {("Article 4", "provider"), ("Article 95", "provider")}),
    ("minimal importer: no AI Act duty", answers(role="importer"), "minimal", None,
     with_({"Article 3(6)", "Article 25(1)"}, ART5, NOTHING_ELSE), set()),
    ("minimal distributor", answers(role="distributor"), "minimal", None,
     with_({"Article 3(7)", "Article 25(1)"}, ART5, NOTHING_ELSE), set()),
    # 2. prohibited practices (later sections left unanswered: not needed once prohibited)
    ("manipulation is prohibited", {"role": "provider", "provider_uses_itself": False,
                                    **{q: q == "art5_a_manipulation" for q in act.PRACTICE_QUESTIONS.values()}},
     "prohibited", None, with_(AS_PROVIDER, ART5), {("Article 5(1)(a)", "provider")}),
    ("social scoring by a deployer", answers(art5_c_social_scoring=True, annex_i_product=None, annex_iii_areas=None,
                                             transparency=None, gpai_model=None),
     "prohibited", None, with_(AS_DEPLOYER, ART5), {("Article 5(1)(c)", "deployer")}),
    ("two practices at once", answers(art5_b_vulnerabilities=True, art5_e_face_scraping=True), "prohibited", None,
     with_(AS_DEPLOYER, ART5), {("Article 5(1)(b)", "deployer"), ("Article 5(1)(e)", "deployer")}),
    ("crime prediction supporting a fact-based human assessment", answers(art5_d_crime_prediction=True,
                                                                           art5_d_exception=True),
     "minimal", None, with_(AS_DEPLOYER, ART5, NOTHING_ELSE), {("Article 4", "deployer"), ("Article 95", "deployer")}),
    ("crime prediction from profiling alone", answers(art5_d_crime_prediction=True, art5_d_exception=False),
     "prohibited", None, with_(AS_DEPLOYER, ART5), {("Article 5(1)(d)", "deployer")}),
    ("workplace emotion recognition for safety is high-risk (Annex III 1(c))",
     answers(art5_f_emotion_workplace=True, art5_f_exception=True, art6_3_exception=["none"],
             deployer_public="neither"),
     "high", None,
     with_(AS_DEPLOYER, ART5, NOTHING_ELSE, {"Annex III point 1(c)", "Article 6(3)", "Article 50(3)",
                                             "Article 27(1)"}, drop={"Article 50"}),
     DEPLOYER_HIGH | {("Article 50(3)", "deployer"), ("Article 4", "deployer")}),
    ("workplace emotion recognition without a medical or safety reason",
     answers(art5_f_emotion_workplace=True, art5_f_exception=False), "prohibited", None, with_(AS_DEPLOYER, ART5),
     {("Article 5(1)(f)", "deployer")}),
    ("sensitive biometric categorisation to label datasets: high-risk (1(b)), provider",
     provider(art5_g_biometric_categorisation=True, art5_g_exception=True, art6_3_exception=["none"]), "high", None,
     with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Annex III point 1(b)", "Article 6(3)", "Article 50(3)"},
           drop={"Article 50"}),
     PROVIDER_HIGH | {("Article 49(1)", "provider"), ("Article 50(3)", "deployer"), ("Article 4", "provider")}),
    ("real-time remote biometric identification for another objective",
     answers(art5_h_realtime_rbi=True, art5_h_objective="other"), "prohibited", None, with_(AS_DEPLOYER, ART5),
     {("Article 5(1)(h)", "deployer")}),
    ("real-time remote biometric identification without authorisation",
     answers(art5_h_realtime_rbi=True, art5_h_objective="victims", art5_h_authorised=False), "prohibited", None,
     with_(AS_DEPLOYER, ART5, {"Article 5(1)(h)(i)", "Article 5(2)", "Article 5(3)", "Article 5(5)"}),
     {("Article 5(1)(h)", "deployer")}),
    ("authorised real-time remote biometric identification by a public authority",
     answers(art5_h_realtime_rbi=True, art5_h_objective="threat", art5_h_authorised=True,
             art6_3_exception=["none"], deployer_public="public_body"),
     "high", None,
     with_(AS_DEPLOYER, ART5, NOTHING_ELSE, {"Article 5(1)(h)(ii)", "Article 5(2)", "Article 5(3)", "Article 5(5)",
                                             "Annex III point 1(a)", "Article 6(3)", "Article 27", "Article 27(1)",
                                             "Article 26(8)", "Article 49(3)"}),
     DEPLOYER_HIGH | {("Article 27", "deployer"), ("Article 49(3)", "deployer"), ("Article 4", "deployer")}),
    # 3. Annex I
    ("safety component of a machine needing a notified body", provider(annex_i_product="section_a",
                                                                      annex_i_third_party=True),
     "high", None, with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Annex I Section A", "Article 6(1)(b)"}),
     PROVIDER_HIGH | {("Article 4", "provider")}),
    ("Annex I product with self-assessment only", provider(annex_i_product="section_a", annex_i_third_party=False),
     "minimal", None, with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Annex I Section A", "Article 6(1)(b)"}),
     {("Article 4", "provider"), ("Article 95", "provider")}),
    ("vehicle component under Annex I Section B", provider(annex_i_product="section_b", annex_i_third_party=True,
                                                           transparency=["interacts"]),
     "high", None, with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Annex I Section B", "Article 6(1)(b)", "Article 2(2)",
                                                          "Article 50(1)"}, drop={"Article 50"}),
     {("Article 2(2)", "provider")}),
    # 4. Annex III
    ("credit scoring built and used in-house", provider(provider_uses_itself=True,
                                                       **uses("essential_services", "creditworthiness"),
                                                       deployer_public="neither"),
     "high", None, with_(AS_PROVIDER, ART5, WITH_AREAS, {"Annex III point 5", "Annex III point 5(b)",
                                                          "Article 6(3)", "Article 27(1)"}),
     PROVIDER_HIGH | DEPLOYER_HIGH | {("Article 49(1)", "provider"), ("Article 27", "deployer"),
                                      ("Article 4", "provider")}),
    ("fraud detection is excluded from point 5(b)", answers(**uses("essential_services", "fraud_detection")),
     "minimal", None, with_(AS_DEPLOYER, ART5, WITH_AREAS, {"Annex III point 5", "Annex III point 5(b)"}),
     {("Article 4", "deployer"), ("Article 95", "deployer")}),
    ("CV screening with a preparatory task and no profiling: exception",
     answers(**uses("employment", "recruitment", exception=("preparatory",)), profiling=False),
     "minimal", None,
     with_(AS_DEPLOYER, ART5, WITH_AREAS, {"Annex III point 4", "Annex III point 4(a)", "Article 6(3)(d)",
                                             "Article 6(3)", "Article 6(4)", "Article 49(2)"}),
     {("Article 6(4)", "provider"), ("Article 95", "deployer"), ("Article 4", "deployer")}),
    ("CV screening that profiles candidates is always high-risk",
     answers(**uses("employment", "recruitment", exception=("preparatory", "narrow_procedural")), profiling=True,
             deployer_public="public_service"),
     "high", None,
     with_(AS_DEPLOYER, ART5, WITH_AREAS, {"Annex III point 4", "Annex III point 4(a)", "Article 6(3)(a)",
                                             "Article 6(3)(d)", "Article 6(3)", "Article 27(1)"}),
     DEPLOYER_HIGH | {("Article 27", "deployer"), ("Article 4", "deployer")}),
    ("exception used by the provider", provider(**uses("education", "learning_outcomes",
                                                       exception=("improves_human_activity",)), profiling=False),
     "minimal", None,
     with_(AS_PROVIDER, ART5, WITH_AREAS, {"Annex III point 3", "Annex III point 3(b)", "Article 6(3)(b)",
                                             "Article 6(3)", "Article 6(4)", "Article 49(2)"}),
     {("Article 6(4)", "provider"), ("Article 49(2)", "provider"), ("Article 95", "provider"),
      ("Article 4", "provider")}),
    ("critical infrastructure operated by a public body: national registration, no FRIA",
     provider(provider_uses_itself=True, **uses("critical_infrastructure", "safety_component"),
              deployer_public="public_body"),
     "high", None,
     with_(AS_PROVIDER, ART5, WITH_AREAS, {"Annex III point 2", "Article 6(3)", "Article 27(1)"}),
     PROVIDER_HIGH | {("Article 49(5)", "provider"), ("Article 26", "deployer"), ("Article 73", "deployer"),
                      ("Article 4", "provider")}),
    ("voice verification only is excluded from point 1(a)", answers(**uses("biometrics", "verification_only")),
     "minimal", None, with_(AS_DEPLOYER, ART5, WITH_AREAS, {"Annex III point 1", "Annex III point 1(a)"}),
     {("Article 4", "deployer"), ("Article 95", "deployer")}),
    ("risk of re-offending for the police; travel documents only at the border",
     answers(annex_iii_areas=["law_enforcement", "migration"], annex_iii_law_enforcement=["offending_risk"],
             annex_iii_migration=["travel_documents"], art6_3_exception=["none"], deployer_public="public_body"),
     "high", None,
     with_(AS_DEPLOYER, ART5, WITH_AREAS, {"Annex III point 6", "Annex III point 7", "Annex III point 6(d)",
                                             "Annex III point 7(d)", "Article 6(3)", "Article 27(1)",
                                             "Article 26(8)", "Article 49(3)"}),
     DEPLOYER_HIGH | {("Article 27", "deployer"), ("Article 49(3)", "deployer"), ("Article 4", "deployer")}),
    # 5. transparency
    ("customer chatbot of a deployer", answers(transparency=["interacts"]), "limited", None,
     with_(AS_DEPLOYER, ART5, NOTHING_ELSE, {"Article 50(1)"}, drop={"Article 50"}),
     {("Article 50(1)", "provider"), ("Article 4", "deployer")}),
    ("content generator that also makes deep fakes, built and used in-house",
     provider(provider_uses_itself=True, transparency=["synthetic_content", "deep_fake"]), "limited", None,
     with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Article 50(2)", "Article 50(4)"}, drop={"Article 50"}),
     {("Article 50(2)", "provider"), ("Article 50(4)", "deployer"), ("Article 4", "provider")}),
    ("emotion recognition is an Annex III use even when only ticked under transparency",
     provider(transparency=["emotion_recognition"], art6_3_exception=["none"]), "high", None,
     with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Annex III point 1(c)", "Article 6(3)", "Article 50(3)"},
           drop={"Article 50"}),
     PROVIDER_HIGH | {("Article 49(1)", "provider"), ("Article 50(3)", "deployer"), ("Article 4", "provider")}),
    ("high-risk chatbot keeps high and gains Art. 50(1)",
     provider(transparency=["interacts"], **uses("essential_services", "emergency")), "high", None,
     with_(AS_PROVIDER, ART5, WITH_AREAS, {"Annex III point 5", "Annex III point 5(d)", "Article 6(3)",
                                             "Article 50(1)"}, drop={"Article 50"}),
     PROVIDER_HIGH | {("Article 49(1)", "provider"), ("Article 50(1)", "provider"), ("Article 4", "provider")}),
    # 1. role changes (Art. 25)
    ("deployer rebranding a high-risk system becomes its provider",
     answers(role_change=["name_trademark"], **uses("employment", "work_decisions"), deployer_public="neither"),
     "high", None,
     with_({"Article 3(4)", "Article 25(1)(a)"}, ART5, WITH_AREAS, {"Annex III point 4", "Annex III point 4(b)",
                                                                     "Article 6(3)", "Article 27(1)"}),
     PROVIDER_HIGH | DEPLOYER_HIGH | {("Article 49(1)", "provider"), ("Article 4", "deployer")}),
    ("modifying a system that is not high-risk changes nothing", answers(role_change=["substantial_modification"]),
     "minimal", None, with_({"Article 3(4)", "Article 25(1)(b)"}, ART5, NOTHING_ELSE),
     {("Article 4", "deployer"), ("Article 95", "deployer")}),
    ("importer of a high-risk education system", answers(role="importer", **uses("education", "admission")),
     "high", None,
     with_({"Article 3(6)", "Article 25(1)"}, ART5, WITH_AREAS, {"Annex III point 3", "Annex III point 3(a)",
                                                                  "Article 6(3)"}),
     {("Article 23", "importer")}),
    ("distributor substantially modifying a high-risk system is its provider",
     answers(role="distributor", role_change=["substantial_modification"], **uses("education", "test_monitoring")),
     "high", None,
     with_({"Article 3(7)", "Article 25(1)(b)"}, ART5, WITH_AREAS, {"Annex III point 3", "Annex III point 3(d)",
                                                                     "Article 6(3)"}),
     PROVIDER_HIGH | {("Article 49(1)", "provider"), ("Article 4", "provider")}),
    # 6. general-purpose AI models
    ("GPAI model provider", provider(gpai_model=True, gpai_systemic="none", gpai_open_source=False), "minimal", "gpai",
     with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Article 53", "Article 51", "Article 53(2)"}),
     {("Article 53(1)(a)", "provider"), ("Article 53(1)(b)", "provider"), ("Article 53(1)(c)", "provider"),
      ("Article 53(1)(d)", "provider"), ("Article 95", "provider"), ("Article 4", "provider")}),
    ("open-source GPAI model without systemic risk", provider(gpai_model=True, gpai_systemic="none",
                                                              gpai_open_source=True),
     "minimal", "gpai", with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Article 53", "Article 51", "Article 53(2)"}),
     {("Article 53(1)(c)", "provider"), ("Article 53(1)(d)", "provider"), ("Article 95", "provider"),
      ("Article 4", "provider")}),
    ("open-source GPAI model above 10^25 FLOP", provider(gpai_model=True, gpai_systemic="compute",
                                                         gpai_open_source=True, transparency=["synthetic_content"]),
     "limited", "gpai_systemic",
     with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Article 53", "Article 51(2)", "Article 53(2)", "Article 50(2)"},
           drop={"Article 50"}),
     {("Article 52(1)", "provider"), ("Article 53(1)(a)", "provider"), ("Article 53(1)(b)", "provider"),
      ("Article 53(1)(c)", "provider"), ("Article 53(1)(d)", "provider"), ("Article 55(1)", "provider"),
      ("Article 50(2)", "provider"), ("Article 4", "provider")}),
    ("GPAI model designated by the Commission", provider(gpai_model=True, gpai_systemic="designated",
                                                         gpai_open_source=False),
     "minimal", "gpai_systemic", with_(AS_PROVIDER, ART5, NOTHING_ELSE, {"Article 53", "Article 51(1)(b)",
                                                                        "Article 53(2)"}),
     {("Article 53(1)(a)", "provider"), ("Article 53(1)(b)", "provider"), ("Article 53(1)(c)", "provider"),
      ("Article 53(1)(d)", "provider"), ("Article 55(1)", "provider"), ("Article 95", "provider"),
      ("Article 4", "provider")}),
]


@pytest.mark.parametrize(("given", "tier", "gpai", "cited", "obligations"), [s[1:] for s in SCENARIOS],
                         ids=[s[0] for s in SCENARIOS])
def test_scenario(given: dict[str, Any], tier: str, gpai: str | None, cited: set[str],
                  obligations: set[tuple[str, str]]) -> None:
    result = classify(given)
    assert (result.tier, result.gpai) == (tier, gpai)
    assert set(act.cited_articles(result)) == cited
    assert {(o.ref, o.role) for o in result.obligations} == obligations
    assert len(result.obligations) == len(obligations)  # no duplicate


def test_there_are_at_least_25_scenarios_covering_every_tier_and_gpai_flag() -> None:
    assert len(SCENARIOS) >= 25
    assert {s[2] for s in SCENARIOS} == set(act.TIERS)
    assert {s[3] for s in SCENARIOS} == {None, "gpai", "gpai_systemic"}


def test_rationale_walks_the_act_in_order_with_findings() -> None:
    result = classify(provider(provider_uses_itself=True, **uses("essential_services", "creditworthiness"),
                               deployer_public="neither", transparency=["interacts"]))
    assert [r.question for r in result.rationale] == [
        "role", "provider_uses_itself", *act.PRACTICE_QUESTIONS.values(), "annex_i_product", "annex_iii_areas",
        "annex_iii_essential_services", "art6_3_exception", "transparency", "gpai_model", "deployer_public"]
    credit = result.rationale[12]
    assert (credit.answer, credit.articles, credit.finding) == (
        "Evaluating the creditworthiness of natural persons or establishing their credit score",
        ("Annex III point 5(b)",), "Listed high-risk use: Annex III point 5(b).")
    assert result.rationale[-1].finding == ("A fundamental rights impact assessment is required before first use: the "
                                            "use listed in Annex III point 5(b).")
    assert result.roles == ("provider", "deployer") and result.role == "provider"
    fria = next(o for o in result.obligations if o.ref == "Article 27")
    assert fria.title == "Fundamental rights impact assessment"
    assert fria.why.endswith("Required because of the use listed in Annex III point 5(b).")
    refs = [o.ref for o in result.obligations]
    assert refs[:3] == ["Article 4", "Article 8", "Article 9"] and refs[-1] == "Article 86"


@pytest.mark.parametrize(("given", "finding"), [
    (provider(provider_uses_itself=True, **uses("critical_infrastructure", "safety_component"),
              deployer_public="public_body"),
     "No fundamental rights impact assessment is required: Art. 27(1) leaves out critical infrastructure (Annex III "
     "point 2)."),
    (answers(**uses("employment", "recruitment"), deployer_public="neither"),
     "No fundamental rights impact assessment is required: the deployer is neither public nor using the system for "
     "Annex III point 5(b) or 5(c)."),
    (answers(**uses("education", "admission"), deployer_public="public_body"),
     "A fundamental rights impact assessment is required before first use: the deployer is a body governed by public "
     "law; as a public authority it also registers its use in the EU database (Art. 26(8), Art. 49(3))."),
])
def test_fundamental_rights_impact_assessment_finding(given: dict[str, Any], finding: str) -> None:
    last = classify(given).rationale[-1]
    assert (last.question, last.finding) == ("deployer_public", finding)


def test_role_change_is_explained_where_the_role_is_asked() -> None:
    result = classify(answers(role_change=["name_trademark"], **uses("employment", "work_decisions"),
                              deployer_public="neither"))
    assert [r.question for r in result.rationale][:2] == ["role", "role_change"]
    assert result.rationale[1].finding == ("The system is high-risk, so the organisation is treated as its provider "
                                           "and takes on the provider's obligations (Art. 25(1), Art. 16).")
    prohibited = classify(answers(role_change=["name_trademark"], art5_c_social_scoring=True))
    assert prohibited.rationale[1].finding == ("Whatever the role, a prohibited practice may not be placed on the "
                                               "market or used.")
    assert prohibited.obligations[0].why == ("Prohibited: social scoring leading to detrimental or disproportionate "
                                             "treatment. Cease: stop using it.")


def test_a_deployer_is_told_whose_transparency_duty_it_is() -> None:
    [literacy, duty] = classify(answers(transparency=["interacts"])).obligations
    assert (literacy.ref, duty.ref, duty.role) == ("Article 4", "Article 50(1)", "provider")
    assert duty.why == ("A duty of the system's provider: design the system so that people are told they are "
                        "interacting with an AI system. As deployer, make sure it is met.")
    own = classify(provider(transparency=["interacts"])).obligations
    assert [o.why for o in own if o.ref == "Article 50(1)"] == [
        "Design the system so that people are told they are interacting with an AI system."]


def test_answers_not_asked_are_ignored_and_null_is_unanswered() -> None:
    result = classify(provider(role_change=["name_trademark"], annex_i_third_party=True, profiling=None,
                               gpai_systemic="compute"))
    assert "role_change" not in result.answers and "annex_i_third_party" not in result.answers
    assert "gpai_systemic" not in result.answers and result.gpai is None
    assert classify(answers(annex_i_third_party=None)).tier == "minimal"


def test_yes_no_takes_booleans_or_the_words() -> None:
    result = classify(answers(art5_a_manipulation="no", gpai_model="No", art5_b_vulnerabilities=" YES "))
    assert result.tier == "prohibited" and result.answers["art5_b_vulnerabilities"] is True
    assert result.answers["art5_a_manipulation"] is False


def test_multiple_choice_answers_are_stored_in_questionnaire_order_without_repeats() -> None:
    result = classify(answers(transparency=["deep_fake", "interacts", "deep_fake"]))
    assert result.answers["transparency"] == ["interacts", "deep_fake"]


# --- errors ----------------------------------------------------------------------------------------------------------

ALWAYS_ASKED = ["role", *act.PRACTICE_QUESTIONS.values(), "annex_i_product", "annex_iii_areas", "transparency",
                "gpai_model"]


def problems(given: Any) -> list[tuple[str, str]]:
    with pytest.raises(ClassificationInputError) as caught:
        classify(given)
    assert str(caught.value) == "; ".join(m for _, m in caught.value.problems)
    assert isinstance(caught.value, ValueError)
    return caught.value.problems


def test_nothing_answered_names_every_question_always_asked() -> None:
    assert problems({}) == [(q, f"question {q!r} needs an answer") for q in ALWAYS_ASKED]


@pytest.mark.parametrize(("given", "expected"), [
    (provider(provider_uses_itself=None), [("provider_uses_itself", "question 'provider_uses_itself' needs an "
                                                                    "answer")]),
    (answers(role_change=None), [("role_change", "question 'role_change' needs an answer")]),
    (answers(art5_d_crime_prediction=True), [("art5_d_exception", "question 'art5_d_exception' needs an answer")]),
    (answers(art5_h_realtime_rbi=True, art5_h_objective="suspects"),
     [("art5_h_authorised", "question 'art5_h_authorised' needs an answer")]),
    (answers(annex_i_product="section_b"), [("annex_i_third_party", "question 'annex_i_third_party' needs an "
                                                                    "answer")]),
    (answers(annex_iii_areas=["education", "employment"], annex_iii_education=["none"]),
     [("annex_iii_employment", "question 'annex_iii_employment' needs an answer")]),
    (answers(annex_iii_areas=["employment"], annex_iii_employment=["recruitment"]),
     [("art6_3_exception", "question 'art6_3_exception' needs an answer")]),
    (answers(transparency=["emotion_recognition"]), [("art6_3_exception", "question 'art6_3_exception' needs an "
                                                                          "answer")]),
    (answers(**uses("employment", "recruitment", exception=("narrow_procedural",))),
     [("profiling", "question 'profiling' needs an answer")]),
    (answers(**uses("employment", "recruitment")), [("deployer_public", "question 'deployer_public' needs an "
                                                                        "answer")]),
    (answers(gpai_model=True), [("gpai_systemic", "question 'gpai_systemic' needs an answer"),
                                ("gpai_open_source", "question 'gpai_open_source' needs an answer")]),
])
def test_conditional_questions_are_required_when_asked(given: dict[str, Any],
                                                       expected: list[tuple[str, str]]) -> None:
    assert problems(given) == expected


def test_once_prohibited_later_sections_are_not_needed_but_every_practice_is() -> None:
    given = {"role": "deployer", "role_change": ["none"], "art5_c_social_scoring": True}
    assert problems(given) == [(q, f"question {q!r} needs an answer") for q in act.PRACTICE_QUESTIONS.values()
                               if q != "art5_c_social_scoring"]


@pytest.mark.parametrize(("given", "expected"), [
    (answers(mood="happy"), [("mood", "unknown question 'mood'")]),
    ({**answers(), 7: True}, [("7", "unknown question 7")]),
    (answers(art5_a_manipulation="maybe"),
     [("art5_a_manipulation", "question 'art5_a_manipulation' takes yes or no, not 'maybe'")]),
    (answers(gpai_model=1), [("gpai_model", "question 'gpai_model' takes yes or no, not 1")]),
    (answers(role="owner"), [("role", "question 'role' has no option 'owner'; choose one of: provider, deployer, "
                                      "importer, distributor")]),
    (answers(role=["provider"]), [("role", "question 'role' has no option ['provider']; choose one of: provider, "
                                           "deployer, importer, distributor")]),
    (answers(transparency="interacts"),
     [("transparency", "question 'transparency' takes a list of options, not 'interacts'")]),
    (answers(transparency=["telepathy"]),
     [("transparency", "question 'transparency' has no option 'telepathy'; choose one of: interacts, "
                       "synthetic_content, emotion_recognition, biometric_categorisation, deep_fake, "
                       "public_interest_text, none")]),
    (answers(transparency=[]), [("transparency", "question 'transparency' needs at least one option (choose 'none' "
                                                 "when none applies)")]),
    (answers(annex_iii_areas=["none", "education"]),
     [("annex_iii_areas", "question 'annex_iii_areas': 'none' cannot be combined with other options")]),
    (answers(role="owner", mood=1, gpai_model=None),
     [("role", "question 'role' has no option 'owner'; choose one of: provider, deployer, importer, distributor"),
      ("mood", "unknown question 'mood'"), ("gpai_model", "question 'gpai_model' needs an answer")]),
])
def test_invalid_answers_are_named_exactly(given: dict[Any, Any], expected: list[tuple[str, str]]) -> None:
    assert problems(given) == expected


def test_answers_must_be_a_mapping() -> None:
    assert problems(["role"]) == [("answers", "answers must be a mapping of question id to answer, not ['role']")]


def test_error_messages_are_module_constants() -> None:
    assert act.MISSING_ANSWER.format(question="role") == "question 'role' needs an answer"
    assert act.UNKNOWN_QUESTION.format(question="x") == "unknown question 'x'"


# --- the questionnaire ---------------------------------------------------------------------------------------------

def test_questionnaire_is_consistent_data() -> None:
    ids = [q.id for q in act.QUESTIONS]
    assert len(ids) == len(set(ids)) == 34
    sections = [s.id for s in act.SECTIONS]
    assert [q.section for q in act.QUESTIONS] == sorted((q.section for q in act.QUESTIONS), key=sections.index)
    for q in act.QUESTIONS:
        assert q.text and q.articles, q.id
        assert (q.type == "yes_no") == (not q.options), q.id
        assert len({o.id for o in q.options}) == len(q.options), q.id
        for group in q.condition.all_of if q.condition else ():
            for clause in group:
                assert clause.question in act.BY_ID and clause.question != q.id, q.id
        if q.condition:
            assert q.condition.text.startswith("only if "), q.id
    assert act.asked_questions({}) == {q.id: q.condition is None for q in act.QUESTIONS}
    assert [a for a, _, _ in act.ANNEX_III_AREAS] == [o.id for o in act.BY_ID["annex_iii_areas"].options][:-1]
    for area, number, _ in act.ANNEX_III_AREAS:
        listed = [o.point for o in act.BY_ID[f"annex_iii_{area}"].options if o.point]
        assert listed and all(p.startswith(number) for p in listed), area


def test_questionnaire_as_data() -> None:
    data = act.questionnaire()
    assert data["version"] == act.QUESTIONNAIRE_VERSION == "2024/1689-1"
    assert [s["title"] for s in data["sections"]] == [
        "1. The organisation's role", "2. Prohibited practices", "3. Safety components of regulated products",
        "4. High-risk uses listed in Annex III", "5. Transparency", "6. General-purpose AI models",
        "7. Deployer duties"]
    role = data["sections"][0]["questions"][1]
    assert role == {
        "id": "provider_uses_itself", "number": "1.2", "section": "role",
        "text": "Does the organisation also use the system itself, under its own authority?",
        "help": "An organisation that builds a system for its own use is both its provider and its deployer.",
        "articles": ["Article 3(4)"], "type": "yes_no", "options": [],
        "condition": {"text": "only if the organisation is the provider",
                      "all_of": [[{"question": "role", "in": ["provider"]}]]}}
    assert act.NUMBERS["art5_a_manipulation"] == "2.1" and act.NUMBERS["deployer_public"] == "7.1"


# --- any complete answer set -----------------------------------------------------------------------------------------

def _any_answer(q: act.Question) -> st.SearchStrategy[Any]:
    if q.type == "yes_no":
        return st.booleans()
    ids = [o.id for o in q.options]
    if q.type == "single":
        return st.sampled_from(ids)
    real = [i for i in ids if i != "none"]
    return st.one_of(st.just(["none"]), st.lists(st.sampled_from(real), min_size=1, unique=True))


COMPLETE = st.fixed_dictionaries({q.id: _any_answer(q) for q in act.QUESTIONS})


@settings(max_examples=400, deadline=None)
@given(COMPLETE)
def test_any_complete_answer_set_yields_a_tier(given_answers: dict[str, Any]) -> None:
    result = classify(given_answers)
    assert result.tier in act.TIERS and result.gpai in (None, "gpai", "gpai_systemic")
    assert classify(given_answers) == result  # deterministic
    asked = act.asked_questions(result.answers)
    assert all(asked[q] for q in result.answers) and set(result.answers) <= set(given_answers)
    assert all(r.question in result.answers and r.articles and r.finding for r in result.rationale)
    assert all(o.role in act.ROLES and o.title and o.why for o in result.obligations)
    if result.tier == "prohibited":
        assert all(o.ref.startswith("Article 5(1)(") for o in result.obligations) and result.gpai is None
    if result.tier == "high" and "provider" in result.roles and "Article 2(2)" not in [o.ref for o in
                                                                                        result.obligations]:
        assert "Article 9" in [o.ref for o in result.obligations]
    if result.tier == "limited":
        assert any(o.ref.startswith("Article 50(") for o in result.obligations)
