"""Policies, their Markdown versions and the attestations people give on them.

A policy is written as draft versions; publishing one (with an effective date) supersedes the version published
before it, makes the policy active and sets its next review to the effective date plus its review cycle. A
published version never changes: editing means writing the next version. At most one draft exists at a time.
Retiring a policy ends it: no new versions, no attestations.

People are asked to attest the current published version: named one by one, everyone in business units (their
sub-units included), and/or everyone holding roles; each person once per version, and only people whose roles
let them attest. Each person attests their own pending attestation of the version still in force.

Scoping: policies are group-wide. Writing, publishing and retiring need policy:write CoE-wide; a unit-scoped
policy:write lets its holder ask the people of their units to attest. Drafts are seen by policy writers only.
Attestation status per person is shown within the reader's policy:read units. Services flush and audit, never
commit; policies are audited by key ("policy POL-004").
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.permissions import ROLE_PERMISSIONS, Role
from aicoe.auth.principal import Actor, Principal, audit_actor, scope_of, unit_descendants
from aicoe.config import Settings
from aicoe.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, RoleAssignment, User
from aicoe.models.policy import Attestation, Policy, PolicyVersion
from aicoe.policy import schemas
from aicoe.portfolio.usecases import next_number

READ, WRITE, ATTEST = "policy:read", "policy:write", "policy:attest"
KEY_PREFIX, KEY_COUNTER = "POL-", "policy"
POLICY_STATUSES = {"draft": "Draft", "active": "Active", "retired": "Retired"}
VERSION_STATUSES = {"draft": "Draft", "published": "Published", "superseded": "Superseded"}
ATTESTATION_STATUSES = {"pending": "Pending", "overdue": "Overdue", "attested": "Attested"}
# Roles whose holders can attest; people without one cannot sign in to attest and are not asked.
ATTESTING_ROLES = tuple(r.value for r in Role if ATTEST in ROLE_PERMISSIONS[r])
NO_UNIT = "No business unit"


def today() -> date:
    return utcnow().date()


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, on the same day of the month or the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def format_key(number: int) -> str:
    return f"{KEY_PREFIX}{number:03d}"


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def check_global_write(principal: Actor) -> None:
    if principal is not None and principal.scope(WRITE) is not None:
        raise PermissionDenied("writing, publishing and retiring policies needs policy:write CoE-wide; a business "
                               "unit grant lets you ask the people of your units to attest")


def may_write(principal: Principal) -> bool:
    """Whether the principal may write policies (CoE-wide policy:write)."""
    return principal.has(WRITE) and principal.scope(WRITE) is None


def _sees_drafts(principal: Actor) -> bool:
    return principal is None or principal.has(WRITE)


# --- reading ---------------------------------------------------------------------------------------------------

def current_version(policy: Policy) -> PolicyVersion | None:
    return next((v for v in policy.versions if v.status == "published"), None)


def draft_version(policy: Policy) -> PolicyVersion | None:
    return next((v for v in policy.versions if v.status == "draft"), None)


def visible_versions(principal: Actor, policy: Policy) -> list[PolicyVersion]:
    """Newest first; drafts only for policy writers."""
    shown = [v for v in policy.versions if v.status != "draft" or _sees_drafts(principal)]
    return sorted(shown, key=lambda v: v.version, reverse=True)


def review_due(policy: Policy, on: date | None = None) -> bool:
    return policy.status == "active" and policy.next_review_on is not None and policy.next_review_on <= (on or today())


def policies_query(principal: Actor) -> Select[tuple[Policy]]:
    scope_of(principal, READ)
    stmt = select(Policy)
    if not _sees_drafts(principal):
        stmt = stmt.where(Policy.status != "draft")
    return stmt


def _key_number():  # noqa: ANN202 -- a SQL expression: the number after "POL-", so POL-1000 sorts after POL-999
    return cast(func.substr(Policy.key, len(KEY_PREFIX) + 1), Integer)


SORT_COLUMNS: dict[str, Any] = {"key": _key_number(), "title": func.lower(Policy.title),
                                "next_review_on": Policy.next_review_on, "updated_at": Policy.updated_at}


def list_policies(session: Session, principal: Actor, params: PageParams, *, status: str | None = None,
                  q: str | None = None) -> Page[Policy]:
    """Sort by key (default), title, next_review_on or updated_at."""
    stmt = policies_query(principal).options(selectinload(Policy.owner), selectinload(Policy.versions))
    if choice("status", status, POLICY_STATUSES):
        stmt = stmt.where(Policy.status == status)
    if q and q.strip():
        stmt = stmt.where(or_(func.lower(Policy.title).like(like_pattern(q), escape="\\"),
                              func.lower(Policy.description).like(like_pattern(q), escape="\\")))
    return paginate(session, apply_sort(stmt, params.sort, SORT_COLUMNS, [_key_number()]), params)


def get_policy(session: Session, principal: Actor, key: str) -> Policy:
    stmt = policies_query(principal).where(Policy.key == key.strip().upper()).options(
        selectinload(Policy.owner), selectinload(Policy.versions))
    policy = session.scalar(stmt)
    if policy is None:
        raise NotFound(f"no policy {key}")
    return policy


def get_version(session: Session, principal: Actor, key: str, number: int) -> PolicyVersion:
    policy = get_policy(session, principal, key)
    version = next((v for v in visible_versions(principal, policy) if v.version == number), None)
    if version is None:
        raise NotFound(f"{policy.key} has no version {number}")
    return version


# --- policies --------------------------------------------------------------------------------------------------

def _check_title(session: Session, title: str, exclude: int | None = None) -> None:
    stmt = select(Policy.id).where(func.lower(Policy.title) == title.lower())
    if exclude is not None:
        stmt = stmt.where(Policy.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(f"a policy titled {title!r} already exists",
                       errors=[FieldError("title", f"{title!r} is already taken.")])


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is not None:
        owner = session.get(User, owner_id)
        if owner is None or not owner.is_active:
            _raise([FieldError("owner_id", f"No active person {owner_id}.")])


def _not_retired(policy: Policy) -> None:
    if policy.status == "retired":
        raise Conflict(f"{policy.key} is retired and can no longer change")


def create_policy(session: Session, principal: Actor, data: schemas.PolicyCreate) -> Policy:
    check_global_write(principal)
    _check_owner(session, data.owner_id)
    _check_title(session, data.title)
    policy = Policy(key=format_key(next_number(session, KEY_COUNTER)), title=data.title, description=data.description,
                    owner_id=data.owner_id, review_cycle_months=data.review_cycle_months, status="draft")
    session.add(policy)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "policy", policy.key, ledger.created(policy))
    if data.body_md:
        create_version(session, principal, policy.key, schemas.VersionCreate(body_md=data.body_md))
    return policy


def update_policy(session: Session, principal: Actor, key: str, data: schemas.PolicyUpdate) -> Policy:
    """A new review cycle moves the next review of an active policy (from its current version's effective date)."""
    check_global_write(principal)
    policy = get_policy(session, principal, key)
    _not_retired(policy)
    changes = data.model_dump(exclude_unset=True)
    empty = [FieldError(k, "Cannot be empty.") for k in ("title", "description", "review_cycle_months")
             if k in changes and changes[k] is None]
    _raise(empty)
    _check_owner(session, changes.get("owner_id"))
    if "title" in changes:
        _check_title(session, changes["title"], exclude=policy.id)
    for name, value in changes.items():
        setattr(policy, name, value)
    current = current_version(policy)
    if "review_cycle_months" in changes and current is not None and current.effective_date is not None:
        policy.next_review_on = add_months(current.effective_date, policy.review_cycle_months)
    diff = ledger.changed(policy)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "policy", policy.key, diff)
    session.expire(policy, ["owner"])
    return policy


