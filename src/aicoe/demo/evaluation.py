"""Seed evaluation runs: generated prediction logs for three of Meridian Trust's models, evaluated at once.

The logs are written under ``data_dir/datasets/demo/evaluation`` (inside the directories the server may read)
from seeded generators, so the same bytes, and the same results, come out on every run. A new user finds:

* the Credit Decision Engine's loan model approving women far less often than men of the same creditworthiness
  (a stricter cut-off on the same, well-calibrated score): the credit-decisioning policy fails its
  equalized-odds and four-fifths checks, and the run is evidence for the EU AI Act Article 10(2) requirement
  (examination for bias) in that system's assessment;
* Fraud Sentinel's card-fraud model scored on four weeks of traffic that drifts away from its validation data
  (larger, later-at-night, online, farther-away transactions): dataset drift, by week;
* Claims Triage's fast-track model passing the fairness baseline.

Idempotent: files are written only when missing, and a run is created only when its system has none of that
name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.compliance import assessments, evidence
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.evaluation import jobs, service
from aicoe.evaluation.schemas import OptionsIn, RunCreate, SpecIn
from aicoe.models.compliance import Assessment, Evidence, Framework, Requirement, RequirementResult
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.inventory import AISystem, Model

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

DIRECTORY = Path("demo") / "evaluation"  # under data_dir/datasets
CREDIT_ROWS, FRAUD_ROWS, CLAIMS_ROWS = 20_000, 20_000, 16_000
BOOTSTRAP = 200
SEX = np.array(["F", "M"])
AGE_BANDS = np.array(["18-25", "26-40", "41-60", "61+"])
MERCHANTS = np.array(["grocery", "fuel", "travel", "online", "electronics", "restaurants"])
COUNTRIES = np.array(["GB", "IE", "FR", "ES", "US"])
CLAIM_TYPES = np.array(["collision", "theft", "glass", "fire", "injury"])
FRAUD_START = datetime(2026, 3, 5, tzinfo=UTC)  # a Thursday: weekly windows count from 1970-01-01, a Thursday
EVIDENCE_REQUIREMENT = "Article 10(2)"
FLAG_AT = 0.2  # the score above which a transaction is held for a fraud analyst


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- the prediction logs -----------------------------------------------------------------------------------------

def credit_table() -> pa.Table:
    """Loan decisions: a calibrated repayment score, approved at 0.5 for men but 0.7 for women."""
    rng = np.random.default_rng(6001)
    sex = SEX[rng.integers(0, 2, CREDIT_ROWS)]
    age_band = AGE_BANDS[rng.choice(4, CREDIT_ROWS, p=[0.15, 0.35, 0.35, 0.15])]
    creditworthiness = rng.normal(0.0, 1.0, CREDIT_ROWS)
    score = _sigmoid(0.6 + 1.6 * creditworthiness)
    repaid = (rng.random(CREDIT_ROWS) < score).astype(np.int64)
    approved = (score >= np.where(sex == "F", 0.7, 0.5)).astype(np.int64)
    return pa.table({"application_id": np.arange(1, CREDIT_ROWS + 1), "sex": sex, "age_band": age_band,
                     "score": np.round(score, 6), "approved": approved, "repaid": repaid})


def _fraud_table(rng: np.random.Generator, rows: int, shift: np.ndarray, start: datetime) -> pa.Table:
    """Card transactions; ``shift`` (0 to 1 per row) moves amount, hour, distance and merchant mix."""
    amount = np.round(rng.lognormal(3.4 + 0.6 * shift, 0.9), 2)
    night = rng.random(rows) < 0.1 + 0.35 * shift
    hour = np.where(night, rng.integers(0, 6, rows), rng.integers(6, 24, rows))
    distance = np.round(rng.exponential(8.0 * (1 + 3 * shift)), 1)
    online = rng.random(rows) < 0.2 + 0.4 * shift
    merchant = np.where(online, "online", MERCHANTS[rng.choice([0, 1, 2, 4, 5], rows)])
    country = COUNTRIES[rng.choice(5, rows, p=[0.86, 0.05, 0.04, 0.03, 0.02])]
    risk = -4.6 + 0.35 * (np.log(amount) - 3.4) + 0.9 * night + 0.05 * np.minimum(distance, 40) + 0.6 * online
    score = _sigmoid(risk + rng.normal(0.0, 0.3, rows))
    fraud = (rng.random(rows) < _sigmoid(risk)).astype(np.int64)
    seconds = np.sort(rng.integers(0, 28 * 24 * 3600, rows))
    timestamp = pa.array(np.datetime64(start.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]"),
                         pa.timestamp("s", tz="UTC"))
    return pa.table({"transaction_id": np.arange(1, rows + 1), "timestamp": timestamp, "amount": amount,
                     "hour": hour, "distance_km": distance, "merchant_category": merchant, "country": country,
                     "score": np.round(score, 6), "flagged": (score >= FLAG_AT).astype(np.int64), "fraud": fraud})


def fraud_tables() -> tuple[pa.Table, pa.Table]:
    """(reference, current): the validation month, then four weeks that drift further week by week."""
    rng = np.random.default_rng(6002)
    reference = _fraud_table(rng, FRAUD_ROWS, np.zeros(FRAUD_ROWS), FRAUD_START - timedelta(days=28))
    current = _fraud_table(rng, FRAUD_ROWS, np.linspace(0.1, 1.0, FRAUD_ROWS), FRAUD_START)
    return reference, current


def claims_table() -> pa.Table:
    """Fast-track decisions for motor claims, as often right for every age band and claimant sex."""
    rng = np.random.default_rng(6003)
    sex = SEX[rng.integers(0, 2, CLAIMS_ROWS)]
    age_band = AGE_BANDS[rng.choice(4, CLAIMS_ROWS, p=[0.1, 0.35, 0.35, 0.2])]
    claim_type = CLAIM_TYPES[rng.choice(5, CLAIMS_ROWS, p=[0.45, 0.15, 0.25, 0.05, 0.1])]
    simple = rng.normal(0.0, 1.0, CLAIMS_ROWS) + np.where(claim_type == "glass", 1.5, 0.0)
    score = _sigmoid(2.5 * simple)
    fast_track = (rng.random(CLAIMS_ROWS) < score).astype(np.int64)
    return pa.table({"claim_id": np.arange(1, CLAIMS_ROWS + 1), "sex": sex, "age_band": age_band,
                     "claim_type": claim_type, "score": np.round(score, 6),
                     "predicted_fast_track": (score >= 0.5).astype(np.int64), "fast_track": fast_track})


FILES: dict[str, Any] = {
    "credit-decisions.parquet": credit_table,
    "claims-triage.parquet": claims_table,
}


def write_files(settings: Settings) -> Path:
    """Write each log unless it is there already; the directory they are in."""
    directory = settings.data_dir / "datasets" / DIRECTORY
    directory.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        if not (directory / name).exists():
            pq.write_table(make(), directory / name)
    if not (directory / "fraud-current.parquet").exists():
        reference, current = fraud_tables()
        pq.write_table(reference, directory / "fraud-reference.parquet")
        pq.write_table(current, directory / "fraud-current.parquet")
    return directory


# --- the runs ----------------------------------------------------------------------------------------------------

@dataclass
class DemoRun:
    system: str
    model: tuple[str, str]
    name: str
    path: str
    spec: dict[str, Any]
    template: str
    reference: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


RUNS: list[DemoRun] = [
    DemoRun("Credit Decision Engine", ("loan-decision-xgb", "7.0"),
            "Pre-release fairness review, loan-decision-xgb 7.0", "credit-decisions.parquet",
            {"label": "repaid", "prediction": "approved", "scores": ["score"], "sensitive": ["sex", "age_band"],
             "task": "binary"}, "credit-decisioning"),
    DemoRun("Fraud Sentinel", ("card-fraud-gbm", "4.2"), "Weekly drift check, card-fraud-gbm 4.2",
            "fraud-current.parquet",
            {"label": "fraud", "prediction": "flagged", "scores": ["score"], "timestamp": "timestamp",
             "features": ["amount", "hour", "distance_km", "merchant_category", "country"], "task": "binary"},
            "drift-monitoring", reference="fraud-reference.parquet", options={"drift_window": "7D"}),
    DemoRun("Claims Triage", ("claims-triage-gbm", "3.1"), "Release fairness check, claims-triage-gbm 3.1",
            "claims-triage.parquet",
            {"label": "fast_track", "prediction": "predicted_fast_track", "scores": ["score"],
             "sensitive": ["sex", "age_band"], "segment": "claim_type", "task": "binary"}, "fairness-baseline"),
]


def _run(session: Session, settings: Settings, demo: DemoRun, system: AISystem, model: Model | None) -> EvaluationRun:
    data = RunCreate(name=demo.name, ai_system_id=system.id, model_id=model.id if model else None,
                     path=str(DIRECTORY / demo.path),
                     reference_path=str(DIRECTORY / demo.reference) if demo.reference else None,
                     spec=SpecIn(**demo.spec), options=OptionsIn(bootstrap=BOOTSTRAP, **demo.options),
                     policy_template=demo.template)
    run = service.new_run(session, None, settings, data)
    jobs.run_now(session, settings, run.id)
    session.refresh(run)
    return run


def _cite(session: Session, run: EvaluationRun) -> None:
    """Register the run as evidence for bias examination in its system's EU AI Act assessment."""
    if run.ai_system_id is None or session.scalar(select(Evidence.id).where(
            Evidence.record_type == "evaluation_run", Evidence.record_ref == str(run.id))) is not None:
        return
    result_id = session.scalar(
        select(RequirementResult.id).join(Assessment, Assessment.id == RequirementResult.assessment_id)
        .join(Framework, Framework.id == Assessment.framework_id)
        .join(Requirement, Requirement.id == RequirementResult.requirement_id)
        .where(Assessment.ai_system_id == run.ai_system_id, Framework.key == "eu-ai-act",
               Requirement.ref == EVIDENCE_REQUIREMENT))
    piece = evidence.add_record(session, None, record_type="evaluation_run", record_ref=str(run.id),
                                business_unit_id=run.business_unit_id, effective_date=utcnow().date(),
                                title=f"Fairness evaluation run {run.id}: {run.name}", evidence_type="test_result")
    if result_id is not None:
        assessment_id = session.scalar(select(RequirementResult.assessment_id).where(RequirementResult.id == result_id))
        assessments.link_evidence(session, None, assessment_id, result_id, piece.id)


def seed_evaluation(session: Session, settings: Settings, result: DemoResult) -> None:
    systems = {s.name: s for s in session.scalars(select(AISystem).where(AISystem.name.in_([r.system for r in RUNS])))}
    if not systems:
        return
    write_files(settings)
    for demo in RUNS:
        system = systems.get(demo.system)
        if system is None:
            continue
        if session.scalar(select(EvaluationRun.id).where(EvaluationRun.ai_system_id == system.id,
                                                         EvaluationRun.name == demo.name)) is not None:
            continue
        model = session.scalar(select(Model).where(Model.name == demo.model[0], Model.version == demo.model[1]))
        run = _run(session, settings, demo, system, model)
        result.created["evaluation runs"] = result.created.get("evaluation runs", 0) + 1
        if demo.template == "credit-decisioning":
            _cite(session, run)
