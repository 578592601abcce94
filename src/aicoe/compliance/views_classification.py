"""HTML pages for EU AI Act classification: the overview by tier, the questionnaire form, the result with its
rationale, obligations and version history, and the panel on the AI system page.

The form shows every question, conditional ones marked with when they apply (no script needed); the server
decides which are asked. A refused form comes back with each missing or invalid answer next to its question and
every answer kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.compliance import classification, eu_ai_act
from aicoe.compliance.constants import GPAI_FLAGS, RISK_TIERS
from aicoe.compliance.schemas_classification import ClassifyIn
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.inventory.constants import EU_AI_ACT_ROLES
from aicoe.models.compliance import Classification
from aicoe.models.inventory import AISystem
from aicoe.org.service import unit_choices
from aicoe.web import forms, pages
from aicoe.web.panels import Panel

router = APIRouter()

PAGE_SIZE = 25
UNCLASSIFIED_LISTED = 100
PANEL_OBLIGATIONS = 5
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
TIER_BADGES = {"prohibited": "badge off", "high": "badge st warn", "limited": "badge st info", "minimal": "badge on"}
SORTS = [("name", "Name"), ("tier", "Tier"), ("-classified_at", "Recently classified")]


def _labels() -> dict[str, Any]:
    return {"tier_labels": RISK_TIERS, "gpai_labels": GPAI_FLAGS, "role_labels_eu": EU_AI_ACT_ROLES,
            "tier_badges": TIER_BADGES}


# --- overview ------------------------------------------------------------------------------------------------------

@router.get("/classifications")
def overview(request: Request, session: SessionDep, principal: require("compliance:read"), tier: Filter = None,
             business_unit_id: Filter = None, unclassified: Filter = None, sort: Filter = None,
             offset: Offset = 0) -> HTMLResponse:
    filters = {k: (v or "").strip() for k, v in dict(tier=tier, business_unit_id=business_unit_id,
                                                     unclassified=unclassified, sort=sort).items()}
    unit_id = forms.query_id(business_unit_id, "business_unit_id")
    page = classification.list_current(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset, sort=filters["sort"] or None),
        tier=filters["tier"] or None, business_unit_id=unit_id, unclassified=forms.tri_state(unclassified))
    waiting = classification.list_current(session, principal, PageParams(limit=UNCLASSIFIED_LISTED),
                                          business_unit_id=unit_id, unclassified=True)
    return pages.render(request, "compliance/classifications.html", {
        **_labels(), "page": page, "waiting": waiting, "filters": filters,
        "counts": classification.tier_counts(session, principal, business_unit_id=unit_id),
        "pager_url": forms.query_url("/classifications", **filters),
        "unit_options": unit_choices(session, principal, "compliance:read"),
        "tier_options": list(RISK_TIERS.items()), "sorts": SORTS,
        "unclassified_options": [("1", "Not classified yet"), ("0", "Classified")],
        "can_write": principal.has("compliance:write"),
    })


# --- the questionnaire form ------------------------------------------------------------------------------------------

def _answers(form: forms.FormData) -> dict[str, Any]:
    """The answered questions of a submitted form, as the classifier takes them."""
    answers: dict[str, Any] = {}
    for q in eu_ai_act.QUESTIONS:
        if q.type == "multi":
            chosen = [v for v in form.getlist(q.id) if isinstance(v, str) and v]
            if chosen:
                answers[q.id] = chosen
        elif value := forms.text(form, q.id):
            answers[q.id] = value
    return answers


def _form_values(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as the form shows them: "yes"/"no" for yes/no questions."""
    return {k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in answers.items()}


def _human(err: ValidationFailed) -> ValidationFailed:
    """The classifier's messages, with a missing answer told by the question's number in the form."""
    errors = []
    for e in err.errors:
        if e.message == eu_ai_act.MISSING_ANSWER.format(question=e.field):
            errors.append(FieldError(e.field, f"Question {eu_ai_act.NUMBERS[e.field]} needs an answer."))
        else:
            errors.append(e)
    return ValidationFailed(err.detail, errors=errors)


