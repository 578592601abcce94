"""Use-case import (CSV and XLSX, all or nothing, every row error named), export (CSV, XLSX, JSON) and the
``aicoe usecase`` commands."""

from __future__ import annotations

import csv
import io as stdio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.cli.main import app as cli_app
from aicoe.core.db import begin_write, make_engine, make_sessionmaker
from aicoe.models.audit import AuditEvent
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import Counter, UseCase
from aicoe.models.strategy import Objective
from aicoe.portfolio import export, io, schemas, usecases, value
from tests.factories import PASSWORD, bearer, csrf_from, login, make_token, make_unit, make_user

HEADER = "title,business_unit,ai_type,owner_email,build_cost_estimate,benefit_revenue,objectives,target_date\n"


def count_use_cases(db: Session) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(UseCase)) or 0


def upload(client: TestClient, headers: dict[str, str], content: bytes | str, *, name: str = "cases.csv",
           dry_run: bool = False):  # noqa: ANN201
    data = content.encode() if isinstance(content, str) else content
    return client.post(f"/api/v1/use-cases/import?dry_run={'true' if dry_run else 'false'}", headers=headers,
                       files={"file": (name, data)})


@pytest.fixture
def arranged(db: Session) -> dict[str, Any]:
    unit = make_unit(db, code="CLAIMS", name="Claims")
    owner = make_user(db, email="owner@example.com", roles=[])
    db.commit()
    begin_write(db)
    db.add(Objective(title="Faster claims", period_start=date(2024, 1, 1), period_end=date(2024, 12, 31)))
    db.commit()
    return {"unit": unit, "owner": owner, "admin": bearer(make_token(db, make_user(db)))}


# --- import --------------------------------------------------------------------------------------------------------

def test_csv_import_creates_every_row_through_intake(client: TestClient, db: Session, arranged: dict) -> None:
    content = (HEADER + "Claims triage,claims,Generative AI,Owner@Example.com,12500.50,30000,Faster claims,"
               "2025-03-31\n"
               '"Fraud, with a comma",CLAIMS,predictive_ml,,,,,\n\n')
    r = upload(client, arranged["admin"], content)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["ok"], report["rows"], report["valid"], report["created"]) == (True, 2, 2, ["UC-0001", "UC-0002"])
    db.commit()
    first = usecases.get_use_case(db, None, "UC-0001", detail=True)
    assert (first.title, first.business_unit_id, first.ai_type, first.owner_id) == (
        "Claims triage", arranged["unit"].id, "generative_ai", arranged["owner"].id)
    assert (first.build_cost_estimate, first.expected_benefit_annual, first.target_date) == (
        12500.5, 30000.0, date(2025, 3, 31))
    assert [(b.kind, b.amount, b.confidence) for b in first.benefits] == [("revenue", 30000.0, 50)]
    assert [o.title for o in first.objectives] == ["Faster claims"] and first.stage == "idea"
    assert usecases.get_use_case(db, None, "UC-0002").title == "Fraud, with a comma"
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "use_case", AuditEvent.action == "create")) == 2


BAD_FILE = (HEADER
            + "Good one,CLAIMS,agentic,,,,,\n"
            + "Bad unit,NOPE,agentic,nobody@example.com,,,,\n"
            + ",CLAIMS,quantum,,-5,1e3,Unknown goal,31/12/2024\n"
            + "Another good one,CLAIMS,predictive_ml,,,,,\n")
BAD_ROWS = [
    {"row": 3, "column": "business_unit", "message": "No business unit with code 'NOPE'."},
    {"row": 3, "column": "owner_email", "message": "No person with e-mail 'nobody@example.com'."},
    {"row": 4, "column": "ai_type", "message": "'quantum' is not one of: predictive_ml, generative_ai, agentic."},
    {"row": 4, "column": "benefit_revenue", "message": "'1e3' is not a plain number; write it like 12500.50."},
    {"row": 4, "column": "build_cost_estimate", "message": "Cannot be negative."},
    {"row": 4, "column": "objectives", "message": "No strategic objective titled 'Unknown goal'."},
    {"row": 4, "column": "target_date", "message": "'31/12/2024' is not a date; write it as YYYY-MM-DD."},
    {"row": 4, "column": "title", "message": "A value is required."},
]


