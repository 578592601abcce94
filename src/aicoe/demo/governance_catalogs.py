"""Load the shipped framework catalogs and mappings for the demo, as the system (idempotent: what is loaded with
the same content is left as it is)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from aicoe.compliance import frameworks
from aicoe.config import Settings

if TYPE_CHECKING:
    from aicoe.demo import DemoResult


def seed_catalogs(session: Session, settings: Settings, result: DemoResult) -> None:
    for outcome in frameworks.sync_builtin(session, None):
        if outcome.status == "created":
            what = "frameworks" if outcome.kind == "framework" else "framework mappings"
            result.created[what] = result.created.get(what, 0) + 1
