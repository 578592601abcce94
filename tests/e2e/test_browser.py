"""Real-browser tests: Debian's Chromium driven by Playwright against the real app served by uvicorn.

Only what a browser alone can show lives here (forms submitted by a real browser with its cookies, the
small-screen navigation driven by the keyboard); everything else is tested over HTTP in tests/test_ui.py.
The browser is never downloaded: the test uses the system Chromium and skips without it, unless
AICOE_REQUIRE_BROWSER=1 (CI), where a missing browser fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.core.net import tcp_listener
from aicoe.models.org import BusinessUnit, User
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser
STARTUP_LIMIT_S = 30

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("AICOE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"AICOE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    candidate = os.environ.get("AICOE_CHROMIUM") or shutil.which("chromium")
    return candidate if candidate and Path(candidate).is_file() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium found (set AICOE_CHROMIUM or install Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_url(app) -> Iterator[str]:  # noqa: ANN001
    """The real app served by uvicorn on a free local port, in a background thread."""
    sock = tcp_listener("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        pytest.fail(f"uvicorn did not start within {STARTUP_LIMIT_S} s")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture
def admin(db: Session, settings: Settings) -> User:
    return make_user(db, email="ada@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings)


def sign_in(page: Any, live_url: str, email: str) -> None:
    page.goto(live_url + "/")
    assert "/login" in page.url  # not signed in yet: sent to the sign-in page
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Welcome, Ada Admin").wait_for()


def test_sign_in_create_a_unit_and_a_person_and_see_both_in_the_audit_trail(
    browser: Any,
    live_url: str,
    admin: User,
    db: Session,
) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_url, admin.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Business units").click()
    page.get_by_role("link", name="New business unit").click()
    page.get_by_label("Code").fill("RISK")
    page.get_by_label("Name").fill("Risk & Compliance")
    page.get_by_label("Description").fill("Second line of defence.")
    page.get_by_role("button", name="Create business unit").click()
    page.get_by_role("status").filter(has_text="Business unit 'Risk & Compliance' created.").wait_for()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="People", exact=True).click()
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Job title").fill("Model risk lead")
    page.get_by_label("Business unit").select_option(label="Risk & Compliance (RISK)")
    page.get_by_role("button", name="Add person").click()
    page.get_by_role("status").filter(has_text="Grace Hopper has been added.").wait_for()

    db.rollback()
    unit = db.scalar(select(BusinessUnit).where(BusinessUnit.code == "RISK"))
    person = db.scalar(select(User).where(User.email == "grace@example.com"))
    assert unit is not None and person is not None and person.business_unit_id == unit.id

    with page.expect_response(lambda r: re.search(r"/audit(\?|$)", r.url) is not None) as audit_page:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    assert audit_page.value.status == 200
    rows = page.get_by_role("row")
    unit_row = rows.filter(has_text=f"business_unit {unit.id}").filter(has_text="Risk & Compliance")
    person_row = rows.filter(has_text=f"user {person.id}").filter(has_text="grace@example.com")
    for row in (unit_row, person_row):
        row.first.wait_for()
        assert row.count() == 1
        assert row.get_by_role("cell", name="create", exact=True).count() == 1
        assert admin.email in row.inner_text()  # the actor
    context.close()


def test_small_screen_navigation_opens_from_the_keyboard(browser: Any, live_url: str, admin: User) -> None:
    context = browser.new_context(viewport={"width": 420, "height": 800})
    page = context.new_page()
    sign_in(page, live_url, admin.email)
    toggle = page.get_by_role("button", name="Menu")
    nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="People", exact=True)
    assert toggle.get_attribute("aria-expanded") == "false" and not nav_link.is_visible()
    page.keyboard.press("Tab")  # the first stop is the skip link, and it becomes visible
    assert page.get_by_role("link", name="Skip to content").is_visible()
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true" and nav_link.is_visible()
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not nav_link.is_visible()
    context.close()
