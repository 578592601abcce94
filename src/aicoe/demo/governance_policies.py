"""Seed Meridian Trust's AI policies through the policy service (idempotent: skips policies whose title exists).

Four policies with their Markdown text (one or two published versions each, one with a draft in progress) and
attestation campaigns launched at different times: by business unit (sub-units included) and by role, so the
policy pages show attested, pending and overdue people and per-unit rates. Dates are relative to the day of
seeding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.demo.org import DOMAIN
from aicoe.models.org import BusinessUnit, User
from aicoe.models.policy import Policy
from aicoe.policy import schemas, service

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

RESPONSIBLE_AI_V1 = """\
# Responsible AI policy

## 1. Purpose

Meridian Trust uses artificial intelligence to serve customers better and to run the group more efficiently.
This policy sets the principles every AI system must follow and the responsibilities of the people who build,
buy and run them.

## 2. Scope

All AI systems used by any Meridian Trust company: built in house, bought, or used as a service. It covers
predictive models, generative AI and agents, whether they serve customers or colleagues.

## 3. Principles

1. **Fairness.** AI systems must not discriminate on protected characteristics, directly or through proxies.
2. **Transparency.** People are told when they interact with an AI system and can ask how a decision was made.
3. **Human oversight.** A named person is accountable for every AI system and can stop it.
4. **Robustness and security.** Systems are tested before release and monitored while in use.
5. **Privacy.** Personal data is used only for a documented purpose and no more than needed.

## 4. Responsibilities

| Role | Responsibility |
|---|---|
| System owner | Registers the system in the AI inventory and keeps its record current |
| AI Center of Excellence | Sets standards, reviews designs, runs the platform |
| Model Risk Management | Validates models before use and periodically after |
| Data Protection Officer | Advises on personal data and reviews impact assessments |

## 5. Breaches

Suspected breaches of this policy are reported to the AI Ethics Lead. Serious breaches are handled under the
group's disciplinary and incident procedures.
"""

RESPONSIBLE_AI_V2 = """\
# Responsible AI policy

## 1. Purpose

Meridian Trust uses artificial intelligence to serve customers better and to run the group more efficiently.
This policy sets the principles every AI system must follow, the controls that apply by risk, and the
responsibilities of the people who build, buy and run AI.

## 2. Scope

All AI systems used by any Meridian Trust company, built in house, bought or used as a service: predictive
models, generative AI and agents, whether they serve customers or colleagues. General-purpose AI tools used by
staff are also covered by the *Generative AI acceptable use* policy.

## 3. Principles

1. **Fairness.** AI systems must not discriminate on protected characteristics, directly or through proxies.
   Systems that affect customers are tested for disparate outcomes before release and at least yearly.
2. **Transparency.** People are told when they interact with an AI system or receive AI-generated content, and
   can ask how a decision about them was made.
3. **Human oversight.** A named owner is accountable for every AI system. Decisions with legal or similarly
   significant effects on a person are reviewed by a human on request.
4. **Robustness and security.** Systems are validated before release, red-teamed where they take free text, and
   monitored for performance and drift while in use.
5. **Privacy.** Personal data is used only for a documented purpose, minimised, and protected by design.

## 4. Controls by risk tier

Every AI system is classified under the EU AI Act before it leaves development.

| Tier | Before pilot and production | Re-review |
|---|---|---|
| Prohibited | Must not be built, bought or used | — |
| High-risk | AI Act assessment, independent validation, ethics-board approval | Every 12 months |
| Limited (transparency) | Disclosure to users, content marking where required | Every 24 months |
| Minimal | Inventory record and the principles above | Yearly, with the inventory |

## 5. Responsibilities

- **System owners** register the system in the AI inventory, record its risks and keep both current.
- **The AI Center of Excellence** sets standards, reviews designs and runs the shared platform.
- **The Ethics Board** approves high-risk systems and can require changes or stop a system.
- **Model Risk Management** validates models before use and periodically after.
- **Everyone** who works with AI completes the AI literacy training for their role (EU AI Act Art. 4).

## 6. Breaches

Suspected breaches are reported to the AI Ethics Lead or through the speak-up line. Serious breaches are
handled under the group's incident and disciplinary procedures.
"""

GENAI_V1 = """\
# Generative AI acceptable use

## Why this policy exists

Generative AI tools can save time, but they can also leak confidential information, produce confident
mistakes and infringe other people's rights. This policy tells you what you may and may not do.

## You may

