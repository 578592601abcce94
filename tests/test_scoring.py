"""Scoring: the default model, exact totals by hand, bad ratings, the pipeline's competition ranks and
tie-breakers, what-if weights that save nothing, the value-vs-feasibility matrix, and model changes that
recompute every stored total."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker, session_scope
from aicoe.models.audit import AuditEvent
from aicoe.models.org import BusinessUnit, RoleAssignment, User
from aicoe.models.portfolio import Score, ScoringModel, UseCase
from aicoe.portfolio import schemas, scoring
from tests.factories import PASSWORD, bearer, csrf_from, login, make_settings, make_token, make_unit, make_user
from tests.portfolio_factories import make_use_case, score

# Scorer A: business value 5, alignment 4, feasibility 3, data 2, risk 4 (counts 2), time to value 3.
#   total = (3*5 + 2*4 + 2*3 + 2*2 + 2*2 + 1*3) / 12 = 40/12;  value = (15+8+3)/6 = 26/6;  feasibility = 14/6
# Scorer B: 3, 3, 5, 4, risk 1 (counts 5), 2.
#   total = (9 + 6 + 10 + 8 + 10 + 2) / 12 = 45/12;  value = (9+6+2)/6 = 17/6;  feasibility = 28/6
A = {"business_value": 5, "strategic_alignment": 4, "feasibility": 3, "data_readiness": 2, "risk": 4,
     "time_to_value": 3}
B = {"business_value": 3, "strategic_alignment": 3, "feasibility": 5, "data_readiness": 4, "risk": 1,
     "time_to_value": 2}
# value-heavy and feasibility-heavy cards with the same total, 36/12 = 3
VALUE_ONLY = {"business_value": 5, "strategic_alignment": 5, "time_to_value": 5, "feasibility": 1,
              "data_readiness": 1, "risk": 5}
FEASIBLE_ONLY = {"business_value": 1, "strategic_alignment": 1, "time_to_value": 1, "feasibility": 5,
                 "data_readiness": 5, "risk": 1}



@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (ranking ties, rounding and key sorting are SQL)."""
    return make_settings(any_db_url, tmp_path)


def flat(r: int) -> dict[str, int]:
    """A card whose every criterion counts ``r``: the inverse risk rating is 6 - r."""
    return {k: 6 - r if k == "risk" else r for k in A}


def audit_count(db: Session) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(AuditEvent)) or 0


def scorer(db: Session, unit: BusinessUnit | None = None, name: str | None = None) -> User:
    return make_user(db, roles=[("domain_expert", unit)], full_name=name)


def test_default_model_is_shown_before_it_is_stored_and_stored_on_first_score(client: TestClient,
                                                                               db: Session) -> None:
    h = bearer(make_token(db, make_user(db)))
    model = client.get("/api/v1/scoring-model", headers=h).json()
    assert model["id"] is None
    assert [(c["key"], c["weight"], c["axis"], c["inverse"]) for c in model["criteria"]] == [
        ("business_value", 3.0, "value", False), ("strategic_alignment", 2.0, "value", False),
        ("feasibility", 2.0, "feasibility", False), ("data_readiness", 2.0, "feasibility", False),
        ("risk", 2.0, "feasibility", True), ("time_to_value", 1.0, "value", False)]
    assert db.scalar(select(func.count()).select_from(ScoringModel)) == 0  # reading wrote nothing
    unit = make_unit(db)
    score(db, make_use_case(db, unit=unit), scorer(db), 3)
    assert client.get("/api/v1/scoring-model", headers=h).json()["id"] is not None
    assert db.scalars(select(ScoringModel.is_active)).all() == [True]


