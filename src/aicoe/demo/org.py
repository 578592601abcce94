"""Business units and people of Meridian Trust, a fictional mid-size financial-services group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.models.org import BusinessUnit
from aicoe.org import schemas, service

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

DEMO_PASSWORD = "Meridian-Demo-2026"
DOMAIN = "meridian.example"

# code, name, parent code, description
UNITS: list[tuple[str, str, str | None, str]] = [
    ("GRP", "Meridian Trust Group", None, "Group holding: executive office and shared functions."),
    ("COE", "AI Center of Excellence", "GRP", "Sets AI strategy, standards and platforms; delivers with the business."),
    ("RET", "Retail Banking", "GRP", "Current accounts, cards, mortgages and consumer lending for 2.1M customers."),
    ("RET-CARDS", "Cards & Payments", "RET", "Credit and debit cards, fraud operations, merchant acquiring."),
    ("RET-LEND", "Consumer Lending", "RET", "Personal loans, overdrafts and mortgage origination."),
    ("WLT", "Wealth Management", "GRP", "Advisory and discretionary portfolios for affluent clients."),
    ("INS", "Insurance", "GRP", "Home, motor and life insurance underwriting and claims."),
    ("CORP", "Corporate & Commercial Banking", "GRP", "Lending, trade finance and cash management for businesses."),
    ("RISK", "Group Risk & Compliance", "GRP", "Enterprise risk, regulatory compliance, model risk management."),
    ("OPS", "Operations & Technology", "GRP", "IT platforms, data engineering, security and service operations."),
    ("PROC", "Procurement", "OPS", "Sourcing, vendor management and contracts."),
]

# email local part, full name, title, unit code, CoE role (roster) or None, roles [(role, scope unit code or None)]
PEOPLE: list[tuple[str, str, str, str, str | None, list[tuple[str, str | None]]]] = [
    ("admin", "Alex Morgan", "Platform Administrator", "COE", "Platform administrator", [("admin", None)]),
    ("helena.voss", "Helena Voss", "Group Chief Operating Officer", "GRP", None, [("executive_sponsor", None)]),
    ("marcus.chen", "Marcus Chen", "Chief Data & AI Officer", "COE", "Head of the CoE",
     [("coe_lead", None), ("steering_committee", None)]),
    ("priya.raman", "Priya Raman", "Chief Risk Officer", "RISK", None, [("steering_committee", None)]),
    ("daniel.okafor", "Daniel Okafor", "CFO, Retail Banking", "RET", None, [("steering_committee", None)]),
    ("sofia.marquez", "Sofia Marquez", "AI Ethics Lead", "COE", "Ethics board chair", [("ethics_board", None)]),
    ("tom.lindqvist", "Tom Lindqvist", "Head of Conduct Risk", "RISK", None, [("ethics_board", None)]),
    ("amara.nwosu", "Amara Nwosu", "Customer Advocate", "RET", None, [("ethics_board", None)]),
    ("ines.duarte", "Ines Duarte", "AI Product Strategist", "COE", "Product strategy", [("product_strategist", None)]),
    ("kenji.watanabe", "Kenji Watanabe", "AI Programme Manager", "COE", "Delivery management",
     [("project_manager", None)]),
    ("lena.fischer", "Lena Fischer", "Lead Data Scientist", "COE", "Data science lead", [("practitioner", None)]),
    ("rahul.mehta", "Rahul Mehta", "ML Engineer", "COE", "ML engineering", [("practitioner", None)]),
    ("chloe.dubois", "Chloe Dubois", "Data Scientist", "RET-CARDS", None, [("practitioner", "RET")]),
    ("omar.haddad", "Omar Haddad", "Data Scientist", "INS", None, [("practitioner", "INS")]),
    ("grace.kim", "Grace Kim", "MLOps Engineer", "OPS", "Platform engineering", [("practitioner", None),
                                                                              ("operations", None)]),
    ("ben.carter", "Ben Carter", "Head of Fraud Operations", "RET-CARDS", None, [("domain_expert", "RET")]),
    ("julia.novak", "Julia Novak", "Credit Policy Manager", "RET-LEND", None, [("domain_expert", "RET-LEND")]),
    ("samuel.adeyemi", "Samuel Adeyemi", "Claims Director", "INS", None, [("domain_expert", "INS")]),
    ("eva.rossi", "Eva Rossi", "Senior Wealth Adviser", "WLT", None, [("domain_expert", "WLT")]),
    ("li.wei", "Li Wei", "Head of Trade Finance", "CORP", None, [("domain_expert", "CORP")]),
    ("fatima.zahra", "Fatima Zahra", "Model Risk Manager", "RISK", "Model risk", [("risk_compliance", None)]),
    ("peter.hughes", "Peter Hughes", "Data Protection Officer", "RISK", None, [("risk_compliance", None)]),
    ("nina.petrova", "Nina Petrova", "Information Security Architect", "OPS", None, [("risk_compliance", None)]),
    ("carlos.silva", "Carlos Silva", "AI Operations Manager", "OPS", "AI operations", [("operations", None)]),
    ("hannah.berg", "Hannah Berg", "Site Reliability Engineer", "OPS", None, [("operations", None)]),
    ("victor.ng", "Victor Ng", "Technology Sourcing Manager", "PROC", None, [("procurement", None)]),
    ("olivia.grant", "Olivia Grant", "Internal Auditor, Technology", "RISK", None, [("auditor", None)]),
    ("yusuf.demir", "Yusuf Demir", "External Auditor (read-only)", "RISK", None, [("auditor", None)]),
    ("maya.patel", "Maya Patel", "Retail Product Owner", "RET", None, [("viewer", "RET")]),
    ("lucas.moreau", "Lucas Moreau", "Insurance Product Owner", "INS", None, [("viewer", "INS")]),
    ("zoe.turner", "Zoe Turner", "AI Literacy Programme Lead", "COE", "Training & enablement",
     [("coe_lead", None)]),
    ("ahmed.karim", "Ahmed Karim", "Business Analyst", "CORP", None, [("viewer", "CORP")]),
    ("rosa.alvarez", "Rosa Alvarez", "Actuary", "INS", None, []),
    ("james.oconnor", "James O'Connor", "Wealth Operations Lead", "WLT", None, [("operations", "WLT")]),
]

SHOWCASE = ["admin", "marcus.chen", "sofia.marquez", "lena.fischer", "chloe.dubois", "fatima.zahra",
            "olivia.grant", "maya.patel"]


def seed_org(session: Session, settings: Settings, result: DemoResult) -> None:
    units: dict[str, BusinessUnit] = {u.code: u for u in session.scalars(select(BusinessUnit))}
    made_units = made_people = 0
    for code, name, parent, description in UNITS:
        if code in units:
            continue
        units[code] = service.create_unit(session, None, schemas.BusinessUnitCreate(
            code=code, name=name, description=description, parent_id=units[parent].id if parent else None))
        made_units += 1
    for local, name, title, unit_code, coe_role, roles in PEOPLE:
        email = f"{local}@{DOMAIN}"
        if service.find_by_email(session, email) is not None:
            continue
        service.create_person(session, settings, None, schemas.PersonCreate(
            email=email, full_name=name, title=title, business_unit_id=units[unit_code].id, coe_role=coe_role,
            password=DEMO_PASSWORD if local in SHOWCASE else None,
            roles=[schemas.RoleIn(role=r, business_unit_id=units[s].id if s else None) for r, s in roles],
        ))
        made_people += 1
    result.created["business units"] = made_units
    result.created["people"] = made_people
    by_local = {p[0]: p for p in PEOPLE}
    for local in SHOWCASE:
        roles = by_local[local][5]
        label = ", ".join(r + (f" ({s})" if s else "") for r, s in roles)
        result.logins.append((f"{local}@{DOMAIN}", label))
