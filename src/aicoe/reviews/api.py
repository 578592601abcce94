"""JSON routes for board reviews: requests, decisions, comments, withdrawal, cadences and the re-review schedule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.models.reviews import ReviewRequest
from aicoe.reviews import schemas, service
from aicoe.web.api_common import PageOut, PageQuery

router = APIRouter(tags=["reviews"])

Text = Annotated[str | None, Query(max_length=200)]


def _subject(subject: service.Subject) -> schemas.SubjectOut:
    return schemas.SubjectOut(type=subject.type, id=subject.id, label=subject.label, url=subject.url,
                              exists=subject.exists)


def _summary(review: ReviewRequest, subject: service.Subject) -> dict[str, Any]:
    return {"key": review.key, "board": review.board, "subject": _subject(subject),
            "business_unit": {"id": review.business_unit.id, "name": review.business_unit.name},
            "title": review.title, "status": review.status, "quorum": review.quorum, "due_date": review.due_date,
            "requested_by": review.requested_by, "created_at": review.created_at, "decided_at": review.decided_at}


def review_out(session: Session, review: ReviewRequest) -> schemas.ReviewOut:
    p = service.progress(session, review)
    return schemas.ReviewOut.model_validate({
        **_summary(review, service.subject_of(session, review)), "description": review.description,
        "conditions": review.conditions, "required_approvers": review.required_approvers,
        "decisions": review.decisions, "comments": review.comments,
        "progress": {"approvals": p.approvals, "rejections": p.rejections, "quorum": p.quorum, "members": p.members,
                     "required_pending": p.required_pending},
    })


def entry_out(entry: service.ScheduleEntry) -> schemas.ScheduleEntryOut:
    last = entry.last_review
    return schemas.ScheduleEntryOut(
        ai_system=schemas.Ref(id=entry.system.id, name=entry.system.name),
        business_unit=schemas.Ref(id=entry.system.business_unit.id, name=entry.system.business_unit.name),
        risk_tier=entry.cadence.risk_tier, board=entry.cadence.board, interval_months=entry.cadence.interval_months,
        last_review=schemas.LastReviewOut(key=last.key, decided_on=entry.last_reviewed_on)
        if last is not None and entry.last_reviewed_on is not None else None,
        next_due=entry.next_due, overdue=entry.overdue, open_review=entry.open_review)


# --- requests --------------------------------------------------------------------------------------------------

@router.get("/reviews", response_model=PageOut[schemas.ReviewSummary])
def list_reviews(session: SessionDep, principal: require("review:read"), page: PageQuery, status: Text = None,
                 board: Text = None, subject_type: Text = None, subject_id: int | None = None,
                 business_unit_id: int | None = None,
                 awaiting_me: Annotated[bool, Query(description="open requests waiting for my decision")] = False,
                 q: Annotated[str | None, Query(max_length=200, description="in the title or key")] = None,
                 ) -> dict[str, Any]:
    """Newest first; sort by created_at, due_date, key or status ('-' for descending)."""
    result = service.list_reviews(session, principal, page, status=status, board=board, subject_type=subject_type,
                                  subject_id=subject_id, business_unit_id=business_unit_id, awaiting_me=awaiting_me,
                                  q=q)
    about = service.subjects(session, result.items)
    items = [schemas.ReviewSummary.model_validate(_summary(r, about[(r.subject_type, r.subject_id)]))
             for r in result.items]
    return {"items": items, "total": result.total, "limit": result.limit, "offset": result.offset,
            "next_offset": result.next_offset}


@router.post("/reviews", response_model=schemas.ReviewOut, status_code=201)
def request_review(session: SessionDep, principal: require("review:request"), body: schemas.ReviewCreate) -> object:
    """Ask a board to review a use case or AI system. Each required approver must sit on the board for the
    subject's unit; the quorum (approving decisions needed, required approvers included) must be reachable."""
    review = service.request_review(session, principal, body)
    return review_out(session, service.get_review(session, principal, review.key))


@router.get("/reviews/schedule", response_model=list[schemas.ScheduleEntryOut])
def review_schedule(session: SessionDep, principal: require("review:read"),
                    overdue: Annotated[bool, Query(description="only the overdue systems")] = False,
                    business_unit_id: int | None = None, risk_tier: Text = None) -> object:
    """The re-review schedule: each AI system in use whose risk tier has a cadence, its last approval by the
    cadence's board, the next due date and whether it is overdue (never approved, or the date has passed)."""
    entries = service.schedule(session, principal, overdue_only=overdue, business_unit_id=business_unit_id,
                               risk_tier=risk_tier)
    return [entry_out(e) for e in entries]


@router.get("/reviews/{key}", response_model=schemas.ReviewOut)
def get_review(session: SessionDep, principal: require("review:read"), key: str) -> object:
    return review_out(session, service.get_review(session, principal, key))


@router.post("/reviews/{key}/decisions", response_model=schemas.ReviewOut)
def decide(session: SessionDep, principal: require("review:decide"), key: str, body: schemas.DecisionIn) -> object:
    """Record or change the caller's decision (board members only, while open); the decision rule may close the
    request: see docs/reviews.md."""
    review = service.decide(session, principal, key, body)
    return review_out(session, review)


@router.post("/reviews/{key}/comments", response_model=schemas.CommentOut, status_code=201)
def comment(session: SessionDep, principal: require("review:read"), key: str, body: schemas.CommentIn) -> object:
    """The requester, people who may request reviews in its unit and the board's members may comment."""
    return service.add_comment(session, principal, key, body)


@router.post("/reviews/{key}/withdraw", response_model=schemas.ReviewOut)
def withdraw(session: SessionDep, principal: require("review:request"), key: str, body: schemas.WithdrawIn) -> object:
    """Close an open request without a decision (the requester, or review:request in its unit)."""
    return review_out(session, service.withdraw(session, principal, key, body))


# --- cadences ----------------------------------------------------------------------------------------------------

@router.get("/review-cadences", response_model=list[schemas.CadenceOut])
def list_cadences(session: SessionDep, principal: require("review:read")) -> object:
    """Months between reviews and the board, per risk tier (``is_default``: not configured yet)."""
    return service.cadences(session)


@router.put("/review-cadences/{risk_tier}", response_model=schemas.CadenceOut)
def set_cadence(session: SessionDep, principal: require("review_cadence:write"), risk_tier: str,
                body: schemas.CadenceIn) -> object:
    """Set a tier's cadence: high, limited or minimal (a prohibited system has none)."""
    return service.set_cadence(session, principal, risk_tier, body)