def retire_policy(session: Session, principal: Actor, key: str) -> Policy:
    """Retired policies keep their versions and attestations as history; pending attestations lapse."""
    check_global_write(principal)
    policy = get_policy(session, principal, key)
    _not_retired(policy)
    policy.status, policy.next_review_on = "retired", None
    ledger.append(session, audit_actor(principal), "retire", "policy", policy.key, ledger.changed(policy))
    return policy


# --- versions --------------------------------------------------------------------------------------------------

def create_version(session: Session, principal: Actor, key: str, data: schemas.VersionCreate) -> PolicyVersion:
    """The next version, as a draft (refused while another draft exists: edit that one)."""
    check_global_write(principal)
    policy = get_policy(session, principal, key)
    _not_retired(policy)
    draft = draft_version(policy)
    if draft is not None:
        raise Conflict(f"{policy.key} already has a draft, version {draft.version}: edit it or publish it first")
    number = max((v.version for v in policy.versions), default=0) + 1
    version = PolicyVersion(version=number, body_md=data.body_md, change_note=data.change_note, status="draft",
                            created_by_id=None if principal is None else principal.user.id)
    policy.versions.append(version)
    session.flush()
    ledger.append(session, audit_actor(principal), "create_version", "policy", policy.key, {
        "version": [None, number], "change_note": [None, data.change_note], "body_chars": [None, len(data.body_md)]})
    return version


