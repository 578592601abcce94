"""HTML pages for board reviews: the requests (what awaits my decision first), requesting a review, one request
with its decisions and comments, the re-review schedule with the cadence settings, and the AI system panel.

Reads and writes go through the reviews service, which scopes every query to the caller's units; a refused form
comes back with the errors next to its fields and what the user typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope
from aicoe.compliance.constants import RISK_TIERS
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.inventory import AISystem
from aicoe.models.portfolio import UseCase
from aicoe.models.reviews import ReviewRequest
from aicoe.org.service import unit_choices
from aicoe.reviews import constants, schemas, service
from aicoe.web import forms, pages
from aicoe.web.panels import Panel

router = APIRouter()

PAGE_SIZE = 25
PICKER_LIMIT = 500
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
REVIEW_TEXT = ("board", "title", "description")
DECISION_TEXT = ("decision", "conditions", "comment")
ANY = "any"  # the status filter's "every status" (no status given means open requests)


def _labels() -> dict[str, Any]:
    return {"board_labels": constants.BOARD_LABELS, "status_labels": constants.REQUEST_STATUSES,
            "decision_labels": constants.DECISIONS, "subject_labels": constants.SUBJECT_TYPES,
            "tier_labels": RISK_TIERS}


# --- the list ------------------------------------------------------------------------------------------------------

@router.get("/reviews")
def list_page(request: Request, session: SessionDep, principal: require("review:read"), status: Filter = None,
              board: Filter = None, subject_type: Filter = None, business_unit_id: Filter = None, q: Filter = None,
              offset: Offset = 0) -> HTMLResponse:
    """Open requests by default (``status=any`` shows every status); what awaits the caller comes first."""
    filters = {k: (v or "").strip() for k, v in dict(status=status, board=board, subject_type=subject_type,
                                                       business_unit_id=business_unit_id, q=q).items()}
    filters["status"] = filters["status"] or "open"
    page = service.list_reviews(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset),
        status=None if filters["status"] == ANY else filters["status"],
        board=filters["board"] or None, subject_type=filters["subject_type"] or None, q=filters["q"] or None,
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"))
    waiting = service.awaiting(session, principal)
    return pages.render(request, "reviews/list.html", {
        **_labels(), "page": page, "waiting": waiting, "filters": filters,
        "about": service.subjects(session, [*page.items, *waiting]),
        "pager_url": forms.query_url("/reviews", **filters),
        "unit_options": unit_choices(session, principal, "review:read"),
        "status_options": [*constants.REQUEST_STATUSES.items(), (ANY, "Any status")],
        "board_options": list(constants.BOARD_LABELS.items()),
        "subject_options": list(constants.SUBJECT_TYPES.items()),
        "can_request": principal.has(service.REQUEST),
    })


# --- requesting a review -------------------------------------------------------------------------------------------

def _subject_options(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """AI systems and use cases the caller may see and request reviews in, as ``type:id`` choices."""
    scope = principal.scope(service.REQUEST)
    options: list[tuple[str, str]] = []
    if principal.has("inventory:read"):
        stmt = (select(AISystem.id, AISystem.name)
                .where(in_scope(AISystem.business_unit_id, principal.scope("inventory:read")),
                       in_scope(AISystem.business_unit_id, scope)).order_by(AISystem.name).limit(PICKER_LIMIT))
        options += [(f"ai_system:{i}", f"AI system: {name}") for i, name in session.execute(stmt)]
    if principal.has("use_case:read"):
        stmt = (select(UseCase.id, UseCase.key, UseCase.title)
                .where(in_scope(UseCase.business_unit_id, principal.scope("use_case:read")),
                       in_scope(UseCase.business_unit_id, scope)).order_by(UseCase.id.desc()).limit(PICKER_LIMIT))
        options += [(f"use_case:{i}", f"Use case: {key} {title}") for i, key, title in session.execute(stmt)]
    return options


def _form_page(request: Request, session: Session, principal: Principal, values: dict[str, Any],
               err: DomainError | None = None) -> HTMLResponse:
    unit_id = None
    kind, _, raw_id = str(values.get("subject", "")).partition(":")
    if raw_id.isdigit():
        try:
            unit_id = service.find_subject(session, principal, kind, int(raw_id)).business_unit_id
        except DomainError:
            unit_id = None
    context = {**_labels(), "subject_options": _subject_options(session, principal),
               "board_options": list(constants.BOARD_LABELS.items()),
               "members": {b: service.board_members(session, b, unit_id) for b in constants.BOARDS},
               "members_for_unit": unit_id is not None}
    if err is not None:
        return pages.form_error(request, "reviews/form.html", err, values, context)
    return pages.render(request, "reviews/form.html", {**context, "form": values})


@router.get("/reviews/new")
def new_page(request: Request, session: SessionDep, principal: require("review:request"),
             subject_type: Filter = None, subject_id: Filter = None, board: Filter = None) -> HTMLResponse:
    """``?subject_type=ai_system&subject_id=7`` (or use_case) preselects the subject and offers its board members."""
    values: dict[str, Any] = {"board": board or "ethics_board", "quorum": "1", "required_approver_ids": []}
    if subject_type and subject_id:
        values["subject"] = f"{subject_type.strip()}:{subject_id.strip()}"
    return _form_page(request, session, principal, values)


def _review_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {name: forms.text(form, name) for name in REVIEW_TEXT}
    kind, _, raw_id = forms.text(form, "subject").partition(":")
    if not raw_id.isdigit():
        raise ValidationFailed("subject: choose what to review",
                               errors=[FieldError("subject", "Choose the AI system or use case to review.")])
    data.update(subject_type=kind, subject_id=int(raw_id), board=data["board"] or None,
                quorum=forms.text(form, "quorum") or "1", due_date=forms.text(form, "due_date") or None,
                required_approver_ids=[v for v in form.getlist("required_approver_ids")
                                       if isinstance(v, str) and v.strip()])
    return data


def _as_form_errors(err: DomainError) -> DomainError:
    """Errors on subject_type or subject_id belong to the form's single subject picker."""
    for e in err.errors:
        if e.field in {"subject_type", "subject_id"}:
            e.field = "subject"
    return err


