"""Every API route declares a permission, and every role (or role-less user) without it is refused with 403."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from aicoe.app import create_app
from aicoe.auth.deps import Require
from aicoe.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role
from aicoe.web.routes import API_PREFIX, API_ROUTERS
from tests.conftest import fresh_sqlite
from tests.factories import bearer, make_settings, make_token, make_user

AUTHENTICATED_ONLY = {("GET", "/api/v1/me")}  # any signed-in caller may read who they are


def _required(dependant) -> list[str]:  # noqa: ANN001
    found = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, Require):
            found.append(dep.call.permission)
        found.extend(_required(dep))
    return found


def api_routes() -> list[tuple[str, str, str | None]]:
    """Every JSON route from the routing table, with the permission its ``Require`` dependency checks."""
    out = []
    for router in API_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            perms = _required(route.dependant)
            for method in sorted(route.methods):
                out.append((method, API_PREFIX + route.path, perms[0] if perms else None))
    return out


ROUTES = api_routes()


def test_the_routing_table_is_what_the_app_serves(tmp_path: Path) -> None:
    spec = create_app(make_settings("sqlite://", tmp_path)).openapi()
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if p.startswith(API_PREFIX)}
    assert served == {(m, p) for m, p, _ in ROUTES}


def test_every_api_route_declares_a_known_permission() -> None:
    for method, path, perm in ROUTES:
        if (method, path) in AUTHENTICATED_ONLY:
            continue
        assert perm is not None, f"{method} {path} declares no permission"
        assert perm in PERMISSIONS, f"{method} {path} uses unknown permission {perm!r}"


def test_every_permission_is_granted_to_admin_and_used_somewhere() -> None:
    used = {p for _, _, p in ROUTES if p}
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(PERMISSIONS)
    unused = set(PERMISSIONS) - used
    assert not unused, f"permissions no API route uses: {sorted(unused)}"


def test_auditor_changes_nothing() -> None:
    writes = {p for p in ROLE_PERMISSIONS[Role.AUDITOR] if not p.endswith((":read", ":export"))}
    assert writes == {"profile:write"}  # only their own password and tokens


@pytest.fixture(scope="module")
def matrix_client(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    tmp = tmp_path_factory.mktemp("matrix")
    app = create_app(make_settings(fresh_sqlite(sqlite_template, tmp), tmp))
    session = app.state.sessionmaker()
    headers = {role.value: bearer(make_token(session, make_user(session, roles=[(role.value, None)])))
               for role in Role}
    headers["(no role)"] = bearer(make_token(session, make_user(session, roles=[])))
    session.close()
    with TestClient(app) as client:
        yield client, headers


def _lacking(permission: str) -> list[str]:
    return [r.value for r in Role if permission not in ROLE_PERMISSIONS[r]] + ["(no role)"]


@pytest.mark.parametrize(("method", "path", "perm"),
                         [r for r in ROUTES if r[2] is not None], ids=lambda v: str(v))
def test_route_refuses_roles_without_permission(matrix_client, method: str, path: str, perm: str) -> None:  # noqa: ANN001
    client, headers = matrix_client
    url = re.sub(r"\{[^}]+\}", "1", path)
    for role in _lacking(perm):
        response = client.request(method, url, headers=headers[role])
        assert response.status_code == 403, f"{role} got {response.status_code} on {method} {path}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/forbidden")


@pytest.mark.parametrize(("method", "path", "perm"),
                         [r for r in ROUTES if r[2] is not None], ids=lambda v: str(v))
def test_route_refuses_anonymous(matrix_client, method: str, path: str, perm: str) -> None:  # noqa: ANN001
    client, _ = matrix_client
    response = client.request(method, re.sub(r"\{[^}]+\}", "1", path))
    assert response.status_code == 401
    assert response.json()["type"].endswith("/unauthenticated")
