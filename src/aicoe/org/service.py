"""Business units and people: the rules, the scoping by business unit and the audit trail of every change.

Every query starts from a statement already limited to the caller's units; a record outside them is answered
as if it did not exist. Services flush, never commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.passwords import check_password_rules
from aicoe.auth.permissions import Role, role_from
from aicoe.auth.principal import Actor, Principal, audit_actor, in_scope, scope_of
from aicoe.auth.service import passwords_for
from aicoe.config import Settings
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.models.org import BusinessUnit, RoleAssignment, User, UserSession
from aicoe.org import schemas


def _check(principal: Actor, permission: str, unit_id: int | None, *, hide: bool = True) -> None:
    if principal is not None:
        principal.check_unit(permission, unit_id, hide=hide)


UNIT_SORT = {"name": BusinessUnit.name, "code": BusinessUnit.code, "created_at": BusinessUnit.created_at}
PERSON_SORT = {"name": User.full_name, "email": User.email, "created_at": User.created_at, "title": User.title}


# --- business units ------------------------------------------------------------------------------------------

def units_query(principal: Actor) -> Select[tuple[BusinessUnit]]:
    return select(BusinessUnit).where(in_scope(BusinessUnit.id, scope_of(principal, "business_unit:read")))


def list_units(session: Session, principal: Actor, params: PageParams, *, q: str | None = None,
               parent_id: int | None = None) -> Page[BusinessUnit]:
    stmt = units_query(principal)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(BusinessUnit.name).like(like), func.lower(BusinessUnit.code).like(like)))
    if parent_id is not None:
        stmt = stmt.where(BusinessUnit.parent_id == parent_id)
    return paginate(session, apply_sort(stmt, params.sort, UNIT_SORT, [BusinessUnit.name]), params)


def all_units(session: Session, principal: Actor) -> list[BusinessUnit]:
    return list(session.scalars(units_query(principal).order_by(BusinessUnit.name)))


def get_unit(session: Session, principal: Actor, unit_id: int) -> BusinessUnit:
    unit = session.scalar(units_query(principal).where(BusinessUnit.id == unit_id))
    if unit is None:
        raise NotFound(f"no business unit {unit_id}")
    return unit


def _check_unique_unit(session: Session, *, code: str | None, name: str | None, exclude: int | None) -> None:
    for field, column, value in (("code", BusinessUnit.code, code), ("name", BusinessUnit.name, name)):
        if value is None:
            continue
        stmt = select(BusinessUnit.id).where(func.lower(column) == value.lower())
        if exclude is not None:
            stmt = stmt.where(BusinessUnit.id != exclude)
        if session.scalar(stmt) is not None:
            raise Conflict(f"a business unit with {field} {value!r} already exists",
                           errors=[FieldError(field, f"{value!r} is already taken.")])


def _check_parent(session: Session, principal: Actor, parent_id: int | None, unit_id: int | None) -> None:
    """The parent exists, lies within the caller's units (top-level units need a CoE-wide grant), no cycle."""
    _check(principal, "business_unit:write", parent_id, hide=False)
    if parent_id is None:
        return
    parent = session.get(BusinessUnit, parent_id)
    if parent is None:
        raise ValidationFailed(f"no business unit {parent_id}",
                               errors=[FieldError("parent_id", f"No business unit {parent_id}.")])
    node: BusinessUnit | None = parent
    while node is not None:  # refuse cycles: the new parent may not sit below the unit itself
        if unit_id is not None and node.id == unit_id:
            raise ValidationFailed("a unit cannot sit below itself",
                                   errors=[FieldError("parent_id", "That would put the unit below itself.")])
        node = node.parent


def create_unit(session: Session, principal: Actor, data: schemas.BusinessUnitCreate) -> BusinessUnit:
    _check_parent(session, principal, data.parent_id, None)
    _check_unique_unit(session, code=data.code, name=data.name, exclude=None)
    unit = BusinessUnit(**data.model_dump())
    session.add(unit)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "business_unit", unit.id, ledger.created(unit))
    return unit


