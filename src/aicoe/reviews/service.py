"""Board reviews: requesting a review of a use case or AI system, members' decisions and the rule that closes a
request, comments, withdrawal, re-review cadences by risk tier and the re-review schedule.

Boards and members. A board (ethics board, steering committee) is the set of active people holding its role
(``constants.BOARDS``) CoE-wide or for a unit above the subject's unit; the role must grant ``review:decide``.
Only members decide; each member has one decision per request, which they may change while it is open.

The decision rule, evaluated after every decision (``outcome``):

* **rejected** as soon as a required approver rejects, or the rejections make the quorum unreachable: the
  members who have not rejected (everyone on the board, plus anyone who decided and has since left it) are
  fewer than the quorum;
* **approved** when every required approver has approved and the approving decisions (required approvers
  included) number at least the quorum; **approved with conditions** instead when any of those approvals
  carried conditions, which are collected onto the request ("Name: conditions", one line each);
* otherwise it stays **open**. A closed request takes no more decisions; the requester or a holder of
  ``review:request`` may withdraw an open one.

Re-review schedule. Each risk tier but prohibited has a cadence (months and board; stored rows override
``constants.DEFAULT_CADENCES``). An AI system in use (not retired) whose tier has a cadence is due for review
``interval`` months after the last approval by the cadence's board of a review of it or of its use case; it is
overdue when it was never so approved or that date has passed.

Every query starts from ``reviews_query``, limited to the units the caller may read reviews in; a request is
scoped by its subject's business unit. Services flush and audit (entity ``review`` by key, ``review_cadence`` by
risk tier), never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.permissions import ROLE_PERMISSIONS
from aicoe.auth.principal import Actor, Principal, Scope, audit_actor, in_scope, scope_of, unit_descendants
from aicoe.compliance.constants import RISK_TIERS
from aicoe.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import as_utc, utcnow
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit, RoleAssignment, User
from aicoe.models.portfolio import UseCase
from aicoe.models.reviews import ReviewCadence, ReviewComment, ReviewDecision, ReviewRequest
from aicoe.portfolio.usecases import next_number
from aicoe.reviews import schemas
from aicoe.reviews.constants import (
    APPROVED_STATUSES,
    APPROVING_DECISIONS,
    BOARD_LABELS,
    BOARDS,
    DEFAULT_CADENCES,
    NO_CADENCE_TIERS,
    REQUEST_STATUSES,
    SUBJECT_TYPES,
)

READ, REQUEST, DECIDE, CADENCE_WRITE = "review:read", "review:request", "review:decide", "review_cadence:write"
KEY_PREFIX, KEY_COUNTER = "REV-", "review_request"
SORT_COLUMNS: dict[str, Any] = {"created_at": ReviewRequest.created_at, "due_date": ReviewRequest.due_date,
                                "key": ReviewRequest.id, "status": ReviewRequest.status}


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[FieldError(field, message)])


def _today() -> date:
    return utcnow().date()


# --- board membership --------------------------------------------------------------------------------------------

def _coverage(assignments: Iterable[RoleAssignment], board: str,
              tree: Mapping[int, frozenset[int]] | None) -> Scope:
    """The units a person's assignments of the board's role cover: None (CoE-wide) or a set, maybe empty."""
    role = BOARDS[board]
    if DECIDE not in ROLE_PERMISSIONS[role]:
        return frozenset()
    units: set[int] = set()
    for a in assignments:
        if a.role != role.value:
            continue
        if a.business_unit_id is None:
            return None
        units |= (tree or {}).get(a.business_unit_id, frozenset({a.business_unit_id}))
    return frozenset(units)


def member_scope(session: Session, user: User, board: str) -> Scope:
    """Where ``user`` sits on ``board``: None for CoE-wide, else the unit ids (empty: not a member)."""
    if not user.is_active:
        return frozenset()
    return _coverage(user.roles, board, unit_descendants(session))


def is_member(session: Session, user: User, board: str, unit_id: int) -> bool:
    scope = member_scope(session, user, board)
    return scope is None or unit_id in scope


def board_members(session: Session, board: str, unit_id: int | None) -> list[User]:
    """The active people who sit on ``board`` for ``unit_id`` (for any unit when None), by name."""
    stmt = (select(User).where(User.is_active.is_(True), User.roles.any(RoleAssignment.role == BOARDS[board].value))
            .options(selectinload(User.roles)).order_by(User.full_name, User.id))
    tree = unit_descendants(session)
    out = []
    for user in session.scalars(stmt):
        scope = _coverage(user.roles, board, tree)
        if scope is None or (unit_id in scope if unit_id is not None else bool(scope)):
            out.append(user)
    return out


def may_decide(session: Session, principal: Principal, review: ReviewRequest) -> bool:
    """A member of the request's board for its unit, holding review:decide there."""
    return principal.may(DECIDE, review.business_unit_id) and is_member(
        session, principal.user, review.board, review.business_unit_id)


