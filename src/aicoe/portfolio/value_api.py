"""JSON routes for value delivery, the portfolio dashboard, patterns, and use-case import and export.

/api/v1/use-cases/{key}/value-entries, /use-cases/{key}/value, /portfolio/dashboard, /portfolio/rollups,
/patterns, /use-cases/{key}/patterns/{id}, /use-cases/import, /use-cases/export, /value-entries/export,
/pipeline/export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import in_scope
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.pagination import PageParams
from aicoe.models.portfolio import UseCase, ValueEntry
from aicoe.portfolio import dashboard as board
from aicoe.portfolio import export, io, patterns, pipeline, usecases, value
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["value and patterns"])

Stages = Annotated[list[str] | None, Query(description="stage names, repeated or comma-separated")]
Text = Annotated[str | None, Query(max_length=200)]
Format = Annotated[Literal["csv", "xlsx", "json"], Query(description="csv (streamed), xlsx or json")]
Rate = Annotated[float | None, Query(ge=0, le=1, description="annual discount rate; default from settings")]


# --- output shapes -----------------------------------------------------------------------------------------------

class MonthOut(BaseModel):
    period: date
    costs: float
    benefits: float
    net: float
    cumulative: float


class StageTimeOut(BaseModel):
    stage: str
    label: str
    days: float


class ValueSummaryOut(BaseModel):
    key: str
    currency: str
    discount_rate: float
    totals_by_kind: dict[str, float]
    benefits: float
    costs: float
    net: float
    roi: float | None
    payback_months: float | None
    npv: float | None
    irr: float | None
    expected_annual: float
    expected_to_date: float
    expected_since: date | None
    realised_vs_expected: float | None
    delivery_days: float | None
    stage_times: list[StageTimeOut]
    months: list[MonthOut]
    notes: dict[str, str]


class RollupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    use_cases: int
    in_production: int
    expected_annual: float
    expected_to_date: float
    realised_benefit: float
    realised_cost: float
    net: float
    roi: float | None
    realised_vs_expected: float | None


class StageCountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    stage: str
    label: str
    count: int
    reached: int


class UnitCountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_id: int
    code: str
    name: str
    count: int


class TopOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    title: str
    unit_code: str
    stage: str
    realised_benefit: float
    realised_cost: float


class DashboardOut(BaseModel):
    currency: str
    total: int
    by_stage: list[StageCountOut]
    funnel: list[StageCountOut]
    by_unit: list[UnitCountOut]
    value: RollupOut
    delivered: int
    median_delivery_days: float | None
    top: list[TopOut]


class UnitRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str


class TaggedUseCase(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    title: str
    stage: str
    business_unit_id: int


class PatternOut(BaseModel):
    id: int
    name: str
    description: str
    shared: bool
    units: list[UnitRef]
    use_cases: list[TaggedUseCase]


class PatternRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


def _pattern_out(use: patterns.PatternUse) -> PatternOut:
    p = use.pattern
    return PatternOut(id=p.id, name=p.name, description=p.description, shared=use.shared,
                      units=[UnitRef.model_validate(u) for u in use.units],
                      use_cases=[TaggedUseCase.model_validate(uc) for uc in use.use_cases])


def _summary_out(s: value.ValueSummary) -> ValueSummaryOut:
    return ValueSummaryOut(
        key=s.use_case.key, currency=s.currency, discount_rate=s.discount_rate, totals_by_kind=s.totals_by_kind,
        benefits=s.benefits, costs=s.costs, net=round(s.net, 2), roi=s.roi, payback_months=s.payback_months,
        npv=s.npv, irr=s.irr, expected_annual=s.expected_annual, expected_to_date=s.expected_to_date,
        expected_since=s.expected_since, realised_vs_expected=s.realised_vs_expected, delivery_days=s.delivery_days,
        stage_times=[StageTimeOut(stage=t.stage, label=t.label, days=t.days) for t in s.stage_times],
        months=[MonthOut(period=m.period, costs=m.costs, benefits=m.benefits, net=round(m.net, 2), cumulative=c)
                for m, c in zip(s.months, s.cumulative, strict=True)],
        notes=s.notes,
    )


# --- value entries -----------------------------------------------------------------------------------------------

@router.get("/use-cases/{key}/value-entries", response_model=PageOut[value.ValueEntryOut])
def list_entries(session: SessionDep, principal: require("use_case:read"), key: str, page: PageQuery,
                 kind: Annotated[str | None, Query(max_length=32)] = None) -> dict:
    return page_out(value.list_entries(session, principal, key, page, kind=kind), value.ValueEntryOut)


@router.post("/use-cases/{key}/value-entries", response_model=value.ValueEntryOut, status_code=201)
def add_entry(session: SessionDep, principal: require("value:write"), key: str, body: value.ValueEntryIn) -> object:
    return value.add_entry(session, principal, key, body)


@router.get("/use-cases/{key}/value-entries/{entry_id}", response_model=value.ValueEntryOut)
def get_entry(session: SessionDep, principal: require("use_case:read"), key: str, entry_id: int) -> object:
    return value.get_entry(session, principal, key, entry_id)


@router.patch("/use-cases/{key}/value-entries/{entry_id}", response_model=value.ValueEntryOut)
def update_entry(session: SessionDep, principal: require("value:write"), key: str, entry_id: int,
                 body: value.ValueEntryUpdate) -> object:
    return value.update_entry(session, principal, key, entry_id, body)


@router.delete("/use-cases/{key}/value-entries/{entry_id}", status_code=204)
def delete_entry(session: SessionDep, principal: require("value:write"), key: str, entry_id: int) -> Response:
    value.delete_entry(session, principal, key, entry_id)
    return Response(status_code=204)


@router.get("/use-cases/{key}/value", response_model=ValueSummaryOut)
def value_summary(session: SessionDep, settings: SettingsDep, principal: require("use_case:read"), key: str,
                  discount_rate: Rate = None) -> ValueSummaryOut:
    """ROI, payback, NPV (at ``discount_rate`` or the configured rate), realised vs expected, delivery time."""
    rate = settings.discount_rate if discount_rate is None else discount_rate
    return _summary_out(value.summary(session, principal, key, discount_rate=rate, currency=settings.currency))


# --- portfolio -----------------------------------------------------------------------------------------------------

@router.get("/portfolio/dashboard", response_model=DashboardOut)
def portfolio_dashboard(session: SessionDep, settings: SettingsDep, principal: require("use_case:read"),
                        top: Annotated[int, Query(ge=1, le=50)] = 10) -> DashboardOut:
    """Counts by stage and unit, the funnel, value realised vs expected, median delivery time, top use cases."""
    d = board.dashboard(session, principal, top=top)
    return DashboardOut(
        currency=settings.currency, total=d.total,
        by_stage=[StageCountOut.model_validate(s) for s in d.by_stage],
        funnel=[StageCountOut.model_validate(s) for s in d.funnel],
        by_unit=[UnitCountOut.model_validate(u) for u in d.by_unit], value=RollupOut.model_validate(d.value),
        delivered=d.delivered, median_delivery_days=d.median_delivery_days,
        top=[TopOut.model_validate(t) for t in d.top],
    )


@router.get("/portfolio/rollups", response_model=list[RollupOut])
def portfolio_rollups(session: SessionDep, principal: require("use_case:read"),
                      by: Annotated[Literal["unit", "objective"], Query()] = "unit") -> list[RollupOut]:
    """Value per business unit (key: unit code) or per strategic objective (key: objective id)."""
    rows = board.by_unit(session, principal) if by == "unit" else board.by_objective(session, principal)
    return [RollupOut.model_validate(r) for r in rows]


# --- patterns ------------------------------------------------------------------------------------------------------

@router.get("/patterns", response_model=PageOut[PatternOut])
def list_patterns(session: SessionDep, principal: require("use_case:read"), page: PageQuery,
                  q: Annotated[str | None, Query(max_length=120)] = None, shared: bool | None = None) -> dict:
    """Patterns with the business units and use cases using them; ``shared=true``: used by 2+ units."""
    result = patterns.list_patterns(session, principal, page, q=q, shared=shared)
    return {"items": [_pattern_out(u) for u in result.items], "total": result.total, "limit": result.limit,
            "offset": result.offset, "next_offset": result.next_offset}


@router.post("/patterns", response_model=PatternOut, status_code=201)
def create_pattern(session: SessionDep, principal: require("use_case:write"), body: patterns.PatternIn) -> object:
    pattern = patterns.create_pattern(session, principal, body)
    return _pattern_out(patterns.pattern_usage(session, principal, pattern.id))


@router.get("/patterns/{pattern_id}", response_model=PatternOut)
def get_pattern(session: SessionDep, principal: require("use_case:read"), pattern_id: int) -> object:
    return _pattern_out(patterns.pattern_usage(session, principal, pattern_id))


@router.patch("/patterns/{pattern_id}", response_model=PatternOut)
def update_pattern(session: SessionDep, principal: require("use_case:write"), pattern_id: int,
                   body: patterns.PatternUpdate) -> object:
    patterns.update_pattern(session, principal, pattern_id, body)
    return _pattern_out(patterns.pattern_usage(session, principal, pattern_id))


@router.delete("/patterns/{pattern_id}", status_code=204)
def delete_pattern(session: SessionDep, principal: require("use_case:write"), pattern_id: int) -> Response:
    patterns.delete_pattern(session, principal, pattern_id)
    return Response(status_code=204)


@router.put("/use-cases/{key}/patterns/{pattern_id}", response_model=list[PatternRef])
def tag_use_case(session: SessionDep, principal: require("use_case:write"), key: str, pattern_id: int) -> object:
    """Tag the use case with the pattern (idempotent); answers the use case's patterns."""
    return patterns.tag(session, principal, key, pattern_id).patterns


