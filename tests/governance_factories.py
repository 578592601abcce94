"""Plain factory functions for governance tests (frameworks, requirements, mappings, controls). Like the inventory
factories they insert rows directly (no service rules, no audit) and commit."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from aicoe.models.compliance import Control, Framework, Requirement, RequirementMapping
from tests.factories import _writing
from tests.inventory_factories import _add

_seq = itertools.count(1)


def make_framework(session: Session, *, key: str | None = None, version: str = "1.0",
                   requirements: list[dict[str, Any]] | None = None, **fields: Any) -> Framework:
    """``requirements`` are dicts with ``ref`` and optional ``title``, ``parent`` (a ref listed earlier),
    ``applicability``, ``assessable`` (default: True), ``kind`` and ``evidence_types``; positions follow the list."""
    _writing(session)
    n = next(_seq)
    framework = Framework(key=key or f"framework-{n}", version=version, name=fields.pop("name", f"Framework {n}"),
                          publisher=fields.pop("publisher", "Test publisher"),
                          source_url=fields.pop("source_url", "https://example.org/framework"),
                          licence=fields.pop("licence", "test data"), file_sha256=fields.pop("file_sha256", "0" * 64),
                          **fields)
    session.add(framework)
    session.flush()
    by_ref: dict[str, Requirement] = {}
    for position, spec in enumerate(requirements or []):
        parent = by_ref[spec["parent"]] if spec.get("parent") else None
        req = Requirement(framework_id=framework.id, parent_id=parent.id if parent else None, ref=spec["ref"],
                          title=spec.get("title", spec["ref"]), kind=spec.get("kind", "requirement"),
                          summary=spec.get("summary", ""), guidance=spec.get("guidance", []),
                          evidence_types=spec.get("evidence_types", []),
                          applicability=spec.get("applicability", {}), assessable=spec.get("assessable", True),
                          position=position, depth=parent.depth + 1 if parent else 0)
        session.add(req)
        session.flush()
        by_ref[req.ref] = req
    return _add(session, framework)


def requirement(session: Session, framework: Framework, ref: str) -> Requirement:
    return session.query(Requirement).filter_by(framework_id=framework.id, ref=ref).one()


def make_mapping(session: Session, source: Requirement, target: Requirement, relation: str = "equivalent",
                 mapping_set: str = "test-mapping") -> RequirementMapping:
    _writing(session)
    return _add(session, RequirementMapping(source_id=source.id, target_id=target.id, relation=relation,
                                            mapping_set=mapping_set))


def make_control(session: Session, *, code: str | None = None, name: str | None = None, category: str = "testing",
                 requirements: list[Requirement] | None = None, **fields: Any) -> Control:
    from aicoe.models.compliance import ControlRequirement

    _writing(session)
    n = next(_seq)
    control = Control(code=code or f"CTL-{n:03d}", name=name or f"Control {n}", category=category, **fields)
    control.requirement_links = [ControlRequirement(requirement_id=r.id) for r in requirements or []]
    return _add(session, control)