- Use the **Meridian Assistant** and other tools listed on the intranet for drafting, summarising and coding.
- Paste internal information into approved tools only.

## You must not

- Paste customer personal data, credentials or restricted information into any tool that is not approved.
- Present generated content as fact without checking it.
- Use generative AI to make or communicate a decision about a customer.

## If something goes wrong

Report mistakes or suspected data leaks to the service desk at once.
"""

GENAI_V2 = """\
# Generative AI acceptable use

## Why this policy exists

Generative AI tools save time, but they can leak confidential information, produce confident mistakes and
infringe other people's rights. This policy tells every colleague what they may and may not do.

## Approved tools

Only tools reached through the **Meridian AI gateway** are approved. The gateway applies guardrails (personal
data redaction, prompt-injection checks) and records usage per team. The list of approved models is on the
gateway's page; anything else is not approved.

## You may

- Draft, summarise, translate and write code with approved tools.
- Use internal and confidential information in approved tools.
- Use agents from the approved list for tasks that do not change customer records.

## You must not

- Enter customer personal data, special-category data, credentials or restricted information into any tool that
  is not approved, including personal accounts of public chatbots.
- Present generated content as fact, or send it to a customer, without checking it yourself.
- Use generative AI to make or communicate a decision about a customer.
- Let an agent act on payments, customer records or access rights without a human approving each action.

## Your responsibilities

1. You are accountable for anything you send, publish or commit, whoever drafted it.
2. Say when content shared outside the group was substantially AI-generated.
3. Respect copyright: do not ask tools to reproduce third-party material you have no right to use.

## If something goes wrong

Report a mistake, a suspected data leak or a strange tool behaviour to the service desk at once. Reporting
quickly is never held against you.
"""

MODEL_RISK_V1 = """\
# AI model risk management standard

## 1. Objective

Models can be wrong, degrade over time or be used outside their purpose. This standard sets the minimum
lifecycle controls for every model in the AI inventory so that model risk stays within the group's appetite.

## 2. Model tiers

| Tier | Typical use | Validation | Monitoring report |
|---|---|---|---|
| 1 | Decisions about customers, capital or regulatory reporting | Independent, before use and yearly | Monthly |
| 2 | Material internal decisions, customer-facing content | Independent, before use and every two years | Quarterly |
| 3 | Productivity and internal analytics | Peer review | Yearly |

## 3. Development

- Document intended use, limitations and known biases in the model card.
- Record training data lineage and licences; personal data only with a documented legal basis.
- Evaluate performance and fairness on data the model has not seen, by relevant customer segments.

## 4. Validation

Model Risk Management validates tier 1 and 2 models independently of the developers: conceptual soundness, data
quality, performance, fairness, stability and implementation. Findings are tracked to closure; a model with an
open high finding is not released.

## 5. Monitoring

Owners monitor performance, drift (population stability) and fairness against thresholds agreed at validation.
A breached threshold opens an incident; the owner decides within 10 working days to recalibrate, retrain or
withdraw.

## 6. Change and retirement

Material changes (new data, new features, new use) need re-validation. Retired models stay in the inventory
with their documentation for seven years.
"""

DATA_PROTECTION_V1 = """\
# Data protection for AI

## 1. Purpose

AI often needs large amounts of data, much of it about people. This policy applies the group's data protection
policy to AI so that personal data used for training, testing or prompting is lawful, minimal and secure.

## 2. Rules

1. **Lawful basis.** Every dataset containing personal data has a documented legal basis and purpose in the AI
   inventory before it is used.
2. **Minimisation.** Use the least personal data that achieves the purpose; prefer pseudonymised or synthetic
   data for development and testing.
3. **Special-category data** (health, biometrics, and the like) is used only with an Art. 9 condition and a
   data protection impact assessment (DPIA).
4. **Automated decisions** with legal or similarly significant effects follow GDPR Art. 22: a human review on
   request and an explanation of the logic involved.
5. **Retention.** Training snapshots, prompts and logs follow the retention period of their source data.
6. **Transfers.** Personal data leaves the EEA only under an approved transfer mechanism.

## 3. Impact assessments

A DPIA is required before a new AI system processes personal data at scale, profiles people or uses
special-category data. The Data Protection Officer reviews every DPIA.
"""

DATA_PROTECTION_V2_DRAFT = DATA_PROTECTION_V1.replace(
    "## 3. Impact assessments", """\
7. **Scanning.** Datasets are scanned for personal data and secrets before they enter the lake, and monthly
   while in use; findings are fixed or accepted by the data owner.