def test_a_file_with_bad_rows_writes_nothing_and_names_every_row_and_column(client: TestClient, db: Session,
                                                                            arranged: dict) -> None:
    events_before = db.scalar(select(func.count()).select_from(AuditEvent))
    r = upload(client, arranged["admin"], BAD_FILE)
    assert r.status_code == 422
    problem = r.json()
    assert problem["report"]["errors"] == BAD_ROWS and problem["report"]["valid"] == 2
    assert {"field": "row 3: business_unit", "message": "No business unit with code 'NOPE'."} in problem["errors"]
    assert "nothing was imported" in problem["detail"]
    assert count_use_cases(db) == 0
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events_before
    assert db.scalar(select(Counter.value).where(Counter.name == "use_case")) in (None, 0)  # no key was used up
    dry = upload(client, arranged["admin"], BAD_FILE, dry_run=True)
    assert dry.status_code == 200 and dry.json()["ok"] is False and dry.json()["errors"] == BAD_ROWS
    assert count_use_cases(db) == 0


def test_dry_run_of_a_good_file_checks_through_intake_and_writes_nothing(client: TestClient, db: Session,
                                                                          arranged: dict) -> None:
    content = HEADER + f"{'x' * 201},CLAIMS,agentic,,,,,\nFine,CLAIMS,agentic,,,,,\n"
    r = upload(client, arranged["admin"], content, dry_run=True)
    assert r.json()["errors"] == [{"row": 2, "column": "title",
                                   "message": "String should have at most 200 characters"}]
    good = upload(client, arranged["admin"], HEADER + "Fine,CLAIMS,agentic,,,,,\n", dry_run=True)
    assert good.status_code == 200 and good.json() == {"dry_run": True, "ok": True, "rows": 1, "valid": 1,
                                                       "created": [], "errors": []}
    assert count_use_cases(db) == 0


@pytest.mark.parametrize(("content", "errors"), [
    ("title,ai_type\nA,agentic\n", [(1, "business_unit", "This required column is missing.")]),
    ("title,business_unit,ai_type,colour\nA,CLAIMS,agentic,red\n", [(1, "colour", None)]),
    ("title,title,business_unit,ai_type\nA,B,CLAIMS,agentic\n", [(1, "title", "This column appears twice.")]),
    ("", [(1, "header", None)]),
    ("title,business_unit,ai_type\n", [(2, "file", "The file holds no use cases below the header.")]),
    ("title,business_unit,ai_type\nA,CLAIMS,agentic,extra\n",
     [(2, "row", "The row has more cells than the header has columns.")]),
    ("title;business_unit;ai_type;personal_data\nA;CLAIMS;agentic;maybe\n",
     [(2, "personal_data", "'maybe' is not yes or no.")]),
])
def test_file_shape_errors(client: TestClient, db: Session, arranged: dict, content: str,
                           errors: list[tuple[int, str, str | None]]) -> None:
    r = upload(client, arranged["admin"], content, dry_run=True)
    assert r.status_code == 200
    got = [(e["row"], e["column"], e["message"]) for e in r.json()["errors"]]
    assert [(row, col) for row, col, _ in got] == [(row, col) for row, col, _ in errors]
    for (_, _, message), (_, _, expected) in zip(got, errors, strict=True):
        if expected is not None:
            assert message == expected


