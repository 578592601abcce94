"""Seed Meridian Trust's control library and evidence through the services (idempotent: skips what exists).

Thirteen controls, each mapped to NIST AI RMF, ISO/IEC 42001 and EU AI Act requirements (and OWASP or GDPR where
they fit; a mapping whose requirement is not loaded is skipped). Several are implemented on shared assets, so
inheritance shows: prompt-injection red teaming on the open-weights base model reaches every fine-tune built on
it, vendor due diligence reaches every system using Nimbus AI, data minimisation on a dataset reaches the systems
whose models train on it; Enterprise Search implements red teaming itself, which wins over the inherited one.
Evidence: generated Markdown, CSV and text reports, links, a record reference, one version history, one piece
expiring within 30 days, one expired, some accepted and some awaiting review.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.compliance import controls, evidence
from aicoe.compliance.schemas_controls import ControlCreate, ImplementationCreate
from aicoe.config import Settings
from aicoe.demo.org import DOMAIN
from aicoe.models.compliance import Classification, Control, ControlImplementation, Evidence
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.models.org import BusinessUnit, User

if TYPE_CHECKING:
    from aicoe.demo import DemoResult


@dataclass
class DemoControl:
    code: str
    name: str
    category: str
    owner: str
    description: str
    maps: dict[str, list[str]]  # framework id -> refs
    # (subject type, subject name or (model name, version), status, notes)
    on: list[tuple[str, Any, str, str]] = field(default_factory=list)


CONTROLS: list[DemoControl] = [
    DemoControl("CTL-BIAS-01", "Bias testing before release", "testing", "lena.fischer",
                "Before each release, outcomes are compared across age bands, gender and postcode groups; a disparate "
                "impact ratio below 0.8 blocks the release until mitigated and re-tested.",
                {"nist-ai-rmf": ["MEASURE 2.11"], "iso-iec-42001": ["A.5.4", "A.6.2.4"],
                 "eu-ai-act": ["Article 10(2)", "Article 9(8)"]},
                [("model", ("loan-decision-xgb", "7.0"), "implemented", "Run by the release pipeline; report filed "
                                                                         "with model risk."),
                 ("model", ("card-fraud-gbm", "4.2"), "implemented", "Age-band false positive rates compared."),
                 ("model", ("claims-triage-gbm", "3.1"), "planned", "Fairness suite being added for 3.2.")]),
    DemoControl("CTL-VAL-01", "Independent model validation sign-off", "testing", "fatima.zahra",
                "Model risk management validates conceptual soundness, performance and limitations independently of "
                "the developers and signs off before production use.",
                {"nist-ai-rmf": ["MEASURE 1.3", "MEASURE 2.5"], "iso-iec-42001": ["A.6.2.4"],
                 "eu-ai-act": ["Article 9(8)", "Article 15(1)"]},
                [("model", ("loan-decision-xgb", "7.0"), "implemented", "Validated by MRM, tier 1 model."),
                 ("model", ("card-fraud-gbm", "4.2"), "implemented", "Annual revalidation."),
                 ("model", ("aml-alert-ranker", "1.1"), "planned", "Validation scheduled before go-live.")]),
    DemoControl("CTL-DM-01", "Data minimisation review", "data", "peter.hughes",
                "The data protection officer reviews every feature and field a dataset feeds to a model and removes "
                "what the purpose does not need.",
                {"nist-ai-rmf": ["MEASURE 2.10"], "iso-iec-42001": ["A.7.4"], "eu-ai-act": ["Article 10(3)"],
                 "gdpr": ["Article 5(1)(c)", "Article 25(2)"]},
                [("dataset", "Loan applications and outcomes", "implemented", "Reviewed with credit policy."),
                 ("dataset", "Call transcripts (redacted)", "implemented", "Transcripts redacted before storage."),
                 ("dataset", "Motor claims history", "not_effective", "Free-text notes still carry health data.")]),
    DemoControl("CTL-SEC-01", "Prompt-injection red teaming", "security", "nina.petrova",
                "Direct and indirect prompt-injection, jailbreak and system-prompt extraction attempts are run "
                "against the model before release and after every change of guardrails.",
                {"nist-ai-rmf": ["MEASURE 2.7"], "iso-iec-42001": ["A.6.2.4"], "eu-ai-act": ["Article 15(5)"],
                 "owasp-llm-top-10": ["LLM01:2025", "LLM07:2025"]},
                [("model", ("ow-llm-70b-instruct", "3.1"), "implemented", "Red-team suite v4 on the base model; "
                                                                          "fine-tunes inherit it."),
                 ("ai_system", "Enterprise Search (RAG)", "implemented", "Adds indirect injection through indexed "
                                                                         "documents."),
                 ("ai_system", "Cards Chat", "planned", "Scheduled before the pilot.")]),
    DemoControl("CTL-HITL-01", "Human review of adverse decisions", "oversight", "sofia.marquez",
                "Every decision that is adverse to a customer (decline, block, claim rejection) is reviewed by a "
                "trained person who can overturn it before it takes effect.",
                {"nist-ai-rmf": ["MAP 3.5", "GOVERN 3.2"], "iso-iec-42001": ["A.9.2"],
                 "eu-ai-act": ["Article 14(4)", "Article 26(2)"], "gdpr": ["Article 22(3)"]},
                [("ai_system", "Credit Decision Engine", "implemented", "Underwriters review every decline."),
                 ("ai_system", "Fraud Sentinel", "implemented", "Analysts review blocks above the review band."),
                 ("ai_system", "Claims Triage", "implemented", "Handlers confirm every rejection.")]),
    DemoControl("CTL-VEN-01", "Vendor due diligence", "third_party", "victor.ng",
                "Before onboarding and yearly after, AI vendors are assessed on security attestations, data use "
                "terms, model change notice and exit arrangements.",
                {"nist-ai-rmf": ["GOVERN 6.1", "MANAGE 3.1"], "iso-iec-42001": ["A.10.3"],
                 "eu-ai-act": ["Article 25(4)"], "owasp-llm-top-10": ["LLM03:2025"]},
                [("vendor", "Nimbus AI", "implemented", "SOC 2 Type II and DPA on file."),
                 ("vendor", "DocuLens", "implemented", "ISO 27001 certificate on file."),
                 ("vendor", "CreditSphere Data", "implemented", "Data licence and lawful basis reviewed."),
                 ("vendor", "CodeMate", "planned", "Questionnaire sent.")]),
    DemoControl("CTL-DOC-01", "Model card and technical documentation", "transparency", "lena.fischer",
                "Each model has a model card (intended use, limits, evaluation, known biases) and the technical "
                "documentation the EU AI Act expects, kept current with each version.",
                {"nist-ai-rmf": ["MAP 2.2"], "iso-iec-42001": ["A.6.2.7", "A.8.2"],
                 "eu-ai-act": ["Article 11(1)", "Article 13(2)"]},
                [("model", ("loan-decision-xgb", "7.0"), "implemented", ""),
                 ("model", ("card-fraud-gbm", "4.2"), "implemented", ""),
                 ("model", ("meridian-assistant-ft", "1.0"), "implemented", "")]),
    DemoControl("CTL-MON-01", "Production performance and drift monitoring", "operations", "carlos.silva",
                "Performance, data drift and outcome rates are monitored monthly against thresholds; breaches open "
                "an incident and a review of the model.",
                {"nist-ai-rmf": ["MEASURE 2.4", "MANAGE 4.1"], "iso-iec-42001": ["A.6.2.6"],
                 "eu-ai-act": ["Article 72(1)", "Article 26(5)"]},
                [("ai_system", "Fraud Sentinel", "implemented", "Daily precision at 1% FPR."),
                 ("ai_system", "Credit Decision Engine", "implemented", "Monthly PSI and approval-rate drift."),
                 ("ai_system", "Agent Copilot", "implemented", "Answer acceptance rate tracked weekly."),
                 ("ai_system", "Claims Triage", "planned", "")]),
    DemoControl("CTL-LOG-01", "Decision and event logging", "operations", "grace.kim",
                "Inputs, outputs, model version and overrides are logged for every decision and kept for at least "
                "six months, beyond when sector rules ask.",
                {"nist-ai-rmf": ["GOVERN 4.3"], "iso-iec-42001": ["A.6.2.8"],
                 "eu-ai-act": ["Article 12(1)", "Article 19(1)", "Article 26(6)"]},
                [("ai_system", "Credit Decision Engine", "implemented", "Seven-year retention (credit records)."),
                 ("ai_system", "Claims Summariser", "implemented", "Gateway logs, 12 months.")]),
    DemoControl("CTL-DISC-01", "AI interaction disclosure", "transparency", "sofia.marquez",
                "People are told when they talk to an AI assistant or when AI takes part in a decision about them, "
                "in plain words at the first interaction.",
                {"nist-ai-rmf": ["MEASURE 2.8"], "iso-iec-42001": ["A.8.2"],
                 "eu-ai-act": ["Article 50(1)", "Article 26(11)"]},
                [("ai_system", "Cards Chat", "implemented", "Banner and first message."),
                 ("ai_system", "Claims Summariser", "implemented", "Letters state that AI drafted the summary.")]),
    DemoControl("CTL-IMP-01", "AI impact assessment (DPIA and FRIA)", "governance", "peter.hughes",
                "High-risk and personal-data systems get a data protection impact assessment and a fundamental "
                "rights impact assessment before deployment, reviewed when the system changes.",
                {"nist-ai-rmf": ["MAP 5.1"], "iso-iec-42001": ["A.5.2", "A.5.3"],
                 "eu-ai-act": ["Article 27(1)", "Article 9(2)"], "gdpr": ["Article 35(1)"]},
                [("ai_system", "Credit Decision Engine", "implemented", "FRIA completed with the ethics board."),
                 ("ai_system", "Claims Triage", "implemented", "DPIA updated for version 3.")]),
    DemoControl("CTL-INC-01", "AI incident response and reporting", "operations", "carlos.silva",
                "AI incidents follow the incident runbook: triage within four hours, serious incidents reported to "
                "the authority within the legal deadlines, lessons learned recorded.",
                {"nist-ai-rmf": ["MANAGE 4.3"], "iso-iec-42001": ["A.8.4"], "eu-ai-act": ["Article 73(1)"]},
                [("ai_system", "Fraud Sentinel", "implemented", ""),
                 ("ai_system", "Agent Copilot", "implemented", "")]),
    DemoControl("CTL-PROV-01", "Training data provenance and licence check", "data", "lena.fischer",
                "The source, licence and lawful basis of every training dataset are recorded and checked before "
                "training; poisoning checks run on externally sourced data.",
                {"nist-ai-rmf": ["MAP 4.1"], "iso-iec-42001": ["A.7.5", "A.7.3"], "eu-ai-act": ["Article 10(2)"],
                 "owasp-llm-top-10": ["LLM04:2025"]},
                [("dataset", "Credit bureau attributes", "implemented", "Licence from CreditSphere Data."),
                 ("dataset", "Customer complaints", "implemented", "")]),
]


def _count(result: DemoResult, what: str, n: int = 1) -> None:
    result.created[what] = result.created.get(what, 0) + n


def _subject_id(session: Session, subject_type: str, name: Any) -> int | None:
    if subject_type == "model":
        return session.scalar(select(Model.id).where(Model.name == name[0], Model.version == name[1]))
    table = {"ai_system": AISystem, "dataset": Dataset, "vendor": Vendor}[subject_type]
    return session.scalar(select(table.id).where(table.name == name))


def seed_controls(session: Session, settings: Settings, result: DemoResult) -> None:
    people = {u.email.split("@")[0]: u for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    existing = set(session.scalars(select(Control.code)))
    since = date.today() - timedelta(days=200)
    for demo in CONTROLS:
        if demo.code in existing:
            continue
        owner = people.get(demo.owner)
        control = controls.create_control(session, None, ControlCreate(
            code=demo.code, name=demo.name, category=demo.category, description=demo.description,
            owner_id=owner.id if owner else None))
        found = [r for key, refs in demo.maps.items() for ref in refs
                 if (r := controls.requirement_by_ref(session, key, ref)) is not None]
        if found:
            controls.set_requirements(session, None, control.id, [r.id for r in found])
        _count(result, "controls")
        for n, (subject_type, name, status, notes) in enumerate(demo.on):
            subject_id = _subject_id(session, subject_type, name)
            if subject_id is None:
                continue
            controls.implement(session, None, control.id, ImplementationCreate(
                subject_type=subject_type, subject_id=subject_id, status=status, notes=notes,
                owner_id=owner.id if owner else None,
                implemented_on=None if status == "planned" else since + timedelta(days=11 * n)))
            _count(result, "control implementations")
    _seed_evidence(session, settings, result, people)


# --- evidence ----------------------------------------------------------------------------------------------------

def _bias_report() -> bytes:
    rows = [("18-29", 0.412, 0.95), ("30-39", 0.436, 1.00), ("40-49", 0.441, 1.01), ("50-59", 0.428, 0.98),
            ("60+", 0.397, 0.91)]
    lines = ["# Bias test report: loan-decision-xgb 7.0", "",
             "Test set: 184,220 applications (Jan-Jun 2026), held out from training.", "",
             "| Age band | Approval rate | Ratio to 30-39 |", "| --- | --- | --- |",
             *[f"| {band} | {rate:.3f} | {ratio:.2f} |" for band, rate, ratio in rows], "",
             "Result: every ratio is within 0.8-1.25; no mitigation needed. Gender and postcode results are in "
             "the appendix of the model risk file.", ""]
    return "\n".join(lines).encode()


def _fairness_csv() -> bytes:
    rows = [("age_band", "false_positive_rate", "true_positive_rate", "n"),
            ("18-29", "0.0121", "0.861", "412330"), ("30-39", "0.0098", "0.874", "498114"),
            ("40-49", "0.0095", "0.879", "455902"), ("50-59", "0.0101", "0.870", "301877"),
            ("60+", "0.0133", "0.852", "182045")]
    return "".join(",".join(r) + "\n" for r in rows).encode()


def _red_team_summary() -> bytes:
    return (b"Prompt-injection red-team summary - ow-llm-70b-instruct 3.1\n"
            b"Suite: red-team v4 (312 attacks: direct injection, indirect via documents, jailbreak, "
            b"system prompt extraction)\n"
            b"Blocked: 301 (96.5%). Partially successful: 11, all system prompt paraphrases; no exfiltration.\n"
            b"Actions: guardrail policy updated (gateway policy 'strict-v3'); re-test due in 90 days.\n")


def _dpia(version: int) -> bytes:
    changes = "" if version == 1 else "\n## Changes in version 2\n\nFree-text claim notes are now redacted.\n"
    return (f"# DPIA: Claims Triage (version {version})\n\nPurpose: route motor claims to fast-track or "
            "investigation.\nPersonal data: claim history, health information in medical reports.\nRisks: "
            "unfair denial, exposure of health data.\nMeasures: human confirmation of rejections, redaction, "
            f"access limited to claims staff.\n{changes}").encode()


@dataclass
class DemoEvidence:
    title: str
    kind: str
    unit: str
    by: str
    effective: int  # days from today
    expires: int | None
    evidence_type: str
    content: bytes | None = None  # file
    filename: str = ""
    url: str = ""
    attach: tuple[str, str, Any] | None = None  # (control code, subject type, subject name) of an implementation
    reviewer: str | None = None
    versions: list[tuple[bytes, int, int | None]] = field(default_factory=list)  # later file versions


EVIDENCE: list[DemoEvidence] = [
    DemoEvidence("Bias test report: loan-decision-xgb 7.0", "file", "RET-LEND", "lena.fischer", -20, 345,
                 "test_result", _bias_report(), "bias-report-loan-decision-xgb-7.0.md",
                 attach=("CTL-BIAS-01", "model", ("loan-decision-xgb", "7.0")), reviewer="sofia.marquez"),
    DemoEvidence("Fairness metrics by age band: card-fraud-gbm 4.2", "file", "RET-CARDS", "chloe.dubois", -6, 359,
                 "test_result", _fairness_csv(), "fairness-card-fraud-gbm-4.2.csv",
                 attach=("CTL-BIAS-01", "model", ("card-fraud-gbm", "4.2"))),
    DemoEvidence("Prompt-injection red-team summary: ow-llm-70b-instruct 3.1", "file", "COE", "rahul.mehta", -69,
                 21, "test_result", _red_team_summary(), "red-team-ow-llm-3.1.txt",
                 attach=("CTL-SEC-01", "model", ("ow-llm-70b-instruct", "3.1")), reviewer="nina.petrova"),
    DemoEvidence("Nimbus AI SOC 2 Type II report", "link", "PROC", "fatima.zahra", -377, -12, "report",
                 url="https://trust.nimbus-ai.example/reports/soc2-type2-2025",
                 attach=("CTL-VEN-01", "vendor", "Nimbus AI"), reviewer="nina.petrova"),
    DemoEvidence("Model validation sign-off: loan-decision-xgb 7.0", "link", "RISK", "lena.fischer", -35, 330,
                 "approval", url="https://grc.meridian.example/mrm/validations/LDX-7.0",
                 attach=("CTL-VAL-01", "model", ("loan-decision-xgb", "7.0")), reviewer="fatima.zahra"),
    DemoEvidence("DPIA: Claims Triage", "file", "INS", "peter.hughes", -400, None, "assessment", _dpia(1),
                 "dpia-claims-triage.md", attach=("CTL-IMP-01", "ai_system", "Claims Triage"), reviewer="sofia.marquez",
                 versions=[(_dpia(2), -30, 700)]),
]


def _as(session: Session, people: dict[str, User], local: str | None) -> Principal | None:
    user = people.get(local or "")
    return Principal.resolve(session, user) if user is not None else None


def _implementation(session: Session, code: str, subject_type: str, name: Any) -> ControlImplementation | None:
    subject_id = _subject_id(session, subject_type, name)
    return session.scalar(select(ControlImplementation).join(Control).where(
        Control.code == code, ControlImplementation.subject_type == subject_type,
        ControlImplementation.subject_id == subject_id)) if subject_id is not None else None


def _seed_evidence(session: Session, settings: Settings, result: DemoResult, people: dict[str, User]) -> None:
    units = {u.code: u.id for u in session.scalars(select(BusinessUnit))}
    titles = set(session.scalars(select(Evidence.title)))
    today = date.today()
    for demo in EVIDENCE:
        if demo.title in titles or demo.unit not in units:
            continue
        author = _as(session, people, demo.by)
        meta: dict[str, Any] = dict(title=demo.title, business_unit_id=units[demo.unit],
                                    effective_date=today + timedelta(days=demo.effective),
                                    expires_on=today + timedelta(days=demo.expires) if demo.expires is not None
                                    else None, evidence_type=demo.evidence_type)
        if demo.kind == "file":
            row = evidence.add_file(session, author, settings, io.BytesIO(demo.content or b""), demo.filename, None,
                                    **meta)
        else:
            row = evidence.add_link(session, author, url=demo.url, **meta)
        for content, effective, expires in demo.versions:
            row = evidence.new_version(session, author, settings, row.id,
                                       effective_date=today + timedelta(days=effective),
                                       expires_on=today + timedelta(days=expires) if expires else None,
                                       stream=io.BytesIO(content), filename=demo.filename)
        target = _implementation(session, *demo.attach) if demo.attach else None
        if target is not None:
            evidence.link(session, None, row.id, "control_implementation", target.id)
        if demo.reviewer:
            evidence.review(session, _as(session, people, demo.reviewer), row.id, "accepted",
                            "Complete and current; matches the control's description.")
        _count(result, "evidence")
    _seed_record_reference(session, result, units, titles, people)


def _seed_record_reference(session: Session, result: DemoResult, units: dict[str, int], titles: set[str],
                           people: dict[str, User]) -> None:
    """The Credit Decision Engine's current EU AI Act classification, captured as evidence for its impact
    assessment control (skipped when the system has not been classified)."""
    classification = session.scalar(select(Classification).join(AISystem).where(
        AISystem.name == "Credit Decision Engine", Classification.is_current.is_(True)))
    title = "EU AI Act classification: Credit Decision Engine"
    if classification is None or title in titles or "RET-LEND" not in units:
        return
    row = evidence.add_record(session, _as(session, people, "fatima.zahra"), record_type="classification",
                              record_ref=str(classification.id), title=title, business_unit_id=units["RET-LEND"],
                              effective_date=classification.created_at.date(), evidence_type="assessment")
    target = _implementation(session, "CTL-IMP-01", "ai_system", "Credit Decision Engine")
    if target is not None:
        evidence.link(session, None, row.id, "control_implementation", target.id)
    _count(result, "evidence")
