"""The two catalog file formats as pydantic models: a framework catalog (``aicoe-catalog/1``) and a
cross-framework mapping (``aicoe-mapping/1``). See docs/catalogs.md.

Pure: no database, no web. Each field refuses bad input with a reason a catalog author can act on; rules that
span several nodes (unique refs, links that must name existing requirements) are checked by the loader.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr

from aicoe.compliance.constants import EVIDENCE_TYPES, GPAI_FLAGS, MAPPING_RELATIONS, RISK_TIERS
from aicoe.inventory.constants import EU_AI_ACT_ROLES, LIFECYCLE_STATUSES
from aicoe.portfolio.constants import AI_TYPES

CATALOG_SCHEMA = "aicoe-catalog/1"
MAPPING_SCHEMA = "aicoe-mapping/1"
MAX_SUMMARY = 1000
MAX_DEPTH = 10  # levels of requirements below the framework (the deepest shipped catalog uses 4)

_SLUG = re.compile(r"[a-z0-9][a-z0-9.-]*")
_KIND = re.compile(r"[a-z][a-z0-9_]*")


# --- field types ---------------------------------------------------------------------------------------------------

def _limit(value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise ValueError(f"is {len(value)} characters long; the limit is {max_length}")
    return value


def _text(max_length: int, *, single_line: bool = True) -> Any:
    """Non-empty text of at most ``max_length`` characters. A single line (an identifier, a title) must be
    written exactly, without surrounding spaces; longer text is trimmed (YAML's ``>`` keeps a final newline)."""

    def check(value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if not single_line:
            return _limit(value.strip(), max_length)
        if value != value.strip():
            raise ValueError("must not start or end with spaces")
        if "\n" in value or "\r" in value:
            raise ValueError("must be a single line")
        return _limit(value, max_length)

    return Annotated[StrictStr, AfterValidator(check)]


def _optional_text(max_length: int) -> Any:
    """Text that may be empty, trimmed, at most ``max_length`` characters."""
    return Annotated[StrictStr, AfterValidator(lambda value: _limit(value.strip(), max_length))]


def _slug(max_length: int) -> Any:
    def check(value: str) -> str:
        if not _SLUG.fullmatch(value) or not re.search(r"[a-z]", value):
            raise ValueError(f"{value!r} is not an id: use lowercase letters, digits, '.' and '-', starting with a "
                             "letter or digit and containing at least one letter")
        return _limit(value, max_length)

    return Annotated[StrictStr, AfterValidator(check)]


def _kind(value: str) -> str:
    if not _KIND.fullmatch(value) or len(value) > 32:
        raise ValueError(f"{value!r} is not a kind: use at most 32 lowercase letters, digits and '_', starting with "
                         "a letter (e.g. article, category, control)")
    return value


def _one_of(allowed: dict[str, str] | tuple[str, ...], what: str) -> Any:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not a known {what}; allowed: {', '.join(allowed)}")
        return value

    return Annotated[StrictStr, AfterValidator(check)]


def _distinct(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)
    return values


def _choices(allowed: dict[str, str], what: str) -> Any:
    """A non-empty list of distinct values from ``allowed``."""
    return Annotated[list[_one_of(allowed, what)], Field(min_length=1), AfterValidator(_distinct)]


def _iso_date(value: Any) -> Any:
    """A YAML date, or ISO text (YYYY-MM-DD) as JSON writes it; never a number of seconds."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date written as YYYY-MM-DD")


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


Ref = _text(64)
Title = _text(500)
Name = _text(200)
Summary = _optional_text(MAX_SUMMARY)
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Url = Annotated[_text(1000), AfterValidator(_http_url)]


class _Strict(BaseModel):
    """Unknown fields are refused, so a misspelt key (``evidence_type``) is reported rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- framework catalogs ----------------------------------------------------------------------------------------

class Applicability(_Strict):
    """When a requirement applies to an AI system: every key given must match (values within a key: any)."""

    ai_types: _choices(AI_TYPES, "AI type") | None = None
    risk_tiers: _choices(RISK_TIERS, "risk tier") | None = None
    eu_roles: _choices(EU_AI_ACT_ROLES, "EU AI Act role") | None = None
    lifecycle_stages: _choices(LIFECYCLE_STATUSES, "lifecycle stage") | None = None
    personal_data: StrictBool | None = None
    gpai: _choices(GPAI_FLAGS, "general-purpose AI flag") | None = None

    def rule(self) -> dict[str, Any]:
        """The rule as stored: only the keys that were given."""
        return self.model_dump(exclude_none=True)


class RequirementNode(_Strict):
    ref: Ref
    title: Title
    kind: Annotated[StrictStr, AfterValidator(_kind)]
    summary: Summary = ""
    guidance: list[_text(500, single_line=False)] = Field(default_factory=list, max_length=20)
    evidence_types: Annotated[list[_one_of(EVIDENCE_TYPES, "evidence type")], AfterValidator(_distinct)] = \
        Field(default_factory=list)
    assessable: StrictBool | None = None
    applicability: Applicability | None = None
    children: list[RequirementNode] = Field(default_factory=list)

    @property
    def is_assessable(self) -> bool:
        """As written, else: results are recorded on leaves, not on the nodes that group them."""
        return self.assessable if self.assessable is not None else not self.children


class FrameworkInfo(_Strict):
    id: _slug(64)
    name: Name
    version: _text(32)
    publisher: Name
    source_url: Url
    licence: _text(4000, single_line=False)
    published: IsoDate
    description: _optional_text(2000) = ""


class CatalogFile(_Strict):
    schema_: Literal["aicoe-catalog/1"] = Field(alias="schema")
    framework: FrameworkInfo
    requirements: list[RequirementNode] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def walk(self) -> Iterator[Node]:
        """Every requirement in pre-order (the source's order), with its depth and parent."""
        stack: list[tuple[RequirementNode, int, RequirementNode | None]] = [
            (n, 0, None) for n in reversed(self.requirements)]
        while stack:
            node, depth, parent = stack.pop()
            yield Node(node, depth, parent)
            stack.extend((child, depth + 1, node) for child in reversed(node.children))


@dataclass(frozen=True)
class Node:
    requirement: RequirementNode
    depth: int
    parent: RequirementNode | None


# --- mappings ------------------------------------------------------------------------------------------------------

class MappingInfo(_Strict):
    id: _slug(120)
    name: Name
    source_framework: _slug(64)
    target_framework: _slug(64)
    provenance: _text(4000, single_line=False)
    licence: _text(4000, single_line=False)
    published: IsoDate


class Link(_Strict):
    source: Ref
    target: Ref
    relation: _one_of(MAPPING_RELATIONS, "relation")
    note: _optional_text(MAX_SUMMARY) = ""


class MappingFile(_Strict):
    schema_: Literal["aicoe-mapping/1"] = Field(alias="schema")
    mapping: MappingInfo
    links: list[Link] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
