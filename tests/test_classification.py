"""EU AI Act classifications stored on AI systems: versions, the system's risk tier and role, audit, scoping,
refused answers that change nothing, the API (incl. preview), the pages and panel, the CLI and the demo seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.cli.main import app as cli_app
from aicoe.compliance import classification
from aicoe.config import Settings
from aicoe.models.audit import AuditEvent
from aicoe.models.compliance import Classification
from aicoe.models.inventory import AISystem
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    login,
    make_settings,
    make_token,
    make_unit,
    make_user,
)
from tests.governance_factories import make_framework, requirement
from tests.inventory_factories import make_system
from tests.test_eu_ai_act import answers, provider, uses

API = "/api/v1"
CHATBOT = answers(transparency=["interacts"])  # limited, deployer
CREDIT = provider(provider_uses_itself=True, **uses("essential_services", "creditworthiness"),
                  deployer_public="neither")  # high, provider and deployer


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (the listing's outer join and counts are SQL)."""
    return make_settings(any_db_url, tmp_path)


def headers_for(db: Session, **user_kwargs: object) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))  # type: ignore[arg-type]


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def fresh(db: Session, system_id: int) -> AISystem:
    """The system as stored now (the test session's copy may be stale)."""
    db.rollback()
    db.expire_all()
    return db.get(AISystem, system_id)


def events(db: Session, entity_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    db.rollback()
    rows = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq))
    return [(e.action, e.entity_id, json.loads(e.diff)) for e in rows]


def classify(client: TestClient, headers: dict[str, str], system_id: int, given: dict[str, Any],
             notes: str = "") -> dict[str, Any]:
    r = client.post(f"{API}/ai-systems/{system_id}/classification", headers=headers,
                    json={"answers": given, "notes": notes})
    assert r.status_code == 201, r.text
    return r.json()


# --- service and API -----------------------------------------------------------------------------------------------

def test_classifying_twice_versions_sets_tier_and_role_and_audits(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit, name="Credit Engine", eu_ai_act_role="deployer")
    rita = make_user(db, roles=[("risk_compliance", None)], full_name="Rita Risk")
    headers = bearer(make_token(db, rita))
    first = classify(client, headers, system.id, CHATBOT, "first pass")
    assert {k: first[k] for k in ("version", "is_current", "tier", "gpai", "notes", "questionnaire_version")} == {
        "version": 1, "is_current": True, "tier": "limited", "gpai": None, "notes": "first pass",
        "questionnaire_version": "2024/1689-1"}
    assert first["ai_system"] == {"id": system.id, "name": "Credit Engine"}
    assert first["classified_by"] == {"id": rita.id, "full_name": "Rita Risk"}
    assert [(o["ref"], o["role"]) for o in first["obligations"]] == [("Article 4", "deployer"),
                                                                       ("Article 50(1)", "provider")]
    assert first["rationale"][0] == {"question": "role", "text": "What is the organisation's role for this AI system?",
                                     "answer": "Deployer", "articles": ["Article 3(4)"],
                                     "finding": "The organisation is a deployer: it uses the system under its own "
                                                "authority."}
    assert first["answers"]["transparency"] == ["interacts"]
    second = classify(client, headers, system.id, CREDIT)
    assert (second["version"], second["tier"]) == (2, "high")
    stored = fresh(db, system.id)
    assert (stored.risk_tier, stored.eu_ai_act_role) == ("high", "provider")
    history = client.get(f"{API}/ai-systems/{system.id}/classifications", headers=headers).json()
    assert [(c["version"], c["is_current"], c["tier"]) for c in history] == [(2, True, "high"), (1, False, "limited")]
    current = client.get(f"{API}/ai-systems/{system.id}/classification", headers=headers).json()
    assert current["id"] == second["id"]
    assert events(db, "classification") == [
        ("create", str(first["id"]), events(db, "classification")[0][2]),
        ("supersede", str(first["id"]), {"is_current": [True, False]}),
        ("create", str(second["id"]), events(db, "classification")[2][2])]
    created = events(db, "classification")[0][2]
    assert created["tier"] == [None, "limited"] and created["version"] == [None, 1]
    assert created["classified_by_id"] == [None, rita.id] and created["answers"][1]["transparency"] == ["interacts"]
    assert [(a, e, d) for a, e, d in events(db, "ai_system")] == [
        ("classify", str(system.id), {"risk_tier": [None, "limited"], "classification_version": [None, 1]}),
        ("classify", str(system.id), {"risk_tier": ["limited", "high"], "eu_ai_act_role": ["deployer", "provider"],
                                      "classification_version": [1, 2]})]


