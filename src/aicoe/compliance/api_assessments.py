"""JSON routes for assessments, their results, the gap list and the compliance summary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.compliance import assessments as service
from aicoe.compliance import schemas_assessments as schemas
from aicoe.core.deps import SessionDep
from aicoe.models.compliance import Assessment
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["assessments"])

Text = Annotated[str | None, Query(max_length=200)]


def assessment_out(session: Session, assessment: Assessment) -> schemas.AssessmentOut:
    base = schemas.AssessmentSummary.model_validate(assessment).model_dump()
    return schemas.AssessmentOut(**base, profile=assessment.profile, counts=service.counts(session, assessment.id))


def _tally(tally: service.Tally) -> dict[str, Any]:
    return {"assessments": tally.assessments, "applicable": tally.applicable, "decided": tally.decided,
            "met": tally.met, "partially_met": tally.partially_met, "not_applicable": tally.not_applicable,
            "completion": tally.completion, "compliance": tally.compliance}


# --- assessments -------------------------------------------------------------------------------------------------

@router.get("/assessments", response_model=PageOut[schemas.AssessmentSummary])
def list_assessments(session: SessionDep, principal: require("compliance:read"), page: PageQuery,
                     ai_system_id: int | None = None, framework_id: int | None = None, status: Text = None,
                     business_unit_id: int | None = None,
                     q: Annotated[str | None, Query(max_length=200, description="in the title or system name")]
                     = None) -> dict[str, Any]:
    """Sort by title, updated_at (default '-updated_at'), created_at, due_date, completion or compliance."""
    result = service.list_assessments(session, principal, page, ai_system_id=ai_system_id,
                                      framework_id=framework_id, status=status, business_unit_id=business_unit_id,
                                      q=q)
    return page_out(result, schemas.AssessmentSummary)


@router.post("/assessments", response_model=schemas.AssessmentOut, status_code=201)
def start_assessment(session: SessionDep, principal: require("compliance:write"),
                     body: schemas.AssessmentCreate) -> object:
    """Start an assessment of an AI system against the current version of a framework: applicability rules
    decide which requirements are in scope (each result says why), and outcomes of equivalent requirements in
    the system's other assessments are offered as inferred."""
    return assessment_out(session, service.create(session, principal, body))


@router.get("/assessments/gaps", response_model=PageOut[schemas.GapOut])
def list_gaps(session: SessionDep, principal: require("compliance:read"), page: PageQuery,
              ai_system_id: int | None = None, framework_id: int | None = None, business_unit_id: int | None = None,
              kind: Annotated[str | None, Query(max_length=20, description="not_met, overdue or partially_met")]
              = None, owner_id: int | None = None) -> dict[str, Any]:
    """Not met, partially met, and overdue (not started or in progress past the due date) applicable results
    of open and completed assessments; not met first, then overdue, then partially met."""
    result = service.gaps(session, principal, page, ai_system_id=ai_system_id, framework_id=framework_id,
                          business_unit_id=business_unit_id, kind=kind, owner_id=owner_id)
    items = [schemas.GapOut(
        kind=gap.kind, result_id=gap.result.id, status=gap.result.status,  # type: ignore[arg-type]
        inferred=gap.result.inferred_from_id is not None, due_date=gap.due_date,
        owner=schemas.PersonRef.model_validate(gap.result.owner) if gap.result.owner else None,
        requirement=schemas.RequirementRef.model_validate(gap.result.requirement),
        assessment=schemas.Ref(id=gap.result.assessment.id, name=gap.result.assessment.title),
        ai_system=schemas.Ref.model_validate(gap.result.assessment.ai_system),
        framework=schemas.FrameworkRef.model_validate(gap.result.assessment.framework)) for gap in result.items]
    return {"items": items, "total": result.total, "limit": result.limit, "offset": result.offset,
            "next_offset": result.next_offset}


@router.get("/assessments/{assessment_id}", response_model=schemas.AssessmentOut)
def get_assessment(session: SessionDep, principal: require("compliance:read"), assessment_id: int) -> object:
    return assessment_out(session, service.get_assessment(session, principal, assessment_id))


@router.patch("/assessments/{assessment_id}", response_model=schemas.AssessmentOut)
def update_assessment(session: SessionDep, principal: require("compliance:write"), assessment_id: int,
                      body: schemas.AssessmentUpdate) -> object:
    """Title, owner and due date."""
    return assessment_out(session, service.update_assessment(session, principal, assessment_id, body))


