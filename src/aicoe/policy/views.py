"""HTML pages for policies (list, write, the policy with its text in force, versions and attestation progress per
business unit; drafting, editing and publishing versions; asking people to attest) and "My attestations", where
people read and attest the versions they were asked to.

Everything goes through the policy services; a refused form comes back with the errors next to its fields and
what the user typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.permissions import ROLE_LABELS
from aicoe.auth.principal import Principal
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.org.service import people_choices, unit_choices
from aicoe.policy import schemas, service
from aicoe.policy.markdown import render
from aicoe.web import forms, pages

router = APIRouter()

PAGE_SIZE = 25
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
POLICY_FIELDS = ("title", "description", "owner_id", "review_cycle_months")


def _labels() -> dict[str, Any]:
    return {"policy_statuses": service.POLICY_STATUSES, "version_statuses": service.VERSION_STATUSES,
            "attestation_statuses": service.ATTESTATION_STATUSES, "render": render}


# --- the list and writing policies --------------------------------------------------------------------------------

@router.get("/policies")
def list_page(request: Request, session: SessionDep, principal: require("policy:read"), q: Filter = None,
              status: Filter = None, offset: Offset = 0) -> HTMLResponse:
    filters = {"q": (q or "").strip(), "status": (status or "").strip()}
    page = service.list_policies(session, principal, PageParams(limit=PAGE_SIZE, offset=offset),
                                 q=filters["q"] or None, status=filters["status"] or None)
    return pages.render(request, "policy/policies.html", {
        **_labels(), "page": page, "filters": filters, "pager_url": forms.query_url("/policies", **filters),
        "status_options": list(service.POLICY_STATUSES.items()), "current": service.current_version,
        "review_due": service.review_due, "can_write": service.may_write(principal),
        "pending": service.pending_count(session, principal) if principal.has(service.ATTEST) else None,
    })


def _policy_data(form: forms.FormData) -> dict[str, Any]:
    data: dict[str, Any] = {"title": forms.text(form, "title"), "description": forms.text(form, "description"),
                            "owner_id": forms.optional_int(form, "owner_id"),
                            "review_cycle_months": forms.text(form, "review_cycle_months") or None}
    return data


def _policy_form(request: Request, session: Session, principal: Principal, policy: Any, values: dict[str, Any],
                 err: DomainError | None = None) -> HTMLResponse:
    context = {"policy": policy, "people_options": people_choices(session, principal,
                                                                  policy.owner_id if policy else None)}
    if err is not None:
        return pages.form_error(request, "policy/policy_form.html", err, values, context)
    return pages.render(request, "policy/policy_form.html", {**context, "form": values})


@router.get("/policies/new")
def new_page(request: Request, session: SessionDep, principal: require("policy:write")) -> HTMLResponse:
    service.check_global_write(principal)
    return _policy_form(request, session, principal, None, {"review_cycle_months": "12",
                                                            "owner_id": principal.user.id})


@router.post("/policies")
def create(request: Request, session: SessionDep, form: forms.FormDep, principal: require("policy:write")) -> Response:
    try:
        data = _policy_data(form)
        data["body_md"] = forms.text(form, "body_md") or None
        data = {k: v for k, v in data.items() if v is not None}
        policy = service.create_policy(session, principal, forms.parse(schemas.PolicyCreate, data))
    except DomainError as err:
        session.rollback()
        return _policy_form(request, session, principal, None, forms.values(form), err)
    return pages.redirect(request, f"/policies/{policy.key}", f"{policy.key} created.")


# --- one policy ------------------------------------------------------------------------------------------------------

def _detail(request: Request, session: Session, principal: Principal, key: str, *, err: DomainError | None = None,
            form: dict[str, Any] | None = None) -> HTMLResponse:
    policy = service.get_policy(session, principal, key)
    current = service.current_version(policy)
    can_request = principal.has(service.WRITE) and policy.status == "active" and current is not None
    context: dict[str, Any] = {
        **_labels(), "policy": policy, "current": current, "draft": service.draft_version(policy),
        "versions": service.visible_versions(principal, policy), "review_due": service.review_due(policy),
        "status": service.attestation_status(session, principal, key), "can_write": service.may_write(principal),
        "can_request": can_request, "authors": service.authors(session, policy.versions),
    }
    if can_request:
        context.update({"unit_options": unit_choices(session, principal, service.WRITE),
                        "people_options": people_choices(session, principal),
                        "role_options": [(r.value, label) for r, label in ROLE_LABELS.items()
                                         if r.value in service.ATTESTING_ROLES]})
    values = form or {}
    if err is not None:
        return pages.form_error(request, "policy/policy.html", err, values, context)
    return pages.render(request, "policy/policy.html", {**context, "form": values})


@router.get("/policies/{key}")
def detail_page(request: Request, session: SessionDep, principal: require("policy:read"), key: str) -> HTMLResponse:
    return _detail(request, session, principal, key)


@router.get("/policies/{key}/edit")
def edit_page(request: Request, session: SessionDep, principal: require("policy:write"), key: str) -> HTMLResponse:
    service.check_global_write(principal)
    policy = service.get_policy(session, principal, key)
    values = {name: getattr(policy, name) if getattr(policy, name) is not None else "" for name in POLICY_FIELDS}
    return _policy_form(request, session, principal, policy, values)


@router.post("/policies/{key}")
def update(request: Request, session: SessionDep, form: forms.FormDep, key: str,
           principal: require("policy:write")) -> Response:
    service.get_policy(session, principal, key)
    try:
        policy = service.update_policy(session, principal, key, forms.parse(schemas.PolicyUpdate, _policy_data(form)))
    except DomainError as err:
        session.rollback()
        return _policy_form(request, session, principal, service.get_policy(session, principal, key),
                            forms.values(form), err)
    return pages.redirect(request, f"/policies/{policy.key}", f"{policy.key} saved.")


@router.post("/policies/{key}/retire")
def retire(request: Request, session: SessionDep, key: str, principal: require("policy:write")) -> Response:
    try:
        policy = service.retire_policy(session, principal, key)
    except DomainError as err:
        session.rollback()
        return _detail(request, session, principal, key, err=err)
    return pages.redirect(request, f"/policies/{policy.key}", f"{policy.key} retired.")


@router.post("/policies/{key}/attestations")
def request_attestations(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep, key: str,
                         principal: require("policy:write")) -> Response:
    def ids(name: str) -> list[int]:
        return [i for v in form.getlist(name) if isinstance(v, str) and (i := forms.query_id(v, name)) is not None]

    try:
        body = forms.parse(schemas.AttestationRequest, {
            "user_ids": ids("user_ids"), "business_unit_ids": ids("business_unit_ids"),
            "roles": [v for v in form.getlist("roles") if isinstance(v, str) and v],
            "due_date": forms.text(form, "due_date") or None})
        result = service.request_attestations(session, settings, principal, key, body)
    except DomainError as err:
        session.rollback()
        values: dict[str, Any] = forms.values(form)
        for name in ("user_ids", "business_unit_ids", "roles"):
            values[name] = [v for v in form.getlist(name) if isinstance(v, str)]
        return _detail(request, session, principal, key, err=err, form=values)
    skipped = [f"{result.already_requested} already asked"] if result.already_requested else []
    if result.cannot_attest:
        skipped.append(f"{result.cannot_attest} without a role that can attest")
    message = (f"Asked {len(result.requested)} people to attest version {result.version.version} by "
               f"{result.due_date}." + (f" Skipped {' and '.join(skipped)}." if skipped else ""))
    return pages.redirect(request, f"/policies/{key.upper()}#attestations", message)


# --- versions --------------------------------------------------------------------------------------------------------

def _version_form(request: Request, session: Session, principal: Principal, key: str, values: dict[str, Any],
                  err: DomainError | None = None) -> HTMLResponse:
    policy = service.get_policy(session, principal, key)
    context = {"policy": policy, "version": None}
    if err is not None:
        return pages.form_error(request, "policy/version_form.html", err, values, context)
    return pages.render(request, "policy/version_form.html", {**context, "form": values})


@router.get("/policies/{key}/versions/new")
def new_version_page(request: Request, session: SessionDep, principal: require("policy:write"),
                     key: str) -> HTMLResponse:
    service.check_global_write(principal)
    policy = service.get_policy(session, principal, key)
    draft = service.draft_version(policy)
    if draft is not None:
        return pages.redirect(request, f"/policies/{policy.key}/versions/{draft.version}",
                              f"Version {draft.version} is already a draft: edit it here.")
    latest = service.visible_versions(principal, policy)
    return _version_form(request, session, principal, key, {"body_md": latest[0].body_md if latest else ""})


@router.post("/policies/{key}/versions")
def create_version(request: Request, session: SessionDep, form: forms.FormDep, key: str,
                   principal: require("policy:write")) -> Response:
    try:
        body = forms.parse(schemas.VersionCreate, {"body_md": forms.text(form, "body_md"),
                                                   "change_note": forms.text(form, "change_note")})
        version = service.create_version(session, principal, key, body)
    except DomainError as err:
        session.rollback()
        return _version_form(request, session, principal, key, forms.values(form), err)
    return pages.redirect(request, f"/policies/{version.policy.key}/versions/{version.version}",
                          f"Draft version {version.version} saved.")


def _version_page(request: Request, session: Session, principal: Principal, key: str, number: int,
                  err: DomainError | None = None, form: dict[str, Any] | None = None) -> HTMLResponse:
    version = service.get_version(session, principal, key, number)
    editable = version.status == "draft" and service.may_write(principal) and version.policy.status != "retired"
    context = {**_labels(), "policy": version.policy, "version": version, "editable": editable,
               "authors": service.authors(session, [version]), "today": service.today().isoformat()}
    values = form or {"body_md": version.body_md, "change_note": version.change_note}
    if err is not None:
        return pages.form_error(request, "policy/version.html", err, values, context)
    return pages.render(request, "policy/version.html", {**context, "form": values})


@router.get("/policies/{key}/versions/{number}")
def version_page(request: Request, session: SessionDep, principal: require("policy:read"), key: str,
                 number: int) -> HTMLResponse:
    return _version_page(request, session, principal, key, number)


@router.post("/policies/{key}/versions/{number}")
def update_version(request: Request, session: SessionDep, form: forms.FormDep, key: str, number: int,
                   principal: require("policy:write")) -> Response:
    try:
        body = forms.parse(schemas.VersionUpdate, {"body_md": forms.text(form, "body_md"),
                                                   "change_note": forms.text(form, "change_note")})
        version = service.update_version(session, principal, key, number, body)
    except DomainError as err:
        session.rollback()
        return _version_page(request, session, principal, key, number, err, forms.values(form))
    return pages.redirect(request, f"/policies/{version.policy.key}/versions/{number}",
                          f"Draft version {number} saved.")


@router.post("/policies/{key}/versions/{number}/publish")
def publish_version(request: Request, session: SessionDep, form: forms.FormDep, key: str, number: int,
                    principal: require("policy:write")) -> Response:
    try:
        body = forms.parse(schemas.PublishIn, {"effective_date": forms.text(form, "effective_date") or None})
        version = service.publish_version(session, principal, key, number, body)
    except DomainError as err:
        session.rollback()
        return _version_page(request, session, principal, key, number, err, forms.values(form))
    return pages.redirect(request, f"/policies/{version.policy.key}",
                          f"Version {number} published, in force from {version.effective_date}.")


# --- my attestations -------------------------------------------------------------------------------------------------

def _mine_page(request: Request, session: Session, principal: Principal, err: DomainError | None = None,
               form: dict[str, Any] | None = None) -> HTMLResponse:
    rows = service.my_attestations(session, principal)
    context = {**_labels(), "pending": [a for a in rows if a.status == "pending"],
               "attested": [a for a in rows if a.status == "attested"], "state": service.attestation_state}
    if err is not None:
        return pages.form_error(request, "policy/attestations.html", err, form or {}, context)
    return pages.render(request, "policy/attestations.html", context)


@router.get("/attestations")
def my_attestations(request: Request, session: SessionDep, principal: require("policy:attest")) -> HTMLResponse:
    return _mine_page(request, session, principal)


@router.post("/attestations/{attestation_id}/attest")
def attest(request: Request, session: SessionDep, form: forms.FormDep, attestation_id: int,
           principal: require("policy:attest")) -> Response:
    try:
        if forms.text(form, "confirm") != "yes":
            field = f"confirm-{attestation_id}"
            raise ValidationFailed("confirm that you have read the policy", errors=[FieldError(
                field, "Tick the box to confirm you have read and understood this version.")])
        attestation = service.attest(session, principal, attestation_id)
    except DomainError as err:
        session.rollback()
        return _mine_page(request, session, principal, err, forms.values(form))
    version = attestation.policy_version
    return pages.redirect(request, "/attestations",
                          f"Thank you: you attested version {version.version} of {version.policy.title}.")