def test_unreadable_files_are_refused(client: TestClient, arranged: dict) -> None:
    assert upload(client, arranged["admin"], b"\xff\xfe\x00bad", dry_run=True).status_code == 422
    assert upload(client, arranged["admin"], b"PK\x03\x04 not a zip", dry_run=True).status_code == 422
    assert upload(client, arranged["admin"], b"a,b", name="cases.pdf", dry_run=True).status_code == 415
    big = b"title,business_unit,ai_type\n" + b"x" * io.MAX_BYTES
    assert upload(client, arranged["admin"], big, dry_run=True).status_code == 413


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    sheet.append([None, None, None])  # a formatted but empty trailing row, as spreadsheets often have
    out = stdio.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_import_reads_typed_cells(client: TestClient, db: Session, arranged: dict) -> None:
    content = _xlsx([
        ["Title", "Business unit", "AI type", "Personal data", "Run cost estimate", "Target date",
         "benefit_hours_saved"],
        ["Shift planner", "CLAIMS", "agentic", True, 1800, datetime(2025, 6, 30), 4200.5],
        [2024, "CLAIMS", "Predictive ML", "no", None, None, None],
    ])
    r = upload(client, arranged["admin"], content, name="cases.xlsx")
    assert r.status_code == 201, r.text
    db.commit()
    first, second = (usecases.get_use_case(db, None, k, detail=True) for k in r.json()["created"])
    assert (first.title, first.personal_data, first.run_cost_estimate, first.target_date) == (
        "Shift planner", True, 1800.0, date(2025, 6, 30))
    assert [(b.kind, b.amount) for b in first.benefits] == [("hours_saved", 4200.5)]
    assert (second.title, second.ai_type, second.personal_data) == ("2024", "predictive_ml", False)
    bad = upload(client, arranged["admin"], _xlsx([["title", "business_unit", "ai_type", "build_cost_estimate"],
                                                   ["X", "CLAIMS", "agentic", "lots"]]), name="c.xlsx")
    assert bad.status_code == 422 and bad.json()["report"]["errors"] == [
        {"row": 2, "column": "build_cost_estimate", "message": "'lots' is not a plain number; write it like 12500.50."}]


def test_import_needs_the_import_permission(client: TestClient, db: Session, arranged: dict) -> None:
    manager = bearer(make_token(db, make_user(db, roles=[("project_manager", arranged["unit"])])))
    assert upload(client, manager, HEADER, dry_run=True).status_code == 403


# --- export --------------------------------------------------------------------------------------------------------

def _arrange_export(db: Session, unit: BusinessUnit) -> list[UseCase]:
    other = make_unit(db, code="OPS", name="Operations")
    db.commit()
    begin_write(db)
    cases = [
        usecases.create_use_case(db, None, schemas.UseCaseCreate(
            title="=HYPERLINK(\"http://evil\")", business_unit_id=unit.id, ai_type="generative_ai",
            problem_statement="Line one\nline \"two\", with comma", personal_data=True, build_cost_estimate=1000.5,
            benefits=[schemas.BenefitIn(kind="revenue", amount=100), schemas.BenefitIn(kind="revenue", amount=50),
                      schemas.BenefitIn(kind="risk_reduction", amount=7)], target_date=date(2025, 1, 31))),
        usecases.create_use_case(db, None, schemas.UseCaseCreate(title="Ops assistant", business_unit_id=other.id,
                                                                 ai_type="agentic")),
    ]
    cases[1].stage = "pilot"
    db.commit()
    begin_write(db)
    value.add_entry(db, None, cases[0].key, value.ValueEntryIn(period=date(2024, 2, 3), kind="cost_run", amount=12))
    db.commit()
    return cases


