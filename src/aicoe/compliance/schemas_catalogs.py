"""JSON shapes of framework catalogs, requirements, mappings and imports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from aicoe.compliance import frameworks as service
from aicoe.core.schemas import Output


class FrameworkRef(Output):
    id: int
    key: str
    version: str
    name: str
    is_current: bool


class FrameworkSummary(FrameworkRef):
    publisher: str
    source_url: str
    published: date | None
    origin: str
    imported_at: datetime
    requirement_count: int
    assessable_count: int

    @classmethod
    def of(cls, listing: service.FrameworkListing) -> FrameworkSummary:
        return cls.model_validate({**_columns(listing.framework), "requirement_count": listing.requirements,
                                   "assessable_count": listing.assessable})


class RequirementOut(Output):
    id: int
    framework_id: int
    parent_id: int | None
    ref: str
    title: str
    kind: str
    summary: str
    guidance: list[str]
    evidence_types: list[str]
    applicability: dict[str, Any]
    assessable: bool
    depth: int
    position: int


class RequirementNodeOut(RequirementOut):
    children: list[RequirementNodeOut]

    @classmethod
    def of(cls, node: service.TreeNode) -> RequirementNodeOut:
        return cls.model_validate({**_columns(node.requirement), "children": [cls.of(c) for c in node.children]})


class FrameworkDetail(FrameworkSummary):
    licence: str
    description: str
    file_sha256: str
    requirements: list[RequirementNodeOut]


class RequirementRef(Output):
    id: int
    ref: str
    title: str
    framework: FrameworkRef


class MappedRequirementOut(Output):
    relation: str
    direction: Literal["outgoing", "incoming"]
    mapping_set: str
    note: str
    requirement: RequirementRef


class RequirementLine(Output):
    id: int
    ref: str
    title: str
    kind: str


class RequirementDetail(RequirementOut):
    framework: FrameworkRef
    ancestors: list[RequirementLine]
    children: list[RequirementLine]
    mappings: list[MappedRequirementOut]


class RequirementListItem(RequirementOut):
    framework: FrameworkRef


class MappingSetOut(Output):
    id: str
    source: FrameworkRef
    target: FrameworkRef
    links: int
    relations: dict[str, int]


class ImportOut(Output):
    kind: Literal["framework", "mapping"]
    key: str
    version: str | None
    status: Literal["created", "updated", "unchanged"]
    framework_id: int | None
    counts: dict[str, int]


def _columns(row: object) -> dict[str, Any]:
    """An ORM row's column values, to extend with computed fields."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}  # type: ignore[attr-defined]