@router.post("/reviews")
def create(request: Request, session: SessionDep, form: forms.FormDep,
           principal: require("review:request")) -> Response:
    try:
        review = service.request_review(session, principal, forms.parse(schemas.ReviewCreate, _review_data(form)))
    except DomainError as err:
        session.rollback()
        values: dict[str, Any] = forms.values(form)
        values["required_approver_ids"] = [v for v in form.getlist("required_approver_ids") if isinstance(v, str)]
        return _form_page(request, session, principal, values, _as_form_errors(err))
    board = constants.BOARD_LABELS[review.board].lower()
    return pages.redirect(request, f"/reviews/{review.key}", f"{review.key} sent to the {board}.")


# --- the re-review schedule (before /reviews/{key}) ----------------------------------------------------------------

def _schedule_page(request: Request, session: Session, principal: Principal, filters: dict[str, str], *,
                   err: DomainError | None = None, values: dict[str, Any] | None = None) -> HTMLResponse:
    entries = service.schedule(session, principal, risk_tier=filters.get("risk_tier") or None,
                               business_unit_id=forms.query_id(filters.get("business_unit_id"), "business_unit_id"))
    context = {
        **_labels(), "entries": entries, "overdue": [e for e in entries if e.overdue], "filters": filters,
        "cadences": service.cadences(session), "can_configure": principal.has(service.CADENCE_WRITE),
        "unit_options": unit_choices(session, principal, "review:read"),
        "tier_options": [(t, label) for t, label in RISK_TIERS.items() if t not in constants.NO_CADENCE_TIERS],
        "board_options": list(constants.BOARD_LABELS.items()),
    }
    if err is not None:
        return pages.form_error(request, "reviews/schedule.html", err, values or {}, context)
    return pages.render(request, "reviews/schedule.html", {**context, "form": values or {}})


@router.get("/reviews/schedule")
def schedule_page(request: Request, session: SessionDep, principal: require("review:read"),
                  business_unit_id: Filter = None, risk_tier: Filter = None) -> HTMLResponse:
    filters = {"business_unit_id": (business_unit_id or "").strip(), "risk_tier": (risk_tier or "").strip()}
    return _schedule_page(request, session, principal, filters)


