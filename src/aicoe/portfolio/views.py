"""HTML pages for use cases (list, intake with duplicate check, overview with scoring, edit), the prioritised
pipeline with its what-if weights and value-vs-feasibility matrix, and the scoring model.

Reads and writes go through the portfolio services, which scope every query to the caller's units; a refused
form comes back with the errors next to its fields and what the user typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.inventory import systems
from aicoe.models.portfolio import Pattern, UseCase
from aicoe.models.strategy import Kpi, Objective
from aicoe.org.service import people_choices, unit_choices
from aicoe.portfolio import pipeline, schemas, scoring, usecases
from aicoe.portfolio.constants import AI_TYPES, ALL_STAGES, AXES, BENEFIT_KINDS, DELIVERY_MODES, STAGE_LABELS
from aicoe.web import charts, forms, pages

router = APIRouter()

PAGE_SIZE = 25
BENEFIT_ROWS = 3  # blank benefit rows offered beyond those already there
CRITERION_ROWS = 2  # blank criterion rows offered on the scoring-model form
MATRIX_POINTS = 200
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
FRIENDLY = {"missing": "This field is required.", "string_too_short": "This field is required.",
            "float_parsing": "Enter a number.", "int_parsing": "Enter a whole number.",
            "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD.", "date_parsing": "Enter a date as YYYY-MM-DD."}
SORTS = [("", "Newest first"), ("key", "Key"), ("title", "Title"), ("-score_total", "Score, highest first"),
         ("stage", "Stage"), ("target_date", "Target date"), ("submitted_at", "Oldest first")]




# --- choices for forms and filters ---------------------------------------------------------------------------





def _choices(session: Session, principal: Principal, use_case: UseCase | None) -> dict[str, Any]:
    return {
        "unit_options": unit_choices(session, principal, "use_case:write" if use_case else "use_case:submit"),
        "people_options": people_choices(session, principal,
                                         *((use_case.sponsor_id, use_case.owner_id) if use_case else ())),
        "objectives": session.execute(select(Objective.id, Objective.title).order_by(Objective.title)).all(),
        "kpis": session.execute(select(Kpi.id, Kpi.name).order_by(Kpi.name)).all(),
        "ai_types": list(AI_TYPES.items()), "benefit_kinds": list(BENEFIT_KINDS.items()),
        "delivery_modes": list(DELIVERY_MODES.items()),
    }


def _globals(settings: Any) -> dict[str, Any]:
    return {"stage_labels": STAGE_LABELS, "ai_labels": AI_TYPES, "benefit_labels": BENEFIT_KINDS,
            "currency": settings.currency, "axes": AXES}


# --- reading the intake/edit form ----------------------------------------------------------------------------------

def _validate(model: type[BaseModel], data: dict[str, Any], rename: dict[tuple[Any, ...], str]) -> Any:
    """Validate with the API's schema; each error goes to the form field it came from (``rename`` maps an
    error location such as ("benefits", 0, "amount") to its input's name)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[FieldError] = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            name = rename.get(loc) or rename.get(loc[:1]) or (str(loc[0]) if loc else "form")
            if all(f.field != name for f in errors):
                errors.append(FieldError(name, FRIENDLY.get(e["type"], e["msg"].rstrip(".") + ".")))
        raise ValidationFailed("; ".join(f"{f.field}: {f.message}" for f in errors), errors=errors) from None