def test_bad_answers_are_refused_by_question_and_nothing_is_written(client: TestClient, db: Session) -> None:
    system = make_system(db, unit=make_unit(db))
    headers = headers_for(db)
    url = f"{API}/ai-systems/{system.id}/classification"
    r = client.post(url, headers=headers, json={"answers": answers(role="owner", mood="happy")})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [
        {"field": "role", "message": "question 'role' has no option 'owner'; choose one of: provider, deployer, "
                                     "importer, distributor"},
        {"field": "mood", "message": "unknown question 'mood'"}]
    r = client.post(url, headers=headers, json={"answers": answers(gpai_model=None)})
    assert r.status_code == 422
    assert r.json()["detail"] == "question 'gpai_model' needs an answer"
    assert client.post(url, headers=headers, json={"answers": CHATBOT, "notes": "x" * 10_001}).status_code == 422
    assert client.post(url, headers=headers, json={"answers": CHATBOT, "tier": "minimal"}).status_code == 422
    assert count(db, Classification) == 0 and events(db, "classification") == events(db, "ai_system") == []
    assert fresh(db, system.id).risk_tier is None
    classify(client, headers, system.id, CHATBOT)
    assert client.post(url, headers=headers, json={"answers": {"role": "deployer"}}).status_code == 422
    assert count(db, Classification) == 1 and len(events(db, "classification")) == 1


def test_a_unit_scoped_reader_sees_only_their_units(client: TestClient, db: Session) -> None:
    mine, theirs = make_unit(db, name="Mine"), make_unit(db, name="Theirs")
    own = make_system(db, unit=mine, name="Own system")
    foreign = make_system(db, unit=theirs, name="Foreign system")
    admin = headers_for(db)
    classify(client, admin, foreign.id, CHATBOT)
    scoped = headers_for(db, roles=[("risk_compliance", mine)])
    listed = client.get(f"{API}/classifications", headers=scoped).json()
    assert [i["name"] for i in listed["items"]] == ["Own system"] and listed["total"] == 1
    for path in (f"/ai-systems/{foreign.id}/classification", f"/ai-systems/{foreign.id}/classifications"):
        r = client.get(API + path, headers=scoped)
        assert r.status_code == 404 and r.json()["detail"] == "no such record"
    r = client.post(f"{API}/ai-systems/{foreign.id}/classification", headers=scoped, json={"answers": CHATBOT})
    assert r.status_code == 404
    classify(client, scoped, own.id, CHATBOT)
    auditor = headers_for(db, roles=[("auditor", None)])
    assert client.get(f"{API}/ai-systems/{foreign.id}/classification", headers=auditor).status_code == 200
    assert client.post(f"{API}/ai-systems/{foreign.id}/classification", headers=auditor,
                       json={"answers": CHATBOT}).status_code == 403
    viewer = headers_for(db, roles=[("viewer", None)])
    assert client.get(f"{API}/classifications", headers=viewer).status_code == 403
    assert count(db, Classification) == 2