def test_csv_export_content_and_filters(client: TestClient, db: Session, arranged: dict) -> None:
    first, second = _arrange_export(db, arranged["unit"])
    r = client.get("/api/v1/use-cases/export?format=csv&sort=key", headers=arranged["admin"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="use-cases.csv"'
    rows = list(csv.DictReader(stdio.StringIO(r.text)))
    assert list(rows[0]) == list(io.EXPORT_COLUMNS)
    assert [(row["key"], row["business_unit"], row["stage"]) for row in rows] == [
        (first.key, "CLAIMS", "idea"), (second.key, "OPS", "pilot")]
    assert rows[0]["title"] == "'=HYPERLINK(\"http://evil\")"  # guarded against formula injection
    assert rows[0]["problem_statement"] == "Line one\nline \"two\", with comma"
    assert (rows[0]["personal_data"], rows[0]["build_cost_estimate"], rows[0]["benefit_revenue"],
            rows[0]["benefit_risk_reduction"], rows[0]["target_date"], rows[0]["realised_cost"]) == (
        "yes", "1000.5", "150.0", "7.0", "2025-01-31", "12.0")
    filtered = client.get("/api/v1/use-cases/export?format=csv&stage=pilot", headers=arranged["admin"])
    assert [row["key"] for row in csv.DictReader(stdio.StringIO(filtered.text))] == [second.key]
    bad = client.get("/api/v1/use-cases/export?format=csv&stage=flying", headers=arranged["admin"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "stage"
    assert client.get("/api/v1/use-cases/export?format=pdf", headers=arranged["admin"]).status_code == 422
    manager = bearer(make_token(db, make_user(db, roles=[("project_manager", arranged["unit"])])))
    scoped = client.get("/api/v1/use-cases/export", headers=manager)
    assert [row["key"] for row in csv.DictReader(stdio.StringIO(scoped.text))] == [first.key]


def test_json_and_xlsx_exports(client: TestClient, db: Session, arranged: dict) -> None:
    first, second = _arrange_export(db, arranged["unit"])
    items = client.get("/api/v1/use-cases/export?format=json&sort=key", headers=arranged["admin"]).json()
    assert [i["key"] for i in items] == [first.key, second.key]
    assert items[0]["title"] == "=HYPERLINK(\"http://evil\")" and items[0]["personal_data"] is True
    assert items[0]["benefit_revenue"] == 150.0 and items[1]["score_total"] is None
    r = client.get("/api/v1/use-cases/export?format=xlsx&sort=key", headers=arranged["admin"])
    assert r.headers["content-type"] == MEDIA_XLSX
    sheet = load_workbook(stdio.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == io.EXPORT_COLUMNS
    cell = sheet.cell(row=2, column=io.EXPORT_COLUMNS.index("title") + 1)
    assert cell.value == "=HYPERLINK(\"http://evil\")" and cell.data_type == "s"  # text, not a formula
    assert rows[1][io.EXPORT_COLUMNS.index("build_cost_estimate")] == 1000.5


MEDIA_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_value_entry_and_pipeline_exports(client: TestClient, db: Session, arranged: dict) -> None:
    first, second = _arrange_export(db, arranged["unit"])
    first.score_total, second.score_total = 3.5, 4.25
    db.commit()
    entries = client.get(f"/api/v1/value-entries/export?format=csv&use_case={first.key}", headers=arranged["admin"])
    header, *lines = list(csv.reader(stdio.StringIO(entries.text)))
    assert header == list(io.VALUE_COLUMNS)
    assert [line[:6] for line in lines] == [[first.key, "2024-02-01", "cost_run", "12.0", "", ""]]
    assert lines[0][6].endswith("Z")
    assert client.get("/api/v1/value-entries/export?use_case=UC-9999", headers=arranged["admin"]).status_code == 404
    ranked = client.get("/api/v1/pipeline/export?format=json", headers=arranged["admin"]).json()
    assert [(r["rank"], r["key"], r["score_total"]) for r in ranked] == [(1, second.key, 4.25), (2, first.key, 3.5)]


# --- round trip ----------------------------------------------------------------------------------------------------

def test_an_export_imports_again_as_new_use_cases(client: TestClient, db: Session, arranged: dict) -> None:
    first, _ = _arrange_export(db, arranged["unit"])
    exported = client.get("/api/v1/use-cases/export?format=csv&sort=key", headers=arranged["admin"]).text
    dry = upload(client, arranged["admin"], exported, dry_run=True).json()
    assert (dry["ok"], dry["rows"]) == (True, 2)
    created = upload(client, arranged["admin"], exported).json()["created"]
    db.commit()
    copy = usecases.get_use_case(db, None, created[0], detail=True)
    assert (copy.title, copy.problem_statement, copy.personal_data, copy.build_cost_estimate, copy.target_date) == (
        first.title, first.problem_statement, True, 1000.5, date(2025, 1, 31))
    assert sorted((b.kind, b.amount) for b in copy.benefits) == [("revenue", 150.0), ("risk_reduction", 7.0)]
    assert copy.expected_benefit_annual == 157.0 and copy.stage == "idea"


clean_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\"',;="),
                     max_size=40).map(str.strip)
money = st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda x: round(x, 2))
rows = st.fixed_dictionaries({
    "title": clean_text.filter(bool), "problem_statement": clean_text, "business_unit": st.sampled_from(["A", "B"]),
    "ai_type": st.sampled_from(["predictive_ml", "generative_ai", "agentic"]), "personal_data": st.booleans(),
    "build_cost_estimate": money, "benefit_revenue": money,
    "target_date": st.one_of(st.none(), st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))),
    "key": st.just("UC-0001"), "stage": st.sampled_from(["idea", "pilot"]),
})


