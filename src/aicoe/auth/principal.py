"""Who is acting and what they may do: grants resolved from role assignments, scopes and the unit tree."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from aicoe.audit.ledger import SYSTEM, AuditActor
from aicoe.auth.permissions import GLOBAL_ONLY, ROLE_PERMISSIONS, Role
from aicoe.core.errors import NotFound, PermissionDenied
from aicoe.models.org import ApiToken, BusinessUnit, User

Scope = frozenset[int] | None  # None: CoE-wide; a set: these business units only


def unit_descendants(session: Session) -> dict[int, frozenset[int]]:
    """Each unit id mapped to itself and all units below it."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for uid, parent in session.execute(select(BusinessUnit.id, BusinessUnit.parent_id)):
        children[parent].append(uid)
    out: dict[int, frozenset[int]] = {}

    def walk(uid: int) -> frozenset[int]:
        if uid not in out:
            out[uid] = frozenset({uid}).union(*(walk(c) for c in children.get(uid, [])))
        return out[uid]

    for ids in list(children.values()):
        for uid in ids:
            walk(uid)
    return out


@dataclass
class Principal:
    user: User
    grants: dict[str, Scope] = field(default_factory=dict)
    token: ApiToken | None = None
    csrf_token: str | None = None

    @classmethod
    def resolve(cls, session: Session, user: User, *, token: ApiToken | None = None,
                csrf_token: str | None = None) -> Principal:
        tree: dict[int, frozenset[int]] | None = None
        units: dict[str, set[int]] = defaultdict(set)
        global_perms: set[str] = set()
        for assignment in user.roles:
            perms = ROLE_PERMISSIONS.get(Role(assignment.role), frozenset())
            if assignment.business_unit_id is None:
                global_perms |= perms
                continue
            if tree is None:
                tree = unit_descendants(session)
            subtree = tree.get(assignment.business_unit_id, frozenset({assignment.business_unit_id}))
            for perm in perms - GLOBAL_ONLY:
                units[perm] |= subtree
        grants: dict[str, Scope] = {p: None for p in global_perms}
        for perm, ids in units.items():
            grants.setdefault(perm, frozenset(ids))
        if token is not None and token.scopes:
            grants = {p: s for p, s in grants.items() if p in token.scopes}
        return cls(user=user, grants=grants, token=token, csrf_token=csrf_token)

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(self.grants)

    def has(self, permission: str) -> bool:
        return permission in self.grants

    def scope(self, permission: str) -> Scope:
        """The units this principal may use ``permission`` in; refuses when it holds no grant at all."""
        if permission not in self.grants:
            raise PermissionDenied(f"this action needs the {permission!r} permission")
        return self.grants[permission]

    def may(self, permission: str, unit_id: int | None) -> bool:
        """Whether the principal holds ``permission`` for that unit (CoE-wide, or through a unit grant)."""
        if permission not in self.grants:
            return False
        scope = self.grants[permission]
        return scope is None or unit_id in scope

    def check_unit(self, permission: str, unit_id: int | None, *, hide: bool = True) -> None:
        """Refuse a record outside the principal's units: 404 when ``hide`` (as if it did not exist), else 403."""
        scope = self.scope(permission)
        if scope is None or (unit_id is not None and unit_id in scope):
            return
        if hide:
            raise NotFound("no such record")
        raise PermissionDenied(f"the {permission!r} permission does not extend to that business unit")

    @property
    def audit_actor(self) -> AuditActor:
        if self.token is not None:
            return AuditActor("token", str(self.token.id), f"{self.user.email} (token {self.token.prefix})")
        return AuditActor("user", str(self.user.id), self.user.email)


def in_scope(column: ColumnElement[Any], scope: Scope) -> ColumnElement[bool]:
    """A WHERE clause limiting ``column`` to the scope (``None`` scope: no limit)."""
    return true() if scope is None else column.in_(sorted(scope))


Actor = Principal | None  # None: the system itself (CLI commands, seeding, jobs): unrestricted


def audit_actor(principal: Actor) -> AuditActor:
    return SYSTEM if principal is None else principal.audit_actor


def scope_of(principal: Actor, permission: str) -> Scope:
    """The principal's scope for ``permission`` (refusing when it holds none); everything for the system."""
    return None if principal is None else principal.scope(permission)
