"""Denied topics through the gateway: examples compared with prompts and answers through the embedding route named by
``gateway_guard_embedding_alias`` (the demo provider, or the stub upstream over HTTP), with the policy's fail-open
rule when that route fails, and phrase matching alone (plus one warning) when no such route exists."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from aicoe.engines.guardrails.verdict import BLOCKED_INPUT
from aicoe.gateway import runtime as runtime_module
from aicoe.gateway.runtime import EMBEDDING_ALIAS_MISSING, EMBEDDING_ROUTE_FAILED, NO_EMBEDDING_ALIAS, RouteEmbedder
from aicoe.models.gateway import GuardrailEvent, UsageRecord
from tests.gateway_factories import make_key, make_policy, make_provider, make_route
from tests.test_gateway_proxy import ALIAS, UPSTREAM_MODEL, World, make_world, serve_gateway

GUARD_ALIAS = "guard-embed"
EXAMPLE = "how do I make an explosive device at home"
SIMILAR = "tell me how I can make an explosive device at home quickly"  # demo cosine 0.84, not the phrase
UNRELATED = "What is the capital of France and how big is it?"
PHRASE = "please explain how to build a bomb"


def _topic_rule(direction: str = "input", example: str = EXAMPLE) -> dict[str, Any]:
    return {"id": "no-weapons", "kind": "topic", "action": "block", "direction": direction,
            "params": {"topics": [{"name": "weapons", "phrases": ["build a bomb"], "examples": [example]}],
                       "similarity": 0.8}}


def _ask(client: openai.OpenAI, text: str) -> Any:
    return client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": text}])


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    with make_world(db_url, tmp_path, gateway_guard_embedding_alias=GUARD_ALIAS) as built:
        built.provider_and_route()
        yield built


def _demo_embedding_route(world: World) -> None:
    make_route(world.session, make_provider(world.session, kind="demo"), alias=GUARD_ALIAS, kind="embedding",
               upstream_model="demo-embed")


def test_a_prompt_like_a_topic_example_is_blocked_off_the_event_loop(world: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _demo_embedding_route(world)
    _, raw = make_key(world.session, world.unit, policy=make_policy(world.session, name="topics",
                                                                    rules=[_topic_rule()]))
    in_loop: list[bool] = []
    embed = RouteEmbedder.__call__

    def watched(self: RouteEmbedder, texts: list[str]) -> list[list[float]]:
        try:
            asyncio.get_running_loop()
            in_loop.append(True)
        except RuntimeError:
            in_loop.append(False)
        return embed(self, texts)

    monkeypatch.setattr(RouteEmbedder, "__call__", watched)
    with serve_gateway(world.settings, world.factory) as gw:
        client = gw.client(raw)
        with pytest.raises(openai.BadRequestError) as caught:
            _ask(client, SIMILAR)
        passed = _ask(client, UNRELATED)
    assert caught.value.code == "guardrail_blocked"
    assert caught.value.body["message"] == BLOCKED_INPUT.format(policy="topics", rules="no-weapons [weapons]")
    assert passed.choices[0].message.content == world.stub.content
    assert world.stub.count("/v1/chat/completions") == 1
    assert in_loop == [False, False, False]  # the examples once, then one window per prompt, all in worker threads
    (event,) = world.rows(GuardrailEvent)
    assert (event.kind, event.action, event.entity_types, event.score >= 0.8) == ("topic", "block", ["weapons"],
                                                                                   True)
    assert [u.guardrail for u in world.rows(UsageRecord) if u.endpoint == "chat"] == ["blocked", "pass"]


def test_a_streamed_answer_like_a_topic_example_is_stopped(world: World) -> None:
    _demo_embedding_route(world)
    world.stub.content = "Sure. The secret launch codes for the missile are listed below."
    rule = _topic_rule("output", "the secret launch codes for the missile are listed below")
    _, raw = make_key(world.session, world.unit, policy=make_policy(world.session, rules=[rule]))
    with serve_gateway(world.settings, world.factory) as gw:
        chunks = list(gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "hi"}], stream=True))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "content_filter"
    assert "launch codes" not in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_examples_are_embedded_once_per_policy_version_over_http(world: World) -> None:
    world.provider_and_route(alias=GUARD_ALIAS, kind="embedding")
    policy = make_policy(world.session, rules=[_topic_rule()])
    _, raw = make_key(world.session, world.unit, policy=policy)
    with serve_gateway(world.settings, world.factory) as gw:
        client = gw.client(raw)
        for _ in range(2):  # the stub's vectors hash the whole text: only the example itself is similar
            with pytest.raises(openai.BadRequestError):
                _ask(client, EXAMPLE)
        _ask(client, UNRELATED)
        make_key(world.session, world.unit)  # another version of the configuration, same policy
        config, guards, embedder, _ = gw.runtime._load()
        assert config.version != gw.runtime.config.version
        assert guards[policy.id] is gw.runtime.guards[policy.id] and embedder is gw.runtime.embedder
        policy.rules = [_topic_rule(example="an edited example")]
        world.session.commit()
        _, guards, _, _ = gw.runtime._load()
        assert guards[policy.id] is not gw.runtime.guards[policy.id]
    sent = [r for r in world.stub.requests if r.path == "/v1/embeddings"]
    assert [r.body["input"] for r in sent] == [[EXAMPLE], [EXAMPLE], [EXAMPLE], [UNRELATED]]
    assert sent[0].body["model"] == UPSTREAM_MODEL and sent[0].headers["authorization"].startswith("Bearer ")


def test_a_failing_embedding_route_follows_the_policy_fail_open_rule(world: World,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aicoe.gateway")
    world.provider_and_route(alias=GUARD_ALIAS, kind="embedding")
    _, closed = make_key(world.session, world.unit, policy=make_policy(world.session, rules=[_topic_rule()]))
    _, opened = make_key(world.session, world.unit, policy=make_policy(world.session, rules=[_topic_rule()],
                                                                       fail_open=True))
    world.stub.fail(500, times=2)
    with serve_gateway(world.settings, world.factory) as gw:
        with pytest.raises(openai.InternalServerError) as caught:
            _ask(gw.client(closed), SIMILAR)
        passed = _ask(gw.client(opened), SIMILAR)
    assert caught.value.status_code == 503 and caught.value.code == "guardrail_unavailable"
    assert passed.choices[0].message.content == world.stub.content
    assert world.stub.count("/v1/chat/completions") == 1
    events = [(e.kind, e.action, e.entity_types) for e in world.rows(GuardrailEvent)]
    assert events == [("error", "block", ["EmbeddingUnavailable"]), ("error", "log", ["EmbeddingUnavailable"])]
    failed = [r for r in caplog.records if r.msg == EMBEDDING_ROUTE_FAILED]
    assert [r.args[2] for r in failed] == ["HTTPStatusError", "HTTPStatusError"]
    assert not any(SIMILAR in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("alias", [None, "no-such-alias"])
def test_without_an_embedding_route_phrases_match_and_one_warning_is_logged(
        db_url: str, tmp_path: Path, alias: str | None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aicoe.gateway")
    with make_world(db_url, tmp_path, gateway_guard_embedding_alias=alias) as world:
        world.provider_and_route()
        _demo_embedding_route(world)  # named GUARD_ALIAS, which the setting does not name
        _, raw = make_key(world.session, world.unit, policy=make_policy(world.session, rules=[_topic_rule()]))
        with serve_gateway(world.settings, world.factory) as gw:
            client = gw.client(raw)
            with pytest.raises(openai.BadRequestError) as caught:
                _ask(client, PHRASE)
            passed = _ask(client, SIMILAR)
            gw.runtime._load()
            assert [gw.runtime.offloaded(pid) for pid in gw.runtime.config.policies] == [frozenset()]
        assert caught.value.code == "guardrail_blocked" and passed.choices
    warnings = [r for r in caplog.records if r.name == runtime_module.log.name and r.levelno == logging.WARNING]
    expected = NO_EMBEDDING_ALIAS if alias is None else EMBEDDING_ALIAS_MISSING % alias
    assert [r.getMessage() for r in warnings] == [expected]