@router.delete("/use-cases/{key}/patterns/{pattern_id}", response_model=list[PatternRef])
def untag_use_case(session: SessionDep, principal: require("use_case:write"), key: str, pattern_id: int) -> object:
    return patterns.untag(session, principal, key, pattern_id).patterns


# --- import and export ---------------------------------------------------------------------------------------------

class RowErrorOut(BaseModel):
    row: int
    column: str
    message: str


class ImportReportOut(BaseModel):
    dry_run: bool
    ok: bool
    rows: int
    valid: int
    created: list[str]
    errors: list[RowErrorOut]


@router.post("/use-cases/import", response_model=ImportReportOut)
def import_use_cases(session: SessionDep, principal: require("use_case:import"), response: Response,
                     file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX; columns: see docs")],
                     dry_run: bool = False) -> dict:
    """Create a use case per row, all or nothing. ``dry_run=true`` checks only and reports every row error
    (200 with ``ok: false``); a real import with errors writes nothing and answers 422 with the report."""
    report = io.import_file(session, principal, io.read_upload(file.file), filename=file.filename or "",
                            dry_run=dry_run)
    if not dry_run:
        response.status_code = 201
    return report.as_dict()


MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
RowSource = Callable[[Session], Iterator[dict[str, Any]]]


def _export(request: Request, session: Session, rows: RowSource, columns: tuple[str, ...], fmt: str,
            name: str) -> Response:
    """CSV and JSON stream from a session of their own (the request's closes when the route returns); XLSX is
    built in memory first, as a workbook must be."""
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "xlsx":
        return Response(export.xlsx_bytes(rows(session), columns, sheet=name), media_type=MEDIA[fmt], headers=headers)
    factory = request.app.state.sessionmaker

    def body() -> Iterator[str]:
        with factory() as own:
            chunks = export.csv_lines if fmt == "csv" else export.json_chunks
            yield from chunks(rows(own), columns)

    return StreamingResponse(body(), media_type=MEDIA[fmt], headers=headers)


