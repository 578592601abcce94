"""The server-rendered UI through HTTP: sign-in and its defences, forms that keep input and show field errors,
business-unit scoping, API tokens shown once, sign-out, password changes and account administration."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.auth.deps import SESSION_COOKIE
from aicoe.auth.service import passwords_for
from aicoe.config import Settings
from aicoe.models.audit import AuditEvent
from aicoe.models.org import ApiToken, BusinessUnit, LoginAttempt, User, UserSession
from tests.factories import PASSWORD, bearer, csrf_from, login, make_unit, make_user


@pytest.fixture
def admin(db: Session, settings: Settings) -> User:
    return make_user(
        db, email="admin@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings
    )


@pytest.fixture
def signed_in(client: TestClient, admin: User) -> TestClient:
    login(client, admin.email)
    return client


def csrf(client: TestClient, path: str = "/") -> str:
    return csrf_from(client.get(path).text)


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input id="f-{name}" name="{name}"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else None


# --- signing in and out -------------------------------------------------------------------------------------


def test_login_sets_a_protected_session_cookie_and_follows_a_local_next(
    client: TestClient, admin: User
) -> None:
    page = client.get("/login", params={"next": "/people?roster=1"})
    assert page.status_code == 200
    assert 'name="next" value="/people?roster=1"' in page.text
    assert "httponly" in page.headers["set-cookie"].lower()
    response = client.post(
        "/login",
        data={
            "email": "ADMIN@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
            "next": "/people?roster=1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/people?roster=1"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    home = client.get("/")
    assert home.status_code == 200 and "Welcome, Ada Admin" in home.text


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "people", ""]
)
def test_login_never_redirects_off_site(client: TestClient, admin: User, target: str) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "csrf_token": csrf_from(page.text), "next": target},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_page_without_a_session_sends_you_to_sign_in_and_back(client: TestClient) -> None:
    response = client.get("/people?q=ann", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/people%3Fq%3Dann"


def test_wrong_password_and_unknown_account_get_the_same_answer(
    client: TestClient, admin: User, db: Session
) -> None:
    token = csrf(client, "/login")
    texts = []
    for email in (admin.email, "nobody@example.com"):
        response = client.post(
            "/login", data={"email": email, "password": "not-the-password-1", "csrf_token": token}
        )
        assert response.status_code == 401
        assert (
            "<strong>Sign-in failed.</strong> The email address or password is not correct." in response.text
        )
        assert input_value(response.text, "email") == email  # what the user typed is kept...
        assert input_value(response.text, "password") == ""  # ...but never the password
        texts.append(response.text.replace(email, "EMAIL"))
    assert texts[0] == texts[1]
    assert count(db, LoginAttempt) == 2
    assert count(db, UserSession) == 0


def test_sign_in_is_throttled_after_repeated_failures(
    client: TestClient, admin: User, settings: Settings, db: Session
) -> None:
    token = csrf(client, "/login")
    for _ in range(settings.login_max_failures):
        wrong = client.post(
            "/login", data={"email": admin.email, "password": "wrong-password-9", "csrf_token": token}
        )
        assert wrong.status_code == 401
    blocked = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts; try again in" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert count(db, UserSession) == 0


@pytest.mark.parametrize("sent", [None, "forged-token"])
def test_login_form_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient, admin: User, db: Session, sent: str | None
) -> None:
    client.get("/login")
    data = {"email": admin.email, "password": PASSWORD}
    if sent is not None:
        data["csrf_token"] = sent
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert count(db, LoginAttempt) == 0 and count(db, UserSession) == 0


@pytest.mark.parametrize("sent", [None, "forged-token"])
def test_signed_in_forms_refuse_a_missing_or_wrong_csrf_token(
    signed_in: TestClient, db: Session, sent: str | None
) -> None:
    data = {"code": "RISK", "name": "Risk"}
    if sent is not None:
        data["csrf_token"] = sent
    response = signed_in.post("/business-units", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "CSRF check failed" in response.text
    assert count(db, BusinessUnit) == 0
    logout = signed_in.post(
        "/logout", data={} if sent is None else {"csrf_token": sent}, follow_redirects=False
    )
    assert logout.status_code == 403
    assert count(db, UserSession) == 1


def test_sign_out_ends_the_session_for_good(signed_in: TestClient, db: Session) -> None:
    cookie = signed_in.cookies.get(SESSION_COOKIE)
    response = signed_in.post("/logout", data={"csrf_token": csrf(signed_in)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert count(db, UserSession) == 0
    signed_in.cookies.set(SESSION_COOKIE, cookie)  # replaying the old cookie does not bring the session back
    again = signed_in.get("/", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert "You have signed out." in signed_in.get("/login").text


# --- dashboard ----------------------------------------------------------------------------------------------


def test_the_dashboard_shows_figures_roles_and_recent_changes(signed_in: TestClient, db: Session) -> None:
    unit = make_unit(db, code="RETAIL", name="Retail")
    make_user(db, full_name="Rita Roster", business_unit=unit, roles=[])
    page = signed_in.get("/").text
    assert re.search(r'<span class="stat-value">1</span><span class="stat-label">Business units', page)
    assert re.search(r'<span class="stat-value">2</span><span class="stat-label">People', page)
    assert 'Administrator<span class="muted">across the whole organisation' in page
    assert re.search(
        r"<code>login</code></td>\s*<td>user 1</td>", page
    )  # this sign-in, from the audit ledger
    assert 'href="/audit"' in page and 'href="/admin/users"' in page


def test_the_dashboard_of_an_account_without_roles(
    client: TestClient, db: Session, settings: Settings
) -> None:
    make_user(db, email="nobody@example.com", password=PASSWORD, settings=settings, roles=[])
    login(client, "nobody@example.com")
    page = client.get("/").text
    assert "Your account has no role yet" in page
    assert "stat-value" not in page and "Recent changes" not in page
    assert client.get("/people").status_code == 403


# --- forms --------------------------------------------------------------------------------------------------


def test_business_unit_and_person_created_through_forms_are_audited(
    signed_in: TestClient, db: Session
) -> None:
    token = csrf(signed_in, "/business-units/new")
    made = signed_in.post(
        "/business-units",
        data={
            "code": "RETAIL",
            "name": "Retail banking",
            "description": "Branches",
            "parent_id": "",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    unit = db.scalar(select(BusinessUnit).where(BusinessUnit.code == "RETAIL"))
    assert unit is not None and made.headers["location"] == f"/business-units/{unit.id}"
    detail = signed_in.get(made.headers["location"])
    assert "Business unit &#39;Retail banking&#39; created." in detail.text
    person = signed_in.post(
        "/people",
        data={
            "email": "Grace@Example.com",
            "full_name": "Grace Hopper",
            "title": "ML engineer",
            "business_unit_id": str(unit.id),
            "coe_role": "ML engineer",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert person.status_code == 303
    db.rollback()
    grace = db.scalar(select(User).where(User.email == "grace@example.com"))
    assert grace is not None and grace.business_unit_id == unit.id and grace.password_hash is None
    events = {(e.action, e.entity_type, e.entity_id) for e in db.scalars(select(AuditEvent))}
    assert ("create", "business_unit", str(unit.id)) in events and ("create", "user", str(grace.id)) in events
    roster = signed_in.get("/people", params={"roster": "1"})
    assert f'href="/people/{grace.id}"' in roster.text and 'href="/people/1"' not in roster.text


def test_a_refused_form_shows_the_field_error_and_keeps_the_input(signed_in: TestClient, db: Session) -> None:
    make_unit(db, code="RETAIL", name="Retail banking")
    response = signed_in.post(
        "/business-units",
        data={
            "code": "retail",
            "name": "Retail 2",
            "description": "Second try",
            "csrf_token": csrf(signed_in),
        },
    )
    assert response.status_code == 409
    assert re.search(
        r'<input id="f-code" name="code" type="text" value="retail"[^>]*aria-invalid="true"', response.text
    )
    assert '<p class="field-error" id="e-code">&#39;retail&#39; is already taken.</p>' in response.text
    assert input_value(response.text, "name") == "Retail 2"
    assert ">Second try</textarea>" in response.text
    assert count(db, BusinessUnit) == 1


def test_schema_rules_become_field_errors(signed_in: TestClient, db: Session) -> None:
    token = csrf(signed_in)
    bad_code = signed_in.post("/business-units", data={"code": "no spaces!", "name": "", "csrf_token": token})
    assert bad_code.status_code == 422
    assert 'id="e-code"' in bad_code.text and 'id="e-name"' in bad_code.text
    assert input_value(bad_code.text, "code") == "no spaces!"
    bad_email = signed_in.post(
        "/people", data={"email": "not-an-email", "full_name": "Kay", "csrf_token": token}
    )
    assert bad_email.status_code == 422
    assert 'id="e-email"' in bad_email.text and input_value(bad_email.text, "full_name") == "Kay"
    bad_unit = signed_in.post(
        "/people",
        data={"email": "kay@example.com", "full_name": "Kay", "business_unit_id": "abc", "csrf_token": token},
    )
    assert bad_unit.status_code == 422 and 'id="e-business_unit_id"' in bad_unit.text
    assert count(db, BusinessUnit) == 0 and count(db, User) == 1


def test_editing_and_deleting_a_business_unit(signed_in: TestClient, db: Session) -> None:
    parent = make_unit(db, code="OPS", name="Operations")
    child = make_unit(db, code="IT", name="IT", parent=parent)
    token = csrf(signed_in)
    loop = signed_in.post(
        f"/business-units/{parent.id}",
        data={"code": "OPS", "name": "Operations", "parent_id": str(child.id), "csrf_token": token},
    )
    assert loop.status_code == 422 and "below itself" in loop.text  # the form also never offers it
    edit_page = signed_in.get(f"/business-units/{parent.id}/edit").text
    assert f'<option value="{child.id}"' not in edit_page
    blocked = signed_in.post(f"/business-units/{parent.id}/delete", data={"csrf_token": token})
    assert blocked.status_code == 409 and "it still has sub-units" in blocked.text
    renamed = signed_in.post(
        f"/business-units/{child.id}",
        data={"code": "IT", "name": "Technology", "parent_id": str(parent.id), "csrf_token": token},
        follow_redirects=False,
    )
    assert renamed.status_code == 303
    tree = signed_in.get("/business-units", params={"view": "tree"}).text
    assert re.search(r"Operations</a>.*<ul>.*Technology</a>", tree, re.S)
    gone = signed_in.post(
        f"/business-units/{child.id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert db.scalar(select(func.count()).where(BusinessUnit.id == child.id)) == 0


def test_an_administrator_adds_a_person_who_can_then_sign_in(
    signed_in: TestClient, db: Session, client: TestClient, app
) -> None:  # noqa: ANN001
    unit = make_unit(db, code="DATA", name="Data office")
    response = signed_in.post(
        "/people",
        data={
            "email": "dana@example.com",
            "full_name": "Dana Data",
            "business_unit_id": str(unit.id),
            "role": "domain_expert",
            "role_unit_id": str(unit.id),
            "password": "Strong-pass-for-D4",
            "csrf_token": csrf(signed_in),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    with TestClient(app) as dana:
        login(dana, "dana@example.com", "Strong-pass-for-D4")
        assert 'Domain expert<span class="muted">in Data office' in dana.get("/").text


def test_editing_and_deleting_a_person(signed_in: TestClient, admin: User, db: Session) -> None:
    unit = make_unit(db, code="OPS", name="Operations")
    kim = make_user(db, email="kim@example.com", full_name="Kim Lee", roles=[])
    token = csrf(signed_in)
    form = signed_in.get(f"/people/{kim.id}/edit").text
    assert input_value(form, "full_name") == "Kim Lee"
    saved = signed_in.post(
        f"/people/{kim.id}",
        data={
            "full_name": "Kim Park",
            "title": "Data steward",
            "business_unit_id": str(unit.id),
            "coe_role": "Data steward",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = signed_in.get(f"/people/{kim.id}").text
    assert "Kim Park" in page and "Operations" in page and "Data steward" in page
    empty = signed_in.post(f"/people/{kim.id}", data={"full_name": "", "title": "Kept", "csrf_token": token})
    assert (
        empty.status_code == 422
        and 'id="e-full_name"' in empty.text
        and input_value(empty.text, "title") == "Kept"
    )
    myself = signed_in.post(f"/people/{admin.id}/delete", data={"csrf_token": token})
    assert myself.status_code == 409 and "you cannot delete yourself" in myself.text.lower()
    gone = signed_in.post(f"/people/{kim.id}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert gone.status_code == 303
    assert signed_in.get(f"/people/{kim.id}").status_code == 404


def test_lists_paginate_and_keep_their_filters(signed_in: TestClient, db: Session) -> None:
    unit = make_unit(db, code="HR", name="People team")
    for n in range(27):
        make_user(
            db, email=f"p{n:02d}@example.com", full_name=f"Person {n:02d}", business_unit=unit, roles=[]
        )
    first = signed_in.get("/people", params={"business_unit_id": str(unit.id)}).text
    assert "1–25 of 27" in first
    assert f'href="/people?business_unit_id={unit.id}&amp;offset=25"' in first
    second = signed_in.get("/people", params={"business_unit_id": str(unit.id), "offset": "25"}).text
    assert "Person 25" in second and "Person 26" in second and "Person 00" not in second


# --- scoping ------------------------------------------------------------------------------------------------


def test_a_business_unit_user_sees_only_their_units_people(
    client: TestClient, db: Session, settings: Settings
) -> None:
    mine, other = make_unit(db, code="CARDS", name="Cards"), make_unit(db, code="LOANS", name="Loans")
    colleague = make_user(db, full_name="Carla Cards", business_unit=mine, roles=[])
    stranger = make_user(db, full_name="Lou Loans", business_unit=other, roles=[])
    me = make_user(
        db,
        email="pm@example.com",
        full_name="Pat Manager",
        business_unit=mine,
        password=PASSWORD,
        settings=settings,
        roles=[("project_manager", mine)],
    )
    login(client, me.email)
    people = client.get("/people").text
    assert "Carla Cards" in people and "Pat Manager" in people and "Lou Loans" not in people
    assert client.get(f"/people/{colleague.id}").status_code == 200
    hidden = client.get(f"/people/{stranger.id}")
    assert hidden.status_code == 404 and "Lou Loans" not in hidden.text
    assert 'aria-label="Main"' in hidden.text  # the error page keeps the signed-in navigation
    assert client.get(f"/business-units/{other.id}").status_code == 404
    assert "Loans" not in client.get("/business-units").text
    assert client.get("/admin/users").status_code == 403
    nav = client.get("/").text
    assert 'href="/admin/users"' not in nav and 'href="/people"' in nav


# --- profile: API tokens and password -----------------------------------------------------------------------


def test_a_new_api_token_is_shown_once_and_works(signed_in: TestClient, db: Session) -> None:
    response = signed_in.post(
        "/profile/tokens",
        data={
            "name": "notebook",
            "scopes": ["person:read"],
            "expires_at": "2999-12-31",
            "csrf_token": csrf(signed_in),
        },
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-token" class="mono" type="text" value="(aicoe_[^"]+)"', response.text).group(
        1
    )
    me = signed_in.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json()["permissions"] == ["person:read"]
    assert secret not in signed_in.get("/profile").text
    db.rollback()
    token = db.scalar(select(ApiToken))
    assert token.token_hash != secret and token.expires_at is not None
    revoked = signed_in.post(
        f"/profile/tokens/{token.id}/revoke", data={"csrf_token": csrf(signed_in)}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert signed_in.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_token_form_errors(signed_in: TestClient, db: Session) -> None:
    token = csrf(signed_in)
    past = signed_in.post(
        "/profile/tokens", data={"name": "old", "expires_at": "2001-01-01", "csrf_token": token}
    )
    assert (
        past.status_code == 422
        and 'id="e-expires_at"' in past.text
        and input_value(past.text, "name") == "old"
    )
    nameless = signed_in.post("/profile/tokens", data={"name": " ", "csrf_token": token})
    assert nameless.status_code == 422 and 'id="e-name"' in nameless.text
    assert count(db, ApiToken) == 0


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        (
            "wrong-current-pw",
            "A-much-better-pass-77",
            "A-much-better-pass-77",
            "current_password",
            "not your current",
        ),
        (PASSWORD, "short-1", "short-1", "new_password", "at least 12 characters"),
        (PASSWORD, "password123", "password123", "new_password", None),
        (
            PASSWORD,
            "admin-is-me-here-1",
            "admin-is-me-here-1",
            "new_password",
            "must not contain your account name",
        ),
        (PASSWORD, "A-much-better-pass-77", "A-much-better-pass-78", "confirm_password", "same new password"),
    ],
)
def test_password_change_rules(
    signed_in: TestClient,
    admin: User,
    db: Session,
    settings: Settings,
    current: str,
    new: str,
    confirm: str,
    field: str,
    message: str | None,
) -> None:
    response = signed_in.post(
        "/profile/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": confirm,
            "csrf_token": csrf(signed_in),
        },
    )
    assert response.status_code == 422
    assert f'id="e-{field}"' in response.text
    if message:
        assert message in response.text
    assert new not in response.text
    db.rollback()
    assert passwords_for(settings).verify(admin.password_hash, PASSWORD)


def test_password_change_signs_out_other_sessions_but_not_this_one(
    signed_in: TestClient, admin: User, app, db: Session
) -> None:  # noqa: ANN001
    with TestClient(app) as other:
        login(other, admin.email)
        assert count(db, UserSession) == 2
        new = "A-much-better-pass-77"
        response = signed_in.post(
            "/profile/password",
            data={
                "current_password": PASSWORD,
                "new_password": new,
                "confirm_password": new,
                "csrf_token": csrf(signed_in),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert "Your password has been changed" in signed_in.get("/profile").text
        assert other.get("/", follow_redirects=False).status_code == 303
        assert count(db, UserSession) == 1
        login(other, admin.email, new)


# --- account administration ---------------------------------------------------------------------------------


def test_admin_manages_roles_activation_and_passwords(
    signed_in: TestClient, admin: User, db: Session, settings: Settings, client: TestClient
) -> None:
    unit = make_unit(db, code="RISK", name="Risk")
    bob = make_user(db, email="bob@example.com", full_name="Bob Builder", roles=[])
    token = csrf(signed_in)
    base = f"/admin/users/{bob.id}"
    added = signed_in.post(
        f"{base}/roles/add",
        data={"role": "practitioner", "business_unit_id": str(unit.id), "csrf_token": token},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = signed_in.get(base).text
    assert "Practitioner (data scientist / ML engineer)" in page and "in Risk" in page
    unknown = signed_in.post(f"{base}/roles/add", data={"role": "overlord", "csrf_token": token})
    assert unknown.status_code == 422 and 'id="e-role"' in unknown.text
    weak = signed_in.post(
        f"{base}/password", data={"password": "bob", "confirm_password": "bob", "csrf_token": token}
    )
    assert weak.status_code == 422 and "at least 12 characters" in weak.text
    reset = signed_in.post(
        f"{base}/password",
        data={
            "password": "Strong-new-pass-2026",
            "confirm_password": "Strong-new-pass-2026",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert reset.status_code == 303
    assert (
        signed_in.post(f"{base}/disable", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    listing = signed_in.get("/admin/users", params={"active": "0"}).text
    assert f'href="/admin/users/{bob.id}"' in listing and f'href="/admin/users/{admin.id}"' not in listing
    assert (
        signed_in.post(f"{base}/enable", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    removed = signed_in.post(
        f"{base}/roles/remove",
        data={"role": "practitioner", "business_unit_id": str(unit.id), "csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    db.rollback()
    assert db.get(User, bob.id).roles == [] and db.get(User, bob.id).is_active
    db.rollback()
    actions = [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(bob.id)))]
    assert actions == ["set_roles", "set_password", "disable", "enable", "set_roles"]


def test_the_last_administrator_cannot_lose_the_role(signed_in: TestClient, admin: User, db: Session) -> None:
    response = signed_in.post(
        f"/admin/users/{admin.id}/roles/remove",
        data={"role": "admin", "business_unit_id": "", "csrf_token": csrf(signed_in)},
    )
    assert response.status_code == 409 and "last active administrator" in response.text
    db.rollback()
    assert [r.role for r in db.get(User, admin.id).roles] == ["admin"]


def test_a_coe_lead_reads_accounts_but_cannot_change_them(
    client: TestClient, db: Session, settings: Settings
) -> None:
    lead = make_user(
        db,
        email="lead@example.com",
        full_name="Lee Lead",
        password=PASSWORD,
        settings=settings,
        roles=[("coe_lead", None)],
    )
    login(client, lead.email)
    page = client.get(f"/admin/users/{lead.id}")
    assert page.status_code == 200 and "Add a role" not in page.text and "Set a new password" not in page.text
    refused = client.post(
        f"/admin/users/{lead.id}/roles/add", data={"role": "admin", "csrf_token": csrf(client)}
    )
    assert refused.status_code == 403
    db.rollback()
    assert [r.role for r in db.get(User, lead.id).roles] == ["coe_lead"]


def test_navigation_marks_the_current_page(signed_in: TestClient) -> None:
    units = signed_in.get("/business-units").text
    assert '<a href="/business-units" aria-current="page">' in units
    assert '<a href="/people" aria-current="page">' not in units
    person_list = signed_in.get("/people?roster=1").text
    assert '<a href="/people" aria-current="page">' in person_list
    assert 'class="skip-link" href="#main"' in person_list