def _ids(form: forms.FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def _benefit_rows(form: forms.FormData) -> tuple[list[dict[str, Any]], dict[tuple[Any, ...], str]]:
    """The filled benefit rows (a row counts once a kind or an amount is given) and where their errors go."""
    rows, rename = [], {}
    count = forms.optional_int(form, "benefit_rows") or 0
    for i in range(min(count, 20)):
        kind, amount = forms.text(form, f"benefit_kind_{i}"), forms.text(form, f"benefit_amount_{i}")
        if not kind and not amount:
            continue
        j = len(rows)
        row: dict[str, Any] = {"kind": kind or None, "amount": amount or None,
                               "confidence": forms.text(form, f"benefit_confidence_{i}") or 50,
                               "note": forms.text(form, f"benefit_note_{i}")}
        if forms.text(form, f"benefit_quantity_{i}"):
            row["quantity"] = forms.text(form, f"benefit_quantity_{i}")
        rows.append(row)
        for part in ("kind", "amount", "quantity", "confidence", "note"):
            rename[("benefits", j, part)] = f"benefit_{part}_{i}"
        rename[("benefits", j)] = f"benefit_kind_{i}"
    return rows, rename


def _use_case_data(form: forms.FormData, *, editing: bool) -> tuple[dict[str, Any], dict[tuple[Any, ...], str]]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in (
        "title", "problem_statement", "opportunity_statement", "affected_users", "data_needed")}
    for name in ("business_unit_id", "sponsor_id", "owner_id"):
        data[name] = forms.optional_int(form, name)
    data["ai_type"] = forms.text(form, "ai_type") or None
    data["personal_data"] = forms.text(form, "personal_data") == "1"
    data["build_cost_estimate"] = forms.text(form, "build_cost_estimate") or 0
    data["run_cost_estimate"] = forms.text(form, "run_cost_estimate") or 0
    data["target_date"] = forms.text(form, "target_date") or None
    data["objective_ids"] = _ids(form, "objective_ids")
    data["kpi_ids"] = _ids(form, "kpi_ids")
    data["benefits"], rename = _benefit_rows(form)
    rename.update({("objective_ids",): "objective_ids", ("kpi_ids",): "kpi_ids"})
    if editing:
        data["delivery_mode"] = forms.text(form, "delivery_mode") or None
        data["delivery_rationale"] = forms.text(form, "delivery_rationale")
    return data, rename


def _form_values(form: forms.FormData) -> dict[str, Any]:
    """What the user typed, including the multi-valued checkboxes, to fill the form again."""
    values: dict[str, Any] = forms.values(form)
    values["objective_ids"] = _ids(form, "objective_ids")
    values["kpi_ids"] = _ids(form, "kpi_ids")
    return values


def _stored_values(use_case: UseCase) -> dict[str, Any]:
    """A use case as form values, for the edit form."""
    values: dict[str, Any] = {name: getattr(use_case, name) for name in (
        "title", "problem_statement", "opportunity_statement", "affected_users", "data_needed",
        "business_unit_id", "ai_type", "delivery_rationale")}
    values.update({"sponsor_id": use_case.sponsor_id or "", "owner_id": use_case.owner_id or "",
                   "delivery_mode": use_case.delivery_mode or "",
                   "personal_data": "1" if use_case.personal_data else "",
                   "build_cost_estimate": f"{use_case.build_cost_estimate:g}",
                   "run_cost_estimate": f"{use_case.run_cost_estimate:g}",
                   "target_date": use_case.target_date.isoformat() if use_case.target_date else "",
                   "objective_ids": [str(o.id) for o in use_case.objectives],
                   "kpi_ids": [str(k.id) for k in use_case.kpis]})
    for i, b in enumerate(use_case.benefits):
        values.update({f"benefit_kind_{i}": b.kind, f"benefit_amount_{i}": f"{b.amount:g}",
                       f"benefit_quantity_{i}": "" if b.quantity is None else f"{b.quantity:g}",
                       f"benefit_confidence_{i}": str(b.confidence), f"benefit_note_{i}": b.note})
    return values


def _form_page(request: Request, session: Session, principal: Principal, use_case: UseCase | None,
               values: dict[str, Any], *, err: DomainError | None = None,
               duplicates: list[tuple[UseCase, float]] | None = None, settings: Any) -> HTMLResponse:
    filled = max([int(k.rsplit("_", 1)[1]) + 1 for k, v in values.items()
                  if k.startswith(("benefit_kind_", "benefit_amount_")) and v] or [0])
    context = {**_choices(session, principal, use_case), **_globals(settings), "use_case": use_case,
               "benefit_rows": filled + BENEFIT_ROWS, "duplicates": duplicates}
    if err is not None:
        return pages.form_error(request, "usecase_form.html", err, values, context)
    context["form"] = values
    return pages.render(request, "usecase_form.html", context)


# --- list ------------------------------------------------------------------------------------------------------

def _filters(**raw: str | None) -> dict[str, str]:
    return {k: (v or "").strip() for k, v in raw.items()}