@router.post("/reviews/schedule/cadences")
def set_cadence(request: Request, session: SessionDep, form: forms.FormDep,
                principal: require("review_cadence:write")) -> Response:
    """Set one tier's cadence; a refused value comes back next to its field."""
    data = {"interval_months": forms.text(form, "interval_months")}
    if forms.text(form, "board"):
        data["board"] = forms.text(form, "board")
    try:
        cadence = service.set_cadence(session, principal, forms.text(form, "tier"),
                                      forms.parse(schemas.CadenceIn, data))
    except DomainError as err:
        session.rollback()
        for e in err.errors:  # the form's tier picker is "tier": "risk_tier" is the schedule filter's
            e.field = "tier" if e.field == "risk_tier" else e.field
        return _schedule_page(request, session, principal, {}, err=err, values=forms.values(form))
    tier = RISK_TIERS.get(cadence.risk_tier, cadence.risk_tier)
    board = constants.BOARD_LABELS[cadence.board].lower()
    return pages.redirect(request, "/reviews/schedule#cadences",
                          f"{tier}: a review every {cadence.interval_months} months by the {board}.")


# --- one request ---------------------------------------------------------------------------------------------------

def _detail(request: Request, session: Session, principal: Principal, review: ReviewRequest, *,
            err: DomainError | None = None, values: dict[str, Any] | None = None,
            comment_error: bool = False) -> HTMLResponse:
    mine = next((d for d in review.decisions if d.user_id == principal.user.id), None)
    decided = {d.user_id: d for d in review.decisions}
    context: dict[str, Any] = {
        **_labels(), "review": review, "subject": service.subject_of(session, review),
        "progress": service.progress(session, review), "decided": decided, "mine": mine,
        "can_decide": review.status == "open" and service.may_decide(session, principal, review),
        "can_comment": service.may_comment(session, principal, review),
        "can_withdraw": service.may_withdraw(principal, review),
        "decision_options": list(constants.DECISIONS.items()), "comment_error": comment_error,
    }
    form = values if values is not None else (
        {"decision": mine.decision, "conditions": mine.conditions, "comment": mine.comment} if mine else {})
    if err is not None:
        return pages.form_error(request, "reviews/detail.html", err, form, context)
    return pages.render(request, "reviews/detail.html", {**context, "form": form})


@router.get("/reviews/{key}")
def detail_page(request: Request, session: SessionDep, principal: require("review:read"), key: str) -> HTMLResponse:
    return _detail(request, session, principal, service.get_review(session, principal, key))


@router.post("/reviews/{key}/decisions")
def decide(request: Request, session: SessionDep, form: forms.FormDep, key: str,
           principal: require("review:decide")) -> Response:
    data = {name: forms.text(form, name) for name in DECISION_TEXT}
    data["decision"] = data["decision"] or None
    try:
        review = service.decide(session, principal, key, forms.parse(schemas.DecisionIn, data))
    except DomainError as err:
        session.rollback()
        review = service.get_review(session, principal, key)
        return _detail(request, session, principal, review, err=err, values=forms.values(form))
    message = f"Your decision on {review.key} is recorded."
    if review.status != "open":
        message += f" The request is now {constants.REQUEST_STATUSES[review.status].lower()}."
    return pages.redirect(request, f"/reviews/{review.key}", message)


@router.post("/reviews/{key}/comments")
def comment(request: Request, session: SessionDep, form: forms.FormDep, key: str,
            principal: require("review:read")) -> Response:
    try:
        service.add_comment(session, principal, key, forms.parse(schemas.CommentIn, {"body": forms.text(form, "body")}))
    except DomainError as err:
        session.rollback()
        review = service.get_review(session, principal, key)
        return _detail(request, session, principal, review, err=err, values=forms.values(form), comment_error=True)
    return pages.redirect(request, f"/reviews/{key.strip().upper()}#comments", "Comment added.")


@router.post("/reviews/{key}/withdraw")
def withdraw(request: Request, session: SessionDep, form: forms.FormDep, key: str,
             principal: require("review:request")) -> Response:
    review = service.withdraw(session, principal, key, schemas.WithdrawIn(reason=forms.text(form, "reason")[:10_000]))
    return pages.redirect(request, f"/reviews/{review.key}", f"{review.key} withdrawn.")


# --- the AI system page's panel ------------------------------------------------------------------------------------

def system_panel(session: Session, principal: Principal, system: AISystem) -> Panel | None:
    """Reviews of the system and of its use case, the next re-review due, and a link to request one."""
    if not principal.may(service.READ, system.business_unit_id):
        return None
    reviews = service.reviews_of_system(session, principal, system)
    entry = next(iter(service.schedule(session, principal, system_id=system.id)), None)
    return Panel("Reviews and approvals", "reviews/panel.html", {
        **_labels(), "reviews": reviews, "entry": entry, "about": service.subjects(session, reviews),
        "can_request": principal.may(service.REQUEST, system.business_unit_id),
    })
