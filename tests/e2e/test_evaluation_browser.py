"""The demo's failing evaluation run in a real browser: sign in, open Evaluations from the navigation, open the
credit model's fairness review and find the failed equalized-odds check with its value and the report frame.
Skips (with the reason) only where no Chromium is installed, as the other browser tests do."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.demo import DemoResult
from aicoe.demo.evaluation import RUNS, seed_evaluation
from aicoe.demo.inventory import seed_inventory
from aicoe.demo.org import seed_org
from aicoe.demo.portfolio import seed_portfolio
from aicoe.models.evaluation import EvaluationRun
from tests.e2e.test_governance_gate import sign_in
from tests.factories import PASSWORD, _writing, make_user

pytestmark = pytest.mark.browser


def test_the_demos_failing_run_shows_its_failed_fairness_check(browser: Any, live_url: str, db: Session,
                                                                settings: Settings) -> None:
    result = DemoResult()
    _writing(db)
    for seeder in (seed_org, seed_portfolio, seed_inventory, seed_evaluation):
        seeder(db, settings, result)
    db.commit()
    credit = RUNS[0]
    run = db.scalars(select(EvaluationRun).where(EvaluationRun.name == credit.name)).one()
    value = next(c["value"] for c in run.result["checks"] if c["id"] == "equalized-odds")
    admin = make_user(db, email="ada@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings)

    page = browser.new_context().new_page()
    sign_in(page, live_url, admin.email, "Ada Admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Evaluations").click()
    page.get_by_role("heading", name="Evaluations", exact=True).wait_for()
    page.get_by_role("link", name=credit.name).click()
    page.get_by_role("heading", name=f"{credit.name} run {run.id}").wait_for()

    row = page.get_by_role("row").filter(has_text="equalized_odds_difference <= 0.1")
    assert row.get_by_text("fail", exact=True).is_visible()
    assert f"{value:.4g}" in row.inner_text()
    assert page.get_by_text(f"failed {run.checks_failed} of {run.checks_total}").first.is_visible()
    frame = page.frame_locator("iframe.evaluation-report")
    frame.locator("body").wait_for()
    assert page.locator("iframe.evaluation-report").get_attribute("sandbox") == ""
