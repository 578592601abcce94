"""The fictional demo organisation seeded by ``aicoe demo``, through the service layer and idempotently.

Later areas add their own seed functions to ``SEEDERS``; each must skip what already exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.demo.evaluation import seed_evaluation
from aicoe.demo.gateway import seed_gateway
from aicoe.demo.governance_assessments import seed_assessments
from aicoe.demo.governance_catalogs import seed_catalogs
from aicoe.demo.governance_classification import seed_classifications
from aicoe.demo.governance_controls import seed_controls
from aicoe.demo.governance_policies import seed_policies
from aicoe.demo.governance_reviews import seed_reviews
from aicoe.demo.governance_risks import seed_risks
from aicoe.demo.inventory import seed_inventory
from aicoe.demo.org import DEMO_PASSWORD, seed_org
from aicoe.demo.portfolio import seed_portfolio
from aicoe.demo.sensitive import seed_sensitive

ORGANISATION = "Meridian Trust Financial Group"


@dataclass
class DemoResult:
    organisation: str = ORGANISATION
    logins: list[tuple[str, str]] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        made = ", ".join(f"{n} {what}" for what, n in self.created.items() if n)
        return f"created {made}" if made else "already seeded, nothing to add"


SEEDERS: list[Callable[[Session, Settings, DemoResult], None]] = [
    seed_org, seed_portfolio, seed_inventory, seed_catalogs, seed_classifications, seed_controls, seed_assessments,
    seed_risks, seed_policies, seed_reviews, seed_sensitive,
    seed_evaluation, seed_gateway,
]


def seed(session: Session, settings: Settings) -> DemoResult:
    result = DemoResult()
    for seeder in SEEDERS:
        seeder(session, settings, result)
    return result


__all__ = ["DEMO_PASSWORD", "DemoResult", "seed"]