@router.get("/use-cases")
def list_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("use_case:read"),
              q: Filter = None, stage: Filter = None, business_unit_id: Filter = None, ai_type: Filter = None,
              owner_id: Filter = None, pattern_id: Filter = None, sort: Filter = None,
              offset: Offset = 0) -> HTMLResponse:
    filters = _filters(q=q, stage=stage, business_unit_id=business_unit_id, ai_type=ai_type, owner_id=owner_id,
                       pattern_id=pattern_id, sort=sort)
    page = usecases.list_use_cases(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset, sort=filters["sort"] or None),
        q=filters["q"] or None, stage=filters["stage"] or None, ai_type=filters["ai_type"] or None,
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"),
        owner_id=forms.query_id(owner_id, "owner_id"), pattern_id=forms.query_id(pattern_id, "pattern_id"))
    return pages.render(request, "usecases.html", {
        **_globals(settings), "page": page, "filters": filters,
        "pager_url": forms.query_url("/use-cases", **filters),
        "export_urls": [(fmt.upper(), forms.query_url("/api/v1/use-cases/export", format=fmt, **filters))
                        for fmt in ("csv", "xlsx", "json")],
        "unit_options": unit_choices(session, principal, "use_case:read"),
        "stage_options": [(s, STAGE_LABELS[s]) for s in ALL_STAGES], "ai_types": list(AI_TYPES.items()),
        "pattern_options": session.execute(select(Pattern.id, Pattern.name).order_by(Pattern.name)).all(),
        "people_options": people_choices(session, principal), "sorts": SORTS,
    })


# --- intake ----------------------------------------------------------------------------------------------------

@router.get("/use-cases/new")
def new_page(request: Request, session: SessionDep, settings: SettingsDep,
             principal: require("use_case:submit")) -> HTMLResponse:
    units = unit_choices(session, principal, "use_case:submit")
    home = principal.user.business_unit_id
    values = {"business_unit_id": home if home in {u for u, _ in units} else "", "owner_id": "",
              "sponsor_id": ""}
    return _form_page(request, session, principal, None, values, settings=settings)


@router.post("/use-cases")
def submit(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
           principal: require("use_case:submit")) -> Response:
    """Intake. The first submission checks for similar use cases; if there are any, the form comes back with
    them listed and a "submit anyway" button, and only that second submission creates the use case."""
    values = _form_values(form)
    try:
        data, rename = _use_case_data(form, editing=False)
        body = _validate(schemas.UseCaseCreate, data, rename)
        if forms.text(form, "confirm_duplicates") != "1":
            found = usecases.similar(session, principal, body.title, body.problem_statement)
            if found:
                return _form_page(request, session, principal, None, values, duplicates=found, settings=settings)
        use_case = usecases.create_use_case(session, principal, body)
    except DomainError as err:
        session.rollback()
        return _form_page(request, session, principal, None, values, err=err, settings=settings)
    return pages.redirect(request, f"/use-cases/{use_case.key}", f"{use_case.key} submitted: {use_case.title}.")


# --- overview, scoring -------------------------------------------------------------------------------------------

def _overview(request: Request, session: Session, settings: Any, principal: Principal, key: str, *,
              err: DomainError | None = None, form: dict[str, Any] | None = None) -> HTMLResponse:
    use_case = usecases.get_use_case(session, principal, key, detail=True)
    scores = scoring.scores_of(session, use_case)
    mine = next((c for c in scores["scorers"] if c["scorer"]["id"] == principal.user.id), None)
    own = {f"ratings.{k}": str(v) for k, v in (mine["ratings"] if mine else {}).items()}
    own.update({f"comments.{k}": v for k, v in (mine["comments"] if mine else {}).items()})
    context = {
        **_globals(settings), "use_case": use_case, "tab": "overview", "scores": scores, "mine": mine,
        "criteria": scores["model"].criteria, "rating_options": [(str(i), str(i)) for i in range(1, 6)],
        "can_write": principal.may("use_case:write", use_case.business_unit_id),
        "can_score": principal.may("use_case:score", use_case.business_unit_id),
        "can_delete": use_case.stage in usecases.DELETABLE_STAGES,
        "ai_systems": systems.systems_for_use_case(session, principal, use_case.id),
        "quadrant": (pipeline.QUADRANTS[pipeline.quadrant(use_case.score_value, use_case.score_feasibility)]
                     if use_case.score_value is not None and use_case.score_feasibility is not None else None),
    }
    if err is not None:
        return pages.form_error(request, "usecase.html", err, form or {}, context)
    context["form"] = own
    return pages.render(request, "usecase.html", context)


@router.get("/use-cases/{key}")
def overview_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("use_case:read"),
                  key: str) -> HTMLResponse:
    return _overview(request, session, settings, principal, key)