def _draft(session: Session, principal: Actor, key: str, number: int) -> PolicyVersion:
    version = get_version(session, principal, key, number)
    if version.status != "draft":
        raise Conflict(f"version {number} of {version.policy.key} is {version.status} and cannot change: "
                       "write a new version instead")
    return version


def update_version(session: Session, principal: Actor, key: str, number: int,
                   data: schemas.VersionUpdate) -> PolicyVersion:
    """Edit a draft; a published or superseded version is immutable (409)."""
    check_global_write(principal)
    version = _draft(session, principal, key, number)
    diff: dict[str, list[Any]] = {}
    if data.body_md is not None and data.body_md != version.body_md:  # the text stays in the version, not the ledger
        diff["body_chars"] = [len(version.body_md), len(data.body_md)]
        version.body_md = data.body_md
    if data.change_note is not None and data.change_note != version.change_note:
        diff["change_note"] = [version.change_note, data.change_note]
        version.change_note = data.change_note
    if diff:
        diff["version"] = [number, number]
        ledger.append(session, audit_actor(principal), "update_version", "policy", version.policy.key, diff)
    return version


def publish_version(session: Session, principal: Actor, key: str, number: int,
                    data: schemas.PublishIn) -> PolicyVersion:
    """Publish a draft: the previous published version is superseded, the policy becomes active and its next
    review falls one review cycle after the effective date (which may not precede the version it replaces)."""
    check_global_write(principal)
    version = _draft(session, principal, key, number)
    policy = version.policy
    _not_retired(policy)
    effective = data.effective_date or today()
    previous = current_version(policy)
    if previous is not None and previous.effective_date is not None and effective < previous.effective_date:
        _raise([FieldError("effective_date", f"Version {previous.version} took effect on "
                                             f"{previous.effective_date}; this version cannot take effect earlier.")])
    if previous is not None:
        previous.status = "superseded"
    version.status, version.effective_date, version.published_at = "published", effective, utcnow()
    version.published_by_id = None if principal is None else principal.user.id
    policy.status, policy.next_review_on = "active", add_months(effective, policy.review_cycle_months)
    diff = ledger.changed(policy)
    diff.update({"version": [None, number], "effective_date": [None, effective],
                 "superseded_version": [None, previous.version if previous else None]})
    ledger.append(session, audit_actor(principal), "publish", "policy", policy.key, diff)
    return version


# --- asking people to attest -----------------------------------------------------------------------------------

@dataclass
class RequestResult:
    version: PolicyVersion
    due_date: date
    requested: list[Attestation]
    already_requested: int
    cannot_attest: int