def may_comment(session: Session, principal: Principal, review: ReviewRequest) -> bool:
    return (principal.user.id == review.requested_by_id or principal.may(REQUEST, review.business_unit_id)
            or may_decide(session, principal, review))


def may_withdraw(principal: Principal, review: ReviewRequest) -> bool:
    return review.status == "open" and (principal.user.id == review.requested_by_id
                                        or principal.may(REQUEST, review.business_unit_id))


# --- subjects ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subject:
    """What a review is about, as shown to people (``exists`` is false once the record has been deleted)."""

    type: str
    id: int
    label: str
    url: str
    business_unit_id: int | None
    exists: bool = True


def _system_subject(system: AISystem) -> Subject:
    return Subject("ai_system", system.id, system.name, f"/ai-systems/{system.id}", system.business_unit_id)


def _use_case_subject(use_case: UseCase) -> Subject:
    return Subject("use_case", use_case.id, f"{use_case.key} {use_case.title}", f"/use-cases/{use_case.key}",
                   use_case.business_unit_id)


def find_subject(session: Session, principal: Actor, subject_type: str, subject_id: int) -> Subject:
    """The subject if it exists and the caller may see it (inventory:read or use_case:read in its unit); a
    field error on ``subject_id`` otherwise."""
    if subject_type not in SUBJECT_TYPES:
        raise _refuse("subject_type", f"Unknown subject type {subject_type!r}; allowed: {', '.join(SUBJECT_TYPES)}.")
    if subject_type == "ai_system":
        permission, model, noun = "inventory:read", AISystem, "AI system"
    else:
        permission, model, noun = "use_case:read", UseCase, "use case"
    record = None
    if principal is None or principal.has(permission):
        record = session.scalar(select(model).where(
            model.id == subject_id, in_scope(model.business_unit_id, scope_of(principal, permission))))
    if record is None:
        raise _refuse("subject_id", f"No {noun} {subject_id}.")
    return _system_subject(record) if isinstance(record, AISystem) else _use_case_subject(record)


def subjects(session: Session, reviews: Iterable[ReviewRequest]) -> dict[tuple[str, int], Subject]:
    """The subjects of many reviews in two queries, for display (the reviews are already scoped)."""
    wanted: dict[str, set[int]] = {"ai_system": set(), "use_case": set()}
    for r in reviews:
        wanted.setdefault(r.subject_type, set()).add(r.subject_id)
    out: dict[tuple[str, int], Subject] = {}
    if wanted["ai_system"]:
        for system in session.scalars(select(AISystem).where(AISystem.id.in_(sorted(wanted["ai_system"])))):
            out[("ai_system", system.id)] = _system_subject(system)
    if wanted["use_case"]:
        for use_case in session.scalars(select(UseCase).where(UseCase.id.in_(sorted(wanted["use_case"])))):
            out[("use_case", use_case.id)] = _use_case_subject(use_case)
    for kind, ids in wanted.items():
        for i in ids:
            noun = SUBJECT_TYPES.get(kind, kind)
            out.setdefault((kind, i), Subject(kind, i, f"{noun} #{i} (deleted)", "", None, exists=False))
    return out