@router.post("/use-cases/{key}/scores")
def score(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep, key: str,
          principal: require("use_case:score")) -> Response:
    use_case = usecases.get_use_case(session, principal, key)
    ratings: dict[str, Any] = {}
    try:
        for name, raw in form.items():
            if name.startswith("ratings.") and isinstance(raw, str):
                criterion = name.removeprefix("ratings.")
                if not raw.strip().isdigit():
                    raise ValidationFailed("choose a rating", errors=[FieldError(name, "Choose a rating from 1 to 5.")])
                ratings[criterion] = int(raw.strip())
        comments = {name.removeprefix("comments."): raw.strip() for name, raw in form.items()
                    if name.startswith("comments.") and isinstance(raw, str) and raw.strip()}
        body = _validate(schemas.ScoresIn, {"ratings": ratings, "comments": comments}, {})
        scoring.rate(session, principal, use_case, body)
    except DomainError as err:
        session.rollback()
        return _overview(request, session, settings, principal, key, err=err, form=forms.values(form))
    return pages.redirect(request, f"/use-cases/{use_case.key}#scores", "Your scores have been saved.")


@router.post("/use-cases/{key}/scores/withdraw")
def withdraw(request: Request, session: SessionDep, key: str, principal: require("use_case:score")) -> Response:
    use_case = scoring.withdraw(session, principal, usecases.get_use_case(session, principal, key))
    return pages.redirect(request, f"/use-cases/{use_case.key}#scores", "Your scores have been withdrawn.")


# --- edit, delete ------------------------------------------------------------------------------------------------

@router.get("/use-cases/{key}/edit")
def edit_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("use_case:write"),
              key: str) -> HTMLResponse:
    use_case = usecases.get_use_case(session, principal, key, detail=True)
    principal.check_unit("use_case:write", use_case.business_unit_id)
    return _form_page(request, session, principal, use_case, _stored_values(use_case), settings=settings)


@router.post("/use-cases/{key}")
def update(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep, key: str,
           principal: require("use_case:write")) -> Response:
    usecases.get_use_case(session, principal, key)
    try:
        data, rename = _use_case_data(form, editing=True)
        use_case = usecases.update_use_case(session, principal, key, _validate(schemas.UseCaseUpdate, data, rename))
    except DomainError as err:
        session.rollback()
        current = usecases.get_use_case(session, principal, key, detail=True)
        return _form_page(request, session, principal, current, _form_values(form), err=err, settings=settings)
    return pages.redirect(request, f"/use-cases/{use_case.key}", f"{use_case.key} saved.")


@router.post("/use-cases/{key}/delete")
def delete(request: Request, session: SessionDep, settings: SettingsDep, key: str,
           principal: require("use_case:write")) -> Response:
    use_case = usecases.get_use_case(session, principal, key)
    label = f"{use_case.key} ({use_case.title})"
    try:
        usecases.delete_use_case(session, principal, key)
    except DomainError as err:
        session.rollback()
        return _overview(request, session, settings, principal, key, err=err)
    return pages.redirect(request, "/use-cases", f"{label} deleted.")


# --- pipeline and matrix -------------------------------------------------------------------------------------------

def _trial_weights(request: Request, criteria: list[Any]) -> tuple[str | None, dict[str, str]]:
    """The what-if form's ``w.<key>`` inputs as the API's ``key:weight`` text, when any differs from the
    model (or the ``weights`` parameter itself, as the API takes it)."""
    params = request.query_params
    raw = {c.key: (params.get(f"w.{c.key}") or "").strip() for c in criteria}
    shown = {c.key: raw[c.key] or f"{c.weight:g}" for c in criteria}
    if params.get("weights"):
        return params["weights"], shown
    changed = [f"{k}:{v}" for k, v in raw.items()
               if v and v != f"{next(c.weight for c in criteria if c.key == k):g}"]
    return (",".join(changed) or None), shown


@router.get("/pipeline")
def pipeline_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("use_case:read"),
                  stage: Filter = None, business_unit_id: Filter = None, ai_type: Filter = None,
                  offset: Offset = 0) -> HTMLResponse:
    filters = _filters(stage=stage, business_unit_id=business_unit_id, ai_type=ai_type)
    model = scoring.current_model(session)
    weights, shown = _trial_weights(request, list(model.criteria))
    unit_id = forms.query_id(business_unit_id, "business_unit_id")
    selection = {"stage": filters["stage"] or None, "business_unit_id": unit_id, "ai_type": filters["ai_type"] or None}
    context: dict[str, Any] = {
        **_globals(settings), "filters": filters, "criteria": model.criteria, "shown_weights": shown,
        "unit_options": unit_choices(session, principal, "use_case:read"), "ai_types": list(AI_TYPES.items()),
        "stage_options": [(s, STAGE_LABELS[s]) for s in ALL_STAGES],
        "default_stages": ", ".join(STAGE_LABELS[s] for s in pipeline.PIPELINE_STAGES),
        "quadrant_labels": pipeline.QUADRANTS,
    }
    weight_params = {f"w.{k}": v for k, v in shown.items()} if weights else {}
    try:
        ranking = pipeline.ranking(session, principal, PageParams(limit=PAGE_SIZE, offset=offset), weights=weights,
                                   **selection)
    except DomainError as err:
        ranking = pipeline.ranking(session, principal, PageParams(limit=PAGE_SIZE, offset=offset), **selection)
        context.update(ranking=ranking, pager_url=forms.query_url("/pipeline", **filters))
        context.update(_matrix_context(session, principal, selection))
        return pages.form_error(request, "pipeline.html", err, {}, context)
    context.update(ranking=ranking, pager_url=forms.query_url("/pipeline", **filters, **weight_params))
    context.update(_matrix_context(session, principal, selection))
    return pages.render(request, "pipeline.html", context)


