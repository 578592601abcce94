"""Seed EU AI Act classifications of Meridian Trust's AI systems through the classification service (idempotent: a
system that already has a classification is left alone).

Most systems are classified; four are left for the compliance team to do (Wording Assistant, Invoice Reader,
RegWatch Summariser, Sanctions Name Matcher). SME Limit Advisor was re-classified after a legal review, so it
has two versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.compliance import classification
from aicoe.compliance.eu_ai_act import PRACTICE_QUESTIONS
from aicoe.config import Settings
from aicoe.demo.org import DOMAIN
from aicoe.models.compliance import Classification
from aicoe.models.inventory import AISystem
from aicoe.models.org import User

if TYPE_CHECKING:
    from aicoe.demo import DemoResult


def answers(role: str = "deployer", *, uses_itself: bool = True, areas: dict[str, list[str]] | None = None,
            exception: tuple[str, ...] = ("none",), profiling: bool | None = None,
            transparency: tuple[str, ...] = ("none",), public: str = "neither") -> dict[str, Any]:
    """A complete answer set: no prohibited practice, no Annex I product, no general-purpose AI model."""
    out: dict[str, Any] = {"role": role, **{q: False for q in PRACTICE_QUESTIONS.values()},
                           "annex_i_product": "none", "annex_iii_areas": list(areas or {}) or ["none"],
                           "transparency": list(transparency), "gpai_model": False}
    if role == "provider":
        out["provider_uses_itself"] = uses_itself
    else:
        out["role_change"] = ["none"]
    for area, uses in (areas or {}).items():
        out[f"annex_iii_{area}"] = uses
    if areas:
        out["art6_3_exception"] = list(exception)
        out["profiling"] = profiling
        out["deployer_public"] = public
    return out


@dataclass
class DemoClassification:
    system: str
    by: str  # who classified (email local part)
    versions: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (answers, notes), oldest first


CREDIT = {"essential_services": ["creditworthiness"]}
CLASSIFICATIONS: list[DemoClassification] = [
    DemoClassification("Credit Decision Engine", "fatima.zahra", [(
        answers("provider", areas=CREDIT),
        "Evaluates the creditworthiness of personal-loan applicants: Annex III point 5(b). Built and used in-house, "
        "so Meridian is provider and deployer; a fundamental rights impact assessment is due before each major "
        "model release.")]),
    DemoClassification("SME Limit Advisor", "fatima.zahra", [
        (answers("provider", areas={"essential_services": ["none"]}),
         "Initial view: recommends limits for SME customers, which are legal persons, so point 5(b) (natural "
         "persons) was read as not applying."),
        (answers("provider", areas=CREDIT, exception=("preparatory",), profiling=True),
         "Legal review (Q2): a third of the SME book are sole traders, who are natural persons, so point 5(b) "
         "applies. The recommendation only prepares the credit officer's decision, but the model profiles the "
         "owner's payment behaviour, so the Art. 6(3) exception cannot be used."),
    ]),
    DemoClassification("Fraud Sentinel", "fatima.zahra", [(
        answers("provider", areas={"essential_services": ["fraud_detection"]}),
        "Card fraud detection is expressly excluded from Annex III point 5(b); no transparency duty.")]),
    DemoClassification("Merchant Watch", "fatima.zahra", [(
        answers("provider"), "Checks merchant (business) applications; no Annex III use.")]),
    DemoClassification("Mortgage DocReader", "peter.hughes", [(
        answers(areas=CREDIT, exception=("preparatory",), profiling=False),
        "Extracts data from mortgage documents ahead of the underwriter's creditworthiness assessment: a "
        "preparatory task without profiling (Art. 6(3)(d)). DocuLens has shared its documented assessment.")]),
    DemoClassification("Claims Triage", "fatima.zahra", [(
        answers("provider"), "Motor claims only; Annex III point 5(c) covers life and health insurance.")]),
    DemoClassification("Claims Network Analytics", "fatima.zahra", [(
        answers("provider"), "Detects organised fraud rings in general insurance claims; no Annex III use.")]),
    DemoClassification("Claims Summariser", "peter.hughes", [(
        answers(transparency=("synthetic_content",)),
        "Generates summaries of claim letters; the marking of synthetic text is Nimbus AI's duty as provider.")]),
    DemoClassification("Agent Copilot", "fatima.zahra", [(
        answers("provider", transparency=("synthetic_content",)),
        "Drafts answers for contact-centre agents, who review them before sending.")]),
    DemoClassification("Cards Chat", "fatima.zahra", [(
        answers("provider", transparency=("interacts", "synthetic_content")),
        "Built on Nimbus AI's model and put into service under Meridian's name, so Meridian is the provider of "
        "the chat system; customers must be told they are talking to an AI system.")]),
    DemoClassification("Adviser Notes Drafter", "fatima.zahra", [(
        answers("provider", transparency=("synthetic_content",)), "Drafts meeting notes that advisers edit.")]),
    DemoClassification("LC Document Checker", "fatima.zahra", [(
        answers(), "Checks trade finance documents of corporate clients; no Annex III use.")]),
    DemoClassification("Volume Forecaster", "fatima.zahra", [(
        answers("provider"), "Forecasts call volumes; no decisions about people.")]),
    DemoClassification("Code Assistant", "nina.petrova", [(
        answers(transparency=("synthetic_content",)), "Generates code suggestions reviewed by engineers.")]),
    DemoClassification("Complaint Router", "fatima.zahra", [(
        answers("provider"), "Classifies and routes complaints to teams; no decision on the customer.")]),
    DemoClassification("AML Prioritiser", "fatima.zahra", [(
        answers("provider"),
        "Orders the alert queue for investigators; Meridian is not a law enforcement authority (Annex III "
        "point 6).")]),
    DemoClassification("HR Policy Bot", "peter.hughes", [(
        answers(transparency=("interacts",)), "Answered staff questions on HR policies; retired.")]),
    DemoClassification("Model Monitor", "fatima.zahra", [(answers("provider"), "Internal MLOps automation.")]),
    DemoClassification("Enterprise Search (RAG)", "nina.petrova", [(
        answers("provider", transparency=("interacts", "synthetic_content")),
        "Staff ask questions and receive generated answers with sources.")]),
    DemoClassification("Document Redaction Service", "peter.hughes", [(
        answers("provider"), "Redacts personal data from documents.")]),
    DemoClassification("Churn Signals Pilot", "fatima.zahra", [(
        answers("provider"), "Flags customers likely to leave for a retention call; no Annex III use.")]),
    DemoClassification("Collections Contact Optimiser", "fatima.zahra", [(
        answers("provider"), "Chooses the contact time for overdue accounts; terms of credit are not changed.")]),
    DemoClassification("Synthetic Data Generator", "nina.petrova", [(
        answers("provider", transparency=("synthetic_content",)),
        "Generates synthetic tabular and text data for testing.")]),
    DemoClassification("Branch Footfall Forecaster", "fatima.zahra", [(
        answers("provider"), "Forecasts branch visits for staffing.")]),
    DemoClassification("IT Incident Summariser", "nina.petrova", [(
        answers(transparency=("synthetic_content",)), "Summarises IT incident tickets.")]),
    DemoClassification("Voice Verification (paused)", "peter.hughes", [(
        answers(areas={"biometrics": ["verification_only"]}),
        "One-to-one voice verification of customers calling in: excluded from Annex III point 1(a). Paused.")]),
]


def seed_classifications(session: Session, settings: Settings, result: DemoResult) -> None:
    systems = {s.name: s.id for s in session.scalars(select(AISystem))}
    done = set(session.scalars(select(Classification.ai_system_id).distinct()))
    people = {u.email.split("@")[0]: u for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    made = 0
    for demo in CLASSIFICATIONS:
        system_id = systems.get(demo.system)
        if system_id is None or system_id in done:
            continue
        user = people.get(demo.by)
        principal = Principal.resolve(session, user) if user is not None else None
        for given, notes in demo.versions:
            classification.classify_system(session, principal, system_id, given, notes)
            made += 1
    result.created["classifications"] = made