def test_two_scorers_give_exact_totals_value_feasibility_and_spread(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    uc = make_use_case(db, unit=unit)
    alice, bob = scorer(db, name="Alice"), scorer(db, name="Bob")
    score(db, uc, alice, A)
    assert (uc.score_total, uc.score_value, uc.score_feasibility, uc.score_spread, uc.scorer_count) == (
        3.333333, 4.333333, 2.333333, 0.0, 1)
    score(db, uc, bob, B, comments={"risk": "Vendor is certified"})
    # mean of 40/12 and 45/12; of 26/6 and 17/6; of 14/6 and 28/6; spread 45/12 - 40/12
    assert (uc.score_total, uc.score_value, uc.score_feasibility, uc.score_spread, uc.scorer_count) == (
        3.541667, 3.583333, 3.5, 0.416667, 2)
    body = client.get(f"/api/v1/use-cases/{uc.key}/scores", headers=bearer(make_token(db, make_user(db)))).json()
    assert [(s["scorer"]["full_name"], s["total"], s["value"], s["feasibility"]) for s in body["scorers"]] == [
        ("Alice", 3.333333, 4.333333, 2.333333), ("Bob", 3.75, 2.833333, 4.666667)]
    assert body["scorers"][1]["comments"] == {"risk": "Vendor is certified"}
    risk = next(c for c in body["criteria"] if c["key"] == "risk")
    assert (risk["mean"], risk["min"], risk["max"], risk["count"], risk["inverse"]) == (2.5, 1, 4, 2, True)
    # a scorer changes their mind: the card is replaced, not added
    score(db, uc, bob, A)
    assert (uc.score_total, uc.score_spread, uc.scorer_count) == (3.333333, 0.0, 2)
    assert db.scalar(select(func.count()).select_from(Score)) == 12


def test_scores_through_the_api_are_audited_and_bad_cards_write_nothing(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    uc = make_use_case(db, unit=unit)
    h = bearer(make_token(db, scorer(db)))
    scoring.ensure_active_model(db)
    db.commit()
    before = audit_count(db)
    bad = [({**A, "business_value": 6}, "ratings.business_value"), ({**A, "risk": 0}, "ratings.risk"),
           ({**A, "charm": 3}, "ratings.charm"), ({k: v for k, v in A.items() if k != "risk"}, "ratings.risk")]
    for ratings, field in bad:
        r = client.put(f"/api/v1/use-cases/{uc.key}/scores", headers=h, json={"ratings": ratings})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
    r = client.put(f"/api/v1/use-cases/{uc.key}/scores", headers=h,
                   json={"ratings": A, "comments": {"nonsense": "x"}})
    assert [e["field"] for e in r.json()["errors"]] == ["comments.nonsense"]
    r = client.put(f"/api/v1/use-cases/{uc.key}/scores", headers=h, json={"ratings": {**A, "risk": "high"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ratings.risk"
    assert audit_count(db) == before
    assert db.scalar(select(func.count()).select_from(Score)) == 0
    r = client.put(f"/api/v1/use-cases/{uc.key}/scores", headers=h, json={"ratings": A})
    assert r.status_code == 200 and r.json()["score_total"] == 3.333333
    db.rollback()
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "score")).one()
    assert event.entity_id == uc.key and '"score_total":[null,3.333333]' in event.diff
    withdrawn = client.delete(f"/api/v1/use-cases/{uc.key}/scores", headers=h).json()
    assert (withdrawn["score_total"], withdrawn["scorer_count"], withdrawn["scorers"]) == (None, 0, [])


def test_scoring_is_scoped_to_the_scorers_units(client: TestClient, db: Session) -> None:
    mine, theirs = make_unit(db), make_unit(db)
    own, other = make_use_case(db, unit=mine), make_use_case(db, unit=theirs)
    h = bearer(make_token(db, scorer(db, mine)))
    assert client.put(f"/api/v1/use-cases/{other.key}/scores", headers=h, json={"ratings": A}).status_code == 404
    assert client.put(f"/api/v1/use-cases/{own.key}/scores", headers=h, json={"ratings": A}).status_code == 200
    reader = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    assert client.put(f"/api/v1/use-cases/{own.key}/scores", headers=reader, json={"ratings": A}).status_code == 403


# --- the pipeline ----------------------------------------------------------------------------------------------

@pytest.fixture
def portfolio(db: Session) -> dict[str, UseCase]:
    """top (4), x (3, value 5), z (3, value 3), w (3, value 3, later key), y (3, value 1), low (2), fresh
    (unscored), live (5 but in production, outside the default pipeline)."""
    unit = make_unit(db, name="Portfolio")
    judge = scorer(db)
    cases = {name: make_use_case(db, unit=unit, title=name.capitalize())
             for name in ("x", "top", "z", "w", "y", "low", "fresh")}
    cases["live"] = make_use_case(db, unit=unit, title="Live", stage="production")
    for name, card in (("top", flat(4)), ("x", VALUE_ONLY), ("z", flat(3)), ("w", flat(3)), ("y", FEASIBLE_ONLY),
                       ("low", flat(2)), ("live", flat(5))):
        score(db, cases[name], judge, card)
    return cases


def ranked(client: TestClient, h: dict[str, str], query: str = "") -> list[tuple[int | None, str]]:
    r = client.get(f"/api/v1/pipeline?{query}", headers=h)
    assert r.status_code == 200, r.text
    return [(i["rank"], i["title"]) for i in r.json()["items"]]


def test_pipeline_competition_ranks_with_tie_breakers(client: TestClient, db: Session,
                                                      portfolio: dict[str, UseCase]) -> None:
    h = bearer(make_token(db, make_user(db)))
    assert ranked(client, h) == [(1, "Top"), (2, "X"), (2, "Z"), (2, "W"), (2, "Y"), (6, "Low"), (None, "Fresh")]
    assert ranked(client, h, "limit=2&offset=2") == [(2, "Z"), (2, "W")]  # the rank does not restart per page
    assert ranked(client, h, "limit=2&offset=1") == [(2, "X"), (2, "Z")]
    assert ranked(client, h, "limit=3&offset=5") == [(6, "Low"), (None, "Fresh")]
    page = client.get("/api/v1/pipeline?limit=3", headers=h).json()
    assert (page["total"], page["next_offset"], page["what_if"]) == (7, 3, None)
    assert ranked(client, h, "stage=production") == [(1, "Live")]
    assert ranked(client, h, "stage=idea,production&limit=2") == [(1, "Live"), (2, "Top")]


def test_what_if_weights_rerank_without_writing(client: TestClient, db: Session,
                                                portfolio: dict[str, UseCase]) -> None:
    h = bearer(make_token(db, make_user(db)))
    stored = {u.key: u.score_total for u in db.scalars(select(UseCase))}
    before = audit_count(db)
    r = client.get("/api/v1/pipeline?weights=business_value:0,strategic_alignment:0,time_to_value:0", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["what_if"] == {"business_value": 0.0, "strategic_alignment": 0.0, "feasibility": 2.0,
                               "data_readiness": 2.0, "risk": 2.0, "time_to_value": 0.0}
    assert [(i["rank"], i["title"], i["what_if_total"]) for i in body["items"]] == [
        (1, "Y", 5.0), (2, "Top", 4.0), (3, "Z", 3.0), (3, "W", 3.0), (5, "Low", 2.0), (6, "X", 1.0),
        (None, "Fresh", None)]
    assert body["items"][0]["score_total"] == 3.0  # the stored total, untouched
    # the model's own weights reproduce the stored ranking (every scorer rated every criterion)
    same = client.get("/api/v1/pipeline?weights=risk:2", headers=h).json()
    assert [(i["rank"], i["title"]) for i in same["items"]] == [
        (1, "Top"), (2, "X"), (2, "Z"), (2, "W"), (2, "Y"), (6, "Low"), (None, "Fresh")]
    assert [i["what_if_total"] for i in same["items"]] == [i["score_total"] for i in same["items"]]
    # feasibility 1 instead of 2, the rest as saved: X 35/11, Z and W 3, Y 31/11; ranks hold across pages
    assert ranked(client, h, "weights=feasibility:1&limit=2&offset=3") == [(3, "W"), (5, "Y")]
    assert audit_count(db) == before
    assert {u.key: u.score_total for u in db.scalars(select(UseCase))} == stored
    for bad in ("charm:2", "risk:abc", "risk", "risk:-1", ",".join(f"{k}:0" for k in A)):
        r = client.get("/api/v1/pipeline", params={"weights": bad}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "weights", bad


def test_matrix_places_use_cases_in_quadrants(client: TestClient, db: Session,
                                              portfolio: dict[str, UseCase]) -> None:
    h = bearer(make_token(db, make_user(db)))
    body = client.get("/api/v1/portfolio/matrix", headers=h).json()
    assert body["threshold"] == 3.0
    assert body["quadrants"] == {"quick_wins": 3, "strategic_bets": 1, "fill_ins": 1, "money_pits": 1}
    assert body["total"] == 6
    points = {p["title"]: (p["x"], p["y"], p["quadrant"]) for p in body["points"]}
    assert points == {"Top": (4.0, 4.0, "quick_wins"), "X": (1.0, 5.0, "strategic_bets"),
                      "Z": (3.0, 3.0, "quick_wins"), "W": (3.0, 3.0, "quick_wins"),
                      "Y": (5.0, 1.0, "fill_ins"), "Low": (2.0, 2.0, "money_pits")}
    assert [p["title"] for p in client.get("/api/v1/portfolio/matrix?limit=2", headers=h).json()["points"]] == [
        "Top", "X"]


def test_scoped_pipeline_and_matrix_show_only_the_callers_units(client: TestClient, db: Session) -> None:
    mine, theirs = make_unit(db), make_unit(db)
    judge = scorer(db)
    score(db, make_use_case(db, unit=mine, title="Mine"), judge, flat(3))
    score(db, make_use_case(db, unit=theirs, title="Theirs"), judge, flat(4))
    h = bearer(make_token(db, make_user(db, roles=[("viewer", mine)])))
    assert ranked(client, h) == [(1, "Mine")]
    assert ranked(client, h, "weights=risk:5") == [(1, "Mine")]
    assert client.get("/api/v1/portfolio/matrix", headers=h).json()["total"] == 1


# --- changing the model ----------------------------------------------------------------------------------------

def model_body(**weights: float) -> dict:
    criteria = []
    for key, name, axis, weight, inverse, _ in scoring.DEFAULT_CRITERIA:
        criteria.append({"key": key, "name": name, "axis": axis, "weight": weights.get(key, weight),
                         "inverse": inverse})
    return {"criteria": criteria}


def test_changing_weights_recomputes_every_stored_total(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    uc, other = make_use_case(db, unit=unit), make_use_case(db, unit=unit)
    alice, bob = scorer(db), scorer(db)
    score(db, uc, alice, A)
    score(db, uc, bob, B)
    score(db, other, alice, flat(4))
    h = bearer(make_token(db, make_user(db, roles=[("coe_lead", None)])))
    before = audit_count(db)
    r = client.put("/api/v1/scoring-model", headers=h, json=model_body(business_value=9, time_to_value=0.5))
    assert r.status_code == 200, r.text
    db.rollback()
    db.refresh(uc)
    db.refresh(other)
    # A: (9*5 + 2*4 + 2*3 + 2*2 + 2*2 + 0.5*3) / 17.5 = 68.5/17.5; B: (27+6+10+8+10+1)/17.5 = 62/17.5
    # value A: (45+8+1.5)/11.5, B: (27+6+1)/11.5
    assert uc.score_total == round((68.5 / 17.5 + 62 / 17.5) / 2, 6) == 3.728571
    assert uc.score_value == round((54.5 / 11.5 + 34 / 11.5) / 2, 6) == 3.847826
    assert uc.score_feasibility == 3.5  # feasibility weights unchanged
    assert uc.score_spread == round(6.5 / 17.5, 6)
    assert other.score_total == 4.0
    events = db.scalars(select(AuditEvent).where(AuditEvent.seq > before)).all()
    assert [(e.action, e.entity_type) for e in events] == [("update", "scoring_model")]
    assert '"use_cases_recomputed":[null,2]' in events[0].diff
    # dropping a criterion removes its ratings and recomputes; renaming alone recomputes nothing
    body = model_body(business_value=9, time_to_value=0.5)
    body["criteria"] = [c for c in body["criteria"] if c["key"] != "risk"]
    assert client.put("/api/v1/scoring-model", headers=h, json=body).status_code == 200
    db.rollback()
    db.refresh(uc)
    # A: (45 + 8 + 6 + 4 + 1.5) / 15.5; B: (27 + 6 + 10 + 8 + 1) / 15.5
    assert uc.score_total == round((64.5 / 15.5 + 52 / 15.5) / 2, 6)
    assert uc.score_feasibility == round((10 / 4 + 18 / 4) / 2, 6) == 3.5
    assert db.scalar(select(func.count()).select_from(Score)) == 5 * 3
    body["criteria"][0]["name"] = "Value to the business"
    before = audit_count(db)
    assert client.put("/api/v1/scoring-model", headers=h, json=body).status_code == 200
    db.rollback()
    event = db.scalars(select(AuditEvent).where(AuditEvent.seq > before)).one()
    assert "use_cases_recomputed" not in event.diff and "Value to the business" in event.diff


def test_bad_model_changes_are_refused(client: TestClient, db: Session) -> None:
    lead = bearer(make_token(db, make_user(db, roles=[("coe_lead", None)])))
    manager = bearer(make_token(db, make_user(db, roles=[("project_manager", None)])))
    assert client.put("/api/v1/scoring-model", headers=manager, json=model_body()).status_code == 403
    cases = [(model_body(risk=0), "criteria.4.weight"), (model_body(risk=-2), "criteria.4.weight"),
             ({"criteria": []}, "criteria"), ({"criteria": [{"key": "Bad Key", "name": "x", "weight": 1,
                                                              "axis": "value"}]}, "criteria.0.key"),
             ({"criteria": [{"key": "a", "name": "x", "weight": 1, "axis": "elsewhere"}]}, "criteria.0.axis")]
    for body, field in cases:
        r = client.put("/api/v1/scoring-model", headers=lead, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (field, r.text)
    twice = model_body()
    twice["criteria"].append(dict(twice["criteria"][0]))
    r = client.put("/api/v1/scoring-model", headers=lead, json=twice)
    assert r.status_code == 422 and "business_value" in r.json()["errors"][0]["message"]
    assert db.scalar(select(func.count()).select_from(ScoringModel)) == 0


def test_recompute_handles_a_large_batch_in_one_statement(any_db_url: str) -> None:
    """Every use case gets its totals from the same two statements, on both databases."""
    engine = make_engine(any_db_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as session:
        unit = BusinessUnit(code="B", name="Batch")
        judge = User(email="judge@example.com", full_name="Judge")
        session.add_all([unit, judge])
        session.flush()
        model = scoring.ensure_active_model(session)
        criteria = {c.key: c.id for c in model.criteria}
        cases = [UseCase(key=f"UC-{i:04d}", title=f"Case {i}", business_unit_id=unit.id, ai_type="agentic")
                 for i in range(1, 601)]
        session.add_all(cases)
        session.flush()
        session.add_all([Score(use_case_id=u.id, criterion_id=criteria[k], scorer_id=judge.id, value=1 + i % 5)
                         for i, u in enumerate(cases) for k in criteria])
        session.flush()
        assert scoring.recompute(session, model) == 600
    with session_scope(factory, write=False) as session:
        totals = session.execute(select(UseCase.key, UseCase.score_total, UseCase.score_feasibility)
                                 .order_by(UseCase.id)).all()
    engine.dispose()
    # ratings r everywhere: risk counts 6 - r, so total = (10 r + 2 (6 - r)) / 12 and feasibility = (4 r + 12 - 2 r) / 6
    for i, (_, total, feasibility) in enumerate(totals):
        r = 1 + i % 5
        assert total == round((10 * r + 2 * (6 - r)) / 12, 6)
        assert feasibility == round((2 * r + 12) / 6, 6)


def test_direct_service_refuses_an_unknown_scorecard_key(db: Session) -> None:
    unit = make_unit(db)
    uc = make_use_case(db, unit=unit)
    with pytest.raises(Exception) as caught:
        score(db, uc, scorer(db), {**A, "luck": 5})
    assert caught.value.errors[0].field == "ratings.luck"
    assert schemas.ScoresIn(ratings=A).ratings == A


# --- pages -----------------------------------------------------------------------------------------------------

def test_pipeline_and_scoring_pages(client: TestClient, db: Session, settings, portfolio) -> None:  # noqa: ANN001
    user = make_user(db, email="lead@example.com", password=PASSWORD, settings=settings)
    login(client, user.email)
    page = client.get("/pipeline")
    assert page.status_code == 200
    assert "Quick wins" in page.text and "<svg" in page.text and "not saved" in page.text
    trial = client.get("/pipeline", params={"w.business_value": "0", "w.strategic_alignment": "0",
                                            "w.time_to_value": "0"})
    assert trial.status_code == 200 and "Ranking with trial weights" in trial.text
    assert trial.text.index("</a> Y</td>") < trial.text.index("</a> Top</td>")
    bad = client.get("/pipeline", params={"w.risk": "-3"})
    assert bad.status_code == 422 and "weight from 0 to 1000" in bad.text
    overview = client.get(f"/use-cases/{portfolio['fresh'].key}")
    token = csrf_from(overview.text)
    form = {"csrf_token": token, **{f"ratings.{k}": str(v) for k, v in A.items()}, "comments.risk": "Low risk"}
    saved = client.post(f"/use-cases/{portfolio['fresh'].key}/scores", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    db.rollback()
    db.refresh(portfolio["fresh"])
    assert portfolio["fresh"].score_total == 3.333333
    refused = client.post(f"/use-cases/{portfolio['fresh'].key}/scores",
                          data={**form, "ratings.risk": ""})
    assert refused.status_code == 422 and 'id="e-ratings.risk"' in refused.text
    model_page = client.get("/scoring-model")
    assert model_page.status_code == 200 and "Change the model" in model_page.text
    refused = client.post("/scoring-model", data={
        "csrf_token": token, "rows": "2", "name": "Lean", "key_0": "business_value", "cname_0": "Business value",
        "weight_0": "-1", "axis_0": "value", "key_1": "risk", "cname_1": "Risk", "weight_1": "1"})
    assert refused.status_code == 422
    assert 'id="e-weight_0"' in refused.text and 'id="e-axis_1"' in refused.text and 'value="-1"' in refused.text
    changed = client.post("/scoring-model", data={
        "csrf_token": token, "rows": "1", "name": "Lean", "key_0": "business_value", "cname_0": "Business value",
        "weight_0": "1", "axis_0": "value"}, follow_redirects=False)
    assert changed.status_code == 303, changed.text
    db.rollback()
    assert [c.key for c in scoring.active_model(db).criteria] == ["business_value"]
    db.refresh(portfolio["fresh"])
    assert portfolio["fresh"].score_total == 5.0


def test_concurrent_scorers_both_count(any_db_url: str) -> None:
    """Two scorers saving at the same moment: the totals include both cards (no lost update)."""
    engine = make_engine(any_db_url, busy_timeout_ms=30_000)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as session:
        unit = BusinessUnit(code="C", name="Concurrent")
        session.add(unit)
        session.flush()
        judges = [User(email=f"judge{i}@example.com", full_name=f"Judge {i}", roles=[
            RoleAssignment(role="domain_expert")]) for i in range(4)]
        session.add_all(judges)
        scoring.ensure_active_model(session)
        session.flush()
        use_case = UseCase(key="UC-0001", title="Shared", business_unit_id=unit.id, ai_type="agentic")
        session.add(use_case)
        session.flush()
        ids, case_id = [j.id for j in judges], use_case.id
    start = threading.Barrier(len(ids))
    failures: list[BaseException] = []

    def rate(user_id: int, card: dict[str, int]) -> None:
        try:
            start.wait()
            with session_scope(factory) as session:
                principal = Principal.resolve(session, session.get(User, user_id))
                scoring.rate(session, principal, session.get(UseCase, case_id), schemas.ScoresIn(ratings=card))
        except BaseException as exc:  # noqa: BLE001 -- reported below
            failures.append(exc)

    cards = [A, B, flat(4), flat(2)]
    workers = [threading.Thread(target=rate, args=(i, c)) for i, c in zip(ids, cards, strict=True)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    with session_scope(factory, write=False) as session:
        stored = session.get(UseCase, case_id)
        figures = (stored.scorer_count, stored.score_total, stored.score_spread)
    engine.dispose()
    # totals 40/12, 45/12, 4 and 2: mean 3.270833..., spread 2
    assert figures == (4, round((40 / 12 + 45 / 12 + 4 + 2) / 4, 6), 2.0)