@router.post("/assessments/{assessment_id}/complete", response_model=schemas.AssessmentOut)
def complete_assessment(session: SessionDep, principal: require("compliance:write"), assessment_id: int) -> object:
    """Refused (409, listing them) while an applicable result is undecided or awaits confirmation."""
    return assessment_out(session, service.complete(session, principal, assessment_id))


@router.post("/assessments/{assessment_id}/archive", response_model=schemas.AssessmentOut)
def archive_assessment(session: SessionDep, principal: require("compliance:write"), assessment_id: int) -> object:
    return assessment_out(session, service.archive(session, principal, assessment_id))


@router.post("/assessments/{assessment_id}/reopen", response_model=schemas.AssessmentOut)
def reopen_assessment(session: SessionDep, principal: require("compliance:write"), assessment_id: int) -> object:
    """Refused (409) while another open assessment of the same system and framework version exists."""
    return assessment_out(session, service.reopen(session, principal, assessment_id))


@router.post("/assessments/{assessment_id}/refresh-applicability", response_model=schemas.RefreshOut)
def refresh_applicability(session: SessionDep, principal: require("compliance:write"),
                          assessment_id: int) -> object:
    """Re-evaluate applicability against the system's current profile (after a classification, a new role,
    lifecycle stage or dataset); decided results are kept. Lists the refs that came into or left scope."""
    report = service.refresh_applicability(session, principal, assessment_id)
    return schemas.RefreshOut(assessment=assessment_out(session, report.assessment), included=report.included,
                              excluded=report.excluded, reasons_updated=report.reasons_updated)


# --- results -----------------------------------------------------------------------------------------------------

@router.get("/assessments/{assessment_id}/results", response_model=PageOut[schemas.ResultOut])
def list_results(session: SessionDep, principal: require("compliance:read"), page: PageQuery, assessment_id: int,
                 status: Text = None,
                 applicable: Annotated[bool | None, Query(description="in scope by rule (true) or not")] = None,
                 inferred: Annotated[bool | None, Query(description="awaiting confirmation")] = None
                 ) -> dict[str, Any]:
    """In the framework's order."""
    result = service.list_results(session, principal, assessment_id, page, status=status, applicable=applicable,
                                  inferred=inferred)
    return page_out(result, schemas.ResultOut)


@router.patch("/assessments/{assessment_id}/results/{result_id}", response_model=schemas.ResultOut)
def update_result(session: SessionDep, principal: require("compliance:write"), assessment_id: int, result_id: int,
                  body: schemas.ResultUpdate) -> object:
    """Status, owner, due date, notes, justification. ``not_applicable`` needs a justification (422 on
    ``justification`` otherwise). Clears an inferred mark; a decided outcome is offered to equivalent
    requirements in the system's other open assessments."""
    service.update_result(session, principal, assessment_id, result_id, body)
    return service.get_result(session, principal, assessment_id, result_id)


@router.post("/assessments/{assessment_id}/results/{result_id}/confirm", response_model=schemas.ResultOut)
def confirm_result(session: SessionDep, principal: require("compliance:write"), assessment_id: int,
                   result_id: int) -> object:
    """Accept an inferred outcome (409 when the result has none)."""
    service.confirm_result(session, principal, assessment_id, result_id)
    return service.get_result(session, principal, assessment_id, result_id)


@router.post("/assessments/{assessment_id}/results/{result_id}/evidence", response_model=schemas.EvidenceLinkOut,
             status_code=201)
def link_evidence(session: SessionDep, principal: require("compliance:write"), assessment_id: int, result_id: int,
                  body: schemas.EvidenceLinkIn) -> object:
    """Attach a piece of evidence (its series, so the latest version always shows) to a result."""
    return service.link_evidence(session, principal, assessment_id, result_id, body.evidence_id)


# --- summary -----------------------------------------------------------------------------------------------------

@router.get("/compliance/summary", response_model=schemas.SummaryOut)
def compliance_summary(session: SessionDep, principal: require("compliance:read")) -> object:
    """Per framework version and per AI system: number of assessments (archived aside), completion and
    compliance pooled over their results."""
    result = service.summary(session, principal)
    return {"frameworks": [{"framework": row.subject, **_tally(row.tally)} for row in result.frameworks],
            "systems": [{"ai_system": row.subject, **_tally(row.tally)} for row in result.systems]}
