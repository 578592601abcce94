"""The audit ledger: one unbroken chain under concurrent appends on both databases, every kind of tampering found
by ``verify`` at the right event, and the API, UI and CLI around it (filters, exact exports, permissions)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from aicoe.audit import ledger
from aicoe.audit import service as audit_service
from aicoe.audit.cli import app as audit_cli
from aicoe.auth.principal import Principal
from aicoe.core.db import make_engine, make_sessionmaker, session_scope
from aicoe.core.logging import request_id_var
from aicoe.core.pagination import PageParams
from aicoe.core.time import isoformat
from aicoe.models.audit import AuditEvent, AuditHead
from tests.conftest import fresh_sqlite
from tests.factories import PASSWORD, bearer, login, make_token, make_unit, make_user

EVENTS = AuditEvent.__table__


@pytest.fixture
def factory(any_db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(any_db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def actor(n: int) -> ledger.AuditActor:
    return ledger.AuditActor("user", str(n), f"person{n}@example.com")


def append_chain(factory: sessionmaker[Session], count: int) -> None:
    for n in range(1, count + 1):
        with session_scope(factory) as s:
            ledger.append(s, actor(n), "update", "business_unit", n, {"name": [f"Old {n}", f"New {n}"]})


def verify(factory: sessionmaker[Session]) -> ledger.VerifyResult:
    with factory() as s:
        return ledger.verify(s)


def engine_of(factory: sessionmaker[Session]) -> Engine:
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


# --- the chain ---------------------------------------------------------------------------------------------------

def test_concurrent_appends_keep_one_unbroken_chain(factory: sessionmaker[Session]) -> None:
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with session_scope(factory, write=True) as s:
                    ledger.append(s, actor(worker), "create", "thing", f"{worker}-{i}", {"i": [None, i]})
        except BaseException as exc:  # noqa: BLE001  # reported below, with the thread's failure
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []

    with factory() as s:
        rows = s.execute(select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.actor_id)
                         .order_by(AuditEvent.seq)).all()
        head = s.get(AuditHead, 1)
    total = threads * per_thread
    assert [r.seq for r in rows] == list(range(1, total + 1))
    assert [r.prev_hash for r in rows] == [ledger.GENESIS_HASH] + [r.hash for r in rows[:-1]]
    assert Counter(r.actor_id for r in rows) == {str(w): per_thread for w in range(threads)}
    assert head is not None and (head.seq, head.hash) == (total, rows[-1].hash)
    assert verify(factory) == ledger.VerifyResult(True, total, total)


def test_an_empty_ledger_verifies(factory: sessionmaker[Session]) -> None:
    assert verify(factory) == ledger.VerifyResult(True, 0, 0)


def tampered_value(column: str, original: Any) -> Any:
    if column == "ts":
        return original + timedelta(microseconds=1)
    if column == "diff":
        return json.dumps({"name": ["Old 3", "Mallory"]}, separators=(",", ":"))
    if column in {"hash", "prev_hash"}:
        return "f" * 64
    return original + "x"


HASHED_COLUMNS = ["ts", "actor_type", "actor_id", "actor_label", "action", "entity_type", "entity_id", "diff",
                  "request_id", "prev_hash", "hash"]


def test_editing_any_field_of_any_row_is_detected_at_that_row(factory: sessionmaker[Session]) -> None:
    append_chain(factory, 6)
    engine = engine_of(factory)
    for seq in (1, 3, 6):
        for column in HASHED_COLUMNS:
            with engine.begin() as conn:
                original = conn.execute(select(EVENTS.c[column]).where(EVENTS.c.seq == seq)).scalar_one()
                conn.execute(update(EVENTS).where(EVENTS.c.seq == seq)
                             .values({column: tampered_value(column, original)}))
            result = verify(factory)
            assert (result.ok, result.broken_seq, result.checked) == (False, seq, seq - 1), (seq, column, result)
            expected = "previous-hash link does not match" if column == "prev_hash" \
                else "content does not match its hash"
            assert result.reason == expected, (seq, column)
            with engine.begin() as conn:
                conn.execute(update(EVENTS).where(EVENTS.c.seq == seq).values({column: original}))
            assert verify(factory).ok, (seq, column)


def test_a_rehashed_edit_breaks_the_next_link(factory: sessionmaker[Session]) -> None:
    """Whoever edits an event and recomputes its hash still breaks the following event's link."""
    append_chain(factory, 5)
    with factory.begin() as s:
        event = s.get(AuditEvent, 3)
        assert event is not None
        event.actor_label = "someone-else@example.com"
        event.hash = ledger.event_hash(
            event.seq, isoformat(event.ts), event.actor_type, event.actor_id, event.actor_label, event.action,
            event.entity_type, event.entity_id, event.diff, event.request_id, event.prev_hash)
    result = verify(factory)
    assert (result.ok, result.broken_seq, result.reason) == (False, 4, "previous-hash link does not match")