@router.get("/use-cases/export")
def export_use_cases(request: Request, session: SessionDep, principal: require("use_case:read"),
                     format: Format = "csv", stage: Stages = None, business_unit_id: int | None = None,  # noqa: A002
                     ai_type: Text = None, q: Text = None, pattern_id: int | None = None, owner_id: int | None = None,
                     sort: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """Every use case the list shows with the same filters and sort, one row each (columns: see docs)."""
    stmt = usecases.order_by(usecases.filtered(
        usecases.use_cases_query(principal), stage=stage, business_unit_id=business_unit_id, ai_type=ai_type, q=q,
        pattern_id=pattern_id, owner_id=owner_id), sort)
    return _export(request, session, lambda s: export.use_case_rows(s, stmt), io.EXPORT_COLUMNS, format, "use-cases")


@router.get("/value-entries/export")
def export_value_entries(request: Request, session: SessionDep, principal: require("use_case:read"),
                         format: Format = "csv", use_case: Annotated[str | None, Query(max_length=16)] = None,  # noqa: A002
                         business_unit_id: int | None = None, kind: Annotated[str | None, Query(max_length=32)] = None,
                         period_from: date | None = None, period_to: date | None = None) -> Response:
    """Value entries of the use cases the caller may read, by use case and month."""
    stmt = (select(ValueEntry, UseCase.key).join(UseCase, UseCase.id == ValueEntry.use_case_id)
            .where(in_scope(UseCase.business_unit_id, principal.scope("use_case:read"))))
    if use_case:
        stmt = stmt.where(UseCase.id == value.use_case_by_key(session, principal, use_case).id)
    if business_unit_id is not None:
        stmt = stmt.where(UseCase.business_unit_id == business_unit_id)
    if kind:
        stmt = stmt.where(ValueEntry.kind == kind)
    if period_from:
        stmt = stmt.where(ValueEntry.period >= period_from)
    if period_to:
        stmt = stmt.where(ValueEntry.period <= period_to)
    stmt = stmt.order_by(UseCase.id, ValueEntry.period, ValueEntry.id)
    return _export(request, session, lambda s: export.value_rows(s, stmt), io.VALUE_COLUMNS, format, "value-entries")


@router.get("/pipeline/export")
def export_pipeline(request: Request, session: SessionDep, principal: require("use_case:read"),
                    format: Format = "csv", stage: Stages = None, business_unit_id: int | None = None,  # noqa: A002
                    ai_type: Text = None, weights: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
    """The ranked pipeline as the pipeline view shows it (same filters and what-if weights), every page."""
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        ranking = pipeline.ranking(session, principal, PageParams(limit=500, offset=offset), stage=stage,
                                   business_unit_id=business_unit_id, ai_type=ai_type, weights=weights)
        for r in ranking.items:
            uc = r.use_case
            rows.append({"rank": r.rank, "key": uc.key, "title": uc.title, "business_unit": uc.business_unit.code,
                         "stage": uc.stage, "ai_type": uc.ai_type,
                         "score_total": uc.score_total, "score_value": uc.score_value,
                         "score_feasibility": uc.score_feasibility, "score_spread": uc.score_spread,
                         "scorer_count": uc.scorer_count, "what_if_total": r.what_if_total,
                         "what_if_value": r.what_if_value})
        if ranking.next_offset is None:
            break
        offset = ranking.next_offset
    return _export(request, session, lambda _: iter(rows), io.PIPELINE_COLUMNS, format, "pipeline")