def update_unit(session: Session, principal: Actor, unit_id: int,
                data: schemas.BusinessUnitUpdate) -> BusinessUnit:
    unit = get_unit(session, principal, unit_id)
    _check(principal, "business_unit:write", unit.id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("code", "name", "description"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be empty", errors=[FieldError(key, "Cannot be empty.")])
    if "parent_id" in changes and changes["parent_id"] != unit.parent_id:
        _check_parent(session, principal, changes["parent_id"], unit.id)
    _check_unique_unit(session, code=changes.get("code"), name=changes.get("name"), exclude=unit.id)
    for key, value in changes.items():
        setattr(unit, key, value)
    diff = ledger.changed(unit)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "business_unit", unit.id, diff)
    return unit


def delete_unit(session: Session, principal: Actor, unit_id: int) -> None:
    unit = get_unit(session, principal, unit_id)
    _check(principal, "business_unit:write", unit.id)
    blockers = [
        (exists().where(BusinessUnit.parent_id == unit.id), "it still has sub-units"),
        (exists().where(User.business_unit_id == unit.id), "people still belong to it"),
        (exists().where(RoleAssignment.business_unit_id == unit.id), "role assignments are still scoped to it"),
    ]
    for clause, reason in blockers:
        if session.scalar(select(clause)):
            raise Conflict(f"cannot delete business unit {unit.name!r}: {reason}")
    diff = ledger.deleted(unit)
    session.delete(unit)
    ledger.append(session, audit_actor(principal), "delete", "business_unit", unit_id, diff)


# --- people ----------------------------------------------------------------------------------------------------

def people_query(principal: Actor) -> Select[tuple[User]]:
    return select(User).options(selectinload(User.roles)).where(
        in_scope(User.business_unit_id, scope_of(principal, "person:read"))
    )


def list_people(session: Session, principal: Actor, params: PageParams, *, q: str | None = None,
                business_unit_id: int | None = None, roster: bool | None = None,
                active: bool | None = None, role: str | None = None) -> Page[User]:
    stmt = people_query(principal)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.full_name).like(like), func.lower(User.email).like(like),
                              func.lower(User.title).like(like)))
    if business_unit_id is not None:
        stmt = stmt.where(User.business_unit_id == business_unit_id)
    if roster is not None:
        stmt = stmt.where(User.coe_role.is_not(None) if roster else User.coe_role.is_(None))
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if role:
        stmt = stmt.where(User.roles.any(RoleAssignment.role == role_from(role).value))
    return paginate(session, apply_sort(stmt, params.sort, PERSON_SORT, [User.full_name, User.id]), params)


def get_person(session: Session, principal: Actor, user_id: int) -> User:
    user = session.scalar(people_query(principal).where(User.id == user_id))
    if user is None:
        raise NotFound(f"no person {user_id}")
    return user


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def find_admin(session: Session) -> User | None:
    """An active CoE-wide administrator, if any."""
    return session.scalar(select(User).join(RoleAssignment).where(
        RoleAssignment.role == Role.ADMIN.value, RoleAssignment.business_unit_id.is_(None),
        User.is_active.is_(True)).limit(1))


def _check_unit_exists(session: Session, unit_id: int | None, field: str = "business_unit_id") -> None:
    if unit_id is not None and session.get(BusinessUnit, unit_id) is None:
        raise ValidationFailed(f"no business unit {unit_id}",
                               errors=[FieldError(field, f"No business unit {unit_id}.")])


