"""Pydantic I/O for AI systems, their model/dataset links, deployments, vendors and the inventory search.

Unknown fields are refused and vocabularies are closed (``Literal``). Rules that need the database (names are
unique, referenced rows exist and are visible, a deployment's model is linked to its system, scope) are checked
by the services, which name the field too. Risk tier and assessment status are output only: the compliance
area sets them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, EmailStr, Field, StringConstraints

from aicoe.core.schemas import Input, Output

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
AiType = Literal["predictive_ml", "generative_ai", "agentic"]
Lifecycle = Literal["in_development", "in_validation", "in_production", "retired"]
EuRole = Literal["provider", "deployer", "importer", "distributor"]
VendorType = Literal["model_provider", "isv", "system_integrator", "data_provider"]
VendorStatus = Literal["prospect", "active", "suspended", "exited"]
Environment = Literal["dev", "staging", "production"]
DeploymentStatus = Literal["planned", "active", "paused", "decommissioned"]
Ids = Annotated[list[int], Field(max_length=100)]

# An endpoint is either a URL or a free-form location ("on-prem batch cluster, nightly job"). Text with "://"
# is read as a URL and must use one of these schemes and name a host (or, for object stores, a bucket).
ENDPOINT_SCHEMES = frozenset({"http", "https", "grpc", "grpcs", "ws", "wss", "s3", "gs", "abfs", "abfss",
                              "az", "hdfs", "kafka", "dbfs", "models", "runs"})


def _website(value: str) -> str:
    if value:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("must be an http:// or https:// address, e.g. https://vendor.example")
    return value


def _endpoint(value: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ENDPOINT_SCHEMES:
            raise ValueError(f"unsupported URL scheme {parts.scheme!r}; use one of "
                             f"{', '.join(sorted(ENDPOINT_SCHEMES))}, or describe the location without '://'")
        if not parts.netloc or any(c.isspace() for c in value):
            raise ValueError("is not a well-formed URL (it needs a host after '://' and no spaces)")
        try:
            parts.port  # noqa: B018 -- raises on a port that is not a number or out of range
        except ValueError:
            raise ValueError("has an invalid port") from None
    return value


Website = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_website)]
Endpoint = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(_endpoint)]


# --- AI systems --------------------------------------------------------------------------------------------------

class SystemCreate(Input):
    name: Name
    purpose: Text = ""
    use_case_id: int | None = None
    business_unit_id: int
    owner_id: int | None = None
    technical_owner_id: int | None = None
    ai_type: AiType
    lifecycle_status: Lifecycle = "in_development"
    eu_ai_act_role: EuRole = "deployer"
    affected_people: Text = ""
    human_oversight: Text = ""
    vendor_ids: Ids = Field(default_factory=list)


class SystemUpdate(Input):
    """Every field optional; ``vendor_ids`` replaces the list."""

    name: Name | None = None
    purpose: Text | None = None
    use_case_id: int | None = None
    business_unit_id: int | None = None
    owner_id: int | None = None
    technical_owner_id: int | None = None
    ai_type: AiType | None = None
    lifecycle_status: Lifecycle | None = None
    eu_ai_act_role: EuRole | None = None
    affected_people: Text | None = None
    human_oversight: Text | None = None
    vendor_ids: Ids | None = None


class ModelLinkIn(Input):
    role: Label = ""


class DatasetLinkIn(Input):
    purpose: Label = ""


class Ref(Output):
    id: int
    name: str


class PersonRef(Output):
    id: int
    full_name: str


class UseCaseRef(Output):
    id: int
    key: str
    title: str


class ModelRef(Output):
    id: int
    name: str
    version: str


class SystemModelOut(Output):
    model: ModelRef
    role: str


class SystemDatasetOut(Output):
    dataset: Ref
    purpose: str


class SystemSummary(Output):
    id: int
    name: str
    business_unit: Ref
    ai_type: str
    lifecycle_status: str
    eu_ai_act_role: str
    owner: PersonRef | None
    risk_tier: str | None
    assessment_status: str | None
    updated_at: datetime


# --- deployments -------------------------------------------------------------------------------------------------

class DeploymentCreate(Input):
    """The service checks that ``retired_at`` is not before ``deployed_at`` (also against stored dates)."""

    environment: Environment
    endpoint: Endpoint = ""
    model_id: int | None = None
    status: DeploymentStatus = "planned"
    deployed_at: datetime | None = None
    retired_at: datetime | None = None
    gateway_route: Label = ""


class DeploymentUpdate(Input):
    environment: Environment | None = None
    endpoint: Endpoint | None = None
    model_id: int | None = None
    status: DeploymentStatus | None = None
    deployed_at: datetime | None = None
    retired_at: datetime | None = None
    gateway_route: Label | None = None


class DeploymentOut(Output):
    id: int
    ai_system_id: int
    environment: str
    endpoint: str
    model: ModelRef | None
    status: str
    deployed_at: datetime | None
    retired_at: datetime | None
    gateway_route: str
    created_at: datetime
    updated_at: datetime


class SystemOut(SystemSummary):
    purpose: str
    use_case: UseCaseRef | None
    technical_owner: PersonRef | None
    affected_people: str
    human_oversight: str
    vendors: list[Ref]
    model_links: list[SystemModelOut]
    dataset_links: list[SystemDatasetOut]
    deployments: list[DeploymentOut]
    created_at: datetime


# --- vendors -----------------------------------------------------------------------------------------------------

class VendorCreate(Input):
    name: Name
    type: VendorType
    status: VendorStatus = "active"
    website: Website = ""
    contact_name: Label = ""
    contact_email: EmailStr | Literal[""] = Field(default="", max_length=254)
    notes: Text = ""


class VendorUpdate(Input):
    name: Name | None = None
    type: VendorType | None = None
    status: VendorStatus | None = None
    website: Website | None = None
    contact_name: Label | None = None
    contact_email: EmailStr | Literal[""] | None = Field(default=None, max_length=254)
    notes: Text | None = None


class VendorOut(Output):
    id: int
    name: str
    type: str
    status: str
    website: str
    contact_name: str
    contact_email: str
    notes: str
    created_at: datetime
    updated_at: datetime


# --- search ------------------------------------------------------------------------------------------------------

class SearchHit(Output):
    type: Literal["ai_system", "model", "dataset", "vendor"]
    id: int
    name: str
    url: str


class SearchOut(Output):
    q: str
    items: list[SearchHit]
    truncated: bool