def subject_of(session: Session, review: ReviewRequest) -> Subject:
    return subjects(session, [review])[(review.subject_type, review.subject_id)]


# --- reading -------------------------------------------------------------------------------------------------------

def reviews_query(principal: Actor) -> Select[tuple[ReviewRequest]]:
    return select(ReviewRequest).where(in_scope(ReviewRequest.business_unit_id, scope_of(principal, READ)))


def format_key(number: int) -> str:
    return f"{KEY_PREFIX}{number:04d}"


def _awaiting(session: Session, principal: Principal) -> ColumnElement[bool]:
    """Open requests the principal may decide on and has not decided yet."""
    if not principal.has(DECIDE):
        return false()
    clauses = []
    for board in BOARDS:
        scope = member_scope(session, principal.user, board)
        if scope is not None and not scope:
            continue
        clauses.append(and_(ReviewRequest.board == board, in_scope(ReviewRequest.business_unit_id, scope),
                            in_scope(ReviewRequest.business_unit_id, principal.scope(DECIDE))))
    if not clauses:
        return false()
    decided = exists().where(ReviewDecision.review_id == ReviewRequest.id,
                             ReviewDecision.user_id == principal.user.id)
    return and_(ReviewRequest.status == "open", or_(*clauses), ~decided)


def list_reviews(session: Session, principal: Actor, params: PageParams, *, status: str | None = None,
                 board: str | None = None, subject_type: str | None = None, subject_id: int | None = None,
                 business_unit_id: int | None = None, awaiting_me: bool = False, q: str | None = None,
                 ) -> Page[ReviewRequest]:
    """Newest first unless ``sort`` says otherwise (created_at, due_date, key, status; '-' descending).
    ``awaiting_me``: open requests the caller sits on the board for and has not decided yet."""
    stmt = reviews_query(principal).options(selectinload(ReviewRequest.business_unit),
                                            selectinload(ReviewRequest.requested_by))
    if choice("status", status, REQUEST_STATUSES):
        stmt = stmt.where(ReviewRequest.status == status)
    if choice("board", board, BOARD_LABELS):
        stmt = stmt.where(ReviewRequest.board == board)
    if choice("subject_type", subject_type, SUBJECT_TYPES):
        stmt = stmt.where(ReviewRequest.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(ReviewRequest.subject_id == subject_id)
    if business_unit_id is not None:
        stmt = stmt.where(ReviewRequest.business_unit_id == business_unit_id)
    if awaiting_me:
        stmt = stmt.where(_awaiting(session, principal) if principal is not None else false())
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(ReviewRequest.title).like(pattern, escape="\\"),
                              func.lower(ReviewRequest.key).like(pattern, escape="\\")))
    stmt = apply_sort(stmt, params.sort or "-created_at", SORT_COLUMNS, [ReviewRequest.id.desc()])
    return paginate(session, stmt, params)


def awaiting(session: Session, principal: Principal, limit: int = 100) -> list[ReviewRequest]:
    """The open requests waiting for the principal's decision, oldest due first."""
    stmt = (reviews_query(principal).where(_awaiting(session, principal))
            .options(selectinload(ReviewRequest.business_unit))
            .order_by(ReviewRequest.due_date.is_(None), ReviewRequest.due_date, ReviewRequest.id).limit(limit))
    return list(session.scalars(stmt))


def get_review(session: Session, principal: Actor, key: str) -> ReviewRequest:
    """The request with its approvers, decisions and comments; 404 when it does not exist or is out of scope."""
    stmt = reviews_query(principal).where(ReviewRequest.key == key.strip().upper()).options(
        selectinload(ReviewRequest.business_unit), selectinload(ReviewRequest.requested_by),
        selectinload(ReviewRequest.required_approvers),
        selectinload(ReviewRequest.decisions).selectinload(ReviewDecision.user),
        selectinload(ReviewRequest.comments).selectinload(ReviewComment.user))
    review = session.scalar(stmt)
    if review is None:
        raise NotFound(f"no review request {key}")
    return review


