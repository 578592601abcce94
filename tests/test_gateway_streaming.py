"""Streaming through the gateway with the openai SDK: pass-through, usage, tools, the incremental output guard
(bounded hold-back, stop at the violation) and cancellation of the upstream when the caller goes away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aicoe.models.gateway import GatewayBudget, GatewaySpend, GuardrailEvent, UsageRecord
from tests.gateway_factories import make_key, make_policy
from tests.test_gateway_proxy import ALIAS, EMAIL, World, make_world, serve_gateway

HOLDBACK = 64
SECRET = "AKIAIOSFODNN7EXAMPLE"
FILLER = " ".join(f"word{i}" for i in range(60))  # 60 words, about 400 characters before the secret
AFTER = "AFTERWARDS must never arrive"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    with make_world(db_url, tmp_path, gateway_stream_holdback_chars=HOLDBACK) as built:
        yield built


def _texts(stream: Any) -> tuple[list[str], list[Any]]:
    texts, chunks = [], []
    for chunk in stream:
        chunks.append(chunk)
        for choice in chunk.choices:
            if choice.delta.content:
                texts.append(choice.delta.content)
    return texts, chunks


def test_a_stream_passes_through_with_usage(world: World) -> None:
    world.provider_and_route(price_input_micros_per_mtok=1_000_000, price_output_micros_per_mtok=1_000_000)
    _, raw = make_key(world.session, world.unit)
    with serve_gateway(world.settings, world.factory) as gw:
        stream = gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "hi"}], stream=True,
            stream_options={"include_usage": True})
        texts, chunks = _texts(stream)
        plain, plain_chunks = _texts(gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "".join(texts) == "".join(plain) == world.stub.content
    assert len(texts) == len(world.stub.content.split(" "))  # chunk by chunk, not buffered
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert all(c.usage is None for c in plain_chunks)  # the caller did not ask: the gateway's usage chunk is kept back
    first, second = world.rows(UsageRecord)
    assert (first.stream, first.outcome, first.tokens_out) == (True, "ok", chunks[-1].usage.completion_tokens)
    assert second.tokens_out == first.tokens_out and second.cost_micros == first.cost_micros > 0


def test_streamed_tool_calls_pass_through(world: World) -> None:
    world.provider_and_route()
    _, raw = make_key(world.session, world.unit, policy=make_policy(world.session))  # the default policy
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    with serve_gateway(world.settings, world.factory) as gw:
        _, chunks = _texts(gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "find"}], tools=tools, stream=True))
    calls = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert calls[0].function.name == "lookup"
    assert "".join(c.function.arguments or "" for c in calls) == '{"echo": true}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_the_output_guard_stops_the_stream_at_the_violation(world: World) -> None:
    world.stub.content = f"{FILLER} key {SECRET} {AFTER} " + " ".join(f"tail{i}" for i in range(100))
    world.stub.chunk_delay_s = 0.005  # the upstream is still generating when the violation is seen
    world.provider_and_route()
    policy = make_policy(world.session, name="no-secrets-out", rules=[
        {"id": "secrets-out", "kind": "secrets", "action": "block", "direction": "output",
         "params": {"entities": ["AWS_ACCESS_KEY_ID"]}}])
    _, raw = make_key(world.session, world.unit, policy=policy)
    with serve_gateway(world.settings, world.factory) as gw:
        texts, chunks = _texts(gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "tell me"}], stream=True))
        assert world.stub.wait_disconnects(1)  # the gateway closed the upstream at the violation
    received = "".join(texts[:-1])
    assert SECRET not in received and "AFTER" not in received and "tail" not in received
    violation = world.stub.content.index(SECRET)
    assert violation - len(received) <= HOLDBACK + len(" key ")  # released up to the hold-back window
    assert len(texts) > 3  # released incrementally, not in one piece at the end
    assert texts[-1] == "The answer was stopped by guardrail policy 'no-secrets-out': secrets-out [AWS_ACCESS_KEY_ID]."
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert world.stub.completed_streams == 0
    (event,) = world.rows(GuardrailEvent)
    assert (event.direction, event.rule, event.action, event.entity_types) == (
        "output", "secrets-out", "block", ["AWS_ACCESS_KEY_ID"])
    (usage,) = world.rows(UsageRecord)
    assert (usage.outcome, usage.guardrail) == ("blocked", "blocked")


def test_output_anonymisation_releases_the_held_back_tail_at_the_end(world: World) -> None:
    world.stub.content = f"{FILLER} write to {EMAIL} for the details, thanks"
    world.provider_and_route()
    policy = make_policy(world.session, rules=[
        {"id": "pii-out", "kind": "pii", "action": "anonymise", "direction": "output",
         "params": {"entities": ["EMAIL_ADDRESS"]}}])
    _, raw = make_key(world.session, world.unit, policy=policy)
    with serve_gateway(world.settings, world.factory) as gw:
        texts, chunks = _texts(gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "hi"}], stream=True))
    received = "".join(texts)
    assert EMAIL not in received and received.startswith(FILLER) and received.endswith(" for the details, thanks")
    assert chunks[-1].choices[0].finish_reason == "stop"
    (event,) = world.rows(GuardrailEvent)
    assert (event.direction, event.action, event.entity_types) == ("output", "anonymise", ["EMAIL_ADDRESS"])


def test_anonymised_placeholders_are_restored_in_a_stream(world: World) -> None:
    world.provider_and_route()
    policy = make_policy(world.session, restore=True, rules=[
        {"id": "pii", "kind": "pii", "action": "anonymise", "direction": "input",
         "params": {"entities": ["EMAIL_ADDRESS"]}}])
    _, raw = make_key(world.session, world.unit, policy=policy)
    messages = [{"role": "user", "content": f"Write to {EMAIL}"}]
    with serve_gateway(world.settings, world.factory) as gw:
        client = gw.client(raw)
        client.chat.completions.create(model=ALIAS, messages=messages)
        placeholder = world.stub.requests[-1].body["messages"][0]["content"].removeprefix("Write to ")
        world.stub.content = f"Done: wrote to {placeholder} as asked."
        texts, _ = _texts(client.chat.completions.create(model=ALIAS, messages=messages, stream=True))
    assert "".join(texts) == f"Done: wrote to {EMAIL} as asked."
    assert EMAIL not in str(world.stub.requests[-1].body)


def test_a_client_disconnect_cancels_the_upstream_and_releases_the_budget(world: World) -> None:
    world.stub.content = " ".join(f"w{i}" for i in range(400))
    world.stub.chunk_delay_s = 0.01
    world.provider_and_route(price_output_micros_per_mtok=1_000_000)
    key, raw = make_key(world.session, world.unit)
    world.session.add(GatewayBudget(scope="key", scope_id=key.id, period="total", limit_micros=1_000_000))
    world.session.commit()
    with serve_gateway(world.settings, world.factory) as gw:
        stream = gw.client(raw).chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "go"}], stream=True, max_tokens=1000)
        for number, _ in enumerate(stream):
            if number == 3:
                break
        stream.close()
        assert world.stub.wait_disconnects(1)
    assert world.stub.completed_streams == 0
    (usage,) = world.rows(UsageRecord)
    assert (usage.outcome, usage.stream) == ("cancelled", True)
    (spend,) = world.rows(GatewaySpend)
    assert spend.reserved_micros == 0 and spend.spent_micros == usage.cost_micros
