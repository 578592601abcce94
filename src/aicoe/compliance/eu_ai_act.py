"""The EU AI Act (Regulation (EU) 2024/1689) classifier: the questionnaire as data, and a deterministic walk of the
Act's logic from the answers to a risk tier, the obligations that follow and a rationale citing the articles.

Pure: no database, web or CLI imports, so the same decision is reached from the API, the UI, the CLI and tests.
The walk follows the Act: the organisation's role (Art. 3, 25), prohibited practices (Art. 5), safety components
of Annex I products (Art. 6(1)), Annex III uses with the Art. 6(3) exceptions and the profiling override
(Art. 6(2)-(3)), transparency (Art. 50), general-purpose AI models (Art. 51-55) and the deployer's fundamental
rights impact assessment (Art. 27). Citations are written as the eu-ai-act catalog writes its refs
("Article 9", "Article 50(1)", "Annex III point 5(b)").

A question is asked only when its condition holds on the answers to the questions it names; answers to questions
that are not asked are ignored, and a null answer counts as no answer. Once a prohibited practice is established,
nothing after Art. 5 is needed. The classifier supports a legal assessment; it does not replace one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

QUESTIONNAIRE_VERSION = "2024/1689-1"

# Error messages (asserted exactly in tests). Each names the question.
NOT_A_MAPPING = "answers must be a mapping of question id to answer, not {value!r}"
UNKNOWN_QUESTION = "unknown question {question!r}"
MISSING_ANSWER = "question {question!r} needs an answer"
NOT_YES_NO = "question {question!r} takes yes or no, not {value!r}"
UNKNOWN_OPTION = "question {question!r} has no option {value!r}; choose one of: {allowed}"
NOT_A_LIST = "question {question!r} takes a list of options, not {value!r}"
EMPTY_CHOICE = "question {question!r} needs at least one option (choose 'none' when none applies)"
NONE_WITH_OTHERS = "question {question!r}: 'none' cannot be combined with other options"

QuestionType = Literal["yes_no", "single", "multi"]
TIERS = ("prohibited", "high", "limited", "minimal")
ROLES = ("provider", "deployer", "importer", "distributor")


class ClassificationInputError(ValueError):
    """The answers cannot be classified; ``problems`` lists (question id, message) for every problem found."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


# --- the questionnaire as data -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    id: str
    label: str
    articles: tuple[str, ...] = ()
    point: str | None = None  # the Annex III point this option is a listed use of, e.g. "5(b)"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "articles": list(self.articles)}


ANY_LISTED = "*listed"  # in a clause on an Annex III uses question: any listed (not excluded) use was chosen


@dataclass(frozen=True)
class Clause:
    """Holds when ``question`` is asked and its answer is (or, for a multiple choice, includes) one of ``values``."""

    question: str
    values: tuple[Any, ...]

    def holds(self, answer: Any) -> bool:
        if answer is None:
            return False
        if isinstance(answer, list):
            return any(value in self.values for value in answer)
        return answer in self.values

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "in": list(self.values)}


@dataclass(frozen=True)
class Condition:
    """Every group must hold; a group holds when any of its clauses does. ``text`` says it in words."""

    text: str
    all_of: tuple[tuple[Clause, ...], ...]

    def holds(self, answer_of: Callable[[str], Any]) -> bool:
        return all(any(c.holds(answer_of(c.question)) for c in group) for group in self.all_of)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "all_of": [[c.as_dict() for c in group] for group in self.all_of]}


def _when(text: str, *groups: tuple[Clause, ...] | Clause) -> Condition:
    return Condition(text, tuple(g if isinstance(g, tuple) else (g,) for g in groups))


@dataclass(frozen=True)
class Question:
    id: str
    section: str
    text: str
    help: str
    articles: tuple[str, ...]
    type: QuestionType
    options: tuple[Option, ...] = ()
    condition: Condition | None = None

    def option(self, option_id: str) -> Option:
        return next(o for o in self.options if o.id == option_id)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "section": self.section, "text": self.text, "help": self.help,
                "articles": list(self.articles), "type": self.type, "options": [o.as_dict() for o in self.options],
                "condition": self.condition.as_dict() if self.condition else None}


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    articles: tuple[str, ...]


SECTIONS: tuple[Section, ...] = (
    Section("role", "1. The organisation's role", ("Article 3(3)", "Article 3(4)", "Article 25(1)")),
    Section("prohibited", "2. Prohibited practices", ("Article 5",)),
    Section("annex_i", "3. Safety components of regulated products", ("Article 6(1)", "Annex I")),
    Section("annex_iii", "4. High-risk uses listed in Annex III", ("Article 6(2)", "Article 6(3)", "Annex III")),
    Section("transparency", "5. Transparency", ("Article 50",)),
    Section("gpai", "6. General-purpose AI models", ("Article 51", "Article 53", "Article 55")),
    Section("deployer", "7. Deployer duties", ("Article 27",)),
)

NONE = Option("none", "None of these")
YES = (True,)


def _yes_no(qid: str, section: str, text: str, help: str, articles: tuple[str, ...],
             condition: Condition | None = None) -> Question:
    return Question(qid, section, text, help, articles, "yes_no", (), condition)


def _uses(area: str, number: str, text: str, options: tuple[Option, ...]) -> Question:
    """The uses listed under one Annex III point, asked when that area was chosen."""
    return Question(f"annex_iii_{area}", "annex_iii", text,
                    "Choose every listed use that describes the system's intended purpose.",
                    (f"Annex III point {number}",), "multi", (*options, NONE),
                    _when(f"only if area {number} was chosen", Clause("annex_iii_areas", (area,))))


def _use(option_id: str, point: str, label: str) -> Option:
    return Option(option_id, label, (f"Annex III point {point}",), point)


ANNEX_III_AREAS: tuple[tuple[str, str, str], ...] = (  # (area id, point, label)
    ("biometrics", "1", "Biometrics"),
    ("critical_infrastructure", "2", "Critical infrastructure"),
    ("education", "3", "Education and vocational training"),
    ("employment", "4", "Employment, workers' management and access to self-employment"),
    ("essential_services", "5", "Access to essential private and public services and benefits"),
    ("law_enforcement", "6", "Law enforcement"),
    ("migration", "7", "Migration, asylum and border control management"),
    ("justice_democracy", "8", "Administration of justice and democratic processes"),
)
ANNEX_III_USE_QUESTIONS = tuple(f"annex_iii_{area}" for area, _, _ in ANNEX_III_AREAS)

ROLE_ARTICLES = {"provider": "Article 3(3)", "deployer": "Article 3(4)", "importer": "Article 3(6)",
                 "distributor": "Article 3(7)"}
ROLE_LABELS = {"provider": "Provider", "deployer": "Deployer", "importer": "Importer", "distributor": "Distributor"}