def reviews_of_system(session: Session, principal: Actor, system: AISystem, limit: int = 50) -> list[ReviewRequest]:
    """Requests about the system or about its use case, newest first."""
    about = and_(ReviewRequest.subject_type == "ai_system", ReviewRequest.subject_id == system.id)
    if system.use_case_id is not None:
        about = or_(about, and_(ReviewRequest.subject_type == "use_case",
                                ReviewRequest.subject_id == system.use_case_id))
    stmt = reviews_query(principal).where(about).order_by(ReviewRequest.created_at.desc(), ReviewRequest.id.desc())
    return list(session.scalars(stmt.limit(limit)))


# --- the decision rule ------------------------------------------------------------------------------------------

def outcome(required: Collection[int], quorum: int, members: Collection[int],
            decisions: Mapping[int, str]) -> str:
    """The status a request takes given who must approve, the quorum, the board's members and each person's
    decision (user id -> approve | approve_with_conditions | reject). See the module docstring."""
    rejecting = {u for u, d in decisions.items() if d == "reject"}
    approving = {u for u, d in decisions.items() if d in APPROVING_DECISIONS}
    if rejecting & set(required):
        return "rejected"
    if len((set(members) | set(decisions)) - rejecting) < quorum:
        return "rejected"
    if set(required) <= approving and len(approving) >= quorum:
        conditional = any(decisions[u] == "approve_with_conditions" for u in approving)
        return "approved_with_conditions" if conditional else "approved"
    return "open"


@dataclass(frozen=True)
class Progress:
    approvals: int
    rejections: int
    quorum: int
    members: int
    required_pending: list[User]

    @property
    def needed(self) -> int:
        """Approvals still needed to reach the quorum."""
        return max(self.quorum - self.approvals, 0)


def progress(session: Session, review: ReviewRequest) -> Progress:
    approving = {d.user_id for d in review.decisions if d.decision in APPROVING_DECISIONS}
    return Progress(
        approvals=len(approving), rejections=sum(1 for d in review.decisions if d.decision == "reject"),
        quorum=review.quorum, members=len(board_members(session, review.board, review.business_unit_id)),
        required_pending=[u for u in review.required_approvers if u.id not in approving])


# --- writing -------------------------------------------------------------------------------------------------------

def _approvers(session: Session, board: str, unit: BusinessUnit, ids: Sequence[int],
               members: Collection[int]) -> tuple[list[User], list[str]]:
    wanted = list(dict.fromkeys(ids))
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    problems = [f"No person {i}." for i in wanted if i not in found]
    problems += [f"{found[i].full_name} is not a member of the {BOARD_LABELS[board].lower()} for {unit.name}."
                 for i in wanted if i in found and i not in members]
    return [found[i] for i in wanted if i in found], problems