def _reach(session: Session, principal: Actor, data: schemas.AttestationRequest) -> set[int]:
    """The active people the request names, within the caller's policy:write units; field errors otherwise."""
    scope = scope_of(principal, WRITE)
    errors: list[FieldError] = []
    units = set(data.business_unit_ids)
    known = set(session.scalars(select(BusinessUnit.id).where(BusinessUnit.id.in_(sorted(units))))) if units \
        else set()
    bad_units = sorted(u for u in units if u not in known or (scope is not None and u not in scope))
    if bad_units:
        errors.append(FieldError("business_unit_ids", f"No business unit {', '.join(map(str, bad_units))} "
                                                      "among yours."))
    bad_roles = [r for r in data.roles if r not in {role.value for role in Role}]
    if bad_roles:
        errors.append(FieldError("roles", f"Unknown role {bad_roles[0]!r}; allowed: "
                                          f"{', '.join(r.value for r in Role)}."))
    wanted = set(data.user_ids)
    if wanted:
        rows = session.execute(select(User.id, User.business_unit_id, User.is_active)
                               .where(User.id.in_(sorted(wanted))))
        fine = {i for i, unit, active in rows if active and (scope is None or unit in scope)}
        bad_people = sorted(wanted - fine)
        if bad_people:
            errors.append(FieldError("user_ids", f"No active person {', '.join(map(str, bad_people))} among yours."))
    _raise(errors)
    if not (wanted or units or data.roles):
        _raise([FieldError("user_ids", "Name people, business units or roles to ask.")])
    subtree: set[int] = set()
    if units:
        tree = unit_descendants(session)
        for unit_id in units:
            subtree |= tree.get(unit_id, frozenset({unit_id}))
    clauses = []
    if wanted:
        clauses.append(User.id.in_(sorted(wanted)))
    if subtree:
        clauses.append(User.business_unit_id.in_(sorted(subtree)))
    if data.roles:
        clauses.append(User.roles.any(RoleAssignment.role.in_(sorted(set(data.roles)))))
    stmt = select(User.id).where(User.is_active.is_(True), or_(*clauses))
    if scope is not None:
        stmt = stmt.where(User.business_unit_id.in_(sorted(scope)))
    return set(session.scalars(stmt))


def request_attestations(session: Session, settings: Settings, principal: Actor, key: str,
                         data: schemas.AttestationRequest, *, now: datetime | None = None) -> RequestResult:
    """Ask people to attest the current published version. People already asked for it, and people whose roles
    cannot attest, are skipped and counted. ``now`` stands for the clock (imports of past campaigns, tests)."""
    policy = get_policy(session, principal, key)
    if policy.status != "active" or (version := current_version(policy)) is None:
        raise Conflict(f"{policy.key} has no version in force to attest; publish one first")
    moment = now or utcnow()
    due = data.due_date or moment.date() + timedelta(days=settings.attestation_due_days)
    if due < moment.date():
        _raise([FieldError("due_date", f"The due date cannot be before today ({moment.date()}).")])
    people = _reach(session, principal, data)
    able = set(session.scalars(select(RoleAssignment.user_id).where(
        RoleAssignment.user_id.in_(sorted(people)), RoleAssignment.role.in_(ATTESTING_ROLES)))) if people else set()
    asked = set(session.scalars(select(Attestation.user_id).where(
        Attestation.policy_version_id == version.id, Attestation.user_id.in_(sorted(people))))) if people else set()
    new = sorted(able - asked)
    requester = None if principal is None else principal.user.id
    created = [Attestation(policy_version_id=version.id, user_id=user_id, status="pending", requested_by_id=requester,
                           requested_at=moment, due_date=due) for user_id in new]
    session.add_all(created)
    session.flush()
    result = RequestResult(version, due, created, len(able & asked), len(people - able))
    if not created:
        return result
    ledger.append(session, audit_actor(principal), "request_attestations", "policy", policy.key, {
        "version": [None, version.version], "user_ids": [None, new], "due_date": [None, due],
        "already_requested": [None, result.already_requested], "cannot_attest": [None, result.cannot_attest]})
    return result


# --- attesting -------------------------------------------------------------------------------------------------

def attestation_state(attestation: Attestation, on: date | None = None) -> str:
    if attestation.status == "attested":
        return "attested"
    due = attestation.due_date
    return "overdue" if due is not None and due < (on or today()) else "pending"


def attest(session: Session, principal: Principal, attestation_id: int, *, now: datetime | None = None) -> Attestation:
    """Attest one's own pending attestation of the version in force (anyone else's reads as not found)."""
    principal.scope(ATTEST)
    attestation = session.scalar(select(Attestation).where(Attestation.id == attestation_id).options(
        selectinload(Attestation.policy_version).selectinload(PolicyVersion.policy)))
    if attestation is None or attestation.user_id != principal.user.id:
        raise NotFound(f"no attestation {attestation_id} of yours")
    version = attestation.policy_version
    policy = version.policy
    if attestation.status == "attested":
        raise Conflict(f"you attested version {version.version} of {policy.key} already")
    if policy.status != "active" or version.status != "published":
        raise Conflict(f"version {version.version} of {policy.key} is no longer in force "
                       f"({'the policy is retired' if policy.status == 'retired' else 'a newer version replaced it'})")
    attestation.status, attestation.attested_at = "attested", now or utcnow()
    diff = ledger.changed(attestation)
    diff.update({"policy": [None, policy.key], "version": [None, version.version]})
    ledger.append(session, audit_actor(principal), "attest", "attestation", attestation.id, diff)
    return attestation