## 3. Impact assessments""")


@dataclass(frozen=True)
class DemoVersion:
    body: str
    effective_days_ago: int | None  # None: left as a draft
    change_note: str = ""


@dataclass(frozen=True)
class DemoCampaign:
    days_ago: int  # when people were asked (they have the configured number of days to attest)
    unit_codes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    attest_every: int = 0  # every n-th person asked (by id) has not attested yet; 0: nobody attested


@dataclass(frozen=True)
class DemoPolicy:
    title: str
    description: str
    owner: str
    cycle_months: int
    versions: tuple[DemoVersion, ...]
    campaign: DemoCampaign | None = None


POLICIES: list[DemoPolicy] = [
    DemoPolicy("Responsible AI policy", "The principles every AI system follows, the controls by EU AI Act risk "
               "tier and who is responsible for what.", "sofia.marquez", 12,
               (DemoVersion(RESPONSIBLE_AI_V1, 400, "First issue"),
                DemoVersion(RESPONSIBLE_AI_V2, 60, "Adds controls by EU AI Act risk tier, the ethics-board approval "
                                                   "gate and AI literacy duties")),
               DemoCampaign(50, unit_codes=("COE", "RET"), attest_every=3)),
    DemoPolicy("Generative AI acceptable use", "What every colleague may and may not do with generative AI tools "
               "and agents.", "marcus.chen", 6,
               (DemoVersion(GENAI_V1, 200, "First issue"),
                DemoVersion(GENAI_V2, 20, "Approved tools are those behind the AI gateway; rules for agents")),
               DemoCampaign(15, unit_codes=("OPS", "INS", "WLT"), attest_every=2)),
    DemoPolicy("AI model risk management standard", "Minimum lifecycle controls for models: tiers, validation, "
               "monitoring, change and retirement.", "fatima.zahra", 12,
               (DemoVersion(MODEL_RISK_V1, 90, "First issue"),),
               DemoCampaign(80, roles=("practitioner", "risk_compliance"), attest_every=4)),
    DemoPolicy("Data protection for AI", "How the group's data protection rules apply to training data, prompts "
               "and automated decisions.", "peter.hughes", 24,
               (DemoVersion(DATA_PROTECTION_V1, 30, "First issue"),
                DemoVersion(DATA_PROTECTION_V2_DRAFT, None, "Adds scanning of datasets for personal data")),
               DemoCampaign(5, unit_codes=("RISK",))),
]


def seed_policies(session: Session, settings: Settings, result: DemoResult) -> None:
    existing = set(session.scalars(select(Policy.title)))
    people = {u.email.split("@")[0]: u.id for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    units = {u.code: u.id for u in session.scalars(select(BusinessUnit))}
    for demo in POLICIES:
        if demo.title in existing:
            continue
        policy = service.create_policy(session, None, schemas.PolicyCreate(
            title=demo.title, description=demo.description, owner_id=people.get(demo.owner),
            review_cycle_months=demo.cycle_months))
        for number, version in enumerate(demo.versions, start=1):
            service.create_version(session, None, policy.key, schemas.VersionCreate(body_md=version.body,
                                                                                    change_note=version.change_note))
            if version.effective_days_ago is not None:
                effective = service.today() - timedelta(days=version.effective_days_ago)
                service.publish_version(session, None, policy.key, number, schemas.PublishIn(effective_date=effective))
        if demo.campaign is not None:
            _campaign(session, settings, policy.key, demo.campaign, units)
        result.created["policies"] = result.created.get("policies", 0) + 1


def _campaign(session: Session, settings: Settings, key: str, campaign: DemoCampaign, units: dict[str, int]) -> None:
    """Ask people as of ``days_ago``, then have all but every n-th of them attest a few days later."""
    asked_at = utcnow() - timedelta(days=campaign.days_ago)
    outcome = service.request_attestations(session, settings, None, key, schemas.AttestationRequest(
        business_unit_ids=[units[c] for c in campaign.unit_codes if c in units], roles=list(campaign.roles)),
        now=asked_at)
    if not campaign.attest_every:
        return
    for n, attestation in enumerate(sorted(outcome.requested, key=lambda a: a.user_id)):
        if n % campaign.attest_every == 0:
            continue
        user = session.get(User, attestation.user_id)
        assert user is not None
        when = min(asked_at + timedelta(days=2 + n % 9), utcnow())
        service.attest(session, Principal.resolve(session, user), attestation.id, now=when)
