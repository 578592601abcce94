"""The evaluation pages: the list, the new-run form (refusals next to their fields with nothing stored, an upload
queued and redirected), the run page with its policy checks and the sandboxed report, the AI system panel, and
who may see and start runs."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.engines.evaluation.engine import LABEL_WITHOUT_PREDICTION
from aicoe.evaluation import jobs
from aicoe.evaluation.views import BOTH_SOURCES, CHOOSE_SOURCE, REPORT_CSP
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.files import StoredFile
from tests.factories import PASSWORD, csrf_from, login, make_unit, make_user
from tests.inventory_factories import link_system_model, make_model, make_system
from tests.test_lifecycle import fresh

POLICY = """checks:
  - id: parity
    metric: demographic_parity_difference
    "<=": 0.1
  - id: accurate
    metric: accuracy
    ">=": 0.5
"""


def predictions_csv() -> bytes:
    """400 decisions: group B is selected half as often as group A (a failing parity check), 75 % accurate."""
    rng = np.random.default_rng(11)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["y", "yhat", "p", "group"])
    for i in range(400):
        group = "A" if i % 2 == 0 else "B"
        p = float(rng.uniform(0.55, 0.95) if (i % 4 == 0 or i % 8 == 1) else rng.uniform(0.05, 0.45))
        yhat = int(p >= 0.5)
        y = yhat if i % 4 != 3 else 1 - yhat
        writer.writerow([y, yhat, round(p, 4), group])
    return out.getvalue().encode()


@pytest.fixture
def arranged(db: Session, settings: Settings) -> dict[str, Any]:
    unit, other = make_unit(db, name="Lending"), make_unit(db, name="Cards")
    system = make_system(db, unit=unit, name="Loan approvals")
    model = make_model(db, unit=unit, name="loan-gbm", version="2")
    link_system_model(db, system, model)
    elsewhere = make_system(db, unit=other, name="Card fraud")
    runner = make_user(db, roles=[("practitioner", unit)], password=PASSWORD, settings=settings,
                       full_name="Rita Runner")
    return {"unit": unit, "system": system, "model": model, "elsewhere": elsewhere, "runner": runner}


def counts(db: Session) -> tuple[int, int]:
    fresh(db)
    return (db.scalar(select(func.count()).select_from(EvaluationRun)) or 0,
            db.scalar(select(func.count()).select_from(StoredFile)) or 0)


def form_values(page: str, **overrides: str) -> dict[str, str]:
    values = {"csrf_token": csrf_from(page), "name": "Q2 fairness review", "label": "y", "prediction": "yhat",
              "scores": "p", "sensitive": "group", "task": "binary", "min_group_size": "30", "bootstrap": "50",
              "policy": POLICY, "gate": "on"}
    return {**values, **overrides}


def test_a_member_starts_a_run_from_an_upload_and_reads_its_checks(
        client: TestClient, db: Session, settings: Settings, arranged: dict[str, Any]) -> None:
    a = arranged
    login(client, a["runner"].email)
    listing = client.get("/evaluations")
    assert listing.status_code == 200
    assert "No evaluation run in your business units yet." in listing.text
    assert 'href="/evaluations/new"' in listing.text and 'href="/evaluations" aria-current="page"' in listing.text

    page = client.get(f"/evaluations/new?ai_system_id={a['system'].id}")
    assert page.status_code == 200
    assert f'<option value="{a["system"].id}" selected>Loan approvals</option>' in page.text
    assert "Card fraud" not in page.text  # only systems the member may evaluate
    assert "credit-decisioning" in page.text  # the built-in policy templates

    before = counts(db)
    upload = {"file": ("decisions.csv", predictions_csv(), "text/csv")}
    refused = client.post("/evaluations/new", data=form_values(page.text, name="", bootstrap="-1",
                                                                 ai_system_id=str(a["system"].id)), files=upload)
    assert refused.status_code == 422
    assert 'id="e-name">This field is required.' in refused.text
    assert 'id="e-bootstrap">Input should be greater than or equal to 0.' in refused.text
    assert 'value="yhat"' in refused.text and "demographic_parity_difference" in refused.text  # kept as typed
    unpaired = client.post("/evaluations/new", files=upload, data=form_values(
        page.text, prediction="", ai_system_id=str(a["system"].id)))
    assert unpaired.status_code == 422
    paired = LABEL_WITHOUT_PREDICTION.format(label="y")
    assert f'id="e-prediction">{escape(paired[0].upper() + paired[1:])}.</p>' in unpaired.text
    both = client.post("/evaluations/new", files=upload, data=form_values(
        page.text, ai_system_id=str(a["system"].id), path="decisions.csv"))
    assert both.status_code == 422 and f'id="e-file">{BOTH_SOURCES}' in both.text
    none = client.post("/evaluations/new", data=form_values(page.text, ai_system_id=str(a["system"].id)))
    assert none.status_code == 422 and f'id="e-file">{CHOOSE_SOURCE}' in none.text
    subjectless = client.post("/evaluations/new", data=form_values(page.text), files=upload)
    assert subjectless.status_code == 422
    assert 'id="e-ai_system_id">An evaluation run needs an AI system, a model, or both' in subjectless.text
    missing = client.post("/evaluations/new", files=upload, data=form_values(
        page.text, ai_system_id=str(a["system"].id), sensitive="region"))
    assert missing.status_code == 422 and 'id="e-sensitive"' in missing.text and "region" in missing.text
    bad_policy = client.post("/evaluations/new", files=upload, data=form_values(
        page.text, ai_system_id=str(a["system"].id), policy="checks:\n  - metric: happiness\n    '>=': 1\n"))
    assert bad_policy.status_code == 422 and 'id="e-policy"' in bad_policy.text
    assert "unknown metric &#39;happiness&#39;" in bad_policy.text
    assert counts(db) == before  # nothing stored by a refused form

    started = client.post("/evaluations/new", follow_redirects=False, files=upload, data=form_values(
        page.text, ai_system_id=str(a["system"].id), model_id=str(a["model"].id)))
    assert started.status_code == 303
    fresh(db)
    run = db.scalars(select(EvaluationRun)).one()
    assert started.headers["location"] == f"/evaluations/{run.id}"
    assert (run.name, run.ai_system_id, run.model_id, run.gate, run.options["bootstrap"]) == (
        "Q2 fairness review", a["system"].id, a["model"].id, True, 50)
    queued = client.get(started.headers["location"])
    assert f"Evaluation run {run.id} (Q2 fairness review) queued; this page shows its progress." in queued.text
    assert "Queued" in queued.text and queued.headers["refresh"] == "5"
    assert "decisions.csv" in queued.text and "The checks appear when the run has completed." in queued.text

    jobs.run_now(db, settings, run.id)
    db.commit()
    done = client.get(f"/evaluations/{run.id}")
    assert "refresh" not in done.headers
    text = done.text
    assert "Completed" in text and '<span class="badge off outcome">failed 1 of 2</span>' in text
    assert "<code>demographic_parity_difference &lt;= 0.1</code>" in text and "<code>accuracy &gt;= 0.5</code>" in text
    assert text.count('<span class="badge off">fail</span>') == 1
    assert text.count('<span class="badge on">pass</span>') == 1
    assert f"sha256:{run.input_sha256}" in text and "decisions.csv" in text
    assert f'<iframe class="evaluation-report" sandbox src="/evaluations/{run.id}/report"' in text
    assert f'href="/ai-systems/{a["system"].id}">Loan approvals</a>' in text
    assert f'href="/api/v1/evaluations/{run.id}"' in text
    assert f'href="/evidence/new?kind=record&amp;record_type=evaluation_run&amp;record_ref={run.id}"' in text
    cite = client.get(f"/evidence/new?kind=record&record_type=evaluation_run&record_ref={run.id}").text
    assert '<option value="evaluation_run" selected>Evaluation run</option>' in cite
    assert f'name="record_ref" type="text" value="{run.id}"' in cite

    report = client.get(f"/evaluations/{run.id}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.headers["content-security-policy"] == REPORT_CSP
    assert report.headers["x-content-type-options"] == "nosniff"

    listing = client.get("/evaluations").text
    assert f'<a href="/evaluations/{run.id}">Q2 fairness review</a>' in listing and "failed 1 of 2" in listing
    assert "Q2 fairness review" not in client.get("/evaluations?status=failed").text
    assert "Q2 fairness review" in client.get(f"/evaluations?status=completed&ai_system_id={a['system'].id}").text
    assert client.get("/evaluations?status=bogus").status_code == 422

    system_page = client.get(f"/ai-systems/{a['system'].id}").text
    assert '<h2 id="panel-' in system_page and ">Evaluations</h2>" in system_page
    assert f'<a href="/evaluations/{run.id}">Q2 fairness review</a>' in system_page
    assert f'href="/evaluations/new?ai_system_id={a["system"].id}">New evaluation</a>' in system_page
    model_page = client.get(f"/models/{a['model'].id}").text
    assert f'<a href="/evaluations/{run.id}">Q2 fairness review</a>' in model_page
    assert f'href="/evaluations?model_id={a["model"].id}">All evaluation runs</a>' in model_page


def test_a_run_that_has_not_finished_has_no_report(client: TestClient, db: Session, settings: Settings,
                                                    arranged: dict[str, Any]) -> None:
    a = arranged
    run = EvaluationRun(name="Pending", ai_system_id=a["system"].id, business_unit_id=a["unit"].id,
                        source="demo/x.csv", spec={}, options={}, status="queued")
    db.add(run)
    db.commit()
    login(client, a["runner"].email)
    page = client.get(f"/evaluations/{run.id}")
    assert page.status_code == 200 and "Report" not in page.text.split("Policy checks")[1]
    assert client.get(f"/evaluations/{run.id}/report").status_code == 404


def test_who_may_see_and_start_runs(client: TestClient, db: Session, settings: Settings,
                                    arranged: dict[str, Any]) -> None:
    a = arranged
    run = EvaluationRun(name="Hidden run", ai_system_id=a["elsewhere"].id,
                        business_unit_id=a["elsewhere"].business_unit_id, source="demo/x.csv", spec={}, options={},
                        status="queued")
    db.add(run)
    db.commit()
    viewer = make_user(db, roles=[("viewer", None)], password=PASSWORD, settings=settings)
    login(client, viewer.email)
    home = client.get("/")
    assert 'href="/evaluations"' not in home.text
    for url in ("/evaluations", "/evaluations/new", f"/evaluations/{run.id}", f"/evaluations/{run.id}/report"):
        assert client.get(url).status_code == 403, url
    system_page = client.get(f"/ai-systems/{a['system'].id}")
    assert system_page.status_code == 200 and ">Evaluations</h2>" not in system_page.text
    assert "All evaluation runs" not in client.get(f"/models/{a['model'].id}").text

    reader = make_user(db, roles=[("domain_expert", a["unit"])], password=PASSWORD, settings=settings)
    login(client, reader.email)
    listing = client.get("/evaluations")
    assert listing.status_code == 200 and "New evaluation" not in listing.text
    assert client.get("/evaluations/new").status_code == 403
    assert client.get(f"/evaluations/{run.id}").status_code == 404  # another unit's run
    assert "Hidden run" not in listing.text
    panel = client.get(f"/ai-systems/{a['system'].id}").text
    assert "This AI system has not been evaluated yet." in panel and "New evaluation" not in panel