def my_attestations(session: Session, principal: Principal) -> list[Attestation]:
    """The caller's attestations of versions in force: pending ones first (soonest due), then attested ones."""
    stmt = (select(Attestation).join(PolicyVersion).join(Policy)
            .where(Attestation.user_id == principal.user.id, PolicyVersion.status == "published",
                   Policy.status == "active")
            .options(selectinload(Attestation.policy_version).selectinload(PolicyVersion.policy)))
    rows = list(session.scalars(stmt))
    return sorted(rows, key=lambda a: (a.status != "pending", a.due_date or date.max, a.id))


# --- status per person and per business unit -------------------------------------------------------------------

@dataclass
class UnitStatus:
    business_unit_id: int | None
    business_unit: str
    requested: int = 0
    attested: int = 0
    pending: int = 0  # not yet due
    overdue: int = 0

    @property
    def rate(self) -> float:
        """Share of the requested people who attested (0 when nobody was asked)."""
        return round(self.attested / self.requested, 4) if self.requested else 0.0

    def count(self, state: str) -> None:
        self.requested += 1
        setattr(self, state, getattr(self, state) + 1)


@dataclass
class PersonStatus:
    attestation_id: int
    user: User
    business_unit: str | None
    status: str
    due_date: date | None
    attested_at: datetime | None
    reminder_count: int


@dataclass
class AttestationStatus:
    version: PolicyVersion | None
    people: list[PersonStatus] = field(default_factory=list)
    units: list[UnitStatus] = field(default_factory=list)
    totals: UnitStatus = field(default_factory=lambda: UnitStatus(None, "All"))


def attestation_status(session: Session, principal: Actor, key: str, *, on: date | None = None) -> AttestationStatus:
    """Who was asked to attest the version in force and where they stand, per person and per business unit
    (the person's own unit), limited to the people in the reader's policy:read units."""
    policy = get_policy(session, principal, key)
    version = current_version(policy)
    status = AttestationStatus(version)
    if version is None:
        return status
    scope = scope_of(principal, READ)
    stmt = (select(Attestation, User, BusinessUnit.name).join(User, Attestation.user_id == User.id)
            .outerjoin(BusinessUnit, User.business_unit_id == BusinessUnit.id)
            .where(Attestation.policy_version_id == version.id).order_by(func.lower(User.full_name), User.id))
    if scope is not None:
        stmt = stmt.where(User.business_unit_id.in_(sorted(scope)))
    units: dict[int | None, UnitStatus] = {}
    for attestation, user, unit_name in session.execute(stmt):
        state = attestation_state(attestation, on)
        status.people.append(PersonStatus(attestation.id, user, unit_name, state, attestation.due_date,
                                          attestation.attested_at, attestation.reminder_count))
        unit = units.setdefault(user.business_unit_id, UnitStatus(user.business_unit_id, unit_name or NO_UNIT))
        unit.count(state)
        status.totals.count(state)
    status.units = sorted(units.values(), key=lambda u: (u.business_unit_id is None, u.business_unit.lower()))
    return status


def pending_count(session: Session, principal: Principal) -> int:
    """How many attestations of versions in force the caller still owes."""
    return session.scalar(select(func.count()).select_from(Attestation).join(PolicyVersion).join(Policy).where(
        Attestation.user_id == principal.user.id, Attestation.status == "pending",
        PolicyVersion.status == "published", Policy.status == "active")) or 0


def authors(session: Session, versions: Iterable[PolicyVersion]) -> dict[int, User]:
    """The people who wrote and published ``versions``, by id (versions keep only the ids)."""
    ids = sorted({i for v in versions for i in (v.created_by_id, v.published_by_id) if i is not None})
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
