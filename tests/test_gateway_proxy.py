"""The /v1 proxy end to end: the official openai SDK -> the gateway served by uvicorn -> the stub upstream.

Each test arranges providers, routes, keys and policies in a fresh database first, then starts the gateway (the
runtime loads its snapshot at start), and reads usage records after stopping it (the writer flushes on stop).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aicoe.app import create_app
from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.net import tcp_listener
from aicoe.core.time import utcnow
from aicoe.gateway import errors
from aicoe.gateway.app import create_gateway_app
from aicoe.gateway.limits import BudgetRef, LimitStore
from aicoe.gateway.runtime import GatewayRuntime
from aicoe.gateway.serve import CORK_LIMIT, CorkedTransport
from aicoe.gateway.stub_upstream import StubState, make_stub_app, serve_in_thread
from aicoe.models.gateway import GatewayBudget, GatewaySpend, GuardrailEvent, PromptLog, UsageRecord
from aicoe.models.org import BusinessUnit
from tests.factories import make_settings, make_unit
from tests.gateway_factories import make_key, make_policy, make_provider, make_route

ALIAS = "gpt-test"
UPSTREAM_MODEL = "stub-model-v1"
UPSTREAM_KEY = "sk-upstream-secret"
EMAIL = "jane.doe@example.com"
REDIS_URL = os.environ.get("AICOE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Gateway:
    base_url: str
    runtime: GatewayRuntime

    def client(self, key: str, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, **kwargs)

    def async_client(self, key: str, **kwargs: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=key, max_retries=0, **kwargs)


@contextmanager
def serve_gateway(settings: Settings, factory: sessionmaker[Session], *,
                  store: LimitStore | None = None) -> Iterator[Gateway]:
    """The standalone gateway app under uvicorn (lifespan on) in a thread; stopped (and flushed) on exit."""
    runtime = GatewayRuntime(settings, factory, store=store)
    app = create_gateway_app(settings, runtime=runtime)
    sock = tcp_listener("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.005)
    try:
        yield Gateway(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class World:
    settings: Settings
    session: Session
    factory: sessionmaker[Session]
    stub: StubState
    stub_url: str
    unit: BusinessUnit

    def provider_and_route(self, *, alias: str = ALIAS, **route_fields: Any) -> None:
        provider = make_provider(self.session, kind="openai_compatible", base_url=self.stub_url,
                                 api_key=UPSTREAM_KEY, settings=self.settings, max_retries=0)
        make_route(self.session, provider, alias=alias, upstream_model=UPSTREAM_MODEL, **route_fields)

    def rows(self, model: Any) -> list[Any]:
        self.session.rollback()
        return list(self.session.scalars(select(model).order_by(model.id)))


@contextmanager
def make_world(db_url: str, tmp_path: Path, **settings: Any) -> Iterator[World]:
    """A database, a business unit and a stub upstream served in a thread."""
    values: dict[str, Any] = {"gateway_usage_flush_s": 0.05, **settings}
    settings_ = make_settings(db_url, tmp_path, **values)
    engine = make_engine(settings_.effective_database_url)
    factory = make_sessionmaker(engine, settings=settings_)
    session = factory()
    app = make_stub_app()
    try:
        with serve_in_thread(app) as stub_url:
            yield World(settings_, session, factory, app.state.stub, stub_url, make_unit(session))
    finally:
        session.close()
        engine.dispose()


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    """On SQLite: for behaviour that does not depend on the database."""
    with make_world(db_url, tmp_path) as built:
        yield built


@pytest.fixture
def any_world(any_db_url: str, tmp_path: Path) -> Iterator[World]:
    """On SQLite and PostgreSQL: for what the database stores or enforces (usage, events, budgets)."""
    with make_world(any_db_url, tmp_path) as built:
        yield built


def test_chat_embeddings_and_models_through_the_sdk(any_world: World) -> None:
    world = any_world
    world.provider_and_route(price_input_micros_per_mtok=2_000_000, price_output_micros_per_mtok=8_000_000)
    world.provider_and_route(alias="embed-test", kind="embedding", price_input_micros_per_mtok=100_000)
    key, raw = make_key(world.session, world.unit)
    with serve_gateway(world.settings, world.factory) as gw:
        client = gw.client(raw)
        answer = client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Hi there"}])
        vectors = client.embeddings.create(model="embed-test", input=["one", "two"])
        models = client.models.list()
    assert answer.choices[0].message.content == world.stub.content
    sent = world.stub.requests[0]
    assert sent.body["model"] == UPSTREAM_MODEL and sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert [len(d.embedding) for d in vectors.data] == [8, 8]
    assert sorted(m.id for m in models.data) == ["embed-test", ALIAS]
    chat, embed = world.rows(UsageRecord)
    usage = answer.usage
    assert (chat.key_id, chat.business_unit_id, chat.endpoint, chat.alias, chat.upstream_model) == (
        key.id, world.unit.id, "chat", ALIAS, UPSTREAM_MODEL)
    assert (chat.tokens_in, chat.tokens_out, chat.outcome, chat.guardrail, chat.upstream_status) == (
        usage.prompt_tokens, usage.completion_tokens, "ok", "pass", 200)
    assert chat.cost_micros == -(-(usage.prompt_tokens * 2_000_000 + usage.completion_tokens * 8_000_000)
                                 // 1_000_000)
    assert (embed.endpoint, embed.tokens_in, embed.cost_micros) == ("embeddings", vectors.usage.prompt_tokens, 1)
    assert world.rows(PromptLog) == []  # logging is off by default


def test_tool_calls_pass_through_untouched(world: World) -> None:
    world.provider_and_route()
    _, raw = make_key(world.session, world.unit)
    tools = [{"type": "function", "function": {"name": "lookup", "description": "Look a thing up",
                                               "parameters": {"type": "object", "properties": {}}}}]
    with serve_gateway(world.settings, world.factory) as gw:
        answer = gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "find it"}], tools=tools, tool_choice="auto")
    call = answer.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments, answer.choices[0].finish_reason) == (
        "lookup", '{"echo": true}', "tool_calls")
    assert world.stub.requests[0].body["tools"] == tools


def test_key_and_request_errors_are_openai_errors(world: World) -> None:
    world.provider_and_route()
    world.provider_and_route(alias="other-model")
    _, raw = make_key(world.session, world.unit, allowed_aliases=[ALIAS])
    _, revoked = make_key(world.session, world.unit, revoked_at=utcnow())
    _, expired = make_key(world.session, world.unit, expires_at=utcnow() - timedelta(minutes=1))
    messages = [{"role": "user", "content": "hello"}]
    with serve_gateway(world.settings.model_copy(update={"gateway_max_request_bytes": 2048}), world.factory) as gw:
        for bad, message in ((raw + "x", errors.INVALID_KEY), (revoked, errors.REVOKED_KEY),
                             (expired, errors.EXPIRED_KEY)):
            with pytest.raises(openai.AuthenticationError) as caught:
                gw.client(bad).chat.completions.create(model=ALIAS, messages=messages)
            assert caught.value.body == {"message": message, "type": "invalid_request_error", "param": None,
                                         "code": "invalid_api_key"}
        client = gw.client(raw)
        with pytest.raises(openai.PermissionDeniedError) as denied:
            client.chat.completions.create(model="other-model", messages=messages)
        assert denied.value.body["message"] == errors.MODEL_NOT_ALLOWED.format(model="other-model")
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(model="no-such-model", messages=messages)
        assert missing.value.code == "model_not_found"
        with pytest.raises(openai.APIStatusError) as too_large:
            client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "x" * 4096}])
        assert too_large.value.status_code == 413
        assert too_large.value.body["message"] == errors.BODY_TOO_LARGE.format(limit=2048)
        world.stub.fail(400, body={"error": {"message": "bad temperature", "type": "invalid_request_error",
                                             "param": "temperature", "code": None}})
        with pytest.raises(openai.BadRequestError) as upstream:
            client.chat.completions.create(model=ALIAS, messages=messages, temperature=9)
        assert (upstream.value.body["message"], upstream.value.param) == ("bad temperature", "temperature")
        raw_http = httpx2.post(f"{gw.base_url}/chat/completions", content=b"{not json",
                               headers={"Authorization": f"Bearer {raw}"})
        assert raw_http.status_code == 400 and raw_http.json()["error"]["message"] == errors.INVALID_JSON
    outcomes = [(r.outcome, r.error) for r in world.rows(UsageRecord)]
    assert ("rejected", "model_not_allowed") in outcomes and ("error", "upstream 400") in outcomes
    assert all(r.key_id is not None for r in world.rows(UsageRecord))  # unknown keys leave no record


def test_a_caller_leaving_while_the_upstream_thinks_cancels_the_call_at_once(world: World) -> None:
    """Non-streamed: the caller's disconnect cancels the upstream call (no waiting for the answer); the call is
    recorded as cancelled. A caller gone before its body arrived is cancelled too."""
    world.provider_and_route()
    _, raw = make_key(world.session, world.unit)
    world.stub.stall(5.0)
    body = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}]}' % ALIAS.encode()
    with serve_gateway(world.settings, world.factory) as gw:
        url = httpx2.URL(gw.base_url)
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Bearer {raw}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection((url.host, url.port)) as caller:
            caller.sendall(head + body)
            time.sleep(0.3)
        with socket.create_connection((url.host, url.port)) as caller:
            caller.sendall(head + body[:10])  # the rest never comes
            time.sleep(0.3)
        deadline = time.monotonic() + 3.0  # well before the stalled answer (5 s)
        while len(world.rows(UsageRecord)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(r.outcome, r.upstream_status) for r in world.rows(UsageRecord)] == [("cancelled", None)] * 2
        assert world.stub.count("/v1/chat/completions") == 1


def test_rpm_limit_answers_429_with_retry_after(world: World) -> None:
    world.provider_and_route()
    _, raw = make_key(world.session, world.unit, rpm_limit=2)
    messages = [{"role": "user", "content": "hello"}]
    with serve_gateway(world.settings, world.factory) as gw:
        client = gw.client(raw)
        for _ in range(2):
            client.chat.completions.create(model=ALIAS, messages=messages)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=ALIAS, messages=messages)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.body["message"] == "Rate limit reached: this key allows 2 requests per minute."
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert world.stub.count("/v1/chat/completions") == 2


def test_budget_exhausted_is_429_budget_exceeded(world: World) -> None:
    world.provider_and_route(price_output_micros_per_mtok=1_000_000_000)  # 1,000 units per million output tokens
    key, raw = make_key(world.session, world.unit)
    world.session.add(GatewayBudget(scope="key", scope_id=key.id, period="month", limit_micros=50_000))
    world.session.commit()
    with serve_gateway(world.settings, world.factory) as gw:
        with pytest.raises(openai.RateLimitError) as caught:  # 100 tokens may cost 100,000 micros > 50,000
            gw.client(raw).chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "hi"}],
                                                   max_tokens=100)
    assert (caught.value.code, caught.value.type) == ("budget_exceeded", "insufficient_quota")
    assert caught.value.body["message"] == ("Budget exhausted: the key monthly budget has no room for this "
                                            "request's maximum cost.")
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert world.stub.requests == []


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_budget_is_exact_under_50_concurrent_requests(any_world: World, backend: str) -> None:
    """Each request reserves and spends exactly 10 output tokens (the stub's 40-character answer), so exactly
    floor(limit / cost) of 50 concurrent requests get through and the budget is spent to the micro-unit."""
    world = any_world
    world.stub.content = "0123456789 123456789 123456789 123456789"  # 40 characters: 10 tokens for the stub
    world.stub.latency_s = 0.02
    world.provider_and_route(price_output_micros_per_mtok=1_000_000_000)  # 10 tokens cost 10,000 micros
    key, raw = make_key(world.session, world.unit)
    world.session.add(GatewayBudget(scope="key", scope_id=key.id, period="total", limit_micros=75_000))
    world.session.commit()
    store = None
    if backend == "redis":
        store = _redis_store()

    async def burst(gw: Gateway) -> list[Any]:
        async with gw.async_client(raw) as client:
            return await asyncio.gather(*(client.chat.completions.create(
                model=ALIAS, messages=[{"role": "user", "content": "go"}], max_tokens=10) for _ in range(50)),
                return_exceptions=True)

    with serve_gateway(world.settings, world.factory, store=store) as gw:
        results = asyncio.run(burst(gw))
        if backend == "redis":
            spent = asyncio.run(_redis_spent(store, key.id))
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError) and r.code == "budget_exceeded"]
    assert (len(ok), len(refused)) == (7, 43)
    if backend == "database":
        (row,) = world.rows(GatewaySpend)
        spent = (row.spent_micros, row.reserved_micros)
    assert spent == (70_000, 0)
    assert sum(r.cost_micros for r in world.rows(UsageRecord)) == 70_000


def _redis_store() -> LimitStore:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        if os.environ.get("AICOE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    from aicoe.gateway.limits_redis import RedisLimitStore

    return RedisLimitStore.from_url(REDIS_URL, prefix=f"aicoe-test-{uuid.uuid4().hex[:10]}:")


async def _redis_spent(store: Any, key_id: int) -> tuple[int, int]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        probe = type(store)(client, prefix=store.prefix)
        return await probe.budget_state(BudgetRef("key", key_id, "total", 75_000))
    finally:
        await client.aclose()


def test_usage_is_flushed_on_shutdown(world: World) -> None:
    world.provider_and_route()
    _, raw = make_key(world.session, world.unit)
    settings = world.settings.model_copy(update={"gateway_usage_flush_s": 3600.0})
    with serve_gateway(settings, world.factory) as gw:
        for _ in range(3):
            gw.client(raw).chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "hi"}])
        assert world.rows(UsageRecord) == []  # acknowledged, still batched in memory
    assert [r.outcome for r in world.rows(UsageRecord)] == ["ok", "ok", "ok"]


def test_the_platform_app_serves_v1_and_runs_the_gateway_lifespan(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path)
    app = create_app(settings)
    session = app.state.sessionmaker()
    make_route(session, make_provider(session, kind="demo"), alias="demo-model")
    _, raw = make_key(session, make_unit(session))
    with TestClient(app) as client:
        answer = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {raw}"},
                             json={"model": "demo-model", "messages": [{"role": "user", "content": "hello"}]})
        refused = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
        metrics = client.get("/metrics")
    assert answer.status_code == 200 and "aicoe demo upstream" in answer.json()["choices"][0]["message"]["content"]
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert "aicoe_gateway_requests_total" in metrics.text
    session.rollback()
    assert [r.outcome for r in session.scalars(select(UsageRecord))] == ["ok"]
    session.close()


# -- guardrails ---------------------------------------------------------------------------------------------------
def _pii_policy(world: World, action: str, **fields: Any) -> Any:
    return make_policy(world.session, rules=[
        {"id": "pii", "kind": "pii", "action": action, "direction": "input",
         "params": {"entities": ["EMAIL_ADDRESS"]}}], **fields)


def test_a_failing_detector_blocks_unless_the_policy_fails_open(world: World,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from aicoe.engines.guardrails.detectors import sensitive

    def broken(self: Any, texts: Any) -> Any:
        raise RuntimeError("detector down")

    monkeypatch.setattr(sensitive.SensitiveScan, "scan", broken)
    world.provider_and_route()
    _, closed = make_key(world.session, world.unit, policy=_pii_policy(world, "block"))
    _, opened = make_key(world.session, world.unit, policy=_pii_policy(world, "block", fail_open=True))
    messages = [{"role": "user", "content": "hello"}]
    with serve_gateway(world.settings, world.factory) as gw:
        with pytest.raises(openai.InternalServerError) as caught:
            gw.client(closed).chat.completions.create(model=ALIAS, messages=messages)
        passed = gw.client(opened).chat.completions.create(model=ALIAS, messages=messages)
    assert caught.value.status_code == 503 and caught.value.code == "guardrail_unavailable"
    assert passed.choices[0].message.content == world.stub.content
    assert world.stub.count("/v1/chat/completions") == 1
    events = [(e.kind, e.action, e.entity_types) for e in world.rows(GuardrailEvent)]
    assert events == [("error", "block", ["RuntimeError"]), ("error", "log", ["RuntimeError"])]


def test_a_policy_that_cannot_be_read_refuses_its_keys_even_when_it_fails_open(world: World) -> None:
    world.provider_and_route()
    policy = _pii_policy(world, "log", fail_open=True)
    _, raw = make_key(world.session, world.unit, policy=policy)
    policy.rules = [{"id": "x", "kind": "no-such-detector", "action": "block"}]  # e.g. written by an older version
    world.session.commit()
    with serve_gateway(world.settings, world.factory) as gw:
        with pytest.raises(openai.InternalServerError) as caught:
            gw.client(raw).chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "hello"}])
    assert caught.value.status_code == 503 and caught.value.code == "guardrail_unavailable"
    assert world.stub.count("/v1/chat/completions") == 0


def test_blocked_input_is_400_guardrail_blocked(world: World) -> None:
    world.provider_and_route()
    _, raw = make_key(world.session, world.unit, policy=_pii_policy(world, "block", name="no-pii"))
    with serve_gateway(world.settings, world.factory) as gw:
        with pytest.raises(openai.BadRequestError) as caught:
            gw.client(raw).chat.completions.create(model=ALIAS, messages=[
                {"role": "user", "content": f"mail {EMAIL} please"}])
    assert caught.value.code == "guardrail_blocked"
    assert caught.value.body["message"] == "This request was blocked by guardrail policy 'no-pii': pii [EMAIL_ADDRESS]."
    assert world.stub.requests == []
    (usage,) = world.rows(UsageRecord)
    assert (usage.outcome, usage.guardrail) == ("blocked", "blocked")


def test_a_blocked_answer_is_withheld_with_content_filter(world: World) -> None:
    world.stub.content = "Here it is: AKIAIOSFODNN7EXAMPLE"
    world.provider_and_route(price_output_micros_per_mtok=1_000_000)
    policy = make_policy(world.session, name="no-secrets-out", rules=[
        {"id": "secrets-out", "kind": "secrets", "action": "block", "direction": "output",
         "params": {"entities": ["AWS_ACCESS_KEY_ID"]}}])
    _, raw = make_key(world.session, world.unit, policy=policy)
    with serve_gateway(world.settings, world.factory) as gw:
        answer = gw.client(raw).chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "key?"}])
    assert answer.choices[0].finish_reason == "content_filter"
    assert answer.choices[0].message.content == ("The answer was stopped by guardrail policy 'no-secrets-out': "
                                                 "secrets-out [AWS_ACCESS_KEY_ID].")
    (usage,) = world.rows(UsageRecord)
    assert (usage.outcome, usage.guardrail) == ("blocked", "blocked") and usage.cost_micros > 0  # tokens were spent


def test_anonymised_input_is_restored_in_the_answer(world: World) -> None:
    world.provider_and_route()
    _, raw = make_key(world.session, world.unit, policy=_pii_policy(world, "anonymise", restore=True))
    messages = [{"role": "user", "content": f"Write to {EMAIL} today"}]
    with serve_gateway(world.settings, world.factory) as gw:
        client = gw.client(raw)
        client.chat.completions.create(model=ALIAS, messages=messages)
        forwarded = world.stub.requests[-1].body["messages"][0]["content"]
        assert EMAIL not in forwarded
        placeholder = forwarded.removeprefix("Write to ").removesuffix(" today")
        world.stub.content = f"I wrote to {placeholder}."
        answer = client.chat.completions.create(model=ALIAS, messages=messages)
    assert world.stub.requests[-1].body["messages"][0]["content"] == forwarded  # the same placeholder each time
    assert answer.choices[0].message.content == f"I wrote to {EMAIL}."
    assert [u.guardrail for u in world.rows(UsageRecord)] == ["anonymised", "anonymised"]


def test_no_raw_pii_in_logs_usage_events_or_redacted_prompt_logs(any_world: World,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    world = any_world
    caplog.set_level(logging.DEBUG)
    world.provider_and_route()
    world.stub.content = f"Noted: {EMAIL}"
    policy = make_policy(world.session, rules=[
        {"id": "pii-log", "kind": "pii", "action": "log", "direction": "both",
         "params": {"entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"]}}])
    _, raw = make_key(world.session, world.unit, policy=policy, logging="redacted")
    with serve_gateway(world.settings, world.factory) as gw:
        gw.client(raw).chat.completions.create(model=ALIAS, messages=[
            {"role": "user", "content": f"My email is {EMAIL}, call +44 20 7946 0958"}])
        world.stub.fail(500)
        with pytest.raises(openai.APIStatusError):
            gw.client(raw).chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": EMAIL}])
    assert EMAIL not in caplog.text
    stored = [repr(vars(row)) for model in (UsageRecord, GuardrailEvent, PromptLog) for row in world.rows(model)]
    assert stored and not [row for row in stored if EMAIL in row or "7946" in row]
    log_row = world.rows(PromptLog)[0]
    assert "<EMAIL_ADDRESS>" in log_row.prompt and "<EMAIL_ADDRESS>" in log_row.response
    assert {(e.direction, e.kind, e.action) for e in world.rows(GuardrailEvent)} >= {
        ("input", "pii", "log"), ("output", "pii", "log")}


def test_gateway_serve_runs_workers_and_flushes_usage_on_stop(db_url: str, tmp_path: Path) -> None:
    """``aicoe gateway serve --workers 2`` as a real command; usage is written only at the clean stop."""
    world_settings = make_settings(db_url, tmp_path)
    engine = make_engine(world_settings.effective_database_url)
    session = make_sessionmaker(engine)()
    make_route(session, make_provider(session, kind="demo"), alias="demo-model")
    _, raw = make_key(session, make_unit(session))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "AICOE_DATABASE_URL": db_url, "AICOE_DATA_DIR": str(tmp_path / "data"),
           "AICOE_SECRET_KEY": "t" * 48, "AICOE_ENV": "test", "AICOE_GATEWAY_USAGE_FLUSH_S": "3600"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "aicoe", "gateway", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()
            try:
                if httpx2.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=raw, max_retries=0)
        for _ in range(4):
            client.chat.completions.create(model="demo-model", messages=[{"role": "user", "content": "hello"}])
        answer = client.chat.completions.create(model="demo-model", messages=[{"role": "user", "content": "hello"}])
        streamed = client.chat.completions.create(model="demo-model", stream=True,
                                                  messages=[{"role": "user", "content": "hello"}])
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) \
            == answer.choices[0].message.content
        assert "aicoe_gateway_requests_total" in httpx2.get(f"{base}/metrics").text
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert [r.outcome for r in session.scalars(select(UsageRecord))] == ["ok"] * 6
    session.close()
    engine.dispose()


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_corked_transport_joins_the_writes_of_one_loop_step() -> None:
    async def scenario() -> RecordingTransport:
        real = RecordingTransport()
        corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        corked.write(b"head ")
        corked.write(b"body")
        assert real.writes == []
        await asyncio.sleep(0)
        assert real.writes == [b"head body"]
        corked.write(b"x" * (CORK_LIMIT + 1))  # past the limit: at once
        assert real.writes[-1] == b"x" * (CORK_LIMIT + 1)
        corked.write(b"last")
        corked.close()  # flushes first
        assert (real.writes[-1], real.closed, corked.get_extra_info("peername")) == (b"last", True, "info:peername")
        await asyncio.sleep(0)
        assert len(real.writes) == 3  # the pending flush found nothing left
        return real

    asyncio.run(scenario())