QUESTIONS: tuple[Question, ...] = (
    # 1. role
    Question("role", "role", "What is the organisation's role for this AI system?",
             "Provider: develops the system (or has it developed) and places it on the market or puts it into "
             "service under its own name or trademark, including for its own use. Deployer: uses a system under its "
             "own authority in a professional activity. Importer: places on the EU market a system bearing the name "
             "of a provider established outside the EU. Distributor: makes it available on the EU market otherwise.",
             tuple(ROLE_ARTICLES.values()), "single",
             tuple(Option(r, ROLE_LABELS[r], (ROLE_ARTICLES[r],)) for r in ROLES)),
    _yes_no("provider_uses_itself", "role",
            "Does the organisation also use the system itself, under its own authority?",
            "An organisation that builds a system for its own use is both its provider and its deployer.",
            ("Article 3(4)",), _when("only if the organisation is the provider", Clause("role", ("provider",)))),
    Question("role_change", "role", "Does the organisation do any of the following with the system?",
             "A deployer, importer or distributor that does one of these to a high-risk AI system is treated as "
             "its provider.", ("Article 25(1)",), "multi",
             (Option("name_trademark", "Puts its name or trademark on it", ("Article 25(1)(a)",)),
              Option("substantial_modification", "Makes a substantial modification to it", ("Article 25(1)(b)",)),
              Option("changed_purpose", "Changes its intended purpose so that it becomes high-risk",
                     ("Article 25(1)(c)",)),
              NONE),
             _when("only if the organisation is not the provider",
                   Clause("role", ("deployer", "importer", "distributor")))),
    # 2. prohibited practices
    _yes_no("art5_a_manipulation", "prohibited",
            "Does the system use subliminal, purposefully manipulative or deceptive techniques that materially "
            "distort people's behaviour, impairing their ability to make an informed decision, in a way that "
            "causes or is reasonably likely to cause significant harm?",
            "Covers the objective or the effect of the technique.", ("Article 5(1)(a)",)),
    _yes_no("art5_b_vulnerabilities", "prohibited",
            "Does the system exploit vulnerabilities of people due to their age, disability or a specific social "
            "or economic situation, materially distorting their behaviour in a way that causes or is reasonably "
            "likely to cause significant harm?", "", ("Article 5(1)(b)",)),
    _yes_no("art5_c_social_scoring", "prohibited",
            "Does the system evaluate or classify people over time by their social behaviour or personal "
            "characteristics, with a social score that leads to detrimental treatment in unrelated contexts, or "
            "treatment that is unjustified or disproportionate to their behaviour?", "", ("Article 5(1)(c)",)),
    _yes_no("art5_d_crime_prediction", "prohibited",
            "Does the system assess or predict the risk that a person commits a criminal offence, based solely on "
            "profiling them or on assessing their personality traits and characteristics?", "",
            ("Article 5(1)(d)",)),
    _yes_no("art5_d_exception", "prohibited",
            "Is it used only to support a human assessment of a person's involvement in a criminal activity that "
            "is already based on objective and verifiable facts directly linked to that activity?", "",
            ("Article 5(1)(d)",),
            _when("only if it predicts criminal offending (previous question)",
                  Clause("art5_d_crime_prediction", YES))),
    _yes_no("art5_e_face_scraping", "prohibited",
            "Does the system create or expand facial recognition databases through untargeted scraping of facial "
            "images from the internet or CCTV footage?", "", ("Article 5(1)(e)",)),
    _yes_no("art5_f_emotion_workplace", "prohibited",
            "Does the system infer the emotions of people in the workplace or in education institutions?", "",
            ("Article 5(1)(f)",)),
    _yes_no("art5_f_exception", "prohibited",
            "Is it intended to be put in place or on the market only for medical or safety reasons?",
            "For example detecting the fatigue of a pilot or a driver.", ("Article 5(1)(f)",),
            _when("only if it infers emotions at work or in education (previous question)",
                  Clause("art5_f_emotion_workplace", YES))),
    _yes_no("art5_g_biometric_categorisation", "prohibited",
            "Does the system categorise people individually on their biometric data to deduce or infer their "
            "race, political opinions, trade union membership, religious or philosophical beliefs, sex life or "
            "sexual orientation?", "", ("Article 5(1)(g)",)),
    _yes_no("art5_g_exception", "prohibited",
            "Does it only label or filter lawfully acquired biometric datasets (such as images), or categorise "
            "biometric data in the area of law enforcement?", "", ("Article 5(1)(g)",),
            _when("only if it categorises people by sensitive attributes (previous question)",
                  Clause("art5_g_biometric_categorisation", YES))),
    _yes_no("art5_h_realtime_rbi", "prohibited",
            "Does the system perform 'real-time' remote biometric identification of people in publicly accessible "
            "spaces for the purposes of law enforcement?", "", ("Article 5(1)(h)",)),
    Question("art5_h_objective", "prohibited", "For which objective is it strictly necessary?", "",
             ("Article 5(1)(h)",), "single",
             (Option("victims", "Targeted search for specific victims of abduction, trafficking or sexual "
                                "exploitation, or for missing persons", ("Article 5(1)(h)(i)",)),
              Option("threat", "Preventing a specific, substantial and imminent threat to life or physical safety, "
                               "or a genuine threat of a terrorist attack", ("Article 5(1)(h)(ii)",)),
              Option("suspects", "Locating or identifying a suspect of a serious criminal offence listed in Annex II "
                                 "(punishable by at least four years)", ("Article 5(1)(h)(iii)",)),
              Option("other", "Another objective", ("Article 5(1)(h)",))),
             _when("only if it performs real-time remote biometric identification for law enforcement",
                   Clause("art5_h_realtime_rbi", YES))),
    _yes_no("art5_h_authorised", "prohibited",
            "Is every use authorised beforehand by a judicial or independent administrative authority (or, in duly "
            "justified urgency, within 24 hours), under national law that allows it?",
            "The authorisation also presupposes a fundamental rights impact assessment and registration.",
            ("Article 5(2)", "Article 5(3)", "Article 5(5)"),
            _when("only if one of the three permitted objectives applies",
                  Clause("art5_h_objective", ("victims", "threat", "suspects")))),
    # 3. Annex I products
    Question("annex_i_product", "annex_i",
             "Is the system a safety component of a product, or itself a product, covered by the Union "
             "harmonisation legislation listed in Annex I?",
             "Section A: for example machinery, toys, lifts, radio equipment, pressure equipment, medical devices, "
             "in vitro diagnostic medical devices. Section B: for example civil aviation, motor vehicles, "
             "agricultural vehicles, marine equipment, rail systems.",
             ("Article 6(1)(a)", "Annex I"), "single",
             (Option("section_a", "Yes, under Annex I Section A", ("Annex I Section A",)),
              Option("section_b", "Yes, under Annex I Section B", ("Annex I Section B",)),
              Option("none", "No"))),
    _yes_no("annex_i_third_party", "annex_i",
            "Must that product undergo a third-party conformity assessment under that legislation before it is "
            "placed on the market or put into service?", "", ("Article 6(1)(b)",),
            _when("only if it is (a safety component of) an Annex I product",
                  Clause("annex_i_product", ("section_a", "section_b")))),
    # 4. Annex III
    Question("annex_iii_areas", "annex_iii", "In which Annex III areas is the system intended to be used?",
             "Only the uses listed under each point make a system high-risk; the next questions ask which.",
             ("Article 6(2)", "Annex III"), "multi",
             (*(Option(area, f"{number}. {label}", (f"Annex III point {number}",))
                for area, number, label in ANNEX_III_AREAS), NONE)),
    _uses("biometrics", "1", "Which biometric uses apply?",
          (_use("remote_identification", "1(a)", "Remote biometric identification"),
           _use("sensitive_categorisation", "1(b)", "Biometric categorisation by sensitive or protected attributes"),
           _use("emotion_recognition", "1(c)", "Emotion recognition"),
           Option("verification_only", "Only biometric verification that a person is who they claim to be "
                                       "(excluded from point 1(a))", ("Annex III point 1(a)",)))),
    _uses("critical_infrastructure", "2", "Which critical infrastructure uses apply?",
          (_use("safety_component", "2", "Safety component in the management and operation of critical digital "
                                         "infrastructure, road traffic, or the supply of water, gas, heating or "
                                         "electricity"),)),
    _uses("education", "3", "Which education and vocational training uses apply?",
          (_use("admission", "3(a)", "Determining access or admission, or assigning people to institutions"),
           _use("learning_outcomes", "3(b)", "Evaluating learning outcomes, including to steer learning"),
           _use("education_level", "3(c)", "Assessing the level of education a person will receive or access"),
           _use("test_monitoring", "3(d)", "Monitoring and detecting prohibited behaviour of students in tests"))),
    _uses("employment", "4", "Which employment uses apply?",
          (_use("recruitment", "4(a)", "Recruitment or selection: targeted job ads, filtering applications, "
                                       "evaluating candidates"),
           _use("work_decisions", "4(b)", "Decisions on terms of work, promotion or termination, task allocation "
                                          "on behaviour or traits, monitoring or evaluating performance"))),
    _uses("essential_services", "5", "Which uses of essential services apply?",
          (_use("public_benefits", "5(a)", "Eligibility for essential public assistance benefits and services "
                                           "(by or for public authorities)"),
           _use("creditworthiness", "5(b)", "Evaluating the creditworthiness of natural persons or establishing "
                                            "their credit score"),
           _use("life_health_insurance", "5(c)", "Risk assessment and pricing for natural persons in life and "
                                                 "health insurance"),
           _use("emergency", "5(d)", "Evaluating and classifying emergency calls, dispatching emergency services, "
                                     "or emergency patient triage"),
           Option("fraud_detection", "Detecting financial fraud (excluded from point 5(b))",
                  ("Annex III point 5(b)",)))),
    _uses("law_enforcement", "6", "Which law enforcement uses (by or on behalf of law enforcement authorities) "
                                  "apply?",
          (_use("victim_risk", "6(a)", "Assessing the risk of a person becoming a victim of crime"),
           _use("polygraph", "6(b)", "Polygraphs or similar tools"),
           _use("evidence_reliability", "6(c)", "Evaluating the reliability of evidence"),
           _use("offending_risk", "6(d)", "Assessing the risk of offending or re-offending, or personality traits "
                                          "or past criminal behaviour"),
           _use("profiling", "6(e)", "Profiling people in the detection, investigation or prosecution of crime"))),
    _uses("migration", "7", "Which migration, asylum and border control uses (by or on behalf of competent public "
                            "authorities) apply?",
          (_use("polygraph", "7(a)", "Polygraphs or similar tools"),
           _use("risk_assessment", "7(b)", "Assessing a security, irregular-migration or health risk posed by a "
                                           "person"),
           _use("applications", "7(c)", "Examining applications for asylum, visas or residence permits"),
           _use("identification", "7(d)", "Detecting, recognising or identifying people"),
           Option("travel_documents", "Only verifying travel documents (excluded from point 7(d))",
                  ("Annex III point 7(d)",)))),
    _uses("justice_democracy", "8", "Which justice and democratic-process uses apply?",
          (_use("judicial", "8(a)", "Assisting a judicial authority (or alternative dispute resolution) in "
                                    "researching and interpreting facts and the law and applying the law"),
           _use("elections", "8(b)", "Influencing the outcome of an election or referendum, or voting behaviour"),
           Option("campaign_logistics", "Only organising or optimising political campaigns administratively, with "
                                        "no one directly exposed to its output (excluded from point 8(b))",
                  ("Annex III point 8(b)",)))),
    Question("art6_3_exception", "annex_iii",
             "Does one of these conditions apply, so that the system does not pose a significant risk of harm to "
             "health, safety or fundamental rights, including by not materially influencing decisions?",
             "Claiming a condition must be documented by the provider before the system is placed on the market "
             "or put into service.", ("Article 6(3)",), "multi",
             (Option("narrow_procedural", "It performs a narrow procedural task", ("Article 6(3)(a)",)),
              Option("improves_human_activity", "It improves the result of a previously completed human activity",
                     ("Article 6(3)(b)",)),
              Option("detects_patterns", "It detects decision-making patterns or deviations from prior patterns, "
                                         "without replacing or influencing the completed human assessment without "
                                         "proper human review", ("Article 6(3)(c)",)),
              Option("preparatory", "It performs a preparatory task to an assessment relevant for an Annex III use",
                     ("Article 6(3)(d)",)),
              NONE),
             _when("only if an Annex III use applies (section 4, an Article 5 exception, or emotion recognition "
                   "under transparency)",
                   (*(Clause(q, (ANY_LISTED,)) for q in ANNEX_III_USE_QUESTIONS),
                    Clause("art5_f_exception", YES), Clause("art5_g_exception", YES),
                    Clause("art5_h_authorised", YES), Clause("transparency", ("emotion_recognition",))))),
    _yes_no("profiling", "annex_iii",
            "Does the system perform profiling of natural persons?",
            "Profiling: automated processing of personal data to evaluate personal aspects such as work performance, "
            "economic situation, health, preferences, interests, reliability, behaviour, location or movements.",
            ("Article 6(3)",),
            _when("only if an Article 6(3) condition is claimed",
                  Clause("art6_3_exception", ("narrow_procedural", "improves_human_activity", "detects_patterns",
                                              "preparatory")))),
    # 5. transparency
    Question("transparency", "transparency", "Which of these describe the system?",
             "Interaction: unless it is obvious to a reasonably well-informed person. Synthetic content: not when it "
             "only assists standard editing or does not substantially alter the input. Text: not when it undergoes "
             "human review or editorial control with someone holding editorial responsibility.",
             ("Article 50",), "multi",
             (Option("interacts", "It interacts directly with people", ("Article 50(1)",)),
              Option("synthetic_content", "It generates synthetic audio, image, video or text content",
                     ("Article 50(2)",)),
              Option("emotion_recognition", "It recognises emotions", ("Article 50(3)",)),
              Option("biometric_categorisation", "It categorises people from biometric data", ("Article 50(3)",)),
              Option("deep_fake", "It generates or manipulates image, audio or video content that is a deep fake",
                     ("Article 50(4)",)),
              Option("public_interest_text", "It generates or manipulates text published to inform the public on "
                                             "matters of public interest", ("Article 50(4)",)),
              NONE)),
    # 6. general-purpose AI models
    _yes_no("gpai_model", "gpai",
            "Does the organisation provide a general-purpose AI model with or behind this system (develops it, or "
            "has it developed, and places it on the market under its own name)?",
            "A model trained on large data at scale that competently performs a wide range of distinct tasks and "
            "can be integrated into many downstream systems. Using another provider's model does not count.",
            ("Article 3(63)", "Article 53")),
    Question("gpai_systemic", "gpai", "Does the model have systemic risk?", "", ("Article 51",), "single",
             (Option("none", "No: below the threshold and not designated"),
              Option("compute", "Its cumulative training compute exceeds 10^25 floating-point operations",
                     ("Article 51(2)",)),
              Option("capabilities", "It has high-impact capabilities by technical evaluation",
                     ("Article 51(1)(a)",)),
              Option("designated", "The Commission has designated it", ("Article 51(1)(b)",))),
             _when("only if the organisation provides a general-purpose AI model", Clause("gpai_model", YES))),
    _yes_no("gpai_open_source", "gpai",
            "Is the model released under a free and open-source licence, with its weights, architecture and usage "
            "information made public?", "", ("Article 53(2)",),
            _when("only if the organisation provides a general-purpose AI model", Clause("gpai_model", YES))),
    # 7. deployer
    Question("deployer_public", "deployer", "Is the organisation a public body or a provider of public services?",
             "", ("Article 27(1)",), "single",
             (Option("public_body", "A public authority or another body governed by public law",
                     ("Article 27(1)", "Article 26(8)")),
              Option("public_service", "A private entity providing public services", ("Article 27(1)",)),
              Option("neither", "Neither")),
             _when("only if the organisation deploys the system and an Annex III use makes it high-risk",
                   (Clause("role", ("deployer",)), Clause("provider_uses_itself", YES)),
                   (Clause("art6_3_exception", ("none",)), Clause("profiling", YES)))),
)

BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS}
# "2.3" for the third question of section 2: how forms, the CLI and messages to people number the questions
NUMBERS: dict[str, str] = {q.id: f"{si}.{qi}" for si, s in enumerate(SECTIONS, 1)
                           for qi, q in enumerate((q for q in QUESTIONS if q.section == s.id), 1)}


def questionnaire() -> dict[str, Any]:
    """The questionnaire as plain data, sections in order with their (numbered) questions."""
    return {"version": QUESTIONNAIRE_VERSION,
            "sections": [{"id": s.id, "title": s.title, "articles": list(s.articles),
                          "questions": [{**q.as_dict(), "number": NUMBERS[q.id]} for q in QUESTIONS
                                        if q.section == s.id]} for s in SECTIONS]}


# --- results ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Obligation:
    ref: str
    title: str
    role: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "title": self.title, "role": self.role, "why": self.why}


@dataclass(frozen=True)
class Reason:
    question: str
    text: str
    answer: str
    articles: tuple[str, ...]
    finding: str

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "text": self.text, "answer": self.answer,
                "articles": list(self.articles), "finding": self.finding}


@dataclass(frozen=True)
class ClassificationResult:
    tier: str
    gpai: str | None
    role: str  # as answered
    roles: tuple[str, ...]  # every role whose duties apply (own use and Art. 25 included)
    obligations: tuple[Obligation, ...]
    rationale: tuple[Reason, ...]
    answers: dict[str, Any]  # the answers the walk used, normalised
    questionnaire_version: str = QUESTIONNAIRE_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {"questionnaire_version": self.questionnaire_version, "tier": self.tier, "gpai": self.gpai,
                "role": self.role, "roles": list(self.roles), "answers": self.answers,
                "obligations": [o.as_dict() for o in self.obligations],
                "rationale": [r.as_dict() for r in self.rationale]}