def test_deleting_a_middle_event_is_detected(factory: sessionmaker[Session]) -> None:
    append_chain(factory, 6)
    with engine_of(factory).begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == 4))
    assert verify(factory) == ledger.VerifyResult(False, 3, 6, 4, "event 4 is missing")


def test_truncating_the_tail_is_detected(factory: sessionmaker[Session]) -> None:
    append_chain(factory, 6)
    with engine_of(factory).begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq >= 5))
    assert verify(factory) == ledger.VerifyResult(
        False, 4, 6, 5, "chain ends at event 4 but the recorded head is event 6")


def test_events_forged_past_the_head_are_detected(factory: sessionmaker[Session]) -> None:
    append_chain(factory, 3)
    with factory() as s:
        last = s.get(AuditEvent, 3)
        assert last is not None
        fields = dict(seq=4, ts=isoformat(last.ts), actor_type="user", actor_id="1", actor_label="a@example.com",
                      action="delete", entity_type="business_unit", entity_id="1", diff="{}", request_id="",
                      prev_hash=last.hash)
    with engine_of(factory).begin() as conn:  # a well-formed event, but the head was not moved
        conn.execute(insert(EVENTS).values(**{**fields, "ts": last.ts}, hash=ledger.event_hash(**fields)))
    result = verify(factory)
    assert (result.ok, result.broken_seq, result.checked, result.head_seq) == (False, 4, 4, 3)


def test_a_moved_head_is_detected(factory: sessionmaker[Session]) -> None:
    append_chain(factory, 3)
    with engine_of(factory).begin() as conn:
        conn.execute(update(AuditHead.__table__).values(hash="e" * 64))
    assert verify(factory) == ledger.VerifyResult(
        False, 3, 3, 3, "the recorded head does not match this event's hash")


def test_values_of_the_wrong_type_are_reported_not_raised(db_url: str) -> None:
    """SQLite stores whatever it is given; verify reports such a row as broken instead of crashing."""
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    append_chain(factory, 3)
    for column, value in (("ts", "not a time"), ("ts", 12345), ("diff", b"\x00\x01"), ("actor_label", 7.5)):
        with engine.begin() as conn:
            original = conn.execute(select(EVENTS.c[column]).where(EVENTS.c.seq == 2)).scalar_one()
            conn.exec_driver_sql(f"UPDATE audit_events SET {column} = ? WHERE seq = 2", (value,))
        result = verify(factory)
        assert (result.ok, result.broken_seq) == (False, 2), (column, value)
        with engine.begin() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.seq == 2).values({column: original}))
    assert verify(factory).ok
    engine.dispose()


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.fixture(scope="module")
def property_ledger(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker]:
    engine = make_engine(fresh_sqlite(sqlite_template, tmp_path_factory.mktemp("prop")))
    yield make_sessionmaker(engine)
    engine.dispose()


@hyp_settings(max_examples=60, deadline=None)
@given(label=_text, entity_id=_text, value=_text, request_id=_text)
def test_verify_agrees_with_append_on_any_text(property_ledger: sessionmaker, label: str, entity_id: str,
                                               value: str, request_id: str) -> None:
    """The verifier builds the hashed text by hand for speed; it must match ``json.dumps`` on every string."""
    token = request_id_var.set(request_id)
    try:
        with session_scope(property_ledger) as s:
            ledger.append(s, ledger.AuditActor("user", "1", label), "update", "thing", entity_id,
                          {value: [value, {"nested": value}]})
    finally:
        request_id_var.reset(token)
    assert verify(property_ledger).ok


