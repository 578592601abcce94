"""HTML pages for value delivery, the portfolio dashboard, patterns and use-case import.

/portfolio, /use-cases/{key}/value (entries, ROI/NPV/payback, realised vs expected), /patterns, /patterns/{id},
/use-cases/import. Reads and writes go through the services, which scope every query to the caller's units.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.portfolio import dashboard as board
from aicoe.portfolio import io, patterns, value
from aicoe.portfolio.constants import AI_TYPES, ALL_STAGES, STAGE_LABELS, VALUE_KINDS
from aicoe.web import charts, forms, pages

router = APIRouter()

PAGE_SIZE = 25
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=120)]




# --- portfolio dashboard -----------------------------------------------------------------------------------------

@router.get("/portfolio")
def portfolio_page(request: Request, session: SessionDep, settings: SettingsDep,
                   principal: require("use_case:read")) -> HTMLResponse:
    d = board.dashboard(session, principal)
    v = d.value
    return pages.render(request, "portfolio.html", {
        "d": d, "currency": settings.currency, "objectives": board.by_objective(session, principal),
        "funnel_chart": charts.bar_chart([(s.label, s.reached) for s in d.funnel], unit="",
                                         title="Pipeline funnel: use cases that reached each stage"),
        "unit_chart": charts.bar_chart([(u.name, u.count) for u in d.by_unit], unit="",
                                       title="Use cases by business unit"),
        "value_chart": charts.bar_chart(
            [("Expected benefit to date", v.expected_to_date), ("Realised benefit", v.realised_benefit),
             ("Realised cost", v.realised_cost), ("Net realised value", v.net)],
            unit=settings.currency, title="Value realised against expected"),
    })


# --- value of one use case ---------------------------------------------------------------------------------------

def _value_page(request: Request, session: Session, settings: Settings, principal: Principal, key: str, *,
                rate: float | None = None, offset: int = 0, err: DomainError | None = None,
                form: dict[str, str] | None = None) -> HTMLResponse:
    s = value.summary(session, principal, key, discount_rate=settings.discount_rate if rate is None else rate,
                      currency=settings.currency)
    entries = value.list_entries(session, principal, key, PageParams(limit=PAGE_SIZE, offset=offset))
    context: dict[str, Any] = {
        "use_case": s.use_case, "tab": "value", "s": s, "entries": entries, "kinds": list(VALUE_KINDS.items()),
        "kind_labels": VALUE_KINDS, "rate": rate,
        "may_write": principal.may("value:write", s.use_case.business_unit_id),
        "pager_url": forms.query_url(f"/use-cases/{s.use_case.key}/value", discount_rate=rate),
        "chart": charts.line_chart([(m.period, c) for m, c in zip(s.months, s.cumulative, strict=True)],
                                   target=None, baseline=0.0, unit=settings.currency,
                                   title="Cumulative net value by month"),
    }
    if err is not None:
        return pages.form_error(request, "value.html", err, form or {}, context)
    return pages.render(request, "value.html", context)


def _rate(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        rate = float(raw.strip().rstrip("%")) / (100 if raw.strip().endswith("%") else 1)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 1:
        raise ValidationFailed("discount_rate must be between 0 and 1", errors=[FieldError(
            "discount_rate", "Give an annual rate between 0 and 1 (0.08) or a percentage (8%).")])
    return rate


@router.get("/use-cases/{key}/value")
def value_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("use_case:read"),
               key: str, discount_rate: Filter = None, offset: Offset = 0) -> HTMLResponse:
    try:
        rate = _rate(discount_rate)
    except ValidationFailed as err:
        return _value_page(request, session, settings, principal, key, offset=offset, err=err)
    return _value_page(request, session, settings, principal, key, rate=rate, offset=offset)


def _entry_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": forms.text(form, "kind"), "note": forms.text(form, "note")}
    for name in ("period", "amount", "quantity"):
        if forms.text(form, name):
            data[name] = forms.text(form, name)
        elif name == "quantity":
            data[name] = None
    return data


@router.post("/use-cases/{key}/value")
def add_entry(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
              principal: require("value:write"), key: str) -> Response:
    try:
        entry = value.add_entry(session, principal, key, forms.parse(value.ValueEntryIn, _entry_data(form)))
    except DomainError as err:
        session.rollback()
        return _value_page(request, session, settings, principal, key, err=err, form=forms.values(form))
    return pages.redirect(request, f"/use-cases/{key.upper()}/value",
                          f"{VALUE_KINDS[entry.kind]} of {entry.amount:,.2f} {settings.currency} recorded for "
                          f"{entry.period:%B %Y}.")


def _entry_form(request: Request, session: Session, principal: Principal, key: str, entry_id: int,
                err: DomainError | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    use_case = value.use_case_by_key(session, principal, key)
    context = {"use_case": use_case, "entry": value.get_entry(session, principal, key, entry_id),
               "kinds": list(VALUE_KINDS.items())}
    if err is not None:
        return pages.form_error(request, "value_entry.html", err, form or {}, context)
    return pages.render(request, "value_entry.html", context)


@router.get("/use-cases/{key}/value/{entry_id}/edit")
def edit_entry(request: Request, session: SessionDep, principal: require("value:write"), key: str,
               entry_id: int) -> HTMLResponse:
    return _entry_form(request, session, principal, key, entry_id)


@router.post("/use-cases/{key}/value/{entry_id}")
def update_entry(request: Request, session: SessionDep, form: forms.FormDep, principal: require("value:write"),
                 key: str, entry_id: int) -> Response:
    try:
        value.update_entry(session, principal, key, entry_id, forms.parse(value.ValueEntryUpdate, _entry_data(form)))
    except DomainError as err:
        session.rollback()
        return _entry_form(request, session, principal, key, entry_id, err, forms.values(form))
    return pages.redirect(request, f"/use-cases/{key.upper()}/value", "Value entry saved.")


@router.post("/use-cases/{key}/value/{entry_id}/delete")
def delete_entry(request: Request, session: SessionDep, principal: require("value:write"), key: str,
                 entry_id: int) -> Response:
    value.delete_entry(session, principal, key, entry_id)
    return pages.redirect(request, f"/use-cases/{key.upper()}/value", "Value entry deleted.")


# --- patterns ----------------------------------------------------------------------------------------------------

def _patterns_page(request: Request, session: Session, principal: Principal, *, q: str | None = None,
                   shared: str | None = None, offset: int = 0, err: DomainError | None = None,
                   form: dict[str, str] | None = None) -> HTMLResponse:
    page = patterns.list_patterns(session, principal, PageParams(limit=PAGE_SIZE, offset=offset), q=q or None,
                                  shared=forms.tri_state(shared))
    context = {"page": page, "q": q or "", "shared": shared or "",
               "pager_url": forms.query_url("/patterns", q=q, shared=shared)}
    if err is not None:
        return pages.form_error(request, "patterns.html", err, form or {}, context)
    return pages.render(request, "patterns.html", context)


@router.get("/patterns")
def patterns_page(request: Request, session: SessionDep, principal: require("use_case:read"), q: Filter = None,
                  shared: Filter = None, offset: Offset = 0) -> HTMLResponse:
    return _patterns_page(request, session, principal, q=q, shared=shared, offset=offset)


def _pattern_data(form: forms.FormData) -> dict[str, str]:
    return {"name": forms.text(form, "name"), "description": forms.text(form, "description")}


@router.post("/patterns")
def create_pattern(request: Request, session: SessionDep, form: forms.FormDep,
                   principal: require("use_case:write")) -> Response:
    try:
        pattern = patterns.create_pattern(session, principal, forms.parse(patterns.PatternIn, _pattern_data(form)))
    except DomainError as err:
        session.rollback()
        return _patterns_page(request, session, principal, err=err, form=forms.values(form))
    return pages.redirect(request, f"/patterns/{pattern.id}", f"Pattern {pattern.name!r} created.")


def _pattern_page(request: Request, session: Session, principal: Principal, pattern_id: int,
                  err: DomainError | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    use = patterns.pattern_usage(session, principal, pattern_id)
    context = {"use": use, "pattern": use.pattern, "stage_labels": STAGE_LABELS,
               "may_manage": principal.grants.get("use_case:write", frozenset()) is None}
    if err is not None:
        return pages.form_error(request, "patterns_detail.html", err, form or {}, context)
    return pages.render(request, "patterns_detail.html", context)


@router.get("/patterns/{pattern_id}")
def pattern_page(request: Request, session: SessionDep, principal: require("use_case:read"),
                 pattern_id: int) -> HTMLResponse:
    return _pattern_page(request, session, principal, pattern_id)


@router.post("/patterns/{pattern_id}")
def update_pattern(request: Request, session: SessionDep, form: forms.FormDep, principal: require("use_case:write"),
                   pattern_id: int) -> Response:
    try:
        patterns.update_pattern(session, principal, pattern_id,
                                forms.parse(patterns.PatternUpdate, _pattern_data(form)))
    except DomainError as err:
        session.rollback()
        return _pattern_page(request, session, principal, pattern_id, err, forms.values(form))
    return pages.redirect(request, f"/patterns/{pattern_id}", "Pattern saved.")


@router.post("/patterns/{pattern_id}/delete")
def delete_pattern(request: Request, session: SessionDep, principal: require("use_case:write"),
                   pattern_id: int) -> Response:
    name = patterns.get_pattern(session, pattern_id).name
    patterns.delete_pattern(session, principal, pattern_id)
    return pages.redirect(request, "/patterns", f"Pattern {name!r} deleted.")


@router.post("/patterns/{pattern_id}/use-cases")
def tag_use_case(request: Request, session: SessionDep, form: forms.FormDep, principal: require("use_case:write"),
                 pattern_id: int) -> Response:
    key = forms.text(form, "key")
    try:
        if not key:
            raise ValidationFailed("key is required", errors=[FieldError("key", "Enter a use-case key, e.g. UC-0007.")])
        use_case = patterns.tag(session, principal, key, pattern_id)
    except DomainError as err:
        session.rollback()
        if not err.errors:
            err = ValidationFailed(err.detail, errors=[FieldError("key", f"{err.detail[:1].upper()}{err.detail[1:]}.")])
        return _pattern_page(request, session, principal, pattern_id, err, forms.values(form))
    return pages.redirect(request, f"/patterns/{pattern_id}", f"{use_case.key} tagged.")


@router.post("/patterns/{pattern_id}/use-cases/{key}/remove")
def untag_use_case(request: Request, session: SessionDep, principal: require("use_case:write"), pattern_id: int,
                   key: str) -> Response:
    use_case = patterns.untag(session, principal, key, pattern_id)
    return pages.redirect(request, f"/patterns/{pattern_id}", f"{use_case.key} no longer tagged.")


# --- import ------------------------------------------------------------------------------------------------------

def _import_page(request: Request, report: io.ImportReport | None = None, *, status: int = 200,
                 err: DomainError | None = None) -> HTMLResponse:
    context = {"report": report, "columns": io.IMPORT_COLUMNS, "ai_types": AI_TYPES, "stages": ALL_STAGES}
    if err is not None:
        return pages.form_error(request, "import.html", err, {}, context)
    return pages.render(request, "import.html", context, status=status)


@router.get("/use-cases/import")
def import_page(request: Request, principal: require("use_case:import")) -> HTMLResponse:
    return _import_page(request)


@router.post("/use-cases/import")
def import_upload(request: Request, session: SessionDep, principal: require("use_case:import"),
                  file: Annotated[UploadFile, File()], dry_run: Annotated[str, Form(max_length=5)] = "") -> Response:
    try:
        report = io.import_file(session, principal, io.read_upload(file.file), filename=file.filename or "",
                                dry_run=dry_run == "1")
    except io.ImportRefused as refused:
        session.rollback()
        return _import_page(request, refused.report, status=422)
    except DomainError as err:
        session.rollback()
        return _import_page(request, err=err)
    if report.dry_run:
        return _import_page(request, report)
    return pages.redirect(request, "/use-cases", f"Imported {len(report.created)} use cases.")