@given(st.lists(rows, min_size=1, max_size=8))
@settings(max_examples=150, deadline=None)
def test_csv_round_trip_of_generated_rows(generated: list[dict[str, Any]]) -> None:
    columns = ("key", "title", "problem_statement", "business_unit", "stage", "ai_type", "personal_data",
               "build_cost_estimate", "benefit_revenue", "target_date")
    content = "".join(export.csv_lines(generated, columns)).encode()
    parsed, errors = io.parse_table(io.read_table(content, "export.csv"))
    assert errors == []
    assert len(parsed) == len(generated)
    for number, (row, original) in enumerate(zip(parsed, generated, strict=True), start=2):
        assert row.row == number
        for name in ("title", "problem_statement", "business_unit", "ai_type", "personal_data",
                     "build_cost_estimate", "benefit_revenue", "target_date"):
            assert row.values[name] == original[name], name


@pytest.fixture
def two_units(db: Session) -> None:
    make_unit(db, code="A")
    make_unit(db, code="B")


@given(st.lists(rows, min_size=1, max_size=6))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_exported_generated_rows_pass_an_import_dry_run(db: Session, two_units: None,
                                                        generated: list[dict[str, Any]]) -> None:
    content = "".join(export.csv_lines(generated, io.EXPORT_COLUMNS)).encode()
    db.commit()
    begin_write(db)
    report = io.import_table(db, None, io.read_table(content, "export.csv"), dry_run=True)
    db.rollback()
    assert report.errors == [] and report.valid == len(generated) and report.created == []
    assert count_use_cases(db) == 0


# --- pages ---------------------------------------------------------------------------------------------------------

def test_import_page_checks_and_imports(client: TestClient, db: Session, arranged: dict) -> None:
    user = make_user(db, password=PASSWORD, settings=client.app.state.settings)
    login(client, user.email)
    page = client.get("/use-cases/import")
    assert page.status_code == 200 and "benefit_customer_satisfaction" in page.text
    token = csrf_from(page.text)
    checked = client.post("/use-cases/import", data={"csrf_token": token, "dry_run": "1"},
                          files={"file": ("cases.csv", BAD_FILE.encode())})
    assert checked.status_code == 200
    assert "8 problems found — nothing was imported" in checked.text
    assert "No business unit with code &#39;NOPE&#39;." in checked.text
    refused = client.post("/use-cases/import", data={"csrf_token": token, "dry_run": "0"},
                          files={"file": ("cases.csv", BAD_FILE.encode())})
    assert refused.status_code == 422 and count_use_cases(db) == 0
    done = client.post("/use-cases/import", data={"csrf_token": token, "dry_run": "0"},
                       files={"file": ("cases.csv", (HEADER + "Fine,CLAIMS,agentic,,,,,\n").encode())},
                       follow_redirects=False)
    assert done.status_code == 303 and count_use_cases(db) == 1


# --- command line --------------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    for key, val in {"AICOE_DATABASE_URL": url, "AICOE_DATA_DIR": str(tmp_path / "data"),
                     "AICOE_SECRET_KEY": "c" * 40}.items():
        monkeypatch.setenv(key, val)
    assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli_app, ["unit", "create", "CLAIMS", "--name", "Claims"]).exit_code == 0
    return url


def cli(*args: str):  # noqa: ANN201
    return runner.invoke(cli_app, list(args), catch_exceptions=False)