def create_person(session: Session, settings: Settings, principal: Actor, data: schemas.PersonCreate) -> User:
    """Create a person (and their account when a password or roles are given)."""
    email = str(data.email).lower()
    _check(principal, "person:write", data.business_unit_id, hide=False)
    if data.password or data.roles:
        scope_of(principal, "user:write")
    _check_unit_exists(session, data.business_unit_id)
    if find_by_email(session, email) is not None:
        raise Conflict(f"a person with email {email!r} already exists",
                       errors=[FieldError("email", f"{email} is already registered.")])
    user = User(email=email, full_name=data.full_name, title=data.title,
                business_unit_id=data.business_unit_id, coe_role=data.coe_role or None)
    if data.password:
        check_password_rules(data.password, email=email, min_length=settings.password_min_length)
        user.password_hash = passwords_for(settings).hash(data.password)
    user.roles = [_assignment(session, r) for r in _dedupe(data.roles)]
    session.add(user)
    session.flush()
    diff = ledger.created(user)
    diff["roles"] = [None, _role_labels(user.roles)]
    ledger.append(session, audit_actor(principal), "create", "user", user.id, diff)
    return user


def update_person(session: Session, principal: Actor, user_id: int, data: schemas.PersonUpdate) -> User:
    user = get_person(session, principal, user_id)
    _check(principal, "person:write", user.business_unit_id)
    changes = data.model_dump(exclude_unset=True)
    if "full_name" in changes and changes["full_name"] is None:
        raise ValidationFailed("full_name cannot be empty", errors=[FieldError("full_name", "Cannot be empty.")])
    if "business_unit_id" in changes:
        _check_unit_exists(session, changes["business_unit_id"])
        _check(principal, "person:write", changes["business_unit_id"], hide=False)
    if "coe_role" in changes:
        changes["coe_role"] = changes["coe_role"] or None
    if "title" in changes:
        changes["title"] = changes["title"] or ""
    for key, value in changes.items():
        setattr(user, key, value)
    diff = ledger.changed(user)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "user", user.id, diff)
    return user


def delete_person(session: Session, principal: Actor, user_id: int) -> None:
    user = get_person(session, principal, user_id)
    _check(principal, "person:write", user.business_unit_id)
    if principal is not None and user.id == principal.user.id:
        raise Conflict("you cannot delete yourself")
    if any(r.role == Role.ADMIN.value and r.business_unit_id is None for r in user.roles) and user.is_active \
            and _admins_left(session, user.id) == 0:
        raise Conflict("this is the last active administrator; it cannot be deleted")
    diff = ledger.deleted(user)
    session.delete(user)
    ledger.append(session, audit_actor(principal), "delete", "user", user_id, diff)


# --- accounts and roles (CoE-wide administration) -----------------------------------------------------------

def _dedupe(roles: list[schemas.RoleIn]) -> list[schemas.RoleIn]:
    seen: dict[tuple[str, int | None], schemas.RoleIn] = {}
    for r in roles:
        seen.setdefault((r.role, r.business_unit_id), r)
    return list(seen.values())


def _assignment(session: Session, data: schemas.RoleIn) -> RoleAssignment:
    role = role_from(data.role)
    _check_unit_exists(session, data.business_unit_id, "roles")
    return RoleAssignment(role=role.value, business_unit_id=data.business_unit_id)


def _role_labels(roles: list[RoleAssignment]) -> list[str]:
    return sorted(r.role + (f"@{r.business_unit_id}" if r.business_unit_id else "") for r in roles)


def _admins_left(session: Session, excluding: int) -> int:
    return session.scalar(
        select(func.count(func.distinct(RoleAssignment.user_id))).join(User).where(
            RoleAssignment.role == Role.ADMIN.value, RoleAssignment.business_unit_id.is_(None),
            User.is_active.is_(True), User.id != excluding,
        )
    ) or 0