def test_current_classification_is_a_404_problem_until_there_is_one(client: TestClient, db: Session) -> None:
    system = make_system(db, unit=make_unit(db))
    headers = headers_for(db)
    r = client.get(f"{API}/ai-systems/{system.id}/classification", headers=headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == f"AI system {system.id} has not been classified yet"
    assert client.get(f"{API}/ai-systems/{system.id}/classifications", headers=headers).json() == []
    r = client.get(f"{API}/ai-systems/999999/classification", headers=headers)
    assert r.status_code == 404 and r.json()["detail"] == "no AI system 999999"


def test_listing_with_filters_and_sorting(client: TestClient, db: Session) -> None:
    a, b = make_unit(db, name="A"), make_unit(db, name="B")
    scorer = make_system(db, unit=a, name="Scorer", lifecycle_status="in_production")
    chat = make_system(db, unit=b, name="chat bot")
    make_system(db, unit=a, name="Zeta pending")
    headers = headers_for(db)
    classify(client, headers, scorer.id, CREDIT)
    classify(client, headers, chat.id, CHATBOT)

    def names(**params: object) -> list[str]:
        r = client.get(f"{API}/classifications", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return [i["name"] for i in r.json()["items"]]

    assert names() == ["chat bot", "Scorer", "Zeta pending"]
    assert names(tier="high") == ["Scorer"]
    assert names(unclassified="true") == ["Zeta pending"]
    assert names(unclassified="false") == ["chat bot", "Scorer"]
    assert names(business_unit_id=a.id) == ["Scorer", "Zeta pending"]
    assert names(sort="tier", unclassified="false") == ["Scorer", "chat bot"]
    assert names(sort="-classified_at", unclassified="false") == ["chat bot", "Scorer"]
    page = client.get(f"{API}/classifications", headers=headers, params={"tier": "high"}).json()
    [item] = page["items"]
    assert {k: item[k] for k in ("name", "business_unit", "eu_ai_act_role", "lifecycle_status")} == {
        "name": "Scorer", "business_unit": {"id": a.id, "name": "A"}, "eu_ai_act_role": "provider",
        "lifecycle_status": "in_production"}
    assert {k: item["current"][k] for k in ("version", "tier", "gpai")} == {"version": 1, "tier": "high",
                                                                          "gpai": None}
    assert client.get(f"{API}/classifications", headers=headers, params={"unclassified": "true"}).json()[
        "items"][0]["current"] is None
    r = client.get(f"{API}/classifications", headers=headers, params={"tier": "extreme"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tier"
    assert client.get(f"{API}/classifications", headers=headers, params={"sort": "colour"}).status_code == 422
    db.rollback()
    counts = classification.tier_counts(db, None)
    assert counts == {"prohibited": 0, "high": 1, "limited": 1, "minimal": 0, None: 1}
    assert classification.tier_counts(db, None, business_unit_id=b.id)["limited"] == 1


def test_preview_and_questionnaire_write_nothing(client: TestClient, db: Session) -> None:
    headers = headers_for(db, roles=[("viewer", None), ("auditor", None)])
    r = client.post(f"{API}/classification/preview", headers=headers, json={"answers": CREDIT})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["tier"], out["gpai"], out["role"], out["roles"]) == ("high", None, "provider",
                                                                     ["provider", "deployer"])
    assert "Article 27" in [o["ref"] for o in out["obligations"]]
    r = client.post(f"{API}/classification/preview", headers=headers, json={"answers": {"role": "provider"}})
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "provider_uses_itself", "message": "question 'provider_uses_itself' needs an answer"}
    data = client.get(f"{API}/classification/questionnaire", headers=headers).json()
    assert data["version"] == "2024/1689-1" and len(data["sections"]) == 7
    assert sum(len(s["questions"]) for s in data["sections"]) == 34
    assert count(db, Classification) == 0 and events(db, "classification") == []


def test_requirement_links_fall_back_to_the_article_in_the_current_catalog(db: Session) -> None:
    make_framework(db, key="eu-ai-act", version="old", is_current=False, requirements=[{"ref": "Article 9"}])
    current = make_framework(db, key="eu-ai-act", version="2024/1689", requirements=[
        {"ref": "Article 26"}, {"ref": "Article 53"}, {"ref": "Annex III"}, {"ref": "Annex III point 5"}])
    make_framework(db, key="gdpr", requirements=[{"ref": "Article 27"}])
    links = classification.requirement_links(db, ["Article 26", "Article 53(1)(a)", "Annex III point 5(b)",
                                                  "Annex III point 1(c)", "Article 9", "Article 27"])
    assert links == {"Article 26": requirement(db, current, "Article 26").id,
                     "Article 53(1)(a)": requirement(db, current, "Article 53").id,
                     "Annex III point 5(b)": requirement(db, current, "Annex III point 5").id,
                     "Annex III point 1(c)": requirement(db, current, "Annex III").id}
    assert classification.requirement_links(db, []) == {}


# --- pages ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings: Settings) -> TestClient:
    user = make_user(db, email="ada@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings)
    login(client, user.email)
    return client


def form_of(given: dict[str, Any]) -> dict[str, Any]:
    return {k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in given.items()}


def test_form_shows_the_missing_question_keeps_answers_then_classifies(browser: TestClient, db: Session) -> None:
    system = make_system(db, unit=make_unit(db), name="Credit Engine", eu_ai_act_role="deployer")
    framework = make_framework(db, key="eu-ai-act", requirements=[{"ref": "Article 27"}])
    page = browser.get(f"/ai-systems/{system.id}/classify")
    assert page.status_code == 200
    for text in ("1. The organisation&#39;s role", "Only if the organisation is the provider", "Article 5(1)(a)",
                 "Rests on Annex III point 5", 'name="role" value="deployer" checked'):
        assert text in page.text, text
    token = csrf_from(page.text)
    incomplete = {**form_of(CREDIT), "notes": "Reviewed with legal"}
    del incomplete["provider_uses_itself"]
    r = browser.post(f"/ai-systems/{system.id}/classify", data={"csrf_token": token, **incomplete})
    assert r.status_code == 422
    assert '<p class="field-error" id="e-provider_uses_itself">Question 1.2 needs an answer.</p>' in r.text
    for kept in ('name="role" value="provider" checked', 'value="creditworthiness" checked',
                 'name="art5_a_manipulation" value="no" checked', "Reviewed with legal"):
        assert kept in r.text, kept
    assert count(db, Classification) == 0
    r = browser.post(f"/ai-systems/{system.id}/classify",
                     data={"csrf_token": token, **form_of(CREDIT), "notes": "Reviewed with legal"},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ai-systems/{system.id}/classification"
    result = browser.get(r.headers["location"])
    for text in ("Credit Engine classified: High-risk (version 1).", "High-risk", "Reviewed with legal",
                 "Fundamental rights impact assessment", "Listed high-risk use: Annex III point 5(b).",
                 f'<a href="/requirements/{requirement(db, framework, "Article 27").id}">Article\u00a027</a>',
                 "by Ada Admin"):
        assert text in result.text, text
    again = browser.get(f"/ai-systems/{system.id}/classify")
    assert 'name="provider_uses_itself" value="yes" checked' in again.text
    browser.post(f"/ai-systems/{system.id}/classify", data={"csrf_token": token, **form_of(CHATBOT)})
    old = browser.get(f"/ai-systems/{system.id}/classification", params={"version": 1})
    assert old.status_code == 200 and "version 1, superseded" in old.text
    assert browser.get(f"/ai-systems/{system.id}/classification", params={"version": 9}).status_code == 404


def test_result_page_before_any_classification(browser: TestClient, db: Session) -> None:
    system = make_system(db, unit=make_unit(db), name="Fresh")
    page = browser.get(f"/ai-systems/{system.id}/classification")
    assert page.status_code == 200 and "Not classified yet" in page.text
    assert f'href="/ai-systems/{system.id}/classify"' in page.text


def test_ai_system_page_shows_the_classification_panel(client: TestClient, db: Session, settings: Settings) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit, name="Panel system")
    writer = make_user(db, email="rc@example.com", roles=[("risk_compliance", None)], password=PASSWORD,
                       settings=settings)
    make_user(db, email="viewer@example.com", roles=[("viewer", None)], password=PASSWORD, settings=settings)
    login(client, writer.email)
    page = client.get(f"/ai-systems/{system.id}")
    assert page.status_code == 200
    assert "EU AI Act classification" in page.text and "Not classified yet." in page.text
    assert "Classify under the EU AI Act" in page.text
    classification.classify_system(db, None, system.id, CREDIT)
    db.commit()
    page = client.get(f"/ai-systems/{system.id}")
    assert 'class="badge st warn">High-risk</span>' in page.text and "Version 1" in page.text
    assert "Main obligations" in page.text and "and 20 more." in page.text and "Re-classify" in page.text
    client.cookies.clear()
    login(client, "viewer@example.com")
    page = client.get(f"/ai-systems/{system.id}")
    assert page.status_code == 200 and "EU AI Act classification" not in page.text


def test_overview_page_counts_tiers_and_lists_unclassified(browser: TestClient, db: Session) -> None:
    unit = make_unit(db)
    rated = make_system(db, unit=unit, name="Rated")
    make_system(db, unit=unit, name="Waiting one")
    classification.classify_system(db, None, rated.id, CHATBOT)
    db.commit()
    page = browser.get("/classifications")
    assert page.status_code == 200
    assert 'aria-label="Compliance"' in page.text
    assert '<span class="stat-value">1</span> <span class="stat-label">Limited (transparency)</span>' in page.text
    assert '<span class="stat-value">1</span> <span class="stat-label">Not classified yet</span>' in page.text
    assert "Not classified yet (1)" in page.text and "Waiting one" in page.text
    filtered = browser.get("/classifications", params={"tier": "limited"})
    assert "Rated" in filtered.text and '<td><a href="/ai-systems/' in filtered.text
    assert browser.get("/classifications", params={"tier": "mystery"}).status_code == 422


# --- CLI -------------------------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_db(cli_db: Session) -> Session:
    """The shared CLI database, with one AI system to classify."""
    make_system(cli_db, unit=make_unit(cli_db), name="Credit Engine")
    return cli_db


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(cli_app, ["classification", *args], catch_exceptions=False)


def test_cli_questions_and_template(cli_db: Session) -> None:
    r = invoke("questions")
    assert r.exit_code == 0, r.output
    assert "2.1 art5_a_manipulation (yes_no)" in r.output and "only if the organisation is the provider" in r.output
    r = invoke("questions", "--template")
    assert r.exit_code == 0
    template = yaml.safe_load(r.output)
    assert list(template) == [q.id for q in classification.eu_ai_act.QUESTIONS]
    assert set(template.values()) == {None}


def test_cli_run_dry_run_store_and_show(cli_db: Session, tmp_path: Path) -> None:
    file = tmp_path / "answers.yaml"
    filled = {**yaml.safe_load(invoke("questions", "--template").output), **CREDIT}
    file.write_text(yaml.safe_dump(filled, sort_keys=False).replace(": true", ": yes").replace(": false", ": no"))
    r = invoke("run", "credit engine", "--answers", str(file), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "Credit Engine: High-risk (role: Provider)" in r.output and "Dry run: nothing stored." in r.output
    assert "Article 27" in r.output and "Listed high-risk use: Annex III point 5(b)." in r.output
    assert count(cli_db, Classification) == 0
    r = invoke("run", "Credit Engine", "--answers", str(file), "--notes", "From the CLI")
    assert r.exit_code == 0, r.output
    assert "Stored as version 1 of Credit Engine's classification." in r.output
    cli_db.rollback()
    stored = cli_db.scalar(select(Classification))
    assert (stored.tier, stored.notes, stored.classified_by_id) == ("high", "From the CLI", None)
    assert cli_db.scalar(select(AISystem.risk_tier)) == "high"
    [event] = events(cli_db, "classification")
    assert event[0] == "create"
    r = invoke("show", "Credit Engine")
    assert r.exit_code == 0 and "Credit Engine: High-risk" in r.output and "1 (current)" in r.output
    r = invoke("show", "Credit Engine", "--version", "5")
    assert r.exit_code == 1 and "'Credit Engine' has no classification version 5" in r.output


def test_cli_refusals(cli_db: Session, tmp_path: Path) -> None:
    r = invoke("show", "Credit Engine")
    assert r.exit_code == 1 and "'Credit Engine' has not been classified yet" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("role: [unclosed\n")
    r = invoke("run", "Credit Engine", "--answers", str(bad))
    assert r.exit_code == 1 and "cannot read answers from" in r.output
    bad.write_text("- role\n")
    r = invoke("run", "Credit Engine", "--answers", str(bad))
    assert r.exit_code == 1 and "must hold a mapping of question id to answer" in r.output
    bad.write_text(yaml.safe_dump(answers(role="owner")))
    r = invoke("run", "Credit Engine", "--answers", str(bad))
    assert r.exit_code == 1 and "question 'role' has no option 'owner'" in r.output
    r = invoke("run", "Nobody", "--answers", str(bad))
    assert r.exit_code == 1 and "no AI system with id or name 'Nobody'" in r.output
    assert count(cli_db, Classification) == 0


# --- demo ------------------------------------------------------------------------------------------------------------

def test_demo_seed_classifies_most_systems_once(db: Session, settings: Settings) -> None:
    from aicoe.demo import DemoResult
    from aicoe.demo.governance_classification import seed_classifications
    from aicoe.demo.inventory import seed_inventory
    from aicoe.demo.org import seed_org
    from aicoe.demo.portfolio import seed_portfolio

    result = DemoResult()
    for seeder in (seed_org, seed_portfolio, seed_inventory, seed_classifications):
        seeder(db, settings, result)
    db.commit()
    assert result.created["classifications"] == 27
    tiers = dict(db.execute(select(AISystem.name, AISystem.risk_tier)).all())
    assert sorted(n for n, t in tiers.items() if t is None) == ["Invoice Reader", "RegWatch Summariser",
                                                                 "Sanctions Name Matcher", "Wording Assistant"]
    assert (tiers["Credit Decision Engine"], tiers["Fraud Sentinel"], tiers["Cards Chat"]) == (
        "high", "minimal", "limited")
    sme = db.scalar(select(AISystem).where(AISystem.name == "SME Limit Advisor"))
    assert [(c.version, c.tier) for c in classification.history(db, None, sme.id)] == [(2, "high"), (1, "minimal")]
    assert db.scalar(select(AISystem.eu_ai_act_role).where(AISystem.name == "Cards Chat")) == "provider"
    again = DemoResult()
    seed_classifications(db, settings, again)
    assert again.created["classifications"] == 0 and count(db, Classification) == 27
