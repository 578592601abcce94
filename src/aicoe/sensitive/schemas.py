"""Pydantic I/O for dataset scans, their findings, governance violations and the text-scan endpoint.

Nothing here carries a matched value: findings have masked previews, text-scan results have offsets into the
caller's own text (the caller cuts the value out itself if it needs it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from aicoe.core.schemas import Input, Output

MAX_TEXT_CHARS = 1_000_000  # per request, all texts together
MAX_TEXTS = 1000
MAX_SAMPLE_ROWS = 10_000_000
Entities = Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=100)]
MinScore = Annotated[float, Field(ge=0.0, le=1.0)]

ONE_OF_TEXTS = "send either text or texts, not both and not neither"
TOO_MUCH_TEXT = f"at most {MAX_TEXT_CHARS:,} characters per request (all texts together)"
SAMPLE_NEEDS_ROWS = "a sampled scan needs sample_rows"
FULL_HAS_NO_ROWS = "sample_rows applies to sampled scans only"


class ScanCreate(Input):
    """Scan the dataset's location (``file_id`` empty) or an uploaded file; all rows (full) or ``sample_rows`` of
    each file (sample); ``entities`` limits the entity types looked for (empty: all)."""

    file_id: int | None = None
    mode: Literal["full", "sample"] = "full"
    sample_rows: Annotated[int, Field(ge=1, le=MAX_SAMPLE_ROWS)] | None = None
    entities: Entities = Field(default_factory=list)

    @model_validator(mode="after")
    def _sampling(self) -> ScanCreate:
        if self.mode == "sample" and self.sample_rows is None:
            raise ValueError(SAMPLE_NEEDS_ROWS)
        if self.mode == "full" and self.sample_rows is not None:
            raise ValueError(FULL_HAS_NO_ROWS)
        return self


class Ref(Output):
    id: int
    name: str


class SampleOut(Output):
    row: int | None = None
    start: int
    end: int
    preview: str


class FindingOut(Output):
    id: int
    entity: str
    category: str
    severity: str
    file: str
    column: str | None
    occurrences: int
    max_score: float
    samples: list[SampleOut]


class SkippedOut(Output):
    file: str
    reason: str


class ScanSummary(Output):
    id: int
    dataset: Ref
    business_unit_id: int
    source: str
    file_id: int | None
    job_id: int | None
    status: str
    mode: str
    sample_rows: int | None
    confidence: float | None
    entities: list[str]
    files_scanned: int
    files_skipped: int
    rows_scanned: int
    cells_scanned: int
    bytes_scanned: int
    entity_counts: dict[str, int]
    severity_counts: dict[str, int]
    suggested_classification: str | None
    personal_data: bool | None
    special_category_data: bool | None
    fingerprint: str | None
    error: str
    requested_by_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ScanOut(ScanSummary):
    skipped: list[SkippedOut]
    findings: list[FindingOut]


class ScanStarted(Output):
    scan: ScanSummary
    job_id: int
    job_url: str


class ViolationRef(Output):
    id: int
    name: str | None  # None: outside the reader's business units
    business_unit_id: int


class ViolationOut(Output):
    rule: str
    title: str
    severity: str
    rationale: str
    dataset: ViolationRef
    model: ViolationRef | None
    ai_system: ViolationRef | None


class RuleOut(Output):
    id: str
    title: str
    severity: str
    rationale: str


class ViolationsOut(Output):
    rules: list[RuleOut]
    items: list[ViolationOut]


class TextScanIn(Input):
    text: str | None = None
    texts: Annotated[list[str], Field(max_length=MAX_TEXTS)] | None = None
    entities: Entities | None = None
    min_score: MinScore | None = None
    language: Annotated[str, Field(min_length=2, max_length=8)] = "en"

    @model_validator(mode="after")
    def _one_of(self) -> TextScanIn:
        if (self.text is None) == (self.texts is None):
            raise ValueError(ONE_OF_TEXTS)
        if sum(map(len, self.all_texts)) > MAX_TEXT_CHARS:
            raise ValueError(TOO_MUCH_TEXT)
        return self

    @property
    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class ReasonOut(Output):
    recognizer: str
    pattern: str
    validator: str | None
    context: list[str]


class TextFindingOut(Output):
    entity: str
    start: int
    end: int
    score: float
    category: str
    severity: str
    reason: ReasonOut


class TextScanOut(Output):
    """One list of findings per text, in the order sent (a single ``text`` gives one list), and the counts."""

    results: list[list[TextFindingOut]]
    entity_counts: dict[str, int]

    @classmethod
    def build(cls, results: list[list[dict[str, Any]]]) -> TextScanOut:
        counts: dict[str, int] = {}
        for found in results:
            for f in found:
                counts[f["entity"]] = counts.get(f["entity"], 0) + 1
        return cls.model_validate({"results": results, "entity_counts": dict(sorted(counts.items()))})
