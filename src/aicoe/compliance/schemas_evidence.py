"""Pydantic I/O for evidence. Shapes and vocabularies are checked here; rules that need the database or the
content (the unit exists and is writable, the expiry follows the effective date, the URL is http(s), the record
exists, the file's type and size) are checked by the service, which names the field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import StringConstraints, computed_field

from aicoe.core.schemas import Input, Output

Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
EvidenceType = Literal["policy", "record", "report", "test_result", "assessment", "documentation", "contract",
                       "training_record", "approval", "register", "notice", "configuration"]
TargetType = Literal["requirement_result", "control_implementation", "risk"]


class EvidenceMeta(Input):
    """What every kind of evidence carries; ``expires_on`` must come after ``effective_date``."""

    title: Title = ""
    description: Text = ""
    evidence_type: EvidenceType | None = None
    business_unit_id: int
    effective_date: date
    expires_on: date | None = None


class LinkCreate(EvidenceMeta):
    url: Url


class RecordCreate(EvidenceMeta):
    """``title`` may be left empty: the record's own label is used."""

    record_type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=24)]
    record_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class VersionIn(Input):
    """The metadata of a new version (the content comes as the multipart part ``file``, or ``url`` / ``record_ref``)."""

    effective_date: date
    expires_on: date | None = None
    title: Title = ""
    description: Text | None = None
    url: Url = ""
    record_ref: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class ReviewIn(Input):
    decision: Literal["accepted", "rejected"]
    note: Text = ""


class LinkIn(Input):
    target_type: TargetType
    target_id: int


class Ref(Output):
    id: int
    name: str


class PersonRef(Output):
    id: int
    full_name: str


class FileRef(Output):
    id: int
    filename: str
    content_type: str
    size: int


class EvidenceOut(Output):
    id: int
    series_id: int | None
    version: int
    is_latest: bool
    title: str
    description: str
    kind: str
    evidence_type: str | None
    business_unit: Ref
    file: FileRef | None
    url: str
    record_type: str | None
    record_ref: str
    sha256: str
    size: int | None
    effective_date: date
    expires_on: date | None
    review_status: str
    reviewer: PersonRef | None
    reviewed_at: datetime | None
    review_note: str
    last_reminded_at: datetime | None
    uploaded_by: PersonRef | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def download_url(self) -> str | None:
        return f"/api/v1/evidence/{self.id}/download" if self.kind == "file" else None


class EvidenceLinkOut(Output):
    id: int
    evidence_id: int
    target_type: str
    target_id: int
    created_at: datetime


class TargetOut(Output):
    type: str
    id: int
    label: str
    url: str


class LinkedOut(Output):
    id: int
    target_type: str
    target_id: int
    target: TargetOut | None


class EvidenceDetail(EvidenceOut):
    links: list[LinkedOut]
    record_state: str | None


class ReminderOut(Output):
    expiring: int
    expired: int
    reminded: int
    evidence_ids: list[int]
