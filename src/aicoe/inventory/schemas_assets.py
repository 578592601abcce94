"""Pydantic I/O for models and datasets, and the format rules for artefact locations and checksums.

Rules that need only the value (URI shape, checksum shape, vocabularies, non-negative sizes) live here, so the API
and the forms refuse the same input with the same field name. Rules that need the database or the stored record
(references exist, the base-model chain has no cycle, legal basis when personal data) are the services'.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from aicoe.core.schemas import Input, Output

# scheme -> what a location needs besides the scheme: "host" (scheme://host/...), "path" (scheme:/path...),
# "file" (file:///absolute/path)
URI_SCHEMES: dict[str, str] = {
    "s3": "host", "s3a": "host", "gs": "host", "abfss": "host", "abfs": "host", "wasbs": "host", "hdfs": "host",
    "https": "host", "http": "host", "hf": "host", "oci": "host",
    "runs": "path", "models": "path", "dbfs": "path", "file": "file",
}
CHECKSUM_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def uri_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable artefact or data location, or None when it is."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "A location may not contain spaces or control characters."
    scheme, sep, rest = value.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in URI_SCHEMES:
        allowed = ", ".join(f"{s}:" for s in sorted(URI_SCHEMES))
        return f"Not a location URI; it must start with one of {allowed}."
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        return "Not a well-formed URI."
    shape = URI_SCHEMES[scheme]
    if shape == "host" and (not rest.startswith("//") or not parts.hostname):
        return f"A {scheme}:// location needs a host or bucket: {scheme}://name/path."
    if shape == "file" and (not rest.startswith("///") or len(rest) < 4):
        return "A file location must be absolute: file:///path/to/file."
    if shape == "path" and (not rest.startswith("/") or not rest.strip("/")):
        example = {"runs": "runs:/<run id>/<path>", "models": "models:/<name>/<version>"}.get(scheme, f"{scheme}:/path")
        return f"A {scheme}: location needs a path: {example}."
    return None


def _uri(value: str) -> str:
    problem = uri_problem(value) if value else None
    if problem:
        raise ValueError(problem)
    return value


def _checksum(value: str) -> str:
    if value and not CHECKSUM_RE.match(value):
        raise ValueError('A checksum is "sha256:" followed by 64 lowercase hexadecimal digits.')
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Version = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Format = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Uri = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(_uri)]
Checksum = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80), AfterValidator(_checksum)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
Days = Annotated[int, Field(ge=0, le=1_000_000)]
ModelKind = Literal["in_house", "fine_tuned", "third_party_api", "open_weights"]
DatasetSource = Literal["internal", "vendor", "public"]
Classification = Literal["public", "internal", "confidential", "restricted"]
LegalBasis = Literal["consent", "contract", "legal_obligation", "vital_interests", "public_task",
                     "legitimate_interests"]
Purpose = Literal["train", "fine_tune", "evaluate", "retrieval"]


# --- models ----------------------------------------------------------------------------------------------------

class ModelCreate(Input):
    name: Name
    version: Version
    kind: ModelKind
    business_unit_id: int
    owner_id: int | None = None
    vendor_id: int | None = None
    base_model_id: int | None = Field(default=None, description="the model this one derives from")
    licence: Label = ""
    description: Text = ""
    intended_use: Text = ""
    out_of_scope_uses: Text = ""
    limitations: Text = ""
    known_biases: Text = ""
    evaluation_summary: Text = ""
    artefact_uri: Uri = Field(default="", description="s3://, gs://, abfss://, https://, file:///, runs:/, "
                                                      "models:/ ...")
    checksum: Checksum = Field(default="", description='"sha256:" and 64 lowercase hex digits, or empty')


class ModelUpdate(Input):
    """Every field optional; ids may be set to null to clear them (not the business unit)."""

    name: Name | None = None
    version: Version | None = None
    kind: ModelKind | None = None
    business_unit_id: int | None = None
    owner_id: int | None = None
    vendor_id: int | None = None
    base_model_id: int | None = None
    licence: Label | None = None
    description: Text | None = None
    intended_use: Text | None = None
    out_of_scope_uses: Text | None = None
    limitations: Text | None = None
    known_biases: Text | None = None
    evaluation_summary: Text | None = None
    artefact_uri: Uri | None = None
    checksum: Checksum | None = None


class Ref(Output):
    id: int
    name: str


class PersonRef(Output):
    id: int
    full_name: str


class ModelRef(Output):
    id: int
    name: str
    version: str


class DatasetLink(Output):
    dataset: Ref
    purpose: str


class ModelSummary(Output):
    id: int
    name: str
    version: str
    kind: str
    business_unit: Ref
    owner: PersonRef | None
    vendor: Ref | None
    base_model: ModelRef | None
    licence: str
    source: str
    updated_at: datetime


class ModelOut(ModelSummary):
    description: str
    intended_use: str
    out_of_scope_uses: str
    limitations: str
    known_biases: str
    evaluation_summary: str
    artefact_uri: str
    checksum: str
    mlflow_name: str | None
    mlflow_version: str | None
    mlflow_run_id: str | None
    tags: dict[str, Any]
    aliases: list[str]
    metrics: dict[str, Any]
    dataset_links: list[DatasetLink]
    created_at: datetime


# --- datasets --------------------------------------------------------------------------------------------------

class DatasetCreate(Input):
    name: Name
    description: Text = ""
    business_unit_id: int
    owner_id: int | None = None
    steward_id: int | None = None
    source: DatasetSource = "internal"
    vendor_id: int | None = Field(default=None, description="required when source is vendor, refused otherwise")
    location_uri: Uri = ""
    format: Format = ""
    size_bytes: Count | None = None
    row_count: Count | None = None
    classification: Classification = "internal"
    personal_data: bool = False
    special_category_data: bool = Field(default=False, description="GDPR Art. 9 data; needs personal_data too")
    legal_basis: LegalBasis | None = Field(default=None, description="GDPR Art. 6(1); required with personal data")
    consent_status: Label = ""
    retention_period_days: Days | None = None
    deletion_date: date | None = None
    residency: Label = ""
    licence: Label = ""


class DatasetUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    business_unit_id: int | None = None
    owner_id: int | None = None
    steward_id: int | None = None
    source: DatasetSource | None = None
    vendor_id: int | None = None
    location_uri: Uri | None = None
    format: Format | None = None
    size_bytes: Count | None = None
    row_count: Count | None = None
    classification: Classification | None = None
    personal_data: bool | None = None
    special_category_data: bool | None = None
    legal_basis: LegalBasis | None = None
    consent_status: Label | None = None
    retention_period_days: Days | None = None
    deletion_date: date | None = None
    residency: Label | None = None
    licence: Label | None = None


class DatasetSummary(Output):
    id: int
    name: str
    business_unit: Ref
    owner: PersonRef | None
    source: str
    classification: str
    personal_data: bool
    special_category_data: bool
    updated_at: datetime


class DatasetOut(DatasetSummary):
    description: str
    steward: PersonRef | None
    vendor: Ref | None
    location_uri: str
    format: str
    size_bytes: int | None
    row_count: int | None
    legal_basis: str | None
    consent_status: str
    retention_period_days: int | None
    deletion_date: date | None
    residency: str
    licence: str
    created_at: datetime
