"""The governance gate end to end in a real browser: a high-risk AI system's use case is refused at the pilot
gate for want of an ethics-board approval, the approval is requested and given by a board member, and the use
case then moves to pilot. Skips (with the reason) only where no Chromium is installed, as the other browser
tests do."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.models.portfolio import UseCase
from aicoe.models.reviews import ReviewRequest
from tests.factories import PASSWORD, make_unit, make_user
from tests.inventory_factories import make_system
from tests.test_governance_gates import assess, classify, ready_use_case
from tests.test_lifecycle import fresh

pytestmark = pytest.mark.browser


def sign_in(page: Any, live_url: str, email: str, full_name: str) -> None:
    page.goto(live_url + "/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=f"Welcome, {full_name}").wait_for()


def try_to_move(page: Any, live_url: str, key: str, to_stage: str, reason: str) -> None:
    page.goto(f"{live_url}/use-cases/{key}/lifecycle")
    decision = page.locator(f'form[action="/use-cases/{key}/lifecycle/transition"]')
    decision.get_by_label("Move to").select_option(to_stage)
    decision.get_by_label("Reason").fill(reason)
    decision.get_by_role("button", name="Record decision").click()


def test_a_high_risk_use_case_is_refused_at_the_pilot_gate_until_the_ethics_board_approves(
        browser: Any, live_url: str, db: Session, settings: Settings) -> None:
    unit = make_unit(db, name="Retail Lending")
    manager = make_user(db, email="paula@example.com", full_name="Paula Manager", password=PASSWORD,
                        settings=settings, roles=[("project_manager", None)])
    member = make_user(db, email="sofia@example.com", full_name="Sofia Marquez", password=PASSWORD,
                       settings=settings, roles=[("ethics_board", None)])
    use_case = ready_use_case(db, unit)
    system = make_system(db, unit=unit, name="Credit Engine", use_case=use_case)
    classify(db, system, "high")
    assess(db, system, 0.85)
    key = use_case.key

    first = browser.new_context()
    page = first.new_page()
    sign_in(page, live_url, manager.email, "Paula Manager")
    try_to_move(page, live_url, key, "pilot", "The proof of concept met its criteria.")
    refusal = page.get_by_role("alert")
    refusal.filter(has_text="Transition refused: 1 gate check failed.").wait_for()
    assert "Ethics-board approval for high-risk AI systems" in refusal.inner_text()
    assert (f"High-risk AI system Credit Engine has no ethics-board approval: request an ethics-board review of it "
            f"or of use case {key}.") in refusal.inner_text()
    fresh(db)
    assert db.get_one(UseCase, use_case.id).stage == "proof_of_concept"

    # the manager asks the ethics board, from the AI system's page
    page.goto(f"{live_url}/ai-systems/{system.id}")
    page.get_by_role("link", name="Request a review").click()
    assert page.get_by_label("AI system or use case").input_value() == f"ai_system:{system.id}"
    page.get_by_label("Title").fill("Ethics review before the pilot")
    page.get_by_label("Sofia Marquez").check()
    page.get_by_role("button", name="Send the request").click()
    page.get_by_role("status").filter(has_text="REV-0001 sent to the ethics board.").wait_for()

    # a member of the board signs in, opens the request and approves
    second = browser.new_context()
    board = second.new_page()
    sign_in(board, live_url, member.email, "Sofia Marquez")
    board.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews").click()
    waiting = board.get_by_role("region", name="Awaiting your decision (1)")
    waiting.get_by_role("link", name="REV-0001 Ethics review before the pilot").click()
    board.get_by_role("heading", name="Your decision").wait_for()
    board.get_by_label("Decision", exact=True).select_option("approve")
    board.get_by_label("Comment", exact=True).fill("Human review of every decline is in place.")
    board.get_by_role("button", name="Record decision").click()
    board.get_by_role("status").filter(
        has_text="Your decision on REV-0001 is recorded. The request is now approved.").wait_for()
    second.close()
    fresh(db)
    assert db.scalar(select(ReviewRequest.status)) == "approved"

    # now the move goes through
    try_to_move(page, live_url, key, "pilot", "The proof of concept met its criteria; the ethics board approved.")
    page.get_by_role("status").filter(has_text=f"{key} moved to Pilot.").wait_for()
    first.close()
    fresh(db)
    assert db.get_one(UseCase, use_case.id).stage == "pilot"