# --- validating the answers ------------------------------------------------------------------------------------------

def _normalise(question: Question, value: Any) -> Any:
    """The answer in its stored form (bool, option id, list of option ids in questionnaire order)."""
    if question.type == "yes_no":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
            return value.strip().lower() == "yes"
        raise ValueError(NOT_YES_NO.format(question=question.id, value=value))
    allowed = [o.id for o in question.options]
    if question.type == "single":
        if isinstance(value, str) and value in allowed:
            return value
        raise ValueError(UNKNOWN_OPTION.format(question=question.id, value=value, allowed=", ".join(allowed)))
    if not isinstance(value, list | tuple):
        raise ValueError(NOT_A_LIST.format(question=question.id, value=value))
    for item in value:
        if not isinstance(item, str) or item not in allowed:
            raise ValueError(UNKNOWN_OPTION.format(question=question.id, value=item, allowed=", ".join(allowed)))
    if not value:
        raise ValueError(EMPTY_CHOICE.format(question=question.id))
    if "none" in value and len(set(value)) > 1:
        raise ValueError(NONE_WITH_OTHERS.format(question=question.id))
    return [o for o in allowed if o in value]


def _listed(qid: str, answer: Any) -> list[str]:
    """The Annex III points among a uses question's answer."""
    return [p for o in answer or [] if (p := BY_ID[qid].option(o).point)]


def _answer_of(given: dict[str, Any], asked: Callable[[str], bool]) -> Callable[[str], Any]:
    def answer_of(qid: str) -> Any:
        if not asked(qid):
            return None
        answer = given.get(qid)
        if qid in ANNEX_III_USE_QUESTIONS and answer is not None:
            return [ANY_LISTED] if _listed(qid, answer) else []
        return answer
    return answer_of


def asked_questions(given: Mapping[str, Any]) -> dict[str, bool]:
    """Which questions the (normalised) answers lead to; a condition reads only answers to asked questions."""
    memo: dict[str, bool] = {}

    def asked(qid: str) -> bool:
        if qid not in memo:
            condition = BY_ID[qid].condition
            memo[qid] = condition is None or condition.holds(answer_of)
        return memo[qid]

    answer_of = _answer_of(dict(given), asked)

    return {q.id: asked(q.id) for q in QUESTIONS}


