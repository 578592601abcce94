"""The model card: the JSON structure (exact keys and values), the Markdown in the Hugging Face layout with YAML
front matter parsed by a real YAML parser, awkward text in the front matter, and scoping of the exports."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.inventory import modelcard
from aicoe.models.evaluation import EvaluationRun
from tests.factories import PASSWORD, bearer, login, make_token, make_unit, make_user
from tests.inventory_factories import (
    link_model_dataset,
    link_system_model,
    make_dataset,
    make_model,
    make_system,
    make_vendor,
)

SHA = "sha256:" + "ab" * 32


def split(markdown: str) -> tuple[dict, str]:
    match = re.match(r"^---\n(.*?)\n---\n\n(.*)$", markdown, re.S)
    assert match, markdown[:200]
    return yaml.safe_load(match.group(1)), match.group(2)


def section(body: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(heading)}\n\n(.*?)(?=\n\n#|\Z)", body, re.S | re.M)
    assert match, f"no section {heading!r}"
    return match.group(1).strip()


@pytest.fixture
def arranged(db: Session) -> dict:
    unit, other = make_unit(db, name="Retail"), make_unit(db, name="Elsewhere")
    vendor = make_vendor(db, name="Meta")
    owner = make_user(db, roles=[], full_name="Ada Owner")
    root = make_model(db, unit=unit, name="llama", version="3.1-8b", kind="open_weights", vendor=vendor)
    mid = make_model(db, unit=unit, name="llama-instruct", version="3.1", kind="fine_tuned", base_model=root)
    model = make_model(
        db, unit=unit, name="support-assistant", version="2", kind="fine_tuned", base_model=mid, owner=owner,
        licence="Apache-2.0", description="Drafts replies to customer emails.\n\nSecond paragraph.",
        intended_use="Drafting replies for an agent to review.", out_of_scope_uses="Sending replies unreviewed.",
        limitations="English only.", known_biases="Formal tone with younger customers.",
        evaluation_summary="Agents accepted 71% of drafts.", artefact_uri="s3://models/support/2", checksum=SHA,
        source="mlflow", mlflow_name="support-assistant", mlflow_version="2", mlflow_run_id="abc123",
        tags={"task": "text-generation", "team": "cx"}, aliases=["champion"],
        metrics={"rougeL": 0.41, "acceptance": 0.71, "tiny": 1e-05, "note": "n/a"})
    train = make_dataset(db, unit=unit, name="tickets-2024", classification="confidential", personal_data=True,
                         legal_basis="contract")
    holdout = make_dataset(db, unit=unit, name="tickets-holdout", licence="internal")
    kb = make_dataset(db, unit=other, name="kb-articles", classification="public")
    link_model_dataset(db, model, train, "fine_tune")
    link_model_dataset(db, model, holdout, "evaluate")
    link_model_dataset(db, model, kb, "retrieval")
    seen = make_system(db, unit=unit, name="Support desk copilot", lifecycle_status="in_production")
    unseen = make_system(db, unit=other, name="Other copilot")
    link_system_model(db, seen, model)
    link_system_model(db, unseen, model)
    return {"unit": unit, "other": other, "model": model, "mid": mid, "root": root, "train": train,
            "holdout": holdout, "kb": kb, "seen": seen, "owner": owner, "vendor": vendor}


def test_json_card_has_exactly_the_documented_structure(client: TestClient, db: Session, arranged: dict) -> None:
    a = arranged
    h = bearer(make_token(db, make_user(db, roles=[("practitioner", a["unit"])])))
    r = client.get(f"/api/v1/models/{a['model'].id}/card.json", headers=h)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="support-assistant-2.card.json"'
    card = r.json()
    assert list(card) == ["schema", "model", "description", "intended_use", "out_of_scope_uses", "limitations",
                          "known_biases", "evaluation_summary", "base_model_chain", "datasets", "systems", "mlflow",
                          "evaluations"]
    assert card["schema"] == "aicoe.model-card/1"
    m = card["model"]
    assert list(m) == ["id", "name", "version", "kind", "kind_label", "licence", "business_unit", "owner", "vendor",
                       "source", "artefact_uri", "checksum", "created_at", "updated_at"]
    assert (m["name"], m["version"], m["kind"], m["kind_label"], m["licence"]) == (
        "support-assistant", "2", "fine_tuned", "Fine-tuned", "Apache-2.0")
    assert m["business_unit"] == {"id": a["unit"].id, "name": "Retail"}
    assert m["owner"] == {"id": a["owner"].id, "full_name": "Ada Owner"}
    assert m["vendor"] is None
    assert (m["artefact_uri"], m["checksum"], m["source"]) == ("s3://models/support/2", SHA, "mlflow")
    assert card["known_biases"] == "Formal tone with younger customers."
    assert card["base_model_chain"] == [{"id": a["mid"].id, "name": "llama-instruct", "version": "3.1"},
                                        {"id": a["root"].id, "name": "llama", "version": "3.1-8b"}]
    assert card["datasets"] == {
        "train": [],
        "fine_tune": [{"id": a["train"].id, "name": "tickets-2024", "classification": "confidential",
                       "personal_data": True, "licence": ""}],
        "evaluate": [{"id": a["holdout"].id, "name": "tickets-holdout", "classification": "internal",
                      "personal_data": False, "licence": "internal"}],
        "retrieval": [{"id": a["kb"].id, "name": "kb-articles", "classification": "public", "personal_data": False,
                       "licence": ""}],
    }
    # systems are limited to the caller's units
    assert card["systems"] == [{"id": a["seen"].id, "name": "Support desk copilot",
                                "lifecycle_status": "in_production"}]
    assert card["mlflow"] == {"name": "support-assistant", "version": "2", "run_id": "abc123",
                              "tags": {"task": "text-generation", "team": "cx"}, "aliases": ["champion"],
                              "metrics": {"rougeL": 0.41, "acceptance": 0.71, "tiny": 1e-05, "note": "n/a"}}
    assert card["evaluations"] == []


def test_markdown_card_front_matter_and_sections(client: TestClient, db: Session, arranged: dict) -> None:
    a = arranged
    r = client.get(f"/api/v1/models/{a['model'].id}/card.md", headers=bearer(make_token(db, make_user(db))))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/markdown; charset=utf-8"
    meta, body = split(r.text)
    assert meta == {
        "license": "apache-2.0",
        "tags": ["aicoe", "fine_tuned", "task:text-generation", "team:cx"],
        "base_model": "llama-instruct",
        "datasets": ["kb-articles", "tickets-2024", "tickets-holdout"],
        "model-index": [{"name": "support-assistant 2", "results": [{
            "task": {"type": "text-generation"},
            "dataset": {"type": "tickets-holdout", "name": "tickets-holdout"},
            "metrics": [{"type": "acceptance", "value": 0.71, "name": "acceptance"},
                        {"type": "rougeL", "value": 0.41, "name": "rougeL"},
                        {"type": "tiny", "value": 1e-05, "name": "tiny"}]}]}],
    }
    assert body.startswith("# Model Card for support-assistant 2\n\nDrafts replies to customer emails.\n\n")
    order = [h for h in re.findall(r"^(#+ .+)$", body, re.M)]
    assert order[:8] == ["# Model Card for support-assistant 2", "## Model Details", "### Model Description",
                         "### Model Sources", "## Uses", "### Direct Use", "### Out-of-Scope Use",
                         "## Bias, Risks, and Limitations"]
    assert {"## Training Details", "### Training Data", "## Evaluation", "#### Testing Data",
            "### Results"} <= set(order)
    details = section(body, "Model Description")
    assert details.startswith("Drafts replies to customer emails.\n\nSecond paragraph.")
    assert "- **Developed by:** Retail" in details
    assert "- **Model type:** Fine-tuned" in details
    assert "- **License:** Apache-2.0" in details
    assert "- **Finetuned from model:** llama-instruct 3.1" in details
    assert "**Derivation chain:** llama-instruct 3.1 → llama 3.1-8b" in section(body, "Model Sources")
    assert section(body, "Direct Use") == "Drafting replies for an agent to review."
    assert section(body, "Out-of-Scope Use") == "Sending replies unreviewed."
    assert section(body, "Bias, Risks, and Limitations") == "Formal tone with younger customers."
    assert section(body, "Limitations") == "English only."
    assert section(body, "Training Data") == "[More Information Needed]"
    assert section(body, "Fine-tuning Data") == "- tickets-2024 (confidential, personal data)"
    assert section(body, "Retrieval Data") == "- kb-articles (public)"
    assert section(body, "Testing Data") == "- tickets-holdout (internal, licence internal)"
    results = section(body, "Results")
    assert results.startswith("Agents accepted 71% of drafts.\n\n| Metric | Value |")
    assert "| rougeL | 0.41 |" in results and "| note |" not in results
    assert section(body, "Evaluation Runs") == "None recorded."
    assert section(body, "AI Systems Using This Model") == (
        "- Other copilot (in development)\n- Support desk copilot (in production)")
    assert section(body, "Model Card Contact") == "Ada Owner"


def test_front_matter_survives_awkward_text_and_a_bare_model(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    vendor = make_vendor(db, name="Vendor: \"Quoted\" #1")
    model = make_model(db, unit=unit, name="x: y # not a comment", version="1", vendor=vendor,
                       licence="other\n- injected: true\u0085\u2028\x07")
    ds = make_dataset(db, unit=unit, name="- [list] {map} 'quote' \\ back\U0001F600")
    link_model_dataset(db, model, ds, "train")
    r = client.get(f"/api/v1/models/{model.id}/card.md", headers=bearer(make_token(db, make_user(db))))
    meta, body = split(r.text)
    assert meta == {"license": "other\n- injected: true\u0085\u2028\x07", "tags": ["aicoe", "in_house"],
                    "datasets": ["- [list] {map} 'quote' \\ back\U0001F600"]}
    assert "- **Developed by:** Vendor: \"Quoted\" #1" in body
    assert "- **Finetuned from model:** None" in body
    assert section(body, "Results") == "[More Information Needed]"


def test_yaml_emitter_round_trips_nested_values() -> None:
    value = {"a": [1, 2.5, True, None, "", "null", "yes", "1e3"], "b-c": {"d": [], "e": {}}, "weird key": [[1]],
             "f": [{"g": 1.5e300, "h": -0.0}]}
    assert yaml.safe_load("\n".join(modelcard.to_yaml(value))) == value


def test_card_exports_follow_scoping(client: TestClient, db: Session, arranged: dict) -> None:
    a = arranged
    h = bearer(make_token(db, make_user(db, roles=[("practitioner", a["other"])])))
    for suffix in ("card.md", "card.json"):
        assert client.get(f"/api/v1/models/{a['model'].id}/{suffix}", headers=h).status_code == 404


def add_run(db: Session, model, unit, name: str, *, status: str = "completed", passed: bool | None = None,  # noqa: ANN001
            finished: datetime | None = None, headline: dict | None = None, rows: int | None = 1000) -> EvaluationRun:
    run = EvaluationRun(name=name, model_id=model.id, business_unit_id=unit.id, source="demo/log.csv", spec={},
                        options={}, status=status, passed=passed, rows=rows, headline=headline or {},
                        finished_at=finished)
    db.add(run)
    db.commit()
    return run


def test_the_card_lists_the_models_latest_completed_evaluations(client: TestClient, db: Session, settings: Settings,
                                                                arranged: dict) -> None:
    a = arranged
    model = a["model"]
    older = add_run(db, model, a["unit"], "Release check", passed=True, rows=20000,
                    finished=datetime(2026, 4, 1, 9, 30, tzinfo=UTC), headline={"accuracy": 0.91234})
    newer = add_run(db, model, a["unit"], "Fairness review", passed=False, rows=1234567,
                    finished=datetime(2026, 5, 2, 10, 0, tzinfo=UTC),
                    headline={"accuracy": 0.8, "worst_disparity": "equalized_odds_difference",
                              "worst_disparity_value": 0.24831, "drift_share": 0.6, "dataset_drift": True})
    unchecked = add_run(db, model, a["unit"], "Drift only", passed=None, rows=None,
                        finished=datetime(2026, 3, 1, tzinfo=UTC))
    add_run(db, model, a["unit"], "Still running", status="running")
    add_run(db, model, a["other"], "Other unit's run", passed=True, finished=datetime(2026, 6, 1, tzinfo=UTC))
    member = make_user(db, roles=[("practitioner", a["unit"])], password=PASSWORD, settings=settings)
    h = bearer(make_token(db, member))
    card = client.get(f"/api/v1/models/{model.id}/card.json", headers=h).json()
    assert card["evaluations"] == [
        {"id": newer.id, "name": "Fairness review", "finished_at": "2026-05-02T10:00:00.000000Z", "rows": 1234567,
         "passed": False, "headline": {"accuracy": 0.8, "worst_disparity": "equalized_odds_difference",
                                       "worst_disparity_value": 0.24831, "drift_share": 0.6, "dataset_drift": True}},
        {"id": older.id, "name": "Release check", "finished_at": "2026-04-01T09:30:00.000000Z", "rows": 20000,
         "passed": True, "headline": {"accuracy": 0.91234}},
        {"id": unchecked.id, "name": "Drift only", "finished_at": "2026-03-01T00:00:00.000000Z", "rows": None,
         "passed": None, "headline": {}},
    ]
    _, body = split(client.get(f"/api/v1/models/{model.id}/card.md", headers=h).text)
    assert section(body, "Evaluation Runs") == "\n".join([
        f"- Fairness review (run {newer.id}, 2026-05-02, 1,234,567 rows): policy failed; accuracy 0.8; "
        f"equalized_odds_difference 0.2483; drift_share 0.6; dataset_drift yes",
        f"- Release check (run {older.id}, 2026-04-01, 20,000 rows): policy passed; accuracy 0.9123",
        f"- Drift only (run {unchecked.id}, 2026-03-01, rows unknown): no policy"])
    viewer = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    assert client.get(f"/api/v1/models/{model.id}/card.json", headers=viewer).json()["evaluations"] == []
    login(client, member.email)
    page = client.get(f"/models/{model.id}/card")
    assert f'<a href="/evaluations/{newer.id}">Fairness review</a>' in page.text
    assert '<span class="badge off">policy failed</span>' in page.text