def set_roles(session: Session, principal: Actor, user: User, roles: list[schemas.RoleIn]) -> User:
    scope_of(principal, "user:write")
    before = _role_labels(user.roles)
    wanted = [_assignment(session, r) for r in _dedupe(roles)]
    keeps_admin = any(r.role == Role.ADMIN.value and r.business_unit_id is None for r in wanted)
    if not keeps_admin and "admin" in before and _admins_left(session, user.id) == 0:
        raise Conflict("this is the last active administrator; give another account the admin role first")
    current = {(r.role, r.business_unit_id): r for r in user.roles}
    user.roles = [current.get((w.role, w.business_unit_id), w) for w in wanted]
    session.flush()
    after = _role_labels(user.roles)
    if before != after:
        ledger.append(session, audit_actor(principal), "set_roles", "user", user.id, {"roles": [before, after]})
    return user


def set_active(session: Session, principal: Actor, user: User, active: bool) -> User:
    scope_of(principal, "user:write")
    if principal is not None and principal.user.id == user.id and not active:
        raise Conflict("you cannot disable your own account")
    if not active and _admins_left(session, user.id) == 0 and any(
        r.role == Role.ADMIN.value and r.business_unit_id is None for r in user.roles
    ):
        raise Conflict("this is the last active administrator; it cannot be disabled")
    user.is_active = active
    diff = ledger.changed(user)
    if diff:
        ledger.append(session, audit_actor(principal), "enable" if active else "disable", "user", user.id, diff)
    return user


def set_password(session: Session, settings: Settings, principal: Actor, user: User, password: str) -> User:
    scope_of(principal, "user:write")
    check_password_rules(password, email=user.email, min_length=settings.password_min_length)
    user.password_hash = passwords_for(settings).hash(password)
    diff = ledger.changed(user)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))  # a reset signs them out
    ledger.append(session, audit_actor(principal), "set_password", "user", user.id, diff)
    return user


def people_per_unit(session: Session) -> dict[int, int]:
    rows = session.execute(select(User.business_unit_id, func.count()).where(
        User.business_unit_id.is_not(None)).group_by(User.business_unit_id))
    return {unit_id: n for unit_id, n in rows}


CHOICES_LIMIT = 1000


def unit_choices(session: Session, principal: Principal, permission: str) -> list[tuple[int, str]]:
    """(id, name) of the units the principal holds ``permission`` in, for form pickers (none without it)."""
    scope = principal.scope(permission) if principal.has(permission) else frozenset()
    rows = session.execute(select(BusinessUnit.id, BusinessUnit.name).where(in_scope(BusinessUnit.id, scope))
                           .order_by(BusinessUnit.name))
    return [(i, n) for i, n in rows]


def people_choices(session: Session, principal: Principal, *keep: int | None) -> list[tuple[int, str]]:
    """Active people the caller may see (themselves at least), plus anyone already named on the record."""
    stmt = select(User.id, User.full_name).where(User.is_active.is_(True))
    if principal.has("person:read"):
        stmt = stmt.where(in_scope(User.business_unit_id, principal.scope("person:read")))
    else:
        stmt = stmt.where(User.id == principal.user.id)
    rows = dict(session.execute(stmt.order_by(User.full_name).limit(CHOICES_LIMIT)).all())
    for user_id in keep:
        if user_id is not None and user_id not in rows and (user := session.get(User, user_id)) is not None:
            rows[user.id] = user.full_name
    return sorted(rows.items(), key=lambda item: item[1].lower())


def counts(session: Session, principal: Principal) -> dict[str, Any]:
    """Figures for the home dashboard, within the caller's scope."""
    people_scope = principal.scope("person:read")
    unit_scope = principal.scope("business_unit:read")
    return {
        "units": session.scalar(select(func.count()).select_from(BusinessUnit)
                                .where(in_scope(BusinessUnit.id, unit_scope))) or 0,
        "people": session.scalar(select(func.count()).select_from(User)
                                 .where(in_scope(User.business_unit_id, people_scope))) or 0,
        "roster": session.scalar(select(func.count()).select_from(User).where(
            in_scope(User.business_unit_id, people_scope), User.coe_role.is_not(None))) or 0,
    }