def request_review(session: Session, principal: Actor, data: schemas.ReviewCreate, *,
                   at: datetime | None = None) -> ReviewRequest:
    """Ask a board to review a use case or AI system the caller can see (review:request in its unit, else 403).

    Refused with field errors when a required approver is not on the board for the subject's unit, when the
    quorum exceeds the board's members there, or when the due date is past; 409 while the same board has an open
    request on the same subject. ``at`` backdates the request (the demo's history).
    """
    subject = find_subject(session, principal, data.subject_type, data.subject_id)
    unit_id = subject.business_unit_id
    assert unit_id is not None
    if principal is not None:
        principal.check_unit(REQUEST, unit_id, hide=False)
    unit = session.get_one(BusinessUnit, unit_id)
    members = {u.id for u in board_members(session, data.board, unit_id)}
    approvers, problems = _approvers(session, data.board, unit, data.required_approver_ids, members)
    errors = [FieldError("required_approver_ids", " ".join(problems))] if problems else []
    if data.quorum > len(members):
        errors.append(FieldError("quorum", f"The {BOARD_LABELS[data.board].lower()} has {len(members)} member"
                                           f"{'' if len(members) == 1 else 's'} for {unit.name}; a quorum of "
                                           f"{data.quorum} could never be reached."))
    when = as_utc(at) if at else utcnow()
    if data.due_date is not None and data.due_date < when.date():
        errors.append(FieldError("due_date", "The due date is in the past."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    duplicate = session.scalar(select(ReviewRequest.key).where(
        ReviewRequest.subject_type == data.subject_type, ReviewRequest.subject_id == data.subject_id,
        ReviewRequest.board == data.board, ReviewRequest.status == "open"))
    if duplicate is not None:
        raise Conflict(f"{duplicate} is already open with the {BOARD_LABELS[data.board].lower()} for "
                       f"{subject.label}; decide or withdraw it first", existing=duplicate)
    review = ReviewRequest(
        key=format_key(next_number(session, KEY_COUNTER)), board=data.board, subject_type=data.subject_type,
        subject_id=data.subject_id, business_unit_id=unit_id, title=data.title, description=data.description,
        quorum=data.quorum, due_date=data.due_date, status="open",
        requested_by_id=None if principal is None else principal.user.id, created_at=when, updated_at=when)
    review.required_approvers = sorted(approvers, key=lambda u: (u.full_name, u.id))  # as the relationship orders
    session.add(review)
    session.flush()
    diff = ledger.created(review)
    diff["required_approver_ids"] = [None, sorted(u.id for u in approvers)]
    ledger.append(session, audit_actor(principal), "create", "review", review.key, diff)
    return review


def _conditions(review: ReviewRequest) -> str:
    return "\n".join(f"{d.user.full_name}: {d.conditions}" for d in review.decisions
                     if d.decision == "approve_with_conditions" and d.conditions)


def decide(session: Session, principal: Principal, key: str, data: schemas.DecisionIn, *,
           at: datetime | None = None) -> ReviewRequest:
    """Record (or change) the principal's decision on an open request and apply the decision rule.

    403 for anyone not on the board for the request's unit; 409 once the request is closed; conditions are
    required with approve_with_conditions and refused otherwise. ``at`` backdates it (the demo's history).
    """
    review = get_review(session, principal, key)
    principal.check_unit(DECIDE, review.business_unit_id, hide=False)
    if not is_member(session, principal.user, review.board, review.business_unit_id):
        raise PermissionDenied(f"only members of the {BOARD_LABELS[review.board].lower()} may decide on {review.key}")
    session.refresh(review, with_for_update=True)  # concurrent decisions on one request queue here
    if review.status != "open":
        raise Conflict(f"{review.key} is {REQUEST_STATUSES[review.status].lower()}; it takes no more decisions",
                       status=review.status)
    if data.decision == "approve_with_conditions" and not data.conditions:
        raise _refuse("conditions", "State the conditions of the approval.")
    if data.decision != "approve_with_conditions" and data.conditions:
        raise _refuse("conditions", "Only an approval with conditions carries conditions; choose that decision "
                                    "or leave the conditions empty.")
    when = as_utc(at) if at else utcnow()
    mine = next((d for d in review.decisions if d.user_id == principal.user.id), None)
    if mine is None:
        mine = ReviewDecision(user=principal.user, decision=data.decision, conditions=data.conditions,
                              comment=data.comment, created_at=when)
        review.decisions.append(mine)
        diff: dict[str, Any] = {"decision": [None, data.decision]}
        if data.conditions:
            diff["conditions"] = [None, data.conditions]
        if data.comment:
            diff["comment"] = [None, data.comment]
    else:
        mine.decision, mine.conditions, mine.comment = data.decision, data.conditions, data.comment
        diff = {k: v for k, v in ledger.changed(mine).items() if k in {"decision", "conditions", "comment"}}
        if not diff:
            return review  # the same decision again: nothing changes
        mine.created_at = when
    members = [u.id for u in board_members(session, review.board, review.business_unit_id)]
    status = outcome([u.id for u in review.required_approvers], review.quorum, members,
                     {d.user_id: d.decision for d in review.decisions})
    diff["user_id"] = [None, principal.user.id]
    if status != "open":
        review.status, review.decided_at = status, when
        review.conditions = _conditions(review)
        diff["status"] = ["open", status]
        if review.conditions:
            diff["request_conditions"] = [None, review.conditions]
    session.flush()
    ledger.append(session, audit_actor(principal), "decide", "review", review.key, diff)
    return review


def add_comment(session: Session, principal: Actor, key: str, data: schemas.CommentIn, *,
                at: datetime | None = None) -> ReviewComment:
    """The requester, holders of review:request in the unit and board members who may decide may comment."""
    review = get_review(session, principal, key)
    if principal is not None and not may_comment(session, principal, review):
        raise PermissionDenied(f"only the requester, people who may request reviews in its unit and members of "
                               f"the {BOARD_LABELS[review.board].lower()} may comment on {review.key}")
    comment = ReviewComment(user_id=None if principal is None else principal.user.id, body=data.body,
                            created_at=as_utc(at) if at else utcnow())
    review.comments.append(comment)
    session.flush()
    ledger.append(session, audit_actor(principal), "comment", "review", review.key,
                  {"comment_id": [None, comment.id], "body": [None, data.body]})
    return comment


def withdraw(session: Session, principal: Actor, key: str, data: schemas.WithdrawIn) -> ReviewRequest:
    """Close an open request without a decision: the requester or a holder of review:request in its unit."""
    review = get_review(session, principal, key)
    if principal is not None and principal.user.id != review.requested_by_id:
        principal.check_unit(REQUEST, review.business_unit_id, hide=False)
    if review.status != "open":
        raise Conflict(f"{review.key} is {REQUEST_STATUSES[review.status].lower()}; only an open request can be "
                       "withdrawn", status=review.status)
    review.status, review.decided_at = "withdrawn", utcnow()
    diff = {k: v for k, v in ledger.changed(review).items() if k in {"status", "decided_at"}}
    if data.reason:
        review.comments.append(ReviewComment(user_id=None if principal is None else principal.user.id,
                                             body=f"Withdrawn: {data.reason}"))
        diff["reason"] = [None, data.reason]
    session.flush()
    ledger.append(session, audit_actor(principal), "withdraw", "review", review.key, diff)
    return review


# --- cadences ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cadence:
    risk_tier: str
    interval_months: int
    board: str
    is_default: bool


def cadences(session: Session) -> list[Cadence]:
    """The cadence of every tier that has one, in tier order: stored settings over the defaults."""
    stored = {c.risk_tier: c for c in session.scalars(select(ReviewCadence))}
    out = []
    for tier in RISK_TIERS:
        if tier in stored:
            row = stored[tier]
            out.append(Cadence(tier, row.interval_months, row.board, False))
        elif tier in DEFAULT_CADENCES:
            months, board = DEFAULT_CADENCES[tier]
            out.append(Cadence(tier, months, board, True))
    return out


def set_cadence(session: Session, principal: Actor, risk_tier: str, data: schemas.CadenceIn) -> Cadence:
    """Store a tier's cadence (review_cadence:write, CoE-wide). Prohibited systems must not be in use, so that
    tier has none."""
    if principal is not None:
        principal.scope(CADENCE_WRITE)
    if risk_tier not in RISK_TIERS:
        raise _refuse("risk_tier", f"Unknown risk tier {risk_tier!r}; tiers: {', '.join(RISK_TIERS)}.")
    if risk_tier in NO_CADENCE_TIERS:
        raise _refuse("risk_tier", "A prohibited AI system must not be in use, so it has no re-review cadence.")
    row = session.scalar(select(ReviewCadence).where(ReviewCadence.risk_tier == risk_tier))
    if row is None:
        row = ReviewCadence(risk_tier=risk_tier, interval_months=data.interval_months, board=data.board)
        session.add(row)
        session.flush()
        ledger.append(session, audit_actor(principal), "create", "review_cadence", risk_tier, ledger.created(row))
    else:
        row.interval_months, row.board = data.interval_months, data.board
        diff = ledger.changed(row)
        if diff:
            session.flush()
            ledger.append(session, audit_actor(principal), "update", "review_cadence", risk_tier, diff)
    return Cadence(risk_tier, row.interval_months, row.board, False)


# --- the re-review schedule ----------------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it is shorter (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (following - date(year, month, 1)).days
    return date(year, month, min(day.day, last_day))


@dataclass(frozen=True)
class ScheduleEntry:
    system: AISystem
    cadence: Cadence
    last_review: ReviewRequest | None
    next_due: date | None  # None: never approved, due now
    overdue: bool
    open_review: str | None  # key of an open request of the cadence's board, if any

    @property
    def last_reviewed_on(self) -> date | None:
        if self.last_review is None or self.last_review.decided_at is None:
            return None
        return as_utc(self.last_review.decided_at).date()


def schedule(session: Session, principal: Actor, *, today: date | None = None, overdue_only: bool = False,
             business_unit_id: int | None = None, risk_tier: str | None = None,
             system_id: int | None = None) -> list[ScheduleEntry]:
    """Every AI system in use (not retired) within the caller's review:read scope whose tier has a cadence:
    overdue first (never approved first), then by due date and name."""
    today = today or _today()
    by_tier = {c.risk_tier: c for c in cadences(session)}
    if risk_tier is not None and choice("risk_tier", risk_tier, RISK_TIERS):
        by_tier = {t: c for t, c in by_tier.items() if t == risk_tier}
    stmt = (select(AISystem).where(in_scope(AISystem.business_unit_id, scope_of(principal, READ)),
                                   AISystem.risk_tier.in_(sorted(by_tier)), AISystem.lifecycle_status != "retired")
            .options(selectinload(AISystem.business_unit)))
    if business_unit_id is not None:
        stmt = stmt.where(AISystem.business_unit_id == business_unit_id)
    if system_id is not None:
        stmt = stmt.where(AISystem.id == system_id)
    systems = list(session.scalars(stmt))
    reviews = _reviews_about(session, systems)
    entries = []
    for system in systems:
        cadence = by_tier[system.risk_tier or ""]
        mine = [r for r in reviews if r.board == cadence.board and _about(r, system)]
        approved = [r for r in mine if r.status in APPROVED_STATUSES and r.decided_at is not None]
        last = max(approved, key=lambda r: (as_utc(r.decided_at), r.id), default=None)  # type: ignore[arg-type]
        next_due = add_months(as_utc(last.decided_at).date(), cadence.interval_months) if last and last.decided_at \
            else None
        overdue = next_due is None or next_due < today
        if overdue_only and not overdue:
            continue
        pending = next((r.key for r in sorted(mine, key=lambda r: r.id) if r.status == "open"), None)
        entries.append(ScheduleEntry(system, cadence, last, next_due, overdue, pending))
    entries.sort(key=lambda e: (not e.overdue, e.next_due is not None, e.next_due or today, e.system.name.lower()))
    return entries


def overdue(session: Session, principal: Actor, *, today: date | None = None, **filters: Any) -> list[ScheduleEntry]:
    """The systems never approved by their cadence's board, or whose re-review date has passed."""
    return schedule(session, principal, today=today, overdue_only=True, **filters)


def _about(review: ReviewRequest, system: AISystem) -> bool:
    if review.subject_type == "ai_system":
        return review.subject_id == system.id
    return system.use_case_id is not None and review.subject_id == system.use_case_id


def _reviews_about(session: Session, systems: Sequence[AISystem]) -> list[ReviewRequest]:
    """Approved and open requests about these systems or their use cases."""
    system_ids = sorted({s.id for s in systems})
    use_case_ids = sorted({s.use_case_id for s in systems if s.use_case_id is not None})
    if not system_ids:
        return []
    about = and_(ReviewRequest.subject_type == "ai_system", ReviewRequest.subject_id.in_(system_ids))
    if use_case_ids:
        about = or_(about, and_(ReviewRequest.subject_type == "use_case", ReviewRequest.subject_id.in_(use_case_ids)))
    stmt = select(ReviewRequest).where(about, ReviewRequest.status.in_([*APPROVED_STATUSES, "open"]))
    return list(session.scalars(stmt))
