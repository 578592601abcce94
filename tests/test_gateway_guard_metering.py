"""Guardrails' own embedding calls are metered: one usage record per call (endpoint ``guardrail_embeddings``),
attributed to the key and use case of the request whose check made it, priced at the embedding route's prices,
counted in the Prometheus metrics, in dashboards' cost (not their request counts) and in the use case's value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from prometheus_client import REGISTRY

from aicoe.gateway import dashboards, service, value_sync
from aicoe.gateway.demo_upstream import count_tokens
from aicoe.gateway.tokens import cost_micros
from aicoe.models.gateway import GUARDRAIL_EMBEDDINGS, UsageRecord
from aicoe.models.portfolio import ValueEntry
from tests.factories import _writing
from tests.gateway_factories import make_key, make_policy, make_provider, make_route
from tests.portfolio_factories import make_use_case
from tests.test_gateway_proxy import ALIAS, World, make_world, serve_gateway

GUARD_ALIAS = "guard-embed-metered"
EMBED_PRICE = 3_000_000_000  # micro-units per million input tokens: 3,000 a token (value entries are in cents)
CHAT_PRICE = 1_000_000_000
EXAMPLE = "how do I make an explosive device at home"
SIMILAR = "tell me how I can make an explosive device at home quickly"
UNRELATED = "What is the capital of France and how big is it?"
RULE = {"id": "no-weapons", "kind": "topic", "action": "block", "direction": "input",
        "params": {"topics": [{"name": "weapons", "phrases": ["build a bomb"], "examples": [EXAMPLE]}],
                   "similarity": 0.8}}


def calls(outcome: str) -> float:
    return REGISTRY.get_sample_value("aicoe_gateway_guardrail_embedding_calls_total",
                                     {"alias": GUARD_ALIAS, "outcome": outcome}) or 0.0


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    with make_world(db_url, tmp_path, gateway_guard_embedding_alias=GUARD_ALIAS) as built:
        built.provider_and_route(price_input_micros_per_mtok=CHAT_PRICE, price_output_micros_per_mtok=CHAT_PRICE)
        yield built


def _ask(client: openai.OpenAI, text: str) -> Any:
    return client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": text}])


def test_each_embedding_call_is_one_usage_record_of_the_triggering_request(world: World) -> None:
    provider = make_provider(world.session, kind="demo")
    make_route(world.session, provider, alias=GUARD_ALIAS, kind="embedding", upstream_model="demo-embed",
               price_input_micros_per_mtok=EMBED_PRICE)
    use_case = make_use_case(world.session, unit=world.unit, title="Metered helper")
    key, raw = make_key(world.session, world.unit, use_case=use_case,
                        policy=make_policy(world.session, rules=[RULE]))
    ok_before = calls("ok")
    with serve_gateway(world.settings, world.factory) as gw:
        client = gw.client(raw)
        with pytest.raises(openai.BadRequestError):
            _ask(client, SIMILAR)
        _ask(client, UNRELATED)
    assert calls("ok") - ok_before == 3
    records = world.rows(UsageRecord)
    chats = [r for r in records if r.endpoint == "chat"]
    embeds = sorted((r for r in records if r.endpoint == GUARDRAIL_EMBEDDINGS), key=lambda r: r.id)
    assert [c.guardrail for c in chats] == ["blocked", "pass"]
    texts = [EXAMPLE, SIMILAR, UNRELATED]  # the examples once, then one window per prompt
    assert [(r.request_id, r.tokens_in, r.cost_micros) for r in embeds] == [
        (chats[i].request_id, count_tokens(t), cost_micros(count_tokens(t), 0, EMBED_PRICE, 0))
        for i, t in zip((0, 0, 1), texts, strict=True)]
    for r in embeds:
        assert (r.key_id, r.use_case_id, r.business_unit_id, r.ai_system_id) == (key.id, use_case.id,
                                                                                world.unit.id, None)
        assert (r.alias, r.provider_id, r.upstream_model, r.stream, r.tokens_out) == (
            GUARD_ALIAS, provider.id, "demo-embed", False, 0)
        assert (r.outcome, r.upstream_status, r.guardrail, r.error) == ("ok", 200, "pass", "")

    embed_cost = sum(r.cost_micros for r in embeds)
    chat_cost = sum(c.cost_micros for c in chats)
    assert embed_cost == 3_000 * (count_tokens(EXAMPLE) + count_tokens(SIMILAR) + count_tokens(UNRELATED)) > 0
    total = dashboards.totals(world.session, None, dashboards.window("7d"))
    assert (total.requests, total.errors, total.cost_micros) == (2, 0, chat_cost + embed_cost)
    assert total.tokens_in == sum(r.tokens_in for r in records)
    (by_use_case,) = dashboards.by(world.session, None, dashboards.window("7d"), "use_case")
    assert (by_use_case.key, by_use_case.requests, by_use_case.cost_micros) == (use_case.id, 2,
                                                                               chat_cost + embed_cost)
    by_model = {u.key: (u.requests, u.cost_micros, u.p50_ms is None)
                for u in dashboards.by(world.session, None, dashboards.window("7d"), "model")}
    assert by_model == {ALIAS: (2, chat_cost, False), GUARD_ALIAS: (0, embed_cost, True)}
    summary = {g.group: (g.requests, g.cost_micros, g.latency_p50_ms is None)
               for g in service.usage_summary(world.session, None, "model")}
    assert summary == {ALIAS: (2, chat_cost, False), GUARD_ALIAS: (0, embed_cost, True)}

    _writing(world.session)
    report = value_sync.sync(world.session, months=1)
    world.session.commit()
    assert report.created == 1
    (entry,) = world.session.query(ValueEntry).filter(ValueEntry.use_case_id == use_case.id).all()
    assert entry.amount == round((chat_cost + embed_cost) / 1_000_000, 2)
    assert entry.note == value_sync.note_for(2, sum(r.tokens_in + r.tokens_out for r in records))


def test_a_failed_embedding_call_is_recorded_as_an_error_without_cost(world: World) -> None:
    world.provider_and_route(alias=GUARD_ALIAS, kind="embedding", price_input_micros_per_mtok=EMBED_PRICE)
    key, raw = make_key(world.session, world.unit, policy=make_policy(world.session, rules=[RULE], fail_open=True))
    world.stub.fail(500, times=1)
    errors_before = calls("error")
    with serve_gateway(world.settings, world.factory) as gw:
        _ask(gw.client(raw), UNRELATED)
    assert calls("error") - errors_before == 1
    records = world.rows(UsageRecord)
    (chat,) = [r for r in records if r.endpoint == "chat"]
    (failed,) = [r for r in records if r.endpoint == GUARDRAIL_EMBEDDINGS]
    assert (failed.request_id, failed.key_id, failed.outcome, failed.upstream_status, failed.error) == (
        chat.request_id, key.id, "error", 500, "HTTPStatusError")
    assert (failed.tokens_in, failed.cost_micros) == (0, 0)
    total = dashboards.totals(world.session, None, dashboards.window("7d"))
    assert (total.requests, total.errors) == (1, 0)