def test_cli_import_list_show_export(cli_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_FILE)
    r = cli("usecase", "import", str(bad), "--dry-run")
    assert r.exit_code == 1 and "8 problem(s); nothing was imported." in r.output
    assert "NOPE" in r.output and "build_cost_estimate" in r.output
    assert cli("usecase", "import", str(bad)).exit_code == 1
    good = tmp_path / "good.csv"
    good.write_text("title,business_unit,ai_type,build_cost_estimate\nClaims triage,CLAIMS,agentic,100\n"
                    "Fraud,CLAIMS,predictive_ml,\n")
    r = cli("usecase", "import", str(good), "--dry-run")
    assert r.exit_code == 0 and "All 2 rows pass" in r.output
    r = cli("usecase", "import", str(good))
    assert r.exit_code == 0 and "Imported 2 use cases: UC-0001, UC-0002" in r.output
    listing = cli("usecase", "list", "--unit", "claims")
    assert "UC-0001" in listing.output and "UC-0002" in listing.output and "2 of 2 use cases" in listing.output
    assert "0 of 0" in cli("usecase", "list", "--stage", "pilot").output
    assert cli("usecase", "list", "--unit", "NOPE").exit_code == 1
    shown = cli("usecase", "show", "uc-0001")
    assert shown.exit_code == 0 and "Claims triage" in shown.output and "ROI is undefined" in shown.output
    assert cli("usecase", "show", "UC-0404").exit_code == 1
    out = cli("usecase", "export", "--format", "csv")
    rows = list(csv.DictReader(stdio.StringIO(out.stdout)))
    assert [(r["key"], r["title"], r["business_unit"], r["stage"]) for r in rows] == [
        ("UC-0001", "Claims triage", "CLAIMS", "idea"), ("UC-0002", "Fraud", "CLAIMS", "idea")]
    as_json = json.loads(cli("usecase", "export", "--format", "json").stdout)
    assert [i["key"] for i in as_json] == ["UC-0001", "UC-0002"]
    assert cli("usecase", "export", "--format", "xlsx").exit_code == 2
    target = tmp_path / "out.xlsx"
    assert cli("usecase", "export", "--format", "xlsx", "--output", str(target)).exit_code == 0
    sheet = load_workbook(target).active
    assert [c.value for c in sheet[2]][:3] == ["UC-0001", "Claims triage", "CLAIMS"]
    csv_file = tmp_path / "out.csv"
    assert cli("usecase", "export", "--output", str(csv_file), "--stage", "idea").exit_code == 0
    assert csv_file.read_text().splitlines()[0].startswith("key,title,business_unit,business_unit_name,stage")
    engine = make_engine(cli_db)
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(UseCase)) == 2
    engine.dispose()


def test_csv_lines_write_instants_and_empty_values_plainly() -> None:
    rows = [{"key": "UC-0001", "submitted_at": datetime(2024, 1, 1, tzinfo=UTC), "score_total": None}]
    assert "".join(export.csv_lines(rows, ("key", "submitted_at", "score_total"))) == (
        "key,submitted_at,score_total\r\nUC-0001,2024-01-01T00:00:00.000000Z,\r\n")


# --- both databases: savepoints and streamed reads -----------------------------------------------------------------

def test_import_is_atomic_and_export_streams_on_each_database(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    session = make_sessionmaker(engine)()
    try:
        make_unit(session, code="CLAIMS")
        table = [["title", "business_unit", "ai_type"], ["One", "CLAIMS", "agentic"], ["Two", "NOPE", "agentic"],
                 ["Three", "claims", "generative_ai"]]
        session.commit()
        begin_write(session)
        with pytest.raises(io.ImportRefused) as refused:
            io.import_table(session, None, table, dry_run=False)
        assert [(e.row, e.column) for e in refused.value.report.errors] == [(3, "business_unit")]
        session.rollback()
        assert session.scalar(select(func.count()).select_from(UseCase)) == 0
        begin_write(session)
        del table[2]
        report = io.import_table(session, None, table, dry_run=False)
        session.commit()
        assert report.created == ["UC-0001", "UC-0002"]
        stmt = usecases.order_by(usecases.use_cases_query(None), "key")
        assert [(r["key"], r["title"], r["stage"]) for r in export.use_case_rows(session, stmt, batch=1)] == [
            ("UC-0001", "One", "idea"), ("UC-0002", "Three", "idea")]
    finally:
        session.close()
        engine.dispose()