def _matrix_context(session: Session, principal: Principal, selection: dict[str, Any]) -> dict[str, Any]:
    result = pipeline.matrix(session, principal, limit=MATRIX_POINTS, **selection)
    labels = pipeline.QUADRANTS
    points = [charts.ScatterPoint(label=u.key, x=u.score_feasibility, y=u.score_value, href=f"/use-cases/{u.key}")
              for u in result.points]
    chart = charts.scatter_quadrants(
        points, x_label="Feasibility", y_label="Value", x_mid=pipeline.MATRIX_THRESHOLD,
        y_mid=pipeline.MATRIX_THRESHOLD, quadrant_labels=(labels["strategic_bets"], labels["quick_wins"],
                                                          labels["money_pits"], labels["fill_ins"]))
    rows = [(u, labels[pipeline.quadrant(u.score_value, u.score_feasibility)]) for u in result.points]
    return {"matrix": result, "matrix_chart": chart, "matrix_rows": rows, "matrix_limit": MATRIX_POINTS}


# --- scoring model -------------------------------------------------------------------------------------------------

def _model_values(model: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"name": model.name, "description": model.description}
    for i, c in enumerate(model.criteria):
        values.update({f"key_{i}": c.key, f"cname_{i}": c.name, f"weight_{i}": f"{c.weight:g}", f"axis_{i}": c.axis,
                       f"inverse_{i}": "1" if c.inverse else "", f"description_{i}": c.description})
    return values


def _model_page(request: Request, session: Session, principal: Principal, values: dict[str, Any] | None = None,
                err: DomainError | None = None) -> HTMLResponse:
    model = scoring.current_model(session)
    values = values if values is not None else _model_values(model)
    rows = max([int(k.rsplit("_", 1)[1]) + 1 for k, v in values.items() if k.startswith("key_") and v] or [0])
    context = {"model": model, "rows": rows + CRITERION_ROWS, "axes": list(AXES.items()),
               "can_edit": principal.has("scoring_model:write")}
    if err is not None:
        return pages.form_error(request, "scoring_model.html", err, values, context)
    context["form"] = values
    return pages.render(request, "scoring_model.html", context)


@router.get("/scoring-model")
def scoring_model_page(request: Request, session: SessionDep, principal: require("use_case:read")) -> HTMLResponse:
    return _model_page(request, session, principal)


@router.post("/scoring-model")
def save_scoring_model(request: Request, session: SessionDep, form: forms.FormDep,
                       principal: require("scoring_model:write")) -> Response:
    rows, rename = [], {}
    count = forms.optional_int(form, "rows") or 0
    for i in range(min(count, 40)):
        key = forms.text(form, f"key_{i}")
        if not key or forms.text(form, f"remove_{i}") == "1":
            continue
        for part, name in (("key", "key"), ("name", "cname"), ("weight", "weight"), ("axis", "axis"),
                           ("inverse", "inverse"), ("description", "description")):
            rename[("criteria", len(rows), part)] = f"{name}_{i}"
        rows.append({"key": key, "name": forms.text(form, f"cname_{i}"), "weight": forms.text(form, f"weight_{i}"),
                     "axis": forms.text(form, f"axis_{i}") or None, "inverse": forms.text(form, f"inverse_{i}") == "1",
                     "description": forms.text(form, f"description_{i}")})
    try:
        body = _validate(schemas.ScoringModelIn, {"name": forms.text(form, "name") or None,
                                                  "description": forms.text(form, "description"),
                                                  "criteria": rows}, rename)
        scoring.replace_model(session, principal, body)
    except DomainError as err:
        session.rollback()
        return _model_page(request, session, principal, forms.values(form), err)
    return pages.redirect(request, "/scoring-model", "The scoring model has been saved; totals are up to date.")
