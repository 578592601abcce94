"""Seed Meridian Trust's assessments through the assessments service (idempotent: a system already assessed
against a framework is left alone). Runs after the catalogs, classifications and controls.

* Credit Decision Engine (high-risk, Annex III 5(b)): EU AI Act well advanced (about 90 % complete) and
  ISO/IEC 42001, started afterwards, with the validation result offered from EU AI Act Art. 9(8) and awaiting
  confirmation;
* SME Limit Advisor (re-classified high-risk): both frameworks at an early stage;
* Fraud Sentinel: NIST AI RMF, half-way, with overdue items;
* Cards Chat (customer-facing GenAI): OWASP Top 10 for LLM Applications, with open findings.

A plan maps a requirement's ref, or an ancestor's ref, to (status, note); "na" is not applicable, the note
being the justification. An outcome offered from an equivalent requirement is left as is (to be confirmed)
unless the plan names that requirement itself.
Results are recorded as the assessment's owner, so the audit trail reads as the compliance team's work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor, Principal
from aicoe.compliance import assessments, evidence
from aicoe.compliance.schemas_assessments import ResultUpdate
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.demo.org import DOMAIN
from aicoe.models.compliance import Assessment, Classification, Evidence, Framework, Requirement
from aicoe.models.inventory import AISystem
from aicoe.models.org import User

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

Plan = dict[str, tuple[str, str]]
INTRANET = "https://intranet.meridian.example"


@dataclass
class DemoEvidence:
    ref: str  # the requirement to link it to
    title: str
    url: str = ""  # a link; empty: the system's current EU AI Act classification as a record
    # (either reused when the evidence register holds it already)
    evidence_type: str = "report"
    age_days: int = 30  # effective this many days ago


@dataclass
class DemoAssessment:
    system: str
    framework: str  # the framework's key
    owner: str  # email local part; records the results
    due_in_days: int
    plan: Plan
    owners: dict[str, str] = field(default_factory=dict)  # ref or ancestor ref -> email local part
    due: dict[str, int] = field(default_factory=dict)  # ref -> days from today (negative: overdue)
    evidence: list[DemoEvidence] = field(default_factory=list)


NO_PRACTICE = "Screened in the EU AI Act classification: the system uses none of the prohibited practices."
NOT_BIOMETRIC = "Not a remote biometric identification system."
NO_ANNEX_I = "Not a product, or a safety component of a product, under Annex I legislation."
EU_ESTABLISHED = "Meridian Trust is established in the Union: no authorised representative is needed."

CDE_EU: Plan = {
    "Article 4": ("met", "AI literacy module completed by all credit risk and underwriting staff; yearly "
                         "refresher tracked in the LMS."),
    "Article 5": ("met", NO_PRACTICE),
    "Article 6(1)": ("na", NO_ANNEX_I),
    "Article 6(2)": ("met", "High-risk through Annex III point 5(b): creditworthiness of natural persons "
                            "(classification v1)."),
    "Article 6(3)": ("na", "The Art. 6(3) exceptions cannot be used: the system profiles applicants."),
    "Article 8(1)": ("met", "Requirements met with the intended purpose and the state of the art in mind; see "
                            "the Annex IV file."),
    "Article 8(2)": ("na", NO_ANNEX_I),
    "Article 9": ("met", "Covered by the model risk management standard MRM-07; the risk register is kept by "
                         "Model Risk."),
    "Article 9(4)": ("partially_met", "Trade-offs between accuracy and fairness targets documented; security "
                                      "trade-offs still to be written up."),
    "Article 9(8)": ("met", "Independent validation by Model Risk on the 2026 hold-out sample before release "
                            "(report MV-2026-014)."),
    "Article 9(9)": ("partially_met", "Impact on young and financially vulnerable applicants assessed; review of "
                                      "the hardship segment outstanding."),
    "Article 10": ("met", "Data governance under the Group data standard; lineage from loan origination "
                          "documented."),
    "Article 10(3)": ("partially_met", "Representativeness checked by age band and region; thin-file applicants "
                                       "are under-represented, re-sampling planned."),
    "Article 10(5)": ("in_progress", "DPO reviewing whether special category data is needed for bias "
                                     "correction; none is processed today."),
    "Article 11(1)": ("met", "Annex IV technical documentation v7.0 kept with the model in the registry."),
    "Article 11(2)": ("na", NO_ANNEX_I),
    "Article 12": ("met", "Every decision is logged with inputs, score, reason codes and model version."),
    "Article 12(3)": ("na", NOT_BIOMETRIC),
    "Article 13": ("met", "Instructions for use issued to lending operations."),
    "Article 13(3)": ("partially_met", "Accuracy for sub-populations is missing from the instructions for use."),
    "Article 14": ("met", "Underwriters review every decline before it is sent (also the GDPR Art. 22 "
                          "safeguard)."),
    "Article 14(4)": ("partially_met", "Reason-code dashboard live; automation-bias training for underwriters "
                                      "scheduled."),
    "Article 14(5)": ("na", NOT_BIOMETRIC),
    "Article 15": ("met", "Gini 0.748 on the hold-out sample; fallback to the scorecard on outage."),
    "Article 15(5)": ("not_met", "No adversarial testing yet (evasion through manipulated applications); red-team "
                                 "engagement booked."),
    "Article 16": ("met", "Provider obligations tracked in the release checklist."),
    "Article 16(c)": ("partially_met", "Quality management system documented; internal audit of it due."),
    "Article 16(f)": ("in_progress", "Internal-control conformity assessment (Annex VI) under way."),
    "Article 16(g)": ("not_started", ""),
    "Article 16(h)": ("not_started", ""),
    "Article 16(i)": ("not_started", "Register in the EU database once the conformity assessment is done."),
    "Article 16(l)": ("na", "An internal decisioning service: no product or service covered by the accessibility "
                            "requirements is offered through it."),
    "Article 17": ("met", "Quality management system: part of the model risk framework."),
    "Article 17(1)(h)": ("partially_met", "Post-market monitoring in place; its link to the QMS review cycle is "
                                          "not yet formal."),
    "Article 18": ("met", "Kept for ten years with the credit institution's governance documentation."),
    "Article 19": ("met", "Decision logs retained seven years in the lending data platform."),
    "Article 20": ("met", "Corrective action procedure shared with Group incident management."),
    "Article 21": ("met", "Regulatory liaison process covers requests from market surveillance authorities."),
    "Article 22": ("na", EU_ESTABLISHED),
    "Article 25(2)": ("na", "No third party rebrands or substantially modifies the system."),
    "Article 25(3)": ("na", "No product manufacturer is involved."),
    "Article 25(4)": ("met", "Written agreement with CreditSphere Data covers documentation, support and data "
                             "quality of bureau attributes."),
    "Article 43(1)": ("na", NOT_BIOMETRIC),
    "Article 43(2)": ("in_progress", "Internal control procedure (Annex VI) under way."),
    "Article 43(3)": ("na", NO_ANNEX_I),
    "Article 43(4)": ("met", "Change management flags substantial modifications for a new assessment."),
    "Article 47": ("not_started", ""),
    "Article 47(3)": ("na", "No other Union law requires an EU declaration of conformity for this system."),
    "Article 48": ("not_started", ""),
    "Article 48(4)": ("na", "Internal control: no notified body is involved."),
    "Article 48(5)": ("na", "No other Union law requiring CE marking applies."),
    "Article 49(1)": ("not_started", ""),
    "Article 49(4)": ("na", "Not a law enforcement, migration, asylum or border control system."),
    "Article 49(5)": ("na", "Not a critical infrastructure system."),
    "Article 50": ("na", "Applicants do not interact with the system; decisions are communicated by Meridian "
                         "staff and letters."),
    "Article 72": ("met", "Post-market monitoring plan PMM-CDE-01: monthly drift and performance report (PSI, "
                          "Gini by segment)."),
    "Article 73": ("met", "Serious incident procedure aligned with the Group incident process."),
}
CDE_ISO: Plan = {
    "A.2": ("met", "The Group Responsible AI Policy v2 applies; reviewed yearly by the ethics board."),
    "A.3.2": ("met", "Roles set in the RACI of the model risk standard."),
    "A.3.3": ("partially_met", "Concerns can be raised through the speak-up channel; no AI-specific category."),
    "A.4": ("met", "Resources documented in the system's run book."),
    "A.4.6": ("partially_met", "Two underwriters trained as oversight leads; backup cover not yet trained."),
    "A.5.2": ("met", "Impact assessment done with the fundamental rights review before release."),
    "A.5.3": ("met", "Impact assessment kept with the technical documentation."),
    "A.5.4": ("partially_met", "Impact on thin-file applicants still being quantified."),
    "A.5.5": ("in_progress", "Societal impact review with the Customer Advocate."),
    "A.6.1": ("met", "Responsible development objectives in the model development standard."),
    "A.6.2.2": ("met", "Requirements and specification approved by Credit Policy."),
    "A.6.2.3": ("met", "Design and development documented in the model repository."),
    "A.6.2.5": ("met", "Deployment through the governed release pipeline."),
    "A.6.2.6": ("met", "Operation monitored by AI Operations; alerts on drift."),
    "A.6.2.7": ("met", "Technical documentation v7.0."),
    "A.6.2.8": ("met", "Event logs retained in the lending data platform."),
    "A.7": ("met", "Data for development documented with lineage and quality checks."),
    "A.7.4": ("partially_met", "Quality thresholds defined; thin-file coverage below target."),
    "A.7.6": ("in_progress", "Preparation steps being moved into the feature store."),
    "A.8.2": ("met", "Instructions for use and reason-code guide for underwriters."),
    "A.8.3": ("not_started", ""),
    "A.8.4": ("met", "Incidents communicated through the Group incident process."),
    "A.8.5": ("not_started", ""),
    "A.9": ("met", "Used only for personal loans within the approved policy limits."),
    "A.10.2": ("met", "Responsibilities with CreditSphere Data in the data agreement."),
    "A.10.3": ("partially_met", "CreditSphere due diligence refreshed; the contract lacks AI-specific clauses."),
    "A.10.4": ("na", "No customer of Meridian receives or operates the system."),
}
SME_EU: Plan = {
    "Article 4": ("met", "Lending staff completed the AI literacy module."),
    "Article 5": ("met", NO_PRACTICE),
    "Article 6(2)": ("met", "Re-classified high-risk after legal review: a third of the SME book are sole "
                            "traders, who are natural persons (Annex III point 5(b))."),
    "Article 6(3)": ("na", "Exception (d) considered and excluded: the model profiles owners' payment behaviour."),
    "Article 9(1)": ("in_progress", "Risk management file being opened under MRM-07."),
    "Article 9(8)": ("partially_met", "First validation on the 2025 sample found calibration problems for small "
                                      "limits."),
    "Article 10(2)": ("in_progress", "Data governance review with the CORP data owner."),
    "Article 10(3)": ("not_met", "Sole traders are not represented in the training sample."),
    "Article 11(1)": ("in_progress", "Annex IV documentation drafted from the model card."),
    "Article 14(1)": ("in_progress", "Credit officers keep the decision; oversight design in review."),
}
SME_ISO: Plan = {
    "A.2": ("met", "The Group Responsible AI Policy v2 applies."),
    "A.3.2": ("met", "Roles set in the RACI of the model risk standard."),
    "A.5.2": ("in_progress", "Impact assessment started after the re-classification."),
}
FRAUD_NIST: Plan = {
    "GOVERN 1": ("met", "Group Responsible AI policy and the model risk standard apply."),
    "GOVERN 2": ("met", "Accountability set out in the fraud model RACI."),
    "GOVERN 3": ("partially_met", "Review panels lack customer-facing perspectives."),
    "GOVERN 4": ("met", "Challenge culture: every release goes through Model Risk review."),
    "GOVERN 5": ("in_progress", "Customer feedback on false declines being wired into model reviews."),
    "GOVERN 6": ("partially_met", "Card-network data terms reviewed; no AI-specific contract clauses."),
    "MAP 1": ("met", "Context, purpose and limits recorded in the model card."),
    "MAP 2": ("met", "Categorised as decision support for fraud analysts."),
    "MAP 3": ("partially_met", "Benefits quantified; costs of false declines to customers only estimated."),
    "MAP 5": ("in_progress", "Impact on customers of false declines being characterised."),
    "MEASURE 1": ("met", "Metrics chosen: ROC AUC and precision at 1 % false-positive rate."),
    "MEASURE 2": ("in_progress", "Evaluation plan for the 4.3 release being drafted."),
    "MEASURE 2.7": ("met", "Security evaluated in the card platform penetration test."),
    "MEASURE 2.11": ("not_met", "False-decline rates across age groups are not measured yet."),
    "MANAGE 1": ("met", "Risks prioritised in the fraud risk register."),
    "MANAGE 2": ("partially_met", "Fallback rules exist; decommissioning plan not written."),
    "MANAGE 3": ("met", "Third-party components (card-network scores) monitored monthly."),
    "MANAGE 4": ("in_progress", "Post-deployment monitoring being moved to the platform's monitors."),
}
CARDS_OWASP: Plan = {
    "LLM01:2025": ("partially_met", "Red team: 3 of 40 jailbreak attempts succeeded; gateway input filters being "
                                    "tuned."),
    "LLM02:2025": ("met", "Prompts and completions pass the gateway's PII redaction; the leakage test suite "
                          "passes."),
    "LLM03:2025": ("met", "Model and embedding versions pinned; Nimbus AI due diligence on file."),
    "LLM04:2025": ("partially_met", "Knowledge-base articles are reviewed before publication; no integrity check "
                                    "on the ingestion pipeline yet."),
    "LLM05:2025": ("met", "Answers rendered as plain text; links allow-listed to meridian.example."),
    "LLM06:2025": ("met", "No tools: the assistant can only answer and hand off to an agent."),
    "LLM07:2025": ("in_progress", "System prompt checked for secrets; leakage tests in the next red-team round."),
    "LLM08:2025": ("not_met", "Retrieval does not enforce per-document access: internal-only articles can be "
                              "retrieved."),
    "LLM09:2025": ("partially_met", "Answers cite sources; 2.1 % unsupported answers on the evaluation set "
                                    "(target 1 %)."),
    "LLM10:2025": ("met", "Per-session token limits and a monthly budget on the cards-chat gateway route."),
}

DEMO_ASSESSMENTS: list[DemoAssessment] = [
    DemoAssessment(
        "Credit Decision Engine", "eu-ai-act", "fatima.zahra", 45, CDE_EU,
        owners={"Article 9": "fatima.zahra", "Article 10": "lena.fischer", "Article 10(5)": "peter.hughes",
                "Article 12": "rahul.mehta", "Article 14": "julia.novak", "Article 15": "lena.fischer",
                "Article 16": "fatima.zahra", "Article 43": "fatima.zahra", "Article 72": "grace.kim"},
        due={"Article 10(5)": 14, "Article 15(5)": -12, "Article 16(f)": 21, "Article 43(2)": 21,
             "Article 16(i)": 60, "Article 49(1)": 60, "Article 16(g)": 40, "Article 16(h)": 40},
        evidence=[DemoEvidence("Article 6(2)", "EU AI Act classification of Credit Decision Engine",
                               evidence_type="assessment", age_days=60),
                  DemoEvidence("Article 9(8)", "Model validation report MV-2026-014 (loan-decision-xgb 7.0)",
                               f"{INTRANET}/model-risk/validation/MV-2026-014", "test_result", 40),
                  DemoEvidence("Article 72(1)", "Post-market monitoring plan PMM-CDE-01",
                               f"{INTRANET}/ai-operations/pmm/PMM-CDE-01", "documentation", 20)]),
    DemoAssessment(
        "Credit Decision Engine", "iso-iec-42001", "fatima.zahra", 75, CDE_ISO,
        owners={"A.7": "lena.fischer", "A.6.2": "rahul.mehta", "A.10": "victor.ng"},
        due={"A.5.5": 30, "A.8.3": 60, "A.8.5": 60, "A.7.6": -5}),
    DemoAssessment(
        "SME Limit Advisor", "eu-ai-act", "fatima.zahra", 120, SME_EU,
        owners={"Article 9": "fatima.zahra", "Article 10": "lena.fischer", "Article 11": "lena.fischer",
                "Article 14": "li.wei"},
        due={"Article 9(1)": 30, "Article 10(3)": 45}),
    DemoAssessment("SME Limit Advisor", "iso-iec-42001", "peter.hughes", 150, SME_ISO),
    DemoAssessment(
        "Fraud Sentinel", "nist-ai-rmf", "fatima.zahra", 20, FRAUD_NIST,
        owners={"MEASURE": "chloe.dubois", "MANAGE": "ben.carter", "MAP": "chloe.dubois"},
        due={"GOVERN 5.1": -7, "MANAGE 4.1": -3, "MAP 5.1": 30}),
    DemoAssessment(
        "Cards Chat", "owasp-llm-top-10", "nina.petrova", 30, CARDS_OWASP,
        owners={"LLM01:2025": "nina.petrova", "LLM07:2025": "nina.petrova", "LLM08:2025": "grace.kim",
                "LLM09:2025": "grace.kim"},
        due={"LLM07:2025": 14, "LLM08:2025": -4}),
]


def seed_assessments(session: Session, settings: Settings, result: DemoResult) -> None:
    people = {u.email.split("@")[0]: u for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    for plan in DEMO_ASSESSMENTS:
        system = session.scalar(select(AISystem).where(AISystem.name == plan.system))
        framework = session.scalar(select(Framework).where(Framework.key == plan.framework,
                                                           Framework.is_current.is_(True)))
        if system is None or framework is None:
            continue
        exists = session.scalar(select(Assessment.id).join(Assessment.framework).where(
            Assessment.ai_system_id == system.id, Framework.key == plan.framework))
        if exists is not None:
            continue
        owner = people.get(plan.owner)
        principal = Principal.resolve(session, owner) if owner is not None else None
        _seed_one(session, principal, plan, system, framework, people)
        result.created["assessments"] = result.created.get("assessments", 0) + 1


def _seed_one(session: Session, principal: Actor, plan: DemoAssessment, system: AISystem, framework: Framework,
              people: dict[str, User]) -> None:
    today = utcnow().date()
    owner = people.get(plan.owner)
    assessment = assessments.start(session, principal, system.id, framework.id,
                                   owner_id=owner.id if owner else None,
                                   due_date=today + timedelta(days=plan.due_in_days))
    by_id = {r.id: r for r in session.scalars(select(Requirement).where(Requirement.framework_id == framework.id))}
    for row in assessments.all_results(session, principal, assessment.id, applicable=True):
        chain = _chain(by_id, row.requirement_id)
        entry = plan.plan.get(chain[0])
        if entry is None and row.inferred_from_id is not None:
            continue  # offered from an equivalent requirement: left for the owner to confirm
        if entry is None:
            entry = next((plan.plan[ref] for ref in chain[1:] if ref in plan.plan), None)
        person = next((people.get(plan.owners[ref]) for ref in chain if ref in plan.owners), None)
        due = plan.due.get(chain[0])
        fields: dict[str, object] = {}
        if entry is not None:
            status, note = entry
            fields["status"] = "not_applicable" if status == "na" else status
            fields["justification" if status == "na" else "notes"] = note
        if person is not None:
            fields["owner_id"] = person.id
        if due is not None:
            fields["due_date"] = today + timedelta(days=due)
        if fields:
            assessments.update_result(session, principal, assessment.id, row.id, ResultUpdate(**fields))
    for item in plan.evidence:
        _attach(session, principal, assessment, by_id, item, today)


def _chain(by_id: dict[int, Requirement], requirement_id: int) -> list[str]:
    """The requirement's ref, then its ancestors' refs, nearest first."""
    refs: list[str] = []
    node = by_id.get(requirement_id)
    while node is not None and len(refs) < 32:
        refs.append(node.ref)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    return refs


def _attach(session: Session, principal: Actor, assessment: Assessment, by_id: dict[int, Requirement],
            item: DemoEvidence, today: date) -> None:
    target = next((r for r in assessments.all_results(session, principal, assessment.id)
                   if by_id[r.requirement_id].ref == item.ref), None)
    if target is None:
        return
    unit_id = assessment.ai_system.business_unit_id
    effective = today - timedelta(days=item.age_days)
    if item.url:
        piece = session.scalar(select(Evidence).where(Evidence.url == item.url, Evidence.is_latest.is_(True)))
        if piece is None:
            piece = evidence.add_link(session, principal, url=item.url, title=item.title, business_unit_id=unit_id,
                                      effective_date=effective, evidence_type=item.evidence_type)
    else:
        classification_id = session.scalar(select(Classification.id).where(
            Classification.ai_system_id == assessment.ai_system_id, Classification.is_current.is_(True)))
        if classification_id is None:
            return
        piece = session.scalar(select(Evidence).where(  # the controls demo may reference it already
            Evidence.record_type == "classification", Evidence.record_ref == str(classification_id),
            Evidence.is_latest.is_(True)))
        if piece is None:
            piece = evidence.add_record(session, principal, record_type="classification",
                                        record_ref=str(classification_id), business_unit_id=unit_id,
                                        effective_date=effective, title=item.title,
                                        evidence_type=item.evidence_type)
    assessments.link_evidence(session, principal, assessment.id, target.id, piece.id)
