"""Gateway administration: provider keys encrypted at rest and never shown, routes with exact decimal prices,
guardrail policies validated by the engine and versioned, virtual keys shown once and scoped by business unit,
budgets, the configuration snapshot the proxy serves from and its version, the usage summary, and the CLI."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.app import create_app
from aicoe.cli.main import app as cli_app
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.gateway import budgets, cli_keys, keys, policies, providers, schemas, secrets, service
from aicoe.models.audit import AuditEvent
from aicoe.models.gateway import GatewayBudget, GatewayProvider, GatewaySpend, GuardrailPolicy, UsageRecord, VirtualKey
from aicoe.models.portfolio import UseCase
from tests.factories import bearer, make_settings, make_token, make_unit, make_user
from tests.gateway_factories import make_key, make_policy, make_provider, make_route
from tests.inventory_factories import make_system
from tests.portfolio_factories import make_use_case

API = "/api/v1/gateway"
UPSTREAM_SECRET = "sk-upstream-0123456789abcdef"
AWS_KEY_ID = "AKIA" + "Q" * 16


def headers_for(db: Session, **user_kwargs: Any) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))


def events(db: Session, entity_type: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq)))


def errors_of(response) -> dict[str, str]:  # noqa: ANN001
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


def ok(response, status: int = 200) -> Any:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture
def admin(db: Session) -> dict[str, str]:
    return headers_for(db)


# --- secrets and money ---------------------------------------------------------------------------------------------

def test_provider_keys_are_sealed_with_aes_gcm_under_a_derived_key(tmp_path: Path) -> None:
    settings = make_settings("sqlite://", tmp_path)
    token = secrets.encrypt(settings, UPSTREAM_SECRET)
    assert token.startswith("v1:") and UPSTREAM_SECRET not in token
    assert secrets.encrypt(settings, UPSTREAM_SECRET) != token  # a fresh nonce every time
    assert secrets.decrypt(settings, token) == UPSTREAM_SECRET
    other = make_settings("sqlite://", tmp_path, secret_key="o" * 48)
    for bad_settings, bad_token in [(other, token), (settings, "v2" + token[2:]), (settings, token[:-4] + "AAAA"),
                                    (settings, "v1:not-base64!")]:
        with pytest.raises(secrets.SecretUnreadable, match="cannot be decrypted"):
            secrets.decrypt(bad_settings, bad_token)


@pytest.mark.parametrize(("text", "micros"), [("2.50", 2_500_000), ("0.000001", 1), ("0", 0), ("1234.5", 1_234_500_000),
                                              ("0.1", 100_000)])
def test_amounts_convert_exactly_to_micro_units(text: str, micros: int) -> None:
    assert schemas.to_micros(text) == micros


def test_amounts_finer_than_a_micro_unit_or_negative_are_refused() -> None:
    with pytest.raises(ValueError, match=schemas.TOO_PRECISE):
        schemas.to_micros("0.0000001")
    with pytest.raises(ValueError, match=schemas.NEGATIVE):
        schemas.to_micros("-1")
    assert [schemas.from_micros(m) for m in (2_500_000, 125, 0, 1_000_000_000)] == ["2.50", "0.000125", "0.00",
                                                                                   "1000.00"]


# --- providers -----------------------------------------------------------------------------------------------------

def test_provider_api_key_is_stored_encrypted_and_never_returned(client: TestClient, db: Session,
                                                                   settings: Settings, admin: dict[str, str]) -> None:
    created = ok(client.post(f"{API}/providers", headers=admin, json={
        "name": "OpenAI", "kind": "openai", "base_url": "https://api.openai.com/v1/", "api_key": UPSTREAM_SECRET,
        "headers": {"OpenAI-Organization": "org-1"}}), 201)
    assert created["has_api_key"] is True and created["base_url"] == "https://api.openai.com/v1"
    assert "api_key" not in created and "api_key_encrypted" not in created
    listed = client.get(f"{API}/providers", headers=admin)
    assert UPSTREAM_SECRET not in listed.text and "v1:" not in listed.text
    db.rollback()
    row = db.get(GatewayProvider, created["id"])
    assert row is not None and row.api_key_encrypted is not None
    assert secrets.decrypt(settings, row.api_key_encrypted) == UPSTREAM_SECRET
    # omitted keeps the key, null removes it; the audit trail only says whether one is stored
    kept = ok(client.patch(f"{API}/providers/{created['id']}", headers=admin, json={"read_timeout_s": 30}))
    assert kept["has_api_key"] is True and kept["read_timeout_s"] == 30
    cleared = ok(client.patch(f"{API}/providers/{created['id']}", headers=admin, json={"api_key": None}))
    assert cleared["has_api_key"] is False
    trail = events(db, "gateway_provider")
    assert [e.action for e in trail] == ["create", "update", "update"]
    assert json.loads(trail[0].diff)["has_api_key"] == [False, True]
    assert json.loads(trail[2].diff) == {"has_api_key": [True, False]}
    assert all(UPSTREAM_SECRET not in e.diff and "v1:" not in e.diff for e in trail)


BAD_PROVIDERS = [
    ({"kind": "openai"}, "base_url", providers.URL_REQUIRED.format(kind="openai")),
    ({"kind": "openai_compatible", "base_url": "ftp://x"}, "base_url", providers.BAD_URL),
    ({"kind": "azure_openai", "base_url": "https://x.openai.azure.com"}, "api_version", providers.VERSION_REQUIRED),
    ({"kind": "openai", "base_url": "http://h", "headers": {"Authorization": "Bearer x"}}, "headers",
     providers.SECRET_HEADER),
]


@pytest.mark.parametrize(("fields", "field", "message"), BAD_PROVIDERS)
def test_invalid_providers_are_refused_with_the_field(client: TestClient, admin: dict[str, str],
                                                     fields: dict[str, Any], field: str, message: str) -> None:
    response = client.post(f"{API}/providers", headers=admin, json={"name": "P", **fields})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert errors_of(response) == {field: message}


def test_demo_provider_needs_no_url_and_names_are_unique(client: TestClient, admin: dict[str, str]) -> None:
    ok(client.post(f"{API}/providers", headers=admin, json={"name": "Demo", "kind": "demo"}), 201)
    response = client.post(f"{API}/providers", headers=admin, json={"name": "Demo", "kind": "demo"})
    assert errors_of(response) == {"name": providers.NAME_TAKEN.format(name="Demo")}


# --- routes --------------------------------------------------------------------------------------------------------

def test_routes_take_decimal_prices_exactly_and_keep_fallback_order(client: TestClient, db: Session,
                                                                    admin: dict[str, str]) -> None:
    provider = make_provider(db)
    body = {"alias": "gpt-4o", "provider_id": provider.id, "upstream_model": "gpt-4o-2024-08-06"}
    second = ok(client.post(f"{API}/routes", headers=admin, json={**body, "priority": 1,
                                                                  "price_input_micros_per_mtok": 150_000}), 201)
    first = ok(client.post(f"{API}/routes", headers=admin, json={**body, "price_input_per_mtok": "2.50",
                                                                 "price_output_per_mtok": "10"}), 201)
    assert (first["price_input_micros_per_mtok"], first["price_input_per_mtok"]) == (2_500_000, "2.50")
    assert (first["price_output_micros_per_mtok"], first["price_output_per_mtok"]) == (10_000_000, "10.00")
    assert second["price_input_per_mtok"] == "0.15" and first["provider_name"] == provider.name
    listed = ok(client.get(f"{API}/routes", headers=admin, params={"alias": "gpt-4o"}))
    assert [r["id"] for r in listed] == [first["id"], second["id"]]
    refused = [
        ({**body, "priority": 1}, {"priority": providers.PRIORITY_TAKEN.format(alias="gpt-4o", priority=1)}),
        ({**body, "priority": 2, "kind": "embedding"},
         {"kind": providers.KIND_MISMATCH.format(alias="gpt-4o", kind="chat")}),
        ({**body, "priority": 2, "price_input_per_mtok": "1", "price_input_micros_per_mtok": 1},
         {"price_input_per_mtok": providers.BOTH_PRICES}),
        ({**body, "priority": 2, "provider_id": 999}, {"provider_id": providers.NO_PROVIDER.format(id=999)}),
    ]
    for payload, expected in refused:
        assert errors_of(client.post(f"{API}/routes", headers=admin, json=payload)) == expected
    too_fine = client.post(f"{API}/routes", headers=admin, json={**body, "priority": 3,
                                                                "price_input_per_mtok": "0.0000001"})
    assert too_fine.status_code == 422 and schemas.TOO_PRECISE in too_fine.text
    updated = ok(client.patch(f"{API}/routes/{second['id']}", headers=admin, json={"price_output_per_mtok": "0.6"}))
    assert updated["price_output_micros_per_mtok"] == 600_000
    ok(client.delete(f"{API}/providers/{provider.id}", headers=admin), 204)
    assert ok(client.get(f"{API}/routes", headers=admin)) == []
    assert [e.action for e in events(db, "gateway_route")] == ["create", "create", "update", "delete", "delete"]


# --- policies ------------------------------------------------------------------------------------------------------

PII_RULE = {"id": "pii", "kind": "pii", "action": "anonymise", "direction": "input", "params": {}}
SECRETS_RULE = {"id": "secrets", "kind": "secrets", "action": "block", "direction": "input", "params": {}}


def test_policies_are_validated_by_the_engine_versioned_and_one_is_default(client: TestClient, db: Session,
                                                                          admin: dict[str, str]) -> None:
    bad = client.post(f"{API}/policies", headers=admin, json={
        "name": "Bad", "rules": [{"id": "x", "kind": "injection", "action": "anonymise"}]})
    assert bad.status_code == 422 and list(errors_of(bad)) == ["rules"]
    assert errors_of(bad)["rules"].startswith("The rules are invalid: ") and "anonymise" in errors_of(bad)["rules"]
    first = ok(client.post(f"{API}/policies", headers=admin, json={"name": "Strict", "rules": [PII_RULE],
                                                                   "is_default": True}), 201)
    assert first["version"] == 1 and first["is_default"] is True
    second = ok(client.post(f"{API}/policies", headers=admin, json={"name": "Lenient", "rules": [SECRETS_RULE],
                                                                    "is_default": True}), 201)
    db.rollback()
    assert policies.default_policy(db).id == second["id"]  # type: ignore[union-attr]
    assert ok(client.get(f"{API}/policies/{first['id']}", headers=admin))["is_default"] is False
    changed = ok(client.patch(f"{API}/policies/{first['id']}", headers=admin,
                              json={"rules": [PII_RULE, SECRETS_RULE], "fail_open": True}))
    assert changed["version"] == 2 and [r["id"] for r in changed["rules"]] == ["pii", "secrets"]
    unchanged = ok(client.patch(f"{API}/policies/{first['id']}", headers=admin, json={"fail_open": True}))
    assert unchanged["version"] == 2
    taken = client.patch(f"{API}/policies/{first['id']}", headers=admin, json={"name": "Lenient"})
    assert errors_of(taken) == {"name": policies.NAME_TAKEN.format(name="Lenient")}
    # in use by a key, or the default: not deletable
    make_key(db, make_unit(db), policy=db.get(GuardrailPolicy, first["id"]))
    in_use = client.delete(f"{API}/policies/{first['id']}", headers=admin)
    assert in_use.status_code == 409 and in_use.json()["detail"] == policies.IN_USE.format(name="Strict", count=1)
    default = client.delete(f"{API}/policies/{second['id']}", headers=admin)
    assert default.json()["detail"] == policies.DEFAULT_UNDELETABLE.format(name="Lenient")
    assert [e.action for e in events(db, "guardrail_policy")] == ["create", "create", "update", "update"]


# --- keys ----------------------------------------------------------------------------------------------------------

def test_a_key_is_shown_once_and_stored_only_as_its_hash(client: TestClient, db: Session,
                                                         admin: dict[str, str]) -> None:
    unit = make_unit(db)
    use_case = make_use_case(db, unit=unit)
    system = make_system(db, unit=unit)
    make_route(db, make_provider(db), alias="chat-small")
    expires = (utcnow() + timedelta(days=30)).isoformat()
    created = ok(client.post(f"{API}/keys", headers=admin, json={
        "name": "Support bot", "business_unit_id": unit.id, "use_case_id": use_case.id, "ai_system_id": system.id,
        "allowed_aliases": ["chat-small"], "rpm_limit": 60, "tpm_limit": 10_000, "logging": "redacted",
        "expires_at": expires, "budgets": [{"period": "month", "amount": "25.00"}]}), 201)
    raw = created["key"]
    assert raw.startswith(keys.KEY_PREFIX) and len(raw) == len(keys.KEY_PREFIX) + 32
    assert created["prefix"] == raw[:12] and created["status"] == "active"
    db.rollback()
    row = db.get(VirtualKey, created["id"])
    assert row is not None and row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    for response in (client.get(f"{API}/keys", headers=admin), client.get(f"{API}/keys/{row.id}", headers=admin)):
        assert raw not in response.text and row.key_hash not in response.text and '"key"' not in response.text
    trail = [*events(db, "gateway_key"), *events(db, "gateway_budget")]
    assert [(e.entity_type, e.action) for e in trail] == [("gateway_key", "create"), ("gateway_budget", "create")]
    assert all(raw not in e.diff and row.key_hash not in e.diff for e in trail)
    assert [(b.scope, b.scope_id, b.period, b.limit_micros) for b in db.scalars(select(GatewayBudget))] == [
        ("key", row.id, "month", 25_000_000)]


def test_key_owner_use_case_system_aliases_and_policy_are_checked(client: TestClient, db: Session,
                                                                  admin: dict[str, str]) -> None:
    unit, other = make_unit(db), make_unit(db)
    foreign_case, foreign_system = make_use_case(db, unit=other), make_system(db, unit=other)
    base = {"name": "k", "business_unit_id": unit.id}
    cases = [
        ({"business_unit_id": 999}, {"business_unit_id": keys.NO_UNIT.format(id=999)}),
        ({"use_case_id": foreign_case.id}, {"use_case_id": keys.NO_USE_CASE.format(id=foreign_case.id, unit=unit.id)}),
        ({"ai_system_id": foreign_system.id},
         {"ai_system_id": keys.NO_AI_SYSTEM.format(id=foreign_system.id, unit=unit.id)}),
        ({"allowed_aliases": ["nope", "gone"]}, {"allowed_aliases": keys.UNKNOWN_ALIASES.format(aliases="gone, nope")}),
        ({"policy_id": 999}, {"policy_id": keys.NO_POLICY.format(id=999)}),
        ({"expires_at": (utcnow() - timedelta(minutes=1)).isoformat()}, {"expires_at": keys.EXPIRY_PAST}),
    ]
    for fields, expected in cases:
        response = client.post(f"{API}/keys", headers=admin, json={**base, **fields})
        assert response.status_code == 422, fields
        assert errors_of(response) == expected
    bad_logging = client.post(f"{API}/keys", headers=admin, json={**base, "logging": "everything"})
    assert bad_logging.status_code == 422 and "logging" in errors_of(bad_logging)


def test_keys_are_scoped_to_the_units_where_the_caller_holds_the_permission(client: TestClient, db: Session,
                                                                             admin: dict[str, str]) -> None:
    mine, theirs = make_unit(db), make_unit(db)
    practitioner = headers_for(db, roles=[("practitioner", mine)])
    own = ok(client.post(f"{API}/keys", headers=practitioner, json={"name": "mine", "business_unit_id": mine.id}),
             201)
    refused = client.post(f"{API}/keys", headers=practitioner, json={"name": "x", "business_unit_id": theirs.id})
    assert errors_of(refused) == {"business_unit_id": keys.NO_UNIT.format(id=theirs.id)}
    foreign, _ = make_key(db, theirs)
    listed = ok(client.get(f"{API}/keys", headers=practitioner))
    assert [k["id"] for k in listed["items"]] == [own["id"]]
    assert client.get(f"{API}/keys/{foreign.id}", headers=practitioner).status_code == 404
    assert client.post(f"{API}/keys/{foreign.id}/revoke", headers=practitioner).status_code == 404
    assert {k["id"] for k in ok(client.get(f"{API}/keys", headers=admin))["items"]} == {own["id"], foreign.id}


def test_revoking_and_expiry_show_in_status_and_filters(client: TestClient, db: Session,
                                                        admin: dict[str, str]) -> None:
    unit = make_unit(db)
    live, _ = make_key(db, unit)
    expired, _ = make_key(db, unit, expires_at=utcnow() - timedelta(days=1))
    revoked = ok(client.post(f"{API}/keys/{live.id}/revoke", headers=admin))
    assert revoked["status"] == "revoked" and revoked["revoked_at"] is not None
    again = client.post(f"{API}/keys/{live.id}/revoke", headers=admin)
    assert again.status_code == 409 and again.json()["detail"] == keys.ALREADY_REVOKED.format(id=live.id)
    fresh, _ = make_key(db, unit)
    by_status = {s: [k["id"] for k in ok(client.get(f"{API}/keys", headers=admin, params={"status": s}))["items"]]
                 for s in keys.STATUSES}
    assert by_status == {"active": [fresh.id], "expired": [expired.id], "revoked": [live.id]}
    updated = ok(client.patch(f"{API}/keys/{fresh.id}", headers=admin, json={"rpm_limit": 5, "logging": "full"}))
    assert (updated["rpm_limit"], updated["logging"]) == (5, "full")
    assert [e.action for e in events(db, "gateway_key")] == ["revoke", "update"]


# --- budgets -------------------------------------------------------------------------------------------------------

def test_budgets_are_set_replaced_and_report_the_current_period(client: TestClient, db: Session,
                                                                admin: dict[str, str]) -> None:
    unit = make_unit(db)
    use_case = make_use_case(db, unit=unit)
    key, _ = make_key(db, unit, use_case=use_case)
    set_ = ok(client.put(f"{API}/budgets", headers=admin, json={"scope": "use_case", "scope_id": use_case.id,
                                                               "period": "month", "amount": "100.50"}))
    assert (set_["limit_micros"], set_["amount"]) == (100_500_000, "100.50")
    again = ok(client.put(f"{API}/budgets", headers=admin, json={"scope": "use_case", "scope_id": use_case.id,
                                                                "period": "month", "amount": "80"}))
    assert again["id"] == set_["id"] and again["limit_micros"] == 80_000_000
    ok(client.put(f"{API}/budgets", headers=admin, json={"scope": "business_unit", "scope_id": unit.id,
                                                        "period": "day", "amount": "5"}))
    ok(client.put(f"{API}/budgets", headers=admin, json={"scope": "key", "scope_id": key.id, "period": "total",
                                                        "amount": "1"}))
    missing = client.put(f"{API}/budgets", headers=admin, json={"scope": "key", "scope_id": 999, "amount": "1"})
    assert errors_of(missing) == {"scope_id": budgets.NO_SCOPE.format(scope="key", id=999)}
    period = budgets.period_start("month")
    db.add(GatewaySpend(scope="use_case", scope_id=use_case.id, period_start=period, spent_micros=1_250_000,
                        reserved_micros=10))
    db.commit()
    listed = ok(client.get(f"{API}/budgets", headers=admin, params={"scope": "use_case"}))
    assert [(b["period_start"], b["spent_micros"], b["reserved_micros"], b["spent"]) for b in listed] == [
        (period, 1_250_000, 10, "1.25")]
    db.rollback()
    refs = budgets.budgets_for(db, db.get(VirtualKey, key.id))  # type: ignore[arg-type]
    assert sorted((r.scope, r.period, r.limit_micros) for r in refs) == [
        ("business_unit", "day", 5_000_000), ("key", "total", 1_000_000), ("use_case", "month", 80_000_000)]
    ok(client.delete(f"{API}/budgets/{set_['id']}", headers=admin), 204)
    assert [e.action for e in events(db, "gateway_budget")] == ["create", "update", "create", "create", "delete"]
    member = headers_for(db, roles=[("practitioner", make_unit(db))])
    assert ok(client.get(f"{API}/budgets", headers=member)) == []


# --- the configuration snapshot, on both backends ------------------------------------------------------------------

@pytest.fixture
def backend_app(any_db_url: str, tmp_path: Path):  # noqa: ANN201
    return create_app(make_settings(any_db_url, tmp_path))


def test_load_config_serves_enabled_routes_in_order_and_keeps_revoked_keys(backend_app) -> None:  # noqa: ANN001
    settings: Settings = backend_app.state.settings
    db: Session = backend_app.state.sessionmaker()
    try:
        unit = make_unit(db)
        use_case = make_use_case(db, unit=unit)
        primary = make_provider(db, kind="openai", base_url="https://a.example/v1", api_key=UPSTREAM_SECRET,
                                settings=settings)
        fallback = make_provider(db, kind="openai_compatible", base_url="http://b.example/v1")
        off = make_provider(db, enabled=False)
        make_route(db, fallback, alias="chat", priority=5, upstream_model="llama")
        make_route(db, primary, alias="chat", priority=0, upstream_model="gpt-4o", price_input_micros_per_mtok=7)
        make_route(db, primary, alias="chat", priority=9, enabled=False)
        make_route(db, off, alias="hidden")
        policy = make_policy(db, is_default=True)
        live, live_raw = make_key(db, unit, use_case=use_case, allowed_aliases=["chat"], rpm_limit=3)
        _, dead_raw = make_key(db, unit, revoked_at=utcnow())
        db.add(GatewayBudget(scope="use_case", scope_id=use_case.id, period="month", limit_micros=9))
        db.commit()
        config = service.load_config(db, settings)
        assert set(config.routes) == {"chat"}
        assert [(r.upstream_model, r.provider.api_key) for r in config.routes["chat"]] == [
            ("gpt-4o", UPSTREAM_SECRET), ("llama", None)]
        assert config.routes["chat"][0].price_input_micros_per_mtok == 7
        assert config.default_policy_id == policy.id and set(config.policies) == {policy.id}
        key = config.keys[keys.hash_key(live_raw)]
        assert (key.id, key.allowed_aliases, key.rpm_limit, key.revoked, key.policy_id) == (
            live.id, frozenset({"chat"}), 3, False, None)
        assert [(b.scope, b.scope_id, b.limit_micros) for b in key.budgets] == [("use_case", use_case.id, 9)]
        assert config.keys[keys.hash_key(dead_raw)].revoked is True
        assert config.version == service.config_version(db)
    finally:
        db.close()


def test_config_version_changes_with_every_kind_of_change(db: Session, admin: dict[str, str],
                                                          client: TestClient) -> None:
    unit = make_unit(db)
    seen = [service.config_version(db)]

    def changed() -> None:
        db.rollback()
        version = service.config_version(db)
        assert version not in seen
        seen.append(version)

    provider = make_provider(db)
    changed()
    route = make_route(db, provider)
    changed()
    make_policy(db)
    changed()
    key, _ = make_key(db, unit)
    changed()
    ok(client.patch(f"{API}/keys/{key.id}", headers=admin, json={"tpm_limit": 100}))
    changed()
    ok(client.post(f"{API}/keys/{key.id}/revoke", headers=admin))
    changed()
    ok(client.put(f"{API}/budgets", headers=admin, json={"scope": "key", "scope_id": key.id, "amount": "3"}))
    changed()
    ok(client.patch(f"{API}/routes/{route.id}", headers=admin, json={"enabled": False}))
    changed()
    ok(client.delete(f"{API}/routes/{route.id}", headers=admin), 204)
    changed()
    db.rollback()
    assert service.config_version(db) == seen[-1]  # and stays put while nothing changes


def test_a_provider_key_sealed_under_another_secret_leaves_that_provider_out(db: Session, settings: Settings,
                                                                            tmp_path: Path) -> None:
    other = make_settings("sqlite://", tmp_path, secret_key="z" * 48)
    make_route(db, make_provider(db, kind="openai", base_url="https://x/v1", api_key="k", settings=other),
               alias="sealed")
    make_route(db, make_provider(db), alias="demo")
    assert set(service.load_config(db, settings).routes) == {"demo"}


# --- usage ---------------------------------------------------------------------------------------------------------

def test_usage_summary_aggregates_per_group_with_percentiles_and_scope(backend_app) -> None:  # noqa: ANN001
    db: Session = backend_app.state.sessionmaker()
    try:
        unit, other = make_unit(db), make_unit(db)
        use_case = make_use_case(db, unit=unit)
        now = utcnow()
        for n in range(1, 11):
            db.add(UsageRecord(request_id=f"r{n}", business_unit_id=unit.id, use_case_id=use_case.id,
                               endpoint="chat", alias="chat", tokens_in=10, tokens_out=5, cost_micros=1_000,
                               latency_ms=float(n * 10), outcome="error" if n == 1 else "ok",
                               guardrail="blocked" if n <= 2 else "pass", ts=now - timedelta(hours=1)))
        db.add(UsageRecord(request_id="x", business_unit_id=other.id, endpoint="chat", alias="embed",
                           latency_ms=1.0, outcome="ok", ts=now - timedelta(days=3)))
        db.commit()
        member = headers_for(db, roles=[("practitioner", unit)])
        with TestClient(backend_app) as client:
            by_case = ok(client.get(f"{API}/usage", headers=member, params={"group_by": "use_case"}))
            assert by_case["currency"] == "EUR" and "from" in by_case
            assert by_case["rows"] == [{
                "group": str(use_case.id), "label": f"{use_case.key} {use_case.title}", "requests": 10,
                "tokens_in": 100, "tokens_out": 50, "cost_micros": 10_000, "cost": "0.01", "latency_p50_ms": 50.0,
                "latency_p95_ms": 100.0, "interventions": 2, "intervention_rate": 0.2, "errors": 1}]
            admin = headers_for(db)
            models = ok(client.get(f"{API}/usage", headers=admin, params={"group_by": "model"}))["rows"]
            assert [(r["group"], r["requests"]) for r in models] == [("chat", 10), ("embed", 1)]
            recent = ok(client.get(f"{API}/usage", headers=admin, params={
                "group_by": "business_unit", "from": (now - timedelta(days=1)).isoformat()}))["rows"]
            assert [(r["label"], r["requests"]) for r in recent] == [(unit.name, 10)]
            days = ok(client.get(f"{API}/usage", headers=admin, params={"group_by": "day"}))["rows"]
            assert sum(r["requests"] for r in days) == 11 and len(days) == 2
            bad = client.get(f"{API}/usage", headers=admin, params={"group_by": "colour"})
            assert bad.status_code == 422 and "group_by" in errors_of(bad)
    finally:
        db.close()


# --- the CLI -------------------------------------------------------------------------------------------------------

def test_cli_creates_a_key_printed_once_lists_and_revokes_it(cli_db: Session) -> None:
    unit = make_unit(cli_db, code="RET")
    make_use_case(cli_db, unit=unit)
    use_case_key = cli_db.scalars(select(UseCase.key)).one()
    make_route(cli_db, make_provider(cli_db), alias="chat")
    runner = CliRunner()
    created = runner.invoke(cli_app, ["gateway", "key", "create", "--unit", "ret", "--name", "Batch job",
                                      "--use-case", use_case_key, "--alias", "chat", "--rpm", "30",
                                      "--budget", "12.5", "--period", "day", "--logging", "redacted",
                                      "--expires", "2999-01-01"])
    assert created.exit_code == 0, created.output
    raw = next(line for line in created.output.splitlines() if line.startswith(keys.KEY_PREFIX))
    assert cli_keys.SHOWN_ONCE in created.output
    cli_db.rollback()
    key = cli_db.scalars(select(VirtualKey)).one()
    assert key.key_hash == keys.hash_key(raw) and key.rpm_limit == 30 and key.allowed_aliases == ["chat"]
    assert cli_db.scalars(select(GatewayBudget.limit_micros)).one() == 12_500_000
    listed = runner.invoke(cli_app, ["gateway", "key", "list"])
    assert listed.exit_code == 0 and "Batch job" in listed.output and raw not in listed.output
    revoked = runner.invoke(cli_app, ["gateway", "key", "revoke", str(key.id)])
    assert revoked.exit_code == 0 and cli_keys.REVOKED.format(id=key.id, prefix=key.prefix) in revoked.output
    again = runner.invoke(cli_app, ["gateway", "key", "revoke", str(key.id)])
    assert again.exit_code == 1 and keys.ALREADY_REVOKED.format(id=key.id) in again.output
    unknown = runner.invoke(cli_app, ["gateway", "key", "create", "--unit", "NOPE", "--name", "x"])
    assert unknown.exit_code == 1 and cli_keys.NO_UNIT.format(code="NOPE") in unknown.output


# --- the "try it" check --------------------------------------------------------------------------------------------

def test_try_it_shows_what_a_policy_does_without_the_matched_values(client: TestClient, db: Session,
                                                                   admin: dict[str, str]) -> None:
    policy = make_policy(db, rules=[PII_RULE, SECRETS_RULE])
    email = "jane.doe@example.com"
    tried = ok(client.post(f"{API}/policies/{policy.id}/try", headers=admin,
                           json={"text": f"Write to {email} about the refund"}))
    assert tried["action"] == "anonymise" and email not in json.dumps(tried)
    assert tried["text"].startswith("Write to <") and tried["text"].endswith("> about the refund")
    assert [(f["rule"], f["kind"]) for f in tried["findings"]] == [("pii", "pii")]
    assert tried["findings"][0]["start"] == len("Write to ")
    unsaved = ok(client.post(f"{API}/policy-check", headers=admin, json={
        "rules": [{**SECRETS_RULE, "direction": "both"}], "text": f"key: {AWS_KEY_ID}", "direction": "output"}))
    assert unsaved["action"] == "block" and unsaved["text"] is None and unsaved["reason"]
    assert AWS_KEY_ID not in json.dumps(unsaved)
    invalid = client.post(f"{API}/policy-check", headers=admin, json={"rules": [{"id": "x"}], "text": "hi"})
    assert invalid.status_code == 422 and list(errors_of(invalid)) == ["rules"]
