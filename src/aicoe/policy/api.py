"""JSON routes for policies, their versions and attestations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, audit_actor
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.models.org import User
from aicoe.models.policy import Attestation, Policy, PolicyVersion
from aicoe.policy import reminders, schemas, service
from aicoe.policy.markdown import render
from aicoe.web.api_common import PageOut, PageQuery

router = APIRouter(tags=["policies"])


def _summary(policy: Policy) -> dict[str, Any]:
    current = service.current_version(policy)
    return {"key": policy.key, "title": policy.title, "status": policy.status, "owner": policy.owner,
            "review_cycle_months": policy.review_cycle_months, "next_review_on": policy.next_review_on,
            "review_due": service.review_due(policy), "current_version": current.version if current else None,
            "effective_date": current.effective_date if current else None, "updated_at": policy.updated_at}


def _version_summary(version: PolicyVersion) -> dict[str, Any]:
    return {k: getattr(version, k) for k in ("version", "status", "effective_date", "published_at", "change_note",
                                             "created_at")}


def _version(version: PolicyVersion, people: dict[int, User]) -> schemas.VersionOut:
    return schemas.VersionOut.model_validate({
        **_version_summary(version), "body_md": version.body_md, "body_html": str(render(version.body_md)),
        "published_by": people.get(version.published_by_id or 0), "created_by": people.get(version.created_by_id or 0)})


def _policy_out(session: Session, principal: Principal, policy: Policy) -> schemas.PolicyOut:
    current = service.current_version(policy)
    return schemas.PolicyOut.model_validate({
        **_summary(policy), "description": policy.description, "created_at": policy.created_at,
        "versions": [_version_summary(v) for v in service.visible_versions(principal, policy)],
        "current": _version(current, service.authors(session, [current])) if current else None})


def _attestation_out(attestation: Attestation) -> schemas.AttestationOut:
    version = attestation.policy_version
    return schemas.AttestationOut(
        id=attestation.id, policy_key=version.policy.key, policy_title=version.policy.title, version=version.version,
        status=service.attestation_state(attestation), requested_at=attestation.requested_at,
        due_date=attestation.due_date, attested_at=attestation.attested_at)


def _unit(unit: service.UnitStatus) -> dict[str, Any]:
    return {"business_unit_id": unit.business_unit_id, "business_unit": unit.business_unit,
            "requested": unit.requested, "attested": unit.attested, "pending": unit.pending, "overdue": unit.overdue,
            "rate": unit.rate}


# --- policies --------------------------------------------------------------------------------------------------

@router.get("/policies", response_model=PageOut[schemas.PolicySummary])
def list_policies(session: SessionDep, principal: require("policy:read"), page: PageQuery,
                  status: Annotated[str | None, Query(max_length=16, description="draft, active or retired")] = None,
                  q: Annotated[str | None, Query(max_length=200, description="in the title or description")] = None,
                  ) -> dict[str, Any]:
    """Sort by key (default), title, next_review_on or updated_at. Drafts are listed to policy writers only."""
    result = service.list_policies(session, principal, page, status=status, q=q)
    return {"items": [schemas.PolicySummary.model_validate(_summary(p)) for p in result.items],
            "total": result.total, "limit": result.limit, "offset": result.offset, "next_offset": result.next_offset}


@router.post("/policies", response_model=schemas.PolicyOut, status_code=201)
def create_policy(session: SessionDep, principal: require("policy:write"), body: schemas.PolicyCreate) -> object:
    """Needs policy:write CoE-wide. ``body_md`` (optional) becomes draft version 1."""
    policy = service.create_policy(session, principal, body)
    return _policy_out(session, principal, service.get_policy(session, principal, policy.key))


@router.get("/policies/{key}", response_model=schemas.PolicyOut)
def get_policy(session: SessionDep, principal: require("policy:read"), key: str) -> object:
    """With the version in force, Markdown and rendered HTML (raw HTML in the text is escaped)."""
    return _policy_out(session, principal, service.get_policy(session, principal, key))


@router.patch("/policies/{key}", response_model=schemas.PolicyOut)
def update_policy(session: SessionDep, principal: require("policy:write"), key: str,
                  body: schemas.PolicyUpdate) -> object:
    policy = service.update_policy(session, principal, key, body)
    return _policy_out(session, principal, policy)


@router.post("/policies/{key}/retire", response_model=schemas.PolicyOut)
def retire_policy(session: SessionDep, principal: require("policy:write"), key: str) -> object:
    """The policy ends: no new versions, pending attestations lapse; history stays."""
    return _policy_out(session, principal, service.retire_policy(session, principal, key))


# --- versions --------------------------------------------------------------------------------------------------

@router.get("/policies/{key}/versions", response_model=list[schemas.VersionSummary])
def list_versions(session: SessionDep, principal: require("policy:read"), key: str) -> object:
    """Newest first; drafts to policy writers only."""
    policy = service.get_policy(session, principal, key)
    return [_version_summary(v) for v in service.visible_versions(principal, policy)]


@router.post("/policies/{key}/versions", response_model=schemas.VersionOut, status_code=201)
def create_version(session: SessionDep, principal: require("policy:write"), key: str,
                   body: schemas.VersionCreate) -> object:
    """A new draft (409 while another draft exists)."""
    version = service.create_version(session, principal, key, body)
    return _version(version, service.authors(session, [version]))


@router.get("/policies/{key}/versions/{number}", response_model=schemas.VersionOut)
def get_version(session: SessionDep, principal: require("policy:read"), key: str, number: int) -> object:
    version = service.get_version(session, principal, key, number)
    return _version(version, service.authors(session, [version]))


@router.patch("/policies/{key}/versions/{number}", response_model=schemas.VersionOut)
def update_version(session: SessionDep, principal: require("policy:write"), key: str, number: int,
                   body: schemas.VersionUpdate) -> object:
    """Drafts only: a published version is immutable (409); write a new version instead."""
    version = service.update_version(session, principal, key, number, body)
    return _version(version, service.authors(session, [version]))


@router.post("/policies/{key}/versions/{number}/publish", response_model=schemas.VersionOut)
def publish_version(session: SessionDep, principal: require("policy:write"), key: str, number: int,
                    body: schemas.PublishIn) -> object:
    """Supersedes the version in force; the policy becomes active, next review = effective date + cycle."""
    version = service.publish_version(session, principal, key, number, body)
    return _version(version, service.authors(session, [version]))


# --- attestations ----------------------------------------------------------------------------------------------

@router.post("/policies/{key}/attestations", response_model=schemas.RequestOut, status_code=201)
def request_attestations(session: SessionDep, settings: SettingsDep, principal: require("policy:write"), key: str,
                         body: schemas.AttestationRequest) -> object:
    """Ask people (by id), everyone in business units (sub-units included) and/or holders of roles to attest the
    version in force. A unit-scoped writer reaches the people of their units only."""
    result = service.request_attestations(session, settings, principal, key, body)
    return schemas.RequestOut(version=result.version.version, requested=len(result.requested),
                              already_requested=result.already_requested, cannot_attest=result.cannot_attest,
                              due_date=result.due_date)


@router.get("/policies/{key}/attestations", response_model=schemas.StatusOut)
def attestation_status(session: SessionDep, principal: require("policy:read"), key: str) -> object:
    """Per person and per business unit: requested, attested, pending, overdue and the attestation rate."""
    status = service.attestation_status(session, principal, key)
    return schemas.StatusOut.model_validate({
        "version": status.version.version if status.version else None,
        "people": [{"attestation_id": p.attestation_id, "user": p.user, "business_unit": p.business_unit,
                    "status": p.status, "due_date": p.due_date, "attested_at": p.attested_at,
                    "reminder_count": p.reminder_count} for p in status.people],
        "units": [_unit(u) for u in status.units], "totals": _unit(status.totals)})


@router.get("/attestations/mine", response_model=list[schemas.AttestationOut])
def my_attestations(session: SessionDep, principal: require("policy:attest")) -> object:
    """Your attestations of versions in force: pending (soonest due first), then attested."""
    return [_attestation_out(a) for a in service.my_attestations(session, principal)]


@router.post("/attestations/{attestation_id}/attest", response_model=schemas.AttestationOut)
def attest(session: SessionDep, principal: require("policy:attest"), attestation_id: int) -> object:
    """Attest your own pending attestation of the version in force (409 once superseded or retired)."""
    return _attestation_out(service.attest(session, principal, attestation_id))


@router.post("/attestations/reminders", response_model=schemas.ReminderOut)
def send_reminders(session: SessionDep, principal: require("policy:write")) -> object:
    """Remind now: pending attestations due within 7 days or overdue, not reminded in the last 3 days."""
    service.check_global_write(principal)
    return reminders.send_reminders(session, actor=audit_actor(principal)).as_dict()