# --- the CLI -------------------------------------------------------------------------------------------------------

runner = CliRunner()


def flat(text: str) -> str:
    """The words of the output, without line wrapping or Rich's box borders."""
    return " ".join(text.replace("│", " ").split())


def test_cli_verify_exit_codes(any_db_url: str, factory: sessionmaker[Session],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICOE_DATABASE_URL", any_db_url)
    append_chain(factory, 5)
    result = runner.invoke(audit_cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert "Chain intact: 5 events verified, head is event 5" in flat(result.output)
    assert "events/s" in result.output
    with factory() as session:
        assert f"head hash: {session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == 5))}" in result.output

    with engine_of(factory).begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == 2).values(actor_label="mallory@example.com"))
    result = runner.invoke(audit_cli, ["verify"])
    assert result.exit_code == 1, result.output
    assert "Chain broken at event 2: content does not match its hash." in flat(result.output)
    assert "1 events verified before it; the recorded head is event 5" in flat(result.output)


def test_cli_export_writes_every_event_to_a_file_or_stdout(db_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICOE_DATABASE_URL", db_url)
    engine = make_engine(db_url)
    append_chain(make_sessionmaker(engine), 7)
    out = tmp_path / "ledger.jsonl"
    result = runner.invoke(audit_cli, ["export", "--format", "jsonl", "--output", str(out), "--actor", "person3@"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["seq"], r["actor_label"], r["diff"]) for r in records] == [
        (3, "person3@example.com", {"name": ["Old 3", "New 3"]})]
    assert "Exported 1 events" in flat(result.output)

    result = runner.invoke(audit_cli, ["export", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(("seq", "ts", "actor_type", "actor_id", "actor_label", "action", "entity_type",
                                 "entity_id", "diff", "request_id", "prev_hash", "hash"))
    assert [line.split(",")[0] for line in lines[1:]] == [str(n) for n in range(1, 8)]

    result = runner.invoke(audit_cli, ["export", "--format", "xml"])
    assert result.exit_code == 2 and "'xml' is not one of 'csv', 'jsonl'" in flat(result.output)
    result = runner.invoke(audit_cli, ["export", "--from", "2024-02-01", "--to", "2024-01-01"])
    assert result.exit_code == 2 and "the end of the time range must come after its start" in flat(result.output)
    result = runner.invoke(audit_cli, ["export", "--from", "last week"])
    assert result.exit_code == 2 and "'last week' is not an ISO 8601 date or time" in flat(result.output)
    engine.dispose()


# --- the API -------------------------------------------------------------------------------------------------------

def auditor_headers(db: Session, **kwargs: Any) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, roles=[("auditor", None)]), **kwargs))


@pytest.fixture
def sample(db: Session) -> list[AuditEvent]:
    """Four business-unit events with awkward text (commas, quotes, newlines, non-ASCII) and a known request id."""
    token = request_id_var.set("req-1")
    try:
        alice = ledger.AuditActor("user", "41", "Alice Ng <alice@example.com>")
        bot = ledger.AuditActor("token", "7", "ci@example.com (token aic_x)")
        ledger.append(db, alice, "create", "business_unit", 10, {"name": [None, 'Risk, "Quant" team']})
        ledger.append(db, alice, "update", "business_unit", 10, {"description": ["", "line one\nline two"]})
        ledger.append(db, bot, "update", "business_unit", 11, {"name": ["Zürich", "Genève"]})
        ledger.append(db, ledger.SYSTEM, "delete", "business_unit", 11, {"code": ["GE", None]})
    finally:
        request_id_var.reset(token)
    db.commit()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "business_unit")
                           .order_by(AuditEvent.seq)))


def seqs(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["seq"] for item in response.json()["items"]]