def _form_page(request: Request, system: AISystem, values: dict[str, Any],
               err: DomainError | None = None) -> HTMLResponse:
    context = {"system": system, "questionnaire": eu_ai_act.questionnaire()}
    if err is not None:
        return pages.form_error(request, "compliance/classify_form.html", err, values, context)
    return pages.render(request, "compliance/classify_form.html", {**context, "form": values})


@router.get("/ai-systems/{system_id}/classify")
def classify_page(request: Request, session: SessionDep, principal: require("compliance:write"),
                  system_id: int) -> HTMLResponse:
    """Prefilled with the current classification's answers, or with the system's recorded role."""
    system = classification.visible_system(session, principal, system_id, classification.WRITE)
    record = classification.current(session, system.id)
    values = _form_values(record.answers) if record else {"role": system.eu_ai_act_role}
    return _form_page(request, system, values)


@router.post("/ai-systems/{system_id}/classify")
def classify(request: Request, session: SessionDep, form: forms.FormDep, system_id: int,
             principal: require("compliance:write")) -> Response:
    system = classification.visible_system(session, principal, system_id, classification.WRITE)
    answers = _answers(form)
    values = {**_form_values(answers), "notes": forms.text(form, "notes")}
    try:
        body = forms.parse(ClassifyIn, {"answers": answers, "notes": values["notes"]})
        record = classification.classify_system(session, principal, system.id, body.answers, body.notes)
    except ValidationFailed as err:
        session.rollback()
        system = classification.visible_system(session, principal, system_id, classification.WRITE)
        return _form_page(request, system, values, _human(err))
    label = RISK_TIERS[record.tier]
    return pages.redirect(request, f"/ai-systems/{system_id}/classification",
                          f"{system.name} classified: {label} (version {record.version}).")


# --- the result ------------------------------------------------------------------------------------------------------

@router.get("/ai-systems/{system_id}/classification")
def result_page(request: Request, session: SessionDep, principal: require("compliance:read"), system_id: int,
                version: Annotated[int | None, Query(ge=1)] = None) -> HTMLResponse:
    """The current classification, or an earlier ``version``, with the history of all versions."""
    system = classification.visible_system(session, principal, system_id)
    versions = classification.history(session, principal, system.id)
    shown: Classification | None = versions[0] if versions else None
    if version is not None:
        shown = next((c for c in versions if c.version == version), None)
        if shown is None:
            raise NotFound(f"AI system {system_id} has no classification version {version}")
    refs = [a for r in (shown.rationale if shown else []) for a in r["articles"]]
    refs += [o["ref"] for o in (shown.obligations if shown else [])]
    return pages.render(request, "compliance/classification.html", {
        **_labels(), "system": system, "shown": shown, "versions": versions,
        "links": classification.requirement_links(session, refs),
        "can_write": principal.may("compliance:write", system.business_unit_id)})


def system_panel(session: Session, principal: Principal, system: AISystem) -> Panel | None:
    """The AI system page's "EU AI Act classification" panel (None for a reader without compliance:read)."""
    if not principal.may("compliance:read", system.business_unit_id):
        return None
    record = classification.current(session, system.id)
    # the tier's own obligations first; AI literacy (Art. 4) applies to every provider and deployer
    obligations = sorted(record.obligations if record else [], key=lambda o: o["ref"] == "Article 4")
    return Panel("EU AI Act classification", "compliance/classification_panel.html", {
        **_labels(), "classification": record, "obligations": obligations[:PANEL_OBLIGATIONS],
        "more": max(len(obligations) - PANEL_OBLIGATIONS, 0),
        "links": classification.requirement_links(session, [o["ref"] for o in obligations[:PANEL_OBLIGATIONS]]),
        "can_write": principal.may("compliance:write", system.business_unit_id)})
