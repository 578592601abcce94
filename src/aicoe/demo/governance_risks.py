"""Seed Meridian Trust's risk register through the risk service (idempotent: skips risks whose title exists).

28 risks across the taxonomy, on AI systems, use cases, datasets, models and vendors, with varied ratings and
treatments: most mitigated and linked to the demo controls (looked up by code; a missing control is skipped),
two transferred to vendors, one avoided, two accepted with an approver other than the owner and an expiry (one
expiring within weeks), a few past their due date. Dates are relative to the day of seeding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.demo.org import DOMAIN
from aicoe.models.compliance import Control
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase
from aicoe.models.risk import Risk
from aicoe.risk import schemas, service

if TYPE_CHECKING:
    from aicoe.demo import DemoResult


@dataclass(frozen=True)
class DemoRisk:
    title: str
    category: str
    subject: tuple[str, str | tuple[str, str]]  # (type, name; a use case by title, a model by (name, version))
    owner: str
    inherent: tuple[int, int]
    residual: tuple[int, int] | None = None
    status: str = "open"
    treatment: str | None = None
    plan: str = ""
    due_in_days: int | None = None
    controls: tuple[str, ...] = ()
    description: str = ""
    unit: str | None = None  # vendor risks: the unit that carries them
    accepted_by: str | None = None  # accepted risks: the approver (never the owner)
    acceptance_days: int = 180


RISKS: list[DemoRisk] = [
    DemoRisk("False declines concentrated in young and new-to-bank customers", "bias_fairness",
             ("ai_system", "Fraud Sentinel"), "chloe.dubois", (3, 4), (2, 3), "treating", "mitigate",
             "Quarterly disparity test of false-decline rates by age band and tenure; threshold 1.25× the overall "
             "rate; retrain with reweighting when exceeded.", 45, ("CTL-BIAS-01", "CTL-MON-01"),
             "Thin transaction histories make legitimate first purchases look anomalous."),
    DemoRisk("Fraud rings adapt faster than the model is retrained", "robustness", ("ai_system", "Fraud Sentinel"),
             "ben.carter", (5, 4), (3, 3), "treating", "mitigate",
             "Weekly drift report on feature distributions and the fraud-capture rate; challenger model trained "
             "monthly.", 30, ("CTL-MON-01",), "Capture rate fell 6 points in the quarter after a new attack pattern."),
    DemoRisk("Indirect discrimination through postcode and employment features", "bias_fairness",
             ("ai_system", "Credit Decision Engine"), "julia.novak", (3, 5), (2, 4), "treating", "mitigate",
             "Remove postcode at district level; test adverse impact ratio by sex and age before each release; "
             "independent validation sign-off.", -12, ("CTL-BIAS-01", "CTL-VAL-01", "CTL-HITL-01"),
             "Postcode and employment sector correlate with protected characteristics."),
    DemoRisk("Automated declines without a meaningful explanation", "regulatory",
             ("ai_system", "Credit Decision Engine"), "peter.hughes", (3, 4), (1, 4), "treating", "mitigate",
             "Reason codes in every decline letter; underwriter review on request (GDPR Art. 22(3)).", 60,
             ("CTL-HITL-01", "CTL-DOC-01")),
    DemoRisk("No documented fallback if the credit model is withdrawn", "accountability",
             ("ai_system", "Credit Decision Engine"), "julia.novak", (2, 4), due_in_days=90,
             description="Manual underwriting capacity covers about 15% of current volume."),
    DemoRisk("Extraction errors on scanned payslips", "robustness", ("ai_system", "Mortgage DocReader"),
             "rahul.mehta", (4, 3), (2, 3), "treating", "mitigate",
             "Confidence threshold routes low-quality scans to a human; field-level accuracy measured on 500 labelled "
             "documents per release.", 21, ("CTL-VAL-01",)),
    DemoRisk("Vulnerable customers' claims fast-tracked without human contact", "safety",
             ("ai_system", "Claims Triage"), "samuel.adeyemi", (2, 4), (1, 2), "closed", "mitigate",
             "Vulnerability flags force a handler call before settlement; verified in the 2026 conduct review.",
             controls=("CTL-HITL-01",)),
    DemoRisk("Health data sent to an external language-model provider", "privacy",
             ("ai_system", "Claims Summariser"), "peter.hughes", (4, 5), (2, 4), "treating", "mitigate",
             "Pseudonymise reports before the call; EU-only processing and zero retention in the Nimbus contract; "
             "DPIA updated.", 20, ("CTL-DM-01", "CTL-VEN-01", "CTL-IMP-01"),
             "Medical reports are special-category data (GDPR Art. 9)."),
    DemoRisk("Summaries omit facts that change the claim outcome", "robustness",
             ("ai_system", "Claims Summariser"), "omar.haddad", (3, 4), (2, 4), "treating", "mitigate",
             "Handlers read the source for any claim above EUR 5,000; monthly sample audit of 100 summaries.", 35,
             ("CTL-HITL-01", "CTL-MON-01")),
    DemoRisk("Prompt injection through knowledge-base articles", "security", ("ai_system", "Agent Copilot"),
             "nina.petrova", (4, 4), (2, 4), "treating", "mitigate",
             "Red-team the retrieval path before each release; strip instructions from retrieved text; log and alert "
             "on tool calls.", -5, ("CTL-SEC-01", "CTL-LOG-01"),
             "Anyone who can edit a knowledge-base article can steer the assistant."),
    DemoRisk("Agents pass on generated answers without saying they are AI-assisted", "transparency",
             ("ai_system", "Agent Copilot"), "carlos.silva", (3, 2), None, "open", "mitigate",
             "Add a disclosure line to every drafted reply and to the agent script.", 40, ("CTL-DISC-01",)),
    DemoRisk("Jailbreak leads the assistant to give unauthorised account advice", "security",
             ("ai_system", "Cards Chat"), "ben.carter", (4, 4), (3, 3), "treating", "mitigate",
             "Topic guardrails at the gateway; hand-off to an agent on any account action; red-team before pilot "
             "exit.", 14, ("CTL-SEC-01", "CTL-HITL-01")),
    DemoRisk("Customers not told they are chatting with an AI system", "transparency", ("ai_system", "Cards Chat"),
             "sofia.marquez", (3, 4), (1, 4), "treating", "mitigate",
             "Disclosure at the start of every conversation and on request (EU AI Act Art. 50(1)).", 10,
             ("CTL-DISC-01",)),
    DemoRisk("Client meeting notes kept in prompts and logs beyond retention", "privacy",
             ("ai_system", "Adviser Notes Drafter"), "eva.rossi", (3, 3), due_in_days=75,
             description="Gateway logs keep prompts for 90 days; client notes may be retained only for the advice "
                         "record."),
    DemoRisk("Code suggestions reproduce licensed open-source code", "intellectual_property",
             ("ai_system", "Code Assistant"), "marcus.chen", (3, 3), (2, 3), "accepted", "accept",
             "Accepted: the vendor filters verbatim matches over 150 characters and indemnifies; code review catches "
             "the rest. Revisit if the indemnity changes.", controls=("CTL-VEN-01",), accepted_by="priya.raman",
             acceptance_days=180),
    DemoRisk("Secrets in source code sent to the vendor's service", "security", ("ai_system", "Code Assistant"),
             "grace.kim", (2, 5), (1, 5), "treating", "mitigate",
             "Secret scanning in the IDE plug-in blocks files with credentials; repositories excluded by policy.", 50,
             ("CTL-DM-01",)),
    DemoRisk("Forecast error during unusual events", "robustness", ("ai_system", "Volume Forecaster"), "carlos.silva",
             (3, 2), (3, 2), "accepted", "accept",
             "Accepted: planners override the forecast during outages and storms; the cost of error is overtime.",
             accepted_by="helena.voss", acceptance_days=20),
    DemoRisk("Low-ranked alerts never investigated in time", "regulatory", ("ai_system", "AML Prioritiser"),
             "fatima.zahra", (3, 5), (2, 4), "treating", "mitigate",
             "Every alert is still investigated within the regulatory deadline; sample of the lowest decile reviewed "
             "weekly.", 25, ("CTL-VAL-01", "CTL-MON-01")),
    DemoRisk("Complaints in non-standard English routed to slower queues", "bias_fairness",
             ("ai_system", "Complaint Router"), "daniel.okafor", (3, 3), due_in_days=-3,
             description="Early tests show lower confidence on complaints written by non-native speakers."),
    DemoRisk("Autonomous agent issues refunds without clear accountability", "accountability",
             ("use_case", "Agentic payment dispute handling"), "ines.duarte", (3, 4), due_in_days=120,
             description="Who answers for a wrong refund: the agent's owner, the dispute team or the vendor?"),
    DemoRisk("Voice prints processed without a lawful basis", "privacy",
             ("use_case", "Voice biometrics for phone banking"), "peter.hughes", (3, 5), None, "closed", "avoid",
             "Use case put on hold; no voice prints collected until explicit consent capture exists."),
    DemoRisk("Missed sanctions matches on transliterated names", "regulatory",
             ("use_case", "Sanctions screening name matching"), "fatima.zahra", (3, 5), due_in_days=100),
    DemoRisk("Bureau data used beyond the purpose agreed in the contract", "privacy",
             ("dataset", "Credit bureau attributes"), "julia.novak", (2, 4), (1, 4), "treating", "mitigate",
             "Purpose limitation recorded in the dataset card; access restricted to the credit model pipeline.", 30,
             ("CTL-PROV-01",)),
    DemoRisk("Personal data left in redacted call transcripts", "privacy", ("dataset", "Call transcripts (redacted)"),
             "carlos.silva", (3, 4), (2, 3), "treating", "mitigate",
             "Monthly PII scan of a 1% sample; redaction rules extended to account numbers read aloud.", -8,
             ("CTL-DM-01",)),
    DemoRisk("Open-weights licence restricts commercial fine-tunes", "intellectual_property",
             ("model", ("ow-llm-70b-instruct", "3.1")), "marcus.chen", (2, 3), (1, 3), "treating", "mitigate",
             "Legal review of the community licence for each fine-tune; usage below the licence's user threshold.",
             60, ("CTL-PROV-01",)),
    DemoRisk("Credit model performance decays as interest rates rise", "robustness",
             ("model", ("loan-decision-xgb", "7.0")), "lena.fischer", (3, 4), (2, 3), "treating", "mitigate",
             "Monthly population stability index and Gini monitoring; recalibration trigger at PSI > 0.2.", 40,
             ("CTL-MON-01", "CTL-VAL-01")),
    DemoRisk("Provider changes model behaviour without notice", "third_party", ("vendor", "Nimbus AI"), "victor.ng",
             (4, 3), (3, 2), "treating", "transfer",
             "Contract requires 60 days' notice of model changes and version pinning; regression suite runs on each "
             "new version.", 15, ("CTL-VEN-01",), unit="COE"),
    DemoRisk("Bureau outage halts automated lending", "third_party", ("vendor", "CreditSphere Data"), "julia.novak",
             (2, 4), (2, 2), "treating", "transfer",
             "SLA of 99.9% with service credits; cached attributes allow 48 hours of degraded decisions.", 90,
             unit="RET-LEND"),
]


def _count(result: DemoResult, what: str) -> None:
    result.created[what] = result.created.get(what, 0) + 1


def _subjects(session: Session) -> dict[str, dict[str | tuple[str, str], int]]:
    return {
        "ai_system": {n: i for i, n in session.execute(select(AISystem.id, AISystem.name))},
        "use_case": {t: i for i, t in session.execute(select(UseCase.id, UseCase.title))},
        "dataset": {n: i for i, n in session.execute(select(Dataset.id, Dataset.name))},
        "model": {(n, v): i for i, n, v in session.execute(select(Model.id, Model.name, Model.version))},
        "vendor": {n: i for i, n in session.execute(select(Vendor.id, Vendor.name))},
    }


def seed_risks(session: Session, settings: Settings, result: DemoResult) -> None:
    existing = set(session.scalars(select(Risk.title)))
    people = {u.email.split("@")[0]: u.id for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    units = {u.code: u.id for u in session.scalars(select(BusinessUnit))}
    controls = {c.code: c.id for c in session.scalars(select(Control))}
    subjects = _subjects(session)
    today = service.today()
    for demo in RISKS:
        subject_type, ref = demo.subject
        subject_id = subjects[subject_type].get(ref)
        if demo.title in existing or subject_id is None or demo.owner not in people:
            continue
        accepting = demo.treatment == "accept"
        data = schemas.RiskCreate(
            title=demo.title, description=demo.description, category=demo.category, subject_type=subject_type,
            subject_id=subject_id, business_unit_id=units[demo.unit] if demo.unit else None,
            owner_id=people[demo.owner], inherent_likelihood=demo.inherent[0], inherent_impact=demo.inherent[1],
            residual_likelihood=demo.residual[0] if demo.residual else None,
            residual_impact=demo.residual[1] if demo.residual else None,
            status="open" if demo.status == "accepted" else demo.status, treatment=demo.treatment,
            treatment_plan=demo.plan,
            acceptance_expires_on=today + timedelta(days=demo.acceptance_days) if accepting else None,
            due_date=today + timedelta(days=demo.due_in_days) if demo.due_in_days is not None else None,
            control_ids=[controls[c] for c in demo.controls if c in controls])
        risk = service.create_risk(session, None, data)
        if demo.accepted_by and demo.accepted_by in people:
            service.accept_risk(session, None, risk.key, schemas.AcceptIn(note="Approved at the risk committee."),
                                approver_id=people[demo.accepted_by])
        _count(result, "risks")
