"""Panels other areas contribute to a record's page (the AI system page shows its classification, assessments,
controls, risks and reviews; the dataset page its sensitive-data scans) without the inventory views importing
those areas.

A provider is ``(session, principal, record) -> Panel | None`` named as ``"module:function"`` in the list for
the page; ``None`` means nothing to show (for instance the reader lacks the area's read permission).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal


@dataclass
class Panel:
    """A titled section rendered with ``template`` (included in the page, given ``panel`` and the page context)."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


AI_SYSTEM_PANELS: list[str] = [
    "aicoe.compliance.views_classification:system_panel",
    "aicoe.compliance.views_assessments:system_panel",
    "aicoe.compliance.views_controls:system_panel",
    "aicoe.risk.views:system_panel",
    "aicoe.reviews.views:system_panel",
    "aicoe.sensitive.views:system_panel",
    "aicoe.evaluation.views:system_panel",
]
DATASET_PANELS: list[str] = [
    "aicoe.sensitive.views:dataset_panel",
]


@cache
def _load(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def build(specs: list[str], session: Session, principal: Principal, record: Any) -> list[Panel]:
    return [panel for spec in specs if (panel := _load(spec)(session, principal, record)) is not None]