def test_api_lists_and_filters_events(client: TestClient, db: Session, sample: list[AuditEvent]) -> None:
    headers = auditor_headers(db)
    a, b, c, d = (e.seq for e in sample)
    url = "/api/v1/audit-events"
    body = client.get(url, params={"entity_type": "business_unit"}, headers=headers).json()
    assert [i["seq"] for i in body["items"]] == [d, c, b, a]  # newest first
    assert (body["total"], body["offset"], body["next_offset"]) == (4, 0, None)
    assert body["items"][-1] == {
        "seq": a, "ts": isoformat(sample[0].ts), "actor_type": "user", "actor_id": "41",
        "actor_label": "Alice Ng <alice@example.com>", "action": "create", "entity_type": "business_unit",
        "entity_id": "10", "diff": {"name": [None, 'Risk, "Quant" team']}, "request_id": "req-1",
        "prev_hash": sample[0].prev_hash, "hash": sample[0].hash,
    }
    q = {"entity_type": "business_unit"}
    assert seqs(client.get(url, params={**q, "sort": "seq"}, headers=headers)) == [a, b, c, d]
    assert seqs(client.get(url, params={**q, "sort": "seq", "limit": 2, "offset": 1}, headers=headers)) == [b, c]
    assert seqs(client.get(url, params={**q, "entity_id": "11"}, headers=headers)) == [d, c]
    assert seqs(client.get(url, params={**q, "action": "update"}, headers=headers)) == [c, b]
    assert seqs(client.get(url, params={"actor": "41"}, headers=headers)) == [b, a]
    assert seqs(client.get(url, params={"actor": "ALICE@EXAMPLE"}, headers=headers)) == [b, a]
    assert seqs(client.get(url, params={"actor": "(token aic_"}, headers=headers)) == [c]
    assert seqs(client.get(url, params={"actor": "%"}, headers=headers)) == []  # wildcards are literal
    t_b, t_c = isoformat(sample[1].ts), isoformat(sample[2].ts)
    assert seqs(client.get(url, params={**q, "from": t_b, "to": t_c}, headers=headers)) == [b]
    assert seqs(client.get(url, params={**q, "from": t_c}, headers=headers)) == [d, c]
    assert seqs(client.get(url, params={**q, "to": "2000-01-01T00:00:00"}, headers=headers)) == []

    one = client.get(f"{url}/{c}", headers=headers)
    assert one.status_code == 200 and one.json()["diff"] == {"name": ["Zürich", "Genève"]}
    missing = client.get(f"{url}/999999", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_api_refuses_bad_filters(client: TestClient, db: Session) -> None:
    headers = auditor_headers(db)
    url = "/api/v1/audit-events"
    bad_sort = client.get(url, params={"sort": "actor_label"}, headers=headers)
    assert bad_sort.status_code == 422 and bad_sort.json()["errors"][0]["field"] == "sort"
    backwards = client.get(url, params={"from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"},
                           headers=headers)
    assert backwards.status_code == 422 and backwards.json()["errors"] == [
        {"field": "to", "message": "Must be later than “from”."}]
    assert client.get(url, params={"from": "yesterday"}, headers=headers).status_code == 422
    assert client.get(f"{url}/export", params={"format": "xml"}, headers=headers).status_code == 422


def expected_csv(events: list[AuditEvent]) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(ch in value for ch in ',"\n') else value

    lines = ["seq,ts,actor_type,actor_id,actor_label,action,entity_type,entity_id,diff,request_id,prev_hash,hash"]
    for e in events:
        lines.append(",".join([str(e.seq), isoformat(e.ts), e.actor_type, e.actor_id, quoted(e.actor_label),
                               e.action, e.entity_type, e.entity_id, quoted(e.diff), e.request_id, e.prev_hash,
                               e.hash]))
    return "\r\n".join(lines) + "\r\n"


def test_api_exports_csv_exactly(client: TestClient, db: Session, sample: list[AuditEvent]) -> None:
    response = client.get("/api/v1/audit-events/export",
                          params={"format": "csv", "entity_type": "business_unit"}, headers=auditor_headers(db))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="audit-events-')
    assert response.headers["content-disposition"].endswith('.csv"')
    assert sample[0].diff == '{"name":[null,"Risk, \\"Quant\\" team"]}'
    assert response.text == expected_csv(sample)
    assert '"{""name"":[null,""Risk, \\""Quant\\"" team""]}"' in response.text


def test_api_exports_json_lines_exactly(client: TestClient, db: Session, sample: list[AuditEvent]) -> None:
    response = client.get("/api/v1/audit-events/export",
                          params={"format": "jsonl", "entity_type": "business_unit", "entity_id": "11"},
                          headers=auditor_headers(db))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.jsonl"')
    c, d = sample[2], sample[3]
    assert response.text == (
        f'{{"seq":{c.seq},"ts":"{isoformat(c.ts)}","actor_type":"token","actor_id":"7",'
        f'"actor_label":"ci@example.com (token aic_x)","action":"update","entity_type":"business_unit",'
        f'"entity_id":"11","diff":{{"name":["Zürich","Genève"]}},"request_id":"req-1",'
        f'"prev_hash":"{c.prev_hash}","hash":"{c.hash}"}}\n'
        f'{{"seq":{d.seq},"ts":"{isoformat(d.ts)}","actor_type":"system","actor_id":"system",'
        f'"actor_label":"system","action":"delete","entity_type":"business_unit","entity_id":"11",'
        f'"diff":{{"code":["GE",null]}},"request_id":"req-1","prev_hash":"{d.prev_hash}","hash":"{d.hash}"}}\n'
    )
    for line in response.text.splitlines():  # each exported event's hash can be recomputed from the export
        r = json.loads(line)
        assert ledger.event_hash(r["seq"], r["ts"], r["actor_type"], r["actor_id"], r["actor_label"], r["action"],
                                 r["entity_type"], r["entity_id"], ledger.canonical_json(r["diff"]),
                                 r["request_id"], r["prev_hash"]) == r["hash"]


def test_export_streams_in_batches(db: Session, sample: list[AuditEvent]) -> None:
    chunks = list(audit_service.export_text(db, audit_service.AuditFilters(entity_type="business_unit"), "csv",
                                            batch=3))
    assert len(chunks) == 3  # the header, then one chunk per batch of at most three events
    assert "".join(chunks) == expected_csv(sample)
    assert list(audit_service.export_text(db, audit_service.AuditFilters(entity_type="nothing"), "jsonl")) == []


def test_api_verify_reports_ok_then_the_broken_event(client: TestClient, db: Session,
                                                     sample: list[AuditEvent]) -> None:
    headers = auditor_headers(db)
    body = client.get("/api/v1/audit-events/verify", headers=headers).json()
    head = body["head_seq"]
    head_hash = db.scalar(select(AuditEvent.hash).where(AuditEvent.seq == head))
    assert body == {"ok": True, "checked": head, "head_seq": head, "broken_seq": None, "reason": "",
                    "head_hash": head_hash}
    db.execute(update(AuditEvent).where(AuditEvent.seq == sample[1].seq).values(diff="{}"))
    db.commit()
    body = client.get("/api/v1/audit-events/verify", headers=headers).json()
    assert body == {"ok": False, "checked": sample[1].seq - 1, "head_seq": head, "broken_seq": sample[1].seq,
                    "reason": "content does not match its hash", "head_hash": ""}


AUDIT_API = ["/api/v1/audit-events", "/api/v1/audit-events/1", "/api/v1/audit-events/export?format=csv",
             "/api/v1/audit-events/verify"]


def test_no_route_edits_or_deletes_events(client: TestClient, db: Session, sample: list[AuditEvent]) -> None:
    headers = bearer(make_token(db, make_user(db)))  # an administrator
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = client.request(method, f"/api/v1/audit-events/{sample[0].seq}", headers=headers)
        assert response.status_code == 405, (method, response.status_code)
    assert client.post("/api/v1/audit-events", headers=headers, json={}).status_code == 405


def test_viewer_is_refused_everywhere(client: TestClient, db: Session) -> None:
    headers = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    for url in [*AUDIT_API, "/audit", "/audit/1", "/audit?verify=1"]:
        assert client.get(url, headers=headers).status_code == 403, url


@pytest.mark.parametrize("role", ["auditor", "risk_compliance", "coe_lead"])
def test_a_business_unit_grant_of_audit_permissions_counts_for_nothing(client: TestClient, db: Session,
                                                                        role: str) -> None:
    headers = bearer(make_token(db, make_user(db, roles=[(role, make_unit(db))])))
    for url in [*AUDIT_API, "/audit"]:
        assert client.get(url, headers=headers).status_code == 403, url


def test_audit_read_without_export(client: TestClient, db: Session, sample: list[AuditEvent]) -> None:
    lead = bearer(make_token(db, make_user(db, roles=[("coe_lead", None)])))
    assert client.get("/api/v1/audit-events", headers=lead).status_code == 200
    assert client.get("/api/v1/audit-events/verify", headers=lead).status_code == 200
    refused = client.get("/api/v1/audit-events/export", headers=lead)
    assert refused.status_code == 403 and "audit:export" in refused.json()["detail"]
    read_only_token = auditor_headers(db, scopes=["audit:read"])
    assert client.get("/api/v1/audit-events/export", headers=read_only_token).status_code == 403
    page = client.get("/audit", headers=lead)
    assert page.status_code == 200 and "Export CSV" not in page.text


# --- the UI --------------------------------------------------------------------------------------------------------

def test_audit_page_for_an_auditor(client: TestClient, db: Session, settings: Any,
                                   sample: list[AuditEvent]) -> None:
    user = make_user(db, roles=[("auditor", None)], password=PASSWORD, settings=settings,
                     email="auditor@example.com")
    login(client, user.email)
    page = client.get("/audit")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Audit trail</h1>" in html
    assert "Alice Ng &lt;alice@example.com&gt;" in html
    assert "<del>Zürich</del> → <ins>Genève</ins>" in html
    assert "<ins>Risk, &#34;Quant&#34; team</ins>" in html
    assert "auditor@example.com" in html  # the sign-in itself is on the trail
    assert 'href="/api/v1/audit-events/export?format=csv"' in html
    assert 'href="/api/v1/audit-events/export?format=jsonl"' in html

    filtered = client.get("/audit", params={"entity_id": "11", "entity_type": "business_unit",
                                            "from": "2000-01-01", "to": "2999-12-31"})
    assert filtered.status_code == 200
    assert "Genève" in filtered.text and "Quant" not in filtered.text
    assert ('href="/api/v1/audit-events/export?format=csv&amp;entity_type=business_unit&amp;entity_id=11'
            '&amp;from=2000-01-01T00%3A00%3A00.000000Z&amp;to=3000-01-01T00%3A00%3A00.000000Z"') in filtered.text
    export = client.get("/api/v1/audit-events/export",
                        params={"format": "csv", "entity_type": "business_unit", "entity_id": "11"})
    assert export.status_code == 200 and export.text == expected_csv(sample[2:])  # the cookie is enough

    bad = client.get("/audit", params={"from": "31/12/2024", "actor": "alice"})
    assert bad.status_code == 422
    assert "Enter a date as YYYY-MM-DD." in bad.text and 'value="alice"' in bad.text

    checked = client.get("/audit", params={"verify": "1"})
    assert "Chain intact." in checked.text

    detail = client.get(f"/audit/{sample[2].seq}")
    assert detail.status_code == 200
    assert sample[2].hash in detail.text and "<del>Zürich</del>" in detail.text
    assert client.get("/audit/999999").status_code == 404


def test_audit_page_shows_a_broken_chain(client: TestClient, db: Session, sample: list[AuditEvent]) -> None:
    db.execute(delete(AuditEvent).where(AuditEvent.seq == sample[1].seq))
    db.commit()
    page = client.get("/audit", params={"verify": "1"}, headers=auditor_headers(db))
    assert page.status_code == 200
    assert f"Chain broken at event {sample[1].seq}." in page.text
    assert "Event " + str(sample[1].seq) + " is missing." in page.text


def test_time_filters_compare_instants(db: Session, sample: list[AuditEvent]) -> None:
    """A bound given with an offset means the same instant as its UTC form; a naive one is read as UTC."""
    principal = Principal.resolve(db, make_user(db, roles=[("auditor", None)]))
    start = sample[1].ts
    expected = [e.seq for e in sample[1:]]
    for since in (start, start.astimezone(timezone(timedelta(hours=5, minutes=30))), start.replace(tzinfo=None)):
        page = audit_service.list_events(db, principal, PageParams(sort="seq"),
                                         audit_service.AuditFilters(entity_type="business_unit", since=since))
        assert [e.seq for e in page.items] == expected, since