def _validated(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers to the questions asked, normalised; every problem is reported at once."""
    if not isinstance(answers, Mapping):
        raise ClassificationInputError([("answers", NOT_A_MAPPING.format(value=answers))])
    problems: list[tuple[str, str]] = []
    given: dict[str, Any] = {}
    for qid, value in answers.items():
        if value is None:  # null: not answered
            continue
        question = BY_ID.get(qid) if isinstance(qid, str) else None
        if question is None:
            problems.append((str(qid), UNKNOWN_QUESTION.format(question=qid)))
            continue
        try:
            given[qid] = _normalise(question, value)
        except ValueError as exc:
            problems.append((qid, str(exc)))
    asked = asked_questions(given)
    used = {qid: value for qid, value in given.items() if asked[qid]}
    stop = bool(_practices(used))  # once prohibited, nothing after Art. 5 is needed
    refused = {qid for qid, _ in problems}
    for q in QUESTIONS:
        if asked[q.id] and q.id not in given and q.id not in refused and (
                not stop or q.section in ("role", "prohibited")):
            problems.append((q.id, MISSING_ANSWER.format(question=q.id)))
    if problems:
        raise ClassificationInputError(problems)
    return used


# --- the walk ----------------------------------------------------------------------------------------------------

PRACTICES: dict[str, str] = {  # Art. 5(1) point -> what it prohibits, in short
    "a": "manipulative or deceptive techniques causing significant harm",
    "b": "exploiting vulnerabilities of age, disability or social or economic situation",
    "c": "social scoring leading to detrimental or disproportionate treatment",
    "d": "predicting criminal offending solely from profiling or personality traits",
    "e": "untargeted scraping of facial images for facial recognition databases",
    "f": "emotion recognition in the workplace or in education",
    "g": "biometric categorisation inferring sensitive characteristics",
    "h": "real-time remote biometric identification in public spaces for law enforcement",
}
PRACTICE_QUESTIONS = {"a": "art5_a_manipulation", "b": "art5_b_vulnerabilities", "c": "art5_c_social_scoring",
                      "d": "art5_d_crime_prediction", "e": "art5_e_face_scraping", "f": "art5_f_emotion_workplace",
                      "g": "art5_g_biometric_categorisation", "h": "art5_h_realtime_rbi"}
EXCEPTIONS = {"d": "art5_d_exception", "f": "art5_f_exception", "g": "art5_g_exception", "h": "art5_h_authorised"}


def _practices(answers: Mapping[str, Any]) -> list[str]:
    """The Art. 5(1) points established by the answers: a yes whose exception is answered and does not apply."""
    found = []
    for point, qid in PRACTICE_QUESTIONS.items():
        if answers.get(qid) is not True:
            continue
        if point == "h" and answers.get("art5_h_objective") == "other":
            found.append(point)
        elif point not in EXCEPTIONS or answers.get(EXCEPTIONS[point]) is False:
            found.append(point)
    return found


TITLES: dict[str, str] = {
    "Article 2(2)": "AI systems in products under Annex I Section B",
    "Article 4": "AI literacy",
    "Article 6(4)": "Documented assessment of an Annex III system found not high-risk",
    "Article 8": "Compliance with the requirements",
    "Article 9": "Risk management system",
    "Article 10": "Data and data governance",
    "Article 11": "Technical documentation",
    "Article 12": "Record-keeping",
    "Article 13": "Transparency and provision of information to deployers",
    "Article 14": "Human oversight",
    "Article 15": "Accuracy, robustness and cybersecurity",
    "Article 16": "Obligations of providers of high-risk AI systems",
    "Article 17": "Quality management system",
    "Article 18": "Documentation keeping",
    "Article 19": "Automatically generated logs",
    "Article 20": "Corrective actions and duty of information",
    "Article 21": "Cooperation with competent authorities",
    "Article 23": "Obligations of importers",
    "Article 24": "Obligations of distributors",
    "Article 26": "Obligations of deployers of high-risk AI systems",
    "Article 27": "Fundamental rights impact assessment",
    "Article 43": "Conformity assessment",
    "Article 47": "EU declaration of conformity",
    "Article 48": "CE marking",
    "Article 49(1)": "Registration in the EU database",
    "Article 49(2)": "Registration of an Annex III system assessed as not high-risk",
    "Article 49(3)": "Registration of use by a public authority deployer",
    "Article 49(5)": "Registration at national level (critical infrastructure)",
    "Article 50(1)": "Informing people that they interact with an AI system",
    "Article 50(2)": "Marking synthetic content as artificially generated",
    "Article 50(3)": "Informing people exposed to emotion recognition or biometric categorisation",
    "Article 50(4)": "Disclosing deep fakes and AI-generated public-interest text",
    "Article 52(1)": "Notifying the Commission of a model with systemic risk",
    "Article 53(1)(a)": "Technical documentation of the model",
    "Article 53(1)(b)": "Information and documentation for downstream providers",
    "Article 53(1)(c)": "Policy to comply with Union copyright law",
    "Article 53(1)(d)": "Public summary of the training content",
    "Article 55(1)": "Obligations for general-purpose AI models with systemic risk",
    "Article 72": "Post-market monitoring",
    "Article 73": "Reporting of serious incidents",
    "Article 86": "Right to explanation of individual decision-making",
    "Article 95": "Codes of conduct for voluntary application",
}

PROVIDER_HIGH: tuple[tuple[str, str], ...] = (
    ("Article 8", "Meet the requirements of Articles 9 to 15, taking the intended purpose and the state of the art "
                  "into account."),
    ("Article 9", "Run a documented risk management system over the whole lifecycle: identify, estimate and "
                  "mitigate risks, and test the system against them."),
    ("Article 10", "Train, validate and test on data governed for relevance, representativeness, errors and "
                   "bias."),
    ("Article 11", "Draw up the technical documentation (Annex IV) before placing it on the market and keep it "
                   "up to date."),
    ("Article 12", "Design the system to log events automatically over its lifetime."),
    ("Article 13", "Give deployers instructions for use that let them understand the output and use it "
                   "appropriately."),
    ("Article 14", "Design it so that people can oversee it effectively, including stopping it."),
    ("Article 15", "Achieve and declare appropriate accuracy, robustness and cybersecurity."),
    ("Article 16", "Carry the provider's duties: name and contact on the system, accessibility, and the "
                   "obligations below."),
    ("Article 17", "Put a documented quality management system in place."),
    ("Article 18", "Keep the documentation for ten years after the system is placed on the market."),
    ("Article 19", "Keep the automatically generated logs under your control for at least six months."),
    ("Article 20", "Take corrective action on non-conformity (withdraw, disable or recall) and inform those "
                   "concerned."),
    ("Article 21", "Give competent authorities the information and logs they request."),
)
PROVIDER_HIGH_AFTER: tuple[tuple[str, str], ...] = (
    ("Article 47", "Draw up and sign an EU declaration of conformity and keep it for ten years."),
    ("Article 48", "Affix the CE marking visibly, legibly and indelibly."),
)
PROVIDER_POST_MARKET: tuple[tuple[str, str], ...] = (
    ("Article 72", "Run a post-market monitoring system and plan, collecting and analysing data on performance."),
    ("Article 73", "Report serious incidents to the market surveillance authority within the set deadlines."),
)
TRANSPARENCY_DUTIES: dict[str, tuple[str, str]] = {  # paragraph -> (who bears it, what to do)
    "50(1)": ("provider", "design the system so that people are told they are interacting with an AI system"),
    "50(2)": ("provider", "mark the synthetic output in a machine-readable format as artificially generated"),
    "50(3)": ("deployer", "inform the people exposed to the system of its operation"),
    "50(4)": ("deployer", "disclose that the content has been artificially generated or manipulated"),
}


def _article_key(ref: str) -> tuple[Any, ...]:
    """Natural order of refs: Article 4 < Article 6(4) < Article 50(1) < Article 53(1)(a) < Annex I < Annex III."""
    tokens = tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.findall(r"\d+|[a-z]+", ref.lower()))
    return (0 if ref.startswith("Article") else 1, tokens)


@dataclass
class _Walk:
    a: dict[str, Any]
    reasons: list[Reason] = field(default_factory=list)
    duties: list[Obligation] = field(default_factory=list)

    def cite(self, qid: str, articles: tuple[str, ...] | list[str], finding: str) -> None:
        q = BY_ID[qid]
        value = self.a[qid]
        articles = list(dict.fromkeys(articles))
        if q.type == "yes_no":
            answer = "Yes" if value else "No"
        elif q.type == "single":
            answer = q.option(value).label
        else:
            answer = "; ".join(q.option(v).label for v in value)
        self.reasons.append(Reason(qid, q.text, answer, tuple(articles), finding))

    def owe(self, ref: str, role: str, why: str) -> None:
        if all((d.ref, d.role) != (ref, role) for d in self.duties):
            self.duties.append(Obligation(ref, TITLES.get(ref, ref), role, why))

    # -- 1. role
    def role(self) -> tuple[str, set[str], list[str]]:
        role = self.a["role"]
        findings = {
            "provider": "The organisation is the provider: it develops the system, or has it developed, and places "
                        "it on the market or puts it into service under its own name.",
            "deployer": "The organisation is a deployer: it uses the system under its own authority.",
            "importer": "The organisation is an importer: it places on the EU market a system of a provider "
                        "established outside the EU.",
            "distributor": "The organisation is a distributor: it makes the system available on the EU market.",
        }
        self.cite("role", [ROLE_ARTICLES[role]], findings[role])
        roles = {role}
        if role == "provider":
            if self.a["provider_uses_itself"]:
                roles.add("deployer")
                self.cite("provider_uses_itself", ["Article 3(4)"],
                          "It also uses the system itself, so it is its deployer too: the deployer's duties apply.")
            else:
                self.cite("provider_uses_itself", ["Article 3(4)"],
                          "It does not use the system itself: the provider's duties apply, not the deployer's.")
            return role, roles, []
        return role, roles, [c for c in self.a["role_change"] if c != "none"]

    def role_change(self, changes: list[str], high: bool | None) -> None:
        """``high`` None: the system is a prohibited practice, which no role makes acceptable."""
        q = BY_ID["role_change"]
        if not changes:
            self.cite("role_change", ["Article 25(1)"], "It does not rebrand, substantially modify or repurpose "
                                                        "the system: its role stays as answered.")
            return
        articles = [a for c in changes for a in q.option(c).articles]
        if high is None:
            finding = "Whatever the role, a prohibited practice may not be placed on the market or used."
        elif high:
            finding = ("The system is high-risk, so the organisation is treated as its provider and takes on the "
                       "provider's obligations (Art. 25(1), Art. 16).")
        else:
            finding = ("Article 25(1) concerns high-risk systems; this one is not high-risk, so its role stays as "
                       "answered.")
        self.cite("role_change", articles, finding)

    # -- 2. prohibited practices
    def prohibited(self) -> list[str]:
        found = _practices(self.a)
        for point, qid in PRACTICE_QUESTIONS.items():
            article = f"Article 5(1)({point})"
            if not self.a[qid]:
                self.cite(qid, [article], f"Not a prohibited practice under Art. 5(1)({point}).")
                continue
            if point in found:
                self.cite(qid, [article], f"Prohibited practice: {PRACTICES[point]} (Art. 5(1)({point})).")
            else:
                self.cite(qid, [article], f"This describes Art. 5(1)({point}); see the exception below.")
            if point == "h":
                self._realtime_rbi(point in found)
            elif point in EXCEPTIONS:
                self._exception(point, point in found)
        return found

    def _exception(self, point: str, prohibited: bool) -> None:
        outcomes = {
            "d": "it supports a human assessment based on objective and verifiable facts, so it is not prohibited "
                 "(Annex III point 6(d) applies if it is used by or for law enforcement authorities)",
            "f": "it is for medical or safety reasons, so it is not prohibited; emotion recognition is a high-risk "
                 "use under Annex III point 1(c)",
            "g": "it only labels or filters lawfully acquired biometric datasets or serves law enforcement, so it "
                 "is not prohibited; biometric categorisation by sensitive attributes is a high-risk use under "
                 "Annex III point 1(b)",
        }
        if prohibited:
            finding = f"The exception does not apply: the practice is prohibited (Art. 5(1)({point}))."
        else:
            finding = f"Exception: {outcomes[point]}."
        self.cite(EXCEPTIONS[point], [f"Article 5(1)({point})"], finding)

    def _realtime_rbi(self, prohibited: bool) -> None:
        objective = self.a["art5_h_objective"]
        q = BY_ID["art5_h_objective"]
        if objective == "other":
            self.cite("art5_h_objective", q.option(objective).articles,
                      "None of the three permitted objectives: the use is prohibited (Art. 5(1)(h)).")
            return
        self.cite("art5_h_objective", q.option(objective).articles,
                  "A permitted objective, if each use is authorised (next question).")
        if prohibited:
            self.cite("art5_h_authorised", ["Article 5(2)", "Article 5(3)", "Article 5(5)"],
                      "Without prior authorisation under national law, the use is prohibited (Art. 5(1)(h)).")
        else:
            self.cite("art5_h_authorised", ["Article 5(2)", "Article 5(3)", "Article 5(5)"],
                      "Authorised use for a permitted objective: not prohibited; remote biometric identification is "
                      "a high-risk use under Annex III point 1(a).")

    def cease(self, found: list[str], roles: set[str]) -> None:
        actions = [text for role, text in (("provider", "withdraw it from the market and from service"),
                                           ("importer", "do not place it on the market"),
                                           ("distributor", "do not make it available"),
                                           ("deployer", "stop using it")) if role in roles]
        for point in found:
            self.owe(f"Article 5(1)({point})", sorted(roles, key=ROLES.index)[0],
                     f"Prohibited: {PRACTICES[point]}. Cease: {' and '.join(actions)}.")

    # -- 3. Annex I
    def annex_i(self) -> str | None:
        product = self.a["annex_i_product"]
        if product == "none":
            self.cite("annex_i_product", ["Article 6(1)(a)"],
                      "Not a safety component of, nor itself, an Annex I product: Art. 6(1) does not apply.")
            return None
        section = "Annex I Section A" if product == "section_a" else "Annex I Section B"
        self.cite("annex_i_product", ["Article 6(1)(a)", section],
                  f"It is (a safety component of) a product under {section} legislation (Art. 6(1)(a)).")
        if not self.a["annex_i_third_party"]:
            self.cite("annex_i_third_party", ["Article 6(1)(b)"],
                      "No third-party conformity assessment is required: Art. 6(1) does not make it high-risk.")
            return None
        if product == "section_b":
            self.cite("annex_i_third_party", ["Article 6(1)(b)", "Article 2(2)"],
                      "It needs a third-party conformity assessment, so it is high-risk (Art. 6(1)); for Section B "
                      "products the Act's requirements apply through that sectoral legislation (Art. 2(2)).")
        else:
            self.cite("annex_i_third_party", ["Article 6(1)(b)"],
                      "It needs a third-party conformity assessment, so it is high-risk (Art. 6(1)).")
        return product

    # -- 4. Annex III
    def annex_iii(self) -> tuple[list[str], bool]:
        """The Annex III points that apply, and whether they make the system high-risk."""
        areas = [a for a in self.a["annex_iii_areas"] if a != "none"]
        if not areas:
            self.cite("annex_iii_areas", ["Article 6(2)", "Annex III"],
                      "No Annex III area: Art. 6(2) does not make it high-risk.")
        else:
            self.cite("annex_iii_areas", ["Article 6(2)", *(f"Annex III point {n}" for a, n, _ in ANNEX_III_AREAS
                                                           if a in areas)],
                      "The uses listed under the chosen points decide (next questions).")
        points: list[str] = []
        for area, number, _ in ANNEX_III_AREAS:
            if area in areas:
                points += self._uses(f"annex_iii_{area}", number)
        points += self._implied()
        points = sorted(set(points), key=_article_key)
        if not points:
            return [], False
        exception = [c for c in self.a["art6_3_exception"] if c != "none"]
        q = BY_ID["art6_3_exception"]
        if not exception:
            self.cite("art6_3_exception", ["Article 6(3)"],
                      "No Art. 6(3) condition applies: the listed use makes the system high-risk (Art. 6(2)).")
            return points, True
        self.cite("art6_3_exception", [a for c in exception for a in q.option(c).articles],
                  "A condition is claimed; it exempts the system only if it does not profile people (next question).")
        if self.a["profiling"]:
            self.cite("profiling", ["Article 6(3)"],
                      "It profiles natural persons, so it is always high-risk (Art. 6(3), last subparagraph): the "
                      "exception cannot be used.")
            return points, True
        self.cite("profiling", ["Article 6(3)", "Article 6(4)", "Article 49(2)"],
                  "No profiling: the exception applies and the system is not high-risk under Art. 6(2). The provider "
                  "documents this assessment (Art. 6(4)) and registers the system (Art. 49(2)).")
        return points, False

    def _uses(self, qid: str, number: str) -> list[str]:
        answer = self.a[qid]
        q = BY_ID[qid]
        points = _listed(qid, answer)
        excluded = [q.option(o) for o in answer if o != "none" and not q.option(o).point]
        articles = [a for o in answer for a in q.option(o).articles]
        if points:
            finding = "Listed high-risk use: " + ", ".join(f"Annex III point {p}" for p in points) + "."
        elif excluded:
            finding = f"{excluded[0].label}: not a high-risk use under point {number}."
        else:
            finding = f"None of the uses listed under point {number}: not high-risk under this point."
        self.cite(qid, articles or [f"Annex III point {number}"], finding)
        return points

    def _implied(self) -> list[str]:
        """Annex III uses that follow from other answers (an Art. 5 exception, emotion recognition)."""
        implied = []
        for qid, point, what in (("art5_f_exception", "1(c)", "Emotion recognition for medical or safety reasons"),
                                 ("art5_g_exception", "1(b)", "Biometric categorisation by sensitive attributes"),
                                 ("art5_h_authorised", "1(a)", "Authorised real-time remote biometric "
                                                               "identification")):
            if self.a.get(qid):
                implied.append(point)
                self.cite(qid, [f"Annex III point {point}"], f"{what} is a listed high-risk use (Annex III point "
                                                             f"{point}).")
        if "emotion_recognition" in self.a["transparency"]:
            implied.append("1(c)")
            self.cite("transparency", ["Annex III point 1(c)"],
                      "Emotion recognition is a listed high-risk use (Annex III point 1(c)).")
        return implied

    # -- 5. transparency
    def transparency(self, points: list[str], sectoral_only: bool) -> list[str]:
        chosen = [c for c in self.a["transparency"] if c != "none"]
        q = BY_ID["transparency"]
        paragraphs = {a.removeprefix("Article ") for c in chosen for a in q.option(c).articles}
        derived = {"1(b)", "1(c)"} & set(points)
        if derived:
            paragraphs.add("50(3)")
        ordered = sorted(paragraphs, key=_article_key)
        articles = [f"Article {p}" for p in ordered]
        if sectoral_only:
            self.cite("transparency", articles or ["Article 50"],
                      "For an Annex I Section B product only Art. 6(1), Articles 102 to 109 and 112 apply "
                      "(Art. 2(2)): no Art. 50 duty arises from this Act directly.")
            return []
        if not ordered:
            self.cite("transparency", ["Article 50"], "No Art. 50 transparency duty applies.")
            return []
        finding = "Transparency duties apply (" + ", ".join(f"Art. {p}" for p in ordered) + ")"
        if derived and "50(3)" not in {a.removeprefix("Article ") for c in chosen for a in q.option(c).articles}:
            finding += "; Art. 50(3) follows from the biometric use under Annex III point 1"
        self.cite("transparency", articles, finding + ".")
        return ordered

    def transparency_duties(self, paragraphs: list[str], roles: set[str], primary: str) -> None:
        for paragraph in paragraphs:
            bearer, duty = TRANSPARENCY_DUTIES[paragraph]
            if bearer in roles:
                self.owe(f"Article {paragraph}", bearer, duty[0].upper() + duty[1:] + ".")
            else:
                self.owe(f"Article {paragraph}", bearer,
                         f"A duty of the system's {bearer}: {duty}. As {primary}, make sure it is met.")

    # -- 6. GPAI
    def gpai(self) -> str | None:
        if not self.a["gpai_model"]:
            self.cite("gpai_model", ["Article 3(63)"],
                      "The organisation does not provide a general-purpose AI model with this system.")
            return None
        self.cite("gpai_model", ["Article 3(63)", "Article 53"],
                  "The organisation provides a general-purpose AI model: the Art. 53 obligations apply.")
        systemic = self.a["gpai_systemic"]
        open_source = self.a["gpai_open_source"]
        q = BY_ID["gpai_systemic"]
        if systemic == "none":
            self.cite("gpai_systemic", ["Article 51"], "No systemic risk: Art. 55 does not apply.")
        else:
            self.cite("gpai_systemic", q.option(systemic).articles,
                      "A model with systemic risk: Art. 55 applies on top of Art. 53.")
        if open_source and systemic == "none":
            self.cite("gpai_open_source", ["Article 53(2)"],
                      "Free and open-source without systemic risk: exempt from Art. 53(1)(a) and (b).")
        elif open_source:
            self.cite("gpai_open_source", ["Article 53(2)"],
                      "The open-source exemption does not apply to a model with systemic risk (Art. 53(2)).")
        else:
            self.cite("gpai_open_source", ["Article 53(2)"], "Not open source: all of Art. 53(1) applies.")
        gpai_duties = {
            "Article 53(1)(a)": "Draw up and keep up to date the model's technical documentation (Annex XI), for "
                                "the AI Office and authorities on request.",
            "Article 53(1)(b)": "Give providers who integrate the model the information and documentation they "
                                "need (Annex XII).",
            "Article 53(1)(c)": "Put in place a policy to comply with Union copyright law, including text-and-data "
                                "mining opt-outs.",
            "Article 53(1)(d)": "Publish a sufficiently detailed summary of the content used for training.",
        }
        for ref, why in gpai_duties.items():
            if open_source and systemic == "none" and ref in ("Article 53(1)(a)", "Article 53(1)(b)"):
                continue
            self.owe(ref, "provider", why)
        if systemic != "none":
            if systemic in ("compute", "capabilities"):
                self.owe("Article 52(1)", "provider", "Notify the Commission within two weeks of the model meeting "
                                                      "the systemic-risk condition (or knowing it will).")
            self.owe("Article 55(1)", "provider", "Evaluate the model with adversarial testing, assess and mitigate "
                                                  "systemic risks, report serious incidents and ensure "
                                                  "cybersecurity.")
            return "gpai_systemic"
        return "gpai"

    # -- 7. deployer
    def deployer(self, roles: set[str], points: list[str], high_iii: bool) -> list[str]:
        """The reasons a fundamental rights impact assessment is required (none: not required)."""
        reasons: list[str] = []
        if "deployer" not in roles:
            return reasons
        if self.a.get("art5_h_authorised"):
            reasons.append("each authorised use of real-time remote biometric identification (Art. 5(2))")
            self.cite("art5_h_authorised", ["Article 5(2)", "Article 27"],
                      "Each use of real-time remote biometric identification needs a prior fundamental rights "
                      "impact assessment (Art. 5(2), Art. 27).")
        if not high_iii:
            return reasons
        public = self.a["deployer_public"]
        credit = [p for p in points if p in ("5(b)", "5(c)")]
        beyond_point_2 = [p for p in points if p != "2"]
        articles = ["Article 27(1)"]
        if credit:
            reasons.append("the use listed in Annex III point " + " and ".join(credit))
        if public != "neither" and beyond_point_2:
            who = "a body governed by public law" if public == "public_body" else "a private provider of public " \
                                                                                 "services"
            reasons.append(f"the deployer is {who}")
        if public == "public_body" and beyond_point_2:
            articles += ["Article 26(8)", "Article 49(3)"]
        if reasons:
            finding = "A fundamental rights impact assessment is required before first use: " + "; ".join(reasons)
        elif public != "neither":
            finding = ("No fundamental rights impact assessment is required: Art. 27(1) leaves out critical "
                       "infrastructure (Annex III point 2)")
        else:
            finding = ("No fundamental rights impact assessment is required: the deployer is neither public nor "
                       "using the system for Annex III point 5(b) or 5(c)")
        if public == "public_body" and beyond_point_2:
            finding += "; as a public authority it also registers its use in the EU database (Art. 26(8), Art. 49(3))"
        self.cite("deployer_public", articles, finding + ".")
        return reasons


def classify(answers: Mapping[str, Any]) -> ClassificationResult:
    """Walk the Act's logic over the answers (see the module docstring); raise ClassificationInputError, naming the
    question, for a missing required answer, an unknown question or an invalid option."""
    walk = _Walk(_validated(answers))
    role, roles, changes = walk.role()
    change_at = len(walk.reasons)
    found = walk.prohibited()
    if found:
        if role != "provider":
            walk.role_change(changes, high=None)
            walk.reasons.insert(change_at, walk.reasons.pop())
        walk.cease(found, roles)
        return _result(walk, "prohibited", None, role, roles)
    annex_i = walk.annex_i()
    points, high_iii = walk.annex_iii()
    high = annex_i is not None or high_iii
    if role != "provider":
        walk.role_change(changes, high)
        walk.reasons.insert(change_at, walk.reasons.pop())
        if high and changes:
            roles.add("provider")
            if role != "deployer":
                roles.discard(role)
    sectoral_only = annex_i == "section_b" and not high_iii
    paragraphs = walk.transparency(points, sectoral_only)
    gpai = walk.gpai()
    fria = walk.deployer(roles, points, high_iii)
    tier = "high" if high else "limited" if paragraphs else "minimal"
    primary = role if role in roles else "provider"
    exception_used = bool(points) and not high
    _obligations(walk, tier, roles, primary, points, annex_i, high_iii, sectoral_only, paragraphs, fria,
                 exception_used)
    return _result(walk, tier, gpai, role, roles)


def _obligations(walk: _Walk, tier: str, roles: set[str], primary: str, points: list[str], annex_i: str | None,
                 high_iii: bool, sectoral_only: bool, paragraphs: list[str], fria: list[str],
                 exception_used: bool) -> None:
    if fria:
        walk.owe("Article 27", "deployer", "Assess the impact on fundamental rights before first use and notify the "
                                           "market surveillance authority of the results. Required because of "
                                           + "; ".join(fria) + ".")
    if sectoral_only:
        walk.owe("Article 2(2)", primary, "Only Art. 6(1), Articles 102 to 109 and 112 of the Act apply: its "
                                          "high-risk requirements reach the product through the acts adopted under "
                                          "its sectoral legislation. Follow that procedure.")
        return
    if tier == "high" and "provider" in roles:
        for ref, why in PROVIDER_HIGH:
            walk.owe(ref, "provider", why)
        if annex_i and not high_iii:
            route = "Follow the conformity assessment of the product's own legislation, covering these " \
                    "requirements (Art. 43(3))."
        elif "1(a)" in points or "1(b)" in points or "1(c)" in points:
            route = "Biometric systems: internal control (Annex VI) when harmonised standards are applied in full, " \
                    "otherwise with a notified body (Annex VII) (Art. 43(1))."
        else:
            route = "Internal control (Annex VI) before placing it on the market or putting it into service " \
                    "(Art. 43(2))."
        walk.owe("Article 43", "provider", route)
        for ref, why in PROVIDER_HIGH_AFTER:
            walk.owe(ref, "provider", why)
        if high_iii and any(p != "2" for p in points):
            walk.owe("Article 49(1)", "provider", "Register yourself and the system in the EU database before "
                                                  "placing it on the market or putting it into service.")
        elif high_iii:
            walk.owe("Article 49(5)", "provider", "Register the system at national level.")
        for ref, why in PROVIDER_POST_MARKET:
            walk.owe(ref, "provider", why)
    if tier == "high" and "deployer" in roles:
        walk.owe("Article 26", "deployer", "Use it according to the instructions, assign competent human oversight, "
                                           "keep input data relevant, monitor it, keep its logs at least six months, "
                                           "and inform workers and the people affected.")
        if high_iii and any(p != "2" for p in points):
            walk.owe("Article 86", "deployer", "Explain, on request, decisions based on its output that have legal "
                                               "or similarly significant effects on a person.")
        walk.owe("Article 73", "deployer", "On a serious incident, inform the provider first, then the importer or "
                                           "distributor and the market surveillance authority (Art. 26(5)).")
    if tier == "high" and "importer" in roles:
        walk.owe("Article 23", "importer", "Before placing it on the market, verify the conformity assessment, "
                                           "technical documentation, CE marking, EU declaration and authorised "
                                           "representative; add your name and contact; keep the documents ten "
                                           "years.")
    if tier == "high" and "distributor" in roles:
        walk.owe("Article 24", "distributor", "Before making it available, verify the CE marking, the EU declaration "
                                              "and instructions, and that the provider and importer met their "
                                              "duties; do not supply a non-conforming system.")
    public = walk.a.get("deployer_public") == "public_body"
    if tier == "high" and public and "deployer" in roles and any(p != "2" for p in points):
        walk.owe("Article 49(3)", "deployer", "As a public authority, register your use of the system in the EU "
                                              "database before using it (Art. 26(8)).")
    if exception_used:
        if "provider" in roles:
            walk.owe("Article 6(4)", "provider", "Document the Art. 6(3) assessment before placing the system on the "
                                                 "market or putting it into service; show it to authorities on "
                                                 "request.")
            walk.owe("Article 49(2)", "provider", "Register yourself and the system in the EU database before placing "
                                                  "it on the market or putting it into service.")
        else:
            walk.owe("Article 6(4)", "provider", f"A duty of the system's provider: document the Art. 6(3) "
                                                 f"assessment and register the system (Art. 49(2)). As {primary}, "
                                                 f"ask for that documentation.")
    walk.transparency_duties(paragraphs, roles, primary)
    if tier == "minimal" and primary in ("provider", "deployer"):
        walk.owe("Article 95", primary, "Voluntary: consider applying codes of conduct for some or all of the "
                                        "high-risk requirements.")
    if primary in ("provider", "deployer"):
        walk.owe("Article 4", primary, "Ensure a sufficient level of AI literacy of the staff who operate or use the "
                                       "system.")


def _result(walk: _Walk, tier: str, gpai: str | None, role: str, roles: set[str]) -> ClassificationResult:
    obligations = sorted(walk.duties, key=lambda o: (_article_key(o.ref), ROLES.index(o.role)))
    return ClassificationResult(tier=tier, gpai=gpai, role=role, roles=tuple(r for r in ROLES if r in roles),
                                obligations=tuple(obligations), rationale=tuple(walk.reasons), answers=walk.a)


def cited_articles(result: ClassificationResult) -> list[str]:
    """Every article the rationale cites, once, in the Act's order."""
    return sorted({a for r in result.rationale for a in r.articles}, key=_article_key)
