"""The demo's evaluation runs: generated prediction logs evaluated at once, a credit model failing its fairness
checks with the run registered as evidence, a fraud model drifting week by week, a passing run, and nothing
created when seeded again."""

from __future__ import annotations

import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.compliance import assessments, evidence
from aicoe.config import Settings
from aicoe.demo import DemoResult
from aicoe.demo.evaluation import CREDIT_ROWS, DIRECTORY, FRAUD_ROWS, RUNS, seed_evaluation
from aicoe.demo.governance_catalogs import seed_catalogs
from aicoe.demo.governance_classification import seed_classifications
from aicoe.demo.inventory import seed_inventory
from aicoe.demo.org import seed_org
from aicoe.demo.portfolio import seed_portfolio
from aicoe.models.compliance import Evidence, EvidenceLink, Framework, Requirement, RequirementResult
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.inventory import AISystem
from tests.factories import _writing


def test_the_demo_evaluates_three_models_and_cites_the_failing_run(db: Session, settings: Settings) -> None:
    result = DemoResult()
    _writing(db)
    for seeder in (seed_org, seed_portfolio, seed_inventory, seed_catalogs, seed_classifications):
        seeder(db, settings, result)
    engine_system = db.scalars(select(AISystem).where(AISystem.name == "Credit Decision Engine")).one()
    eu_ai_act = db.scalars(select(Framework).where(Framework.key == "eu-ai-act", Framework.is_current.is_(True))).one()
    assessments.start(db, None, engine_system.id, eu_ai_act.id)
    seed_evaluation(db, settings, result)
    db.commit()
    assert result.created["evaluation runs"] == 3
    runs = {r.name: r for r in db.scalars(select(EvaluationRun))}
    credit, fraud, claims = (runs[demo.name] for demo in RUNS)
    assert [r.status for r in (credit, fraud, claims)] == ["completed"] * 3
    assert (credit.ai_system.name, credit.model.name, credit.rows) == ("Credit Decision Engine", "loan-decision-xgb",
                                                                       CREDIT_ROWS)

    checks = {c["id"]: c for c in credit.result["checks"]}
    assert credit.passed is False and credit.checks_failed >= 2
    assert checks["equalized-odds"]["passed"] is False and checks["equalized-odds"]["value"] > 0.2
    assert checks["four-fifths"]["passed"] is False and checks["four-fifths"]["value"] < 0.7
    assert checks["roc-auc"]["passed"] and checks["calibration"]["passed"]
    assert credit.result["fairness"]["four_fifths"]["lowest_group"].startswith("F, ")

    drift = fraud.result["drift"]
    assert fraud.rows == FRAUD_ROWS and drift["reference_rows"] == FRAUD_ROWS
    assert drift["dataset_drift"] is True and fraud.passed is False
    drifted = {f["feature"] for f in drift["features"] if f["drifted"]}
    assert {"amount", "hour", "distance_km", "merchant_category"} <= drifted and "country" not in drifted
    assert len(drift["windows"]) == 4 and drift["windows"][0]["drift_share"] <= drift["windows"][-1]["drift_share"]

    assert claims.passed is True and claims.checks_failed == 0

    cited = db.scalars(select(Evidence).where(Evidence.record_type == "evaluation_run")).one()
    assert cited.record_ref == str(credit.id) and evidence.record_state(db, cited) == "unchanged"
    link = db.scalars(select(EvidenceLink).where(EvidenceLink.evidence_id == cited.id)).one()
    result_row = db.get_one(RequirementResult, link.target_id)
    assert link.target_type == "requirement_result"
    assert db.get_one(Requirement, result_row.requirement_id).ref == "Article 10(2)"
    assert result_row.assessment.ai_system_id == credit.ai_system_id

    written = settings.data_dir / "datasets" / DIRECTORY
    before = {p.name: p.stat().st_mtime_ns for p in written.iterdir()}
    assert pq.read_metadata(written / "credit-decisions.parquet").num_rows == CREDIT_ROWS
    again = DemoResult()
    _writing(db)
    seed_evaluation(db, settings, again)
    db.commit()
    assert again.created == {}
    assert {p.name: p.stat().st_mtime_ns for p in written.iterdir()} == before
    assert len(db.scalars(select(EvaluationRun)).all()) == 3
