"""Upstream calls over real HTTP against the stub upstream: routing, retries, fallback, circuit breaker, timeouts,
Azure's URL scheme, stream usage handling, client disconnects; and the in-process demonstration upstream."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicoe.gateway import demo_upstream
from aicoe.gateway.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerPolicy,
    Breakers,
    CircuitBreaker,
    RetryPolicy,
    parse_retry_after,
)
from aicoe.gateway.stub_upstream import StubState, make_stub_app, serve_in_thread
from aicoe.gateway.upstream import (
    CIRCUIT_OPEN,
    NO_ROUTE,
    STREAM_INTERRUPTED,
    UPSTREAM_CREDENTIALS,
    UPSTREAM_INVALID,
    UPSTREAM_STATUS,
    UPSTREAM_TIMEOUT,
    ProviderConfig,
    RouteConfig,
    UpstreamError,
    Upstreams,
    UpstreamStream,
    lines,
)
from tests.raw_http import RawRequest, RawServer
from tests.raw_http import head as raw_head

pytestmark = pytest.mark.anyio
CONTENT = "alpha beta gamma delta epsilon"
MESSAGES = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "weather for a city",
                                                 "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _serve(**knobs: Any) -> Iterator[tuple[StubState, str]]:
    app = make_stub_app(**{"content": CONTENT, **knobs})
    with serve_in_thread(app) as base_url:
        yield app.state.stub, base_url


@pytest.fixture
def stub() -> Iterator[tuple[StubState, str]]:
    yield from _serve()


@pytest.fixture
def stub2() -> Iterator[tuple[StubState, str]]:
    yield from _serve()


@pytest.fixture
def slow_stub() -> Iterator[tuple[StubState, str]]:
    yield from _serve(chunk_delay_ms=20, content=" ".join(f"w{i}" for i in range(500)))


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def upstreams(sleeps: list[float]) -> AsyncIterator[Upstreams]:
    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = Upstreams(retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, retry_after_cap_s=5.0),
                       breakers=Breakers(BreakerPolicy(failure_threshold=50)), sleep=record_sleep)
    yield client
    await client.aclose()


def provider(base_url: str, *, pid: int = 1, kind: str = "openai_compatible", **extra: Any) -> ProviderConfig:
    fields = {"api_key": "sk-upstream-secret", "api_version": "", "headers": {}, "connect_timeout_s": 2.0,
              "read_timeout_s": 5.0, "max_retries": 2, **extra}
    return ProviderConfig(id=pid, name=f"p{pid}", kind=kind, base_url=base_url, **fields)


def route(prov: ProviderConfig, *, priority: int = 0, model: str = "upstream-model",
          alias: str = "chat") -> RouteConfig:
    return RouteConfig(id=prov.id * 10 + priority, alias=alias, priority=priority, kind="chat", provider=prov,
                       upstream_model=model, price_input_micros_per_mtok=1_000_000,
                       price_output_micros_per_mtok=2_000_000, context_limit=8192)


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"


async def collect(stream: UpstreamStream) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# --- plain calls --------------------------------------------------------------------------------------------------


async def test_chat_replaces_model_and_sends_credentials_and_headers(stub, upstreams) -> None:
    state, base = stub
    prov = provider(base, headers={"X-Team": "coe", "Authorization": "Bearer not-this"})
    used, answer = await upstreams.chat([route(prov)], {"model": "chat", "messages": MESSAGES, "stream": False})
    assert used.provider is prov
    assert answer["choices"][0]["message"]["content"] == CONTENT
    assert answer["usage"]["completion_tokens"] > 0
    seen = state.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.body == {"model": "upstream-model", "messages": MESSAGES}
    assert seen.headers["authorization"] == "Bearer sk-upstream-secret"
    assert seen.headers["x-team"] == "coe"


async def test_embeddings(stub, upstreams) -> None:
    state, base = stub
    _, answer = await upstreams.embeddings([route(provider(base), model="embed-up")],
                                           {"model": "embed", "input": ["one", "two"]})
    assert [item["index"] for item in answer["data"]] == [0, 1]
    assert state.requests[-1].path == "/v1/embeddings"
    assert state.requests[-1].body["model"] == "embed-up"


async def test_tool_calls_are_passed_back(stub, upstreams) -> None:
    _, base = stub
    body = {"model": "chat", "messages": MESSAGES, "tools": [WEATHER_TOOL]}
    _, answer = await upstreams.chat([route(provider(base))], body)
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"echo": true}'}

    _, stream = await upstreams.chat_stream([route(provider(base))], body)
    chunks = await collect(stream)
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if c["choices"]
             and c["choices"][0]["delta"].get("tool_calls")]
    assert calls[0]["function"]["name"] == "get_weather"
    assert "".join(call["function"]["arguments"] for call in calls) == '{"echo": true}'


async def test_no_routes() -> None:
    client = Upstreams()
    with pytest.raises(UpstreamError) as info:
        await client.chat([], {"messages": MESSAGES})
    await client.aclose()
    assert (info.value.status, info.value.message) == (404, NO_ROUTE)


# --- streams ------------------------------------------------------------------------------------------------------


async def test_stream_asks_for_usage_and_hides_it_from_a_caller_that_did_not(stub, upstreams) -> None:
    state, base = stub
    _, stream = await upstreams.chat_stream([route(provider(base))], {"model": "chat", "messages": MESSAGES})
    chunks = await collect(stream)
    assert streamed_text(chunks) == CONTENT
    assert all("usage" not in c for c in chunks)
    assert all(c["choices"] for c in chunks)
    assert stream.usage is not None and stream.usage["completion_tokens"] > 0
    assert state.requests[-1].body["stream"] is True
    assert state.requests[-1].body["stream_options"] == {"include_usage": True}
    assert state.completed_streams == 1


async def test_stream_keeps_usage_for_a_caller_that_asked(stub, upstreams) -> None:
    _, base = stub
    body = {"model": "chat", "messages": MESSAGES, "stream_options": {"include_usage": True}}
    _, stream = await upstreams.chat_stream([route(provider(base))], body)
    chunks = await collect(stream)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == stream.usage
    assert stream.usage["total_tokens"] == stream.usage["prompt_tokens"] + stream.usage["completion_tokens"]


async def test_stream_retries_before_the_first_chunk_then_falls_back(stub, stub2, upstreams) -> None:
    (state_a, base_a), (_, base_b) = stub, stub2
    state_a.fail(503, times=3)
    routes = [route(provider(base_a, pid=1)), route(provider(base_b, pid=2), priority=1)]
    used, stream = await upstreams.chat_stream(routes, {"model": "chat", "messages": MESSAGES})
    assert used.provider.id == 2
    assert streamed_text(await collect(stream)) == CONTENT
    assert state_a.count("/v1/chat/completions") == 3


async def test_cancelling_the_consumer_closes_the_upstream_stream(slow_stub, upstreams) -> None:
    state, base = slow_stub
    _, stream = await upstreams.chat_stream([route(provider(base))], {"model": "chat", "messages": MESSAGES})
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in stream:
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(state.wait_disconnects, 1, 10.0)
    assert state.completed_streams == 0


async def test_closing_the_stream_closes_the_upstream(slow_stub, upstreams) -> None:
    state, base = slow_stub
    _, stream = await upstreams.chat_stream([route(provider(base))], {"model": "chat", "messages": MESSAGES})
    async with stream:
        await anext(stream)
    assert await asyncio.to_thread(state.wait_disconnects, 1, 10.0)
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_stream_cut_mid_body_raises_and_counts_against_the_provider(stub, upstreams) -> None:
    state, base = stub
    state.cut_stream(after_chunks=2)
    _, stream = await upstreams.chat_stream([route(provider(base))], {"model": "chat", "messages": MESSAGES})
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamError) as info:
        async for chunk in stream:
            received.append(chunk)
    assert (info.value.status, info.value.message) == (502, STREAM_INTERRUPTED.format(alias="chat"))
    assert streamed_text(received) == "alpha beta"  # no retry once chunks were released
    assert state.count("/v1/chat/completions") == 1
    assert upstreams.breakers.get(1).failures == 1


async def test_one_pool_carries_hundreds_of_concurrent_streams(stub, upstreams) -> None:
    state, base = stub
    routes = [route(provider(base))]

    async def one() -> str:
        _, stream = await upstreams.chat_stream(routes, {"model": "chat", "messages": MESSAGES})
        return streamed_text(await collect(stream))

    assert set(await asyncio.gather(*(one() for _ in range(200)))) == {CONTENT}
    assert state.completed_streams == 200


@pytest.fixture
async def raw_upstream() -> AsyncIterator[Callable[..., Awaitable[tuple[Upstreams, str]]]]:
    """Upstreams and a base URL whose server answers the given bodies in turn (SSE framing cases the stub never
    sends); a body given as a tuple is written in pieces, a few milliseconds apart."""
    servers: list[RawServer] = []

    async def make(*bodies: bytes | tuple[bytes, ...]) -> tuple[Upstreams, str]:
        answers = iter(bodies)

        async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
            body = next(answers)
            pieces = body if isinstance(body, tuple) else (body,)
            writer.write(raw_head(sum(map(len, pieces)), content_type="text/event-stream"))
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.005)

        servers.append(server := await RawServer(handler).start())
        return Upstreams(retry=RetryPolicy(base_delay_s=0.0)), f"{server.url}/v1"

    yield make
    for server in servers:
        await server.close()


def sse(*events: str) -> bytes:
    return "".join(f"{event}\n\n" for event in events).encode()


CHUNK = '{"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]}'


async def test_sse_framing_comments_events_and_a_missing_done(raw_upstream) -> None:
    unterminated = f"data: {CHUNK}".encode()
    client, base = await raw_upstream(sse(": keep-alive", f"event: message\ndata: {CHUNK}", f"data: {CHUNK}")
                                      + unterminated)
    _, stream = await client.chat_stream([route(provider(base))], {"messages": MESSAGES})
    assert streamed_text(await collect(stream)) == "hihihi"
    await client.aclose()


async def test_sse_line_endings_split_across_reads(raw_upstream) -> None:
    """CRLF and CR line endings, and a CRLF whose halves arrive in different reads, frame events like LF does."""
    pieces = (f"data: {CHUNK}\r\n\r\n".encode(), f"data: {CHUNK}\r\rdata: {CHUNK}\r".encode(),
              b"\n\r", b"\ndata: [DONE]\r\n\r\n")
    client, base = await raw_upstream(pieces)
    _, stream = await client.chat_stream([route(provider(base))], {"messages": MESSAGES})
    assert streamed_text(await collect(stream)) == "hihihi"
    await client.aclose()


@given(body=st.binary(max_size=60).map(lambda b: b.replace(b"x", b"\r").replace(b"y", b"\n")),
       cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_lines_match_splitlines_however_the_body_is_split(body: bytes, cuts: list[int]) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(body)), len(body)]
    blocks = [body[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    async def source() -> AsyncIterator[bytes]:
        for block in blocks:
            yield block

    async def collected() -> list[bytes]:
        return [line async for line in lines(source())]

    assert asyncio.run(collected()) == body.splitlines()


async def test_an_error_event_mid_stream_and_invalid_json(raw_upstream) -> None:
    error_event = '{"error": {"message": "overloaded", "type": "server_error"}}'
    client, base = await raw_upstream(sse(f"data: {CHUNK}", f"data: {error_event}"), sse("data: not json"),
                                      sse("data: [1]"))
    _, stream = await client.chat_stream([route(provider(base, max_retries=0))], {"messages": MESSAGES})
    with pytest.raises(UpstreamError) as info:
        await collect(stream)
    assert info.value.message == STREAM_INTERRUPTED.format(alias="chat")
    assert info.value.body == {"error": {"message": "overloaded", "type": "server_error"}}
    for _ in range(2):  # invalid first chunks: nothing released yet, so each is a failed attempt
        with pytest.raises(UpstreamError) as info:
            await client.chat_stream([route(provider(base, max_retries=0))], {"messages": MESSAGES})
        assert (info.value.status, info.value.message) == (502, UPSTREAM_INVALID.format(alias="chat"))
    await client.aclose()


async def test_a_non_json_answer_is_retried_as_invalid(raw_upstream) -> None:
    client, base = await raw_upstream(b"<html>oops</html>", b"<html>oops</html>")
    with pytest.raises(UpstreamError) as info:
        await client.chat([route(provider(base, max_retries=1))], {"messages": MESSAGES})
    assert (info.value.status, info.value.message) == (502, UPSTREAM_INVALID.format(alias="chat"))
    assert client.breakers.get(1).failures == 2
    await client.aclose()


# --- retries, fallback, errors ------------------------------------------------------------------------------------


async def test_429_retry_after_is_honoured_then_success(stub, upstreams, sleeps) -> None:
    state, base = stub
    state.fail(429, retry_after="2")
    used, answer = await upstreams.chat([route(provider(base))], {"model": "chat", "messages": MESSAGES})
    assert answer["choices"][0]["message"]["content"] == CONTENT
    assert sleeps == [2.0]
    assert state.count("/v1/chat/completions") == 2


async def test_retry_after_beyond_the_cap_falls_back_at_once(stub, stub2, upstreams, sleeps) -> None:
    (state_a, base_a), (_, base_b) = stub, stub2
    state_a.fail(429, retry_after="3600")
    routes = [route(provider(base_a, pid=1)), route(provider(base_b, pid=2), priority=1)]
    used, _ = await upstreams.chat(routes, {"model": "chat", "messages": MESSAGES})
    assert used.provider.id == 2
    assert sleeps == []
    assert state_a.count("/v1/chat/completions") == 1


async def test_5xx_retried_with_backoff_then_fallback_route(stub, stub2, upstreams, sleeps) -> None:
    (state_a, base_a), (state_b, base_b) = stub, stub2
    state_a.fail(500, times=3)
    routes = [route(provider(base_a, pid=1)), route(provider(base_b, pid=2), priority=1, model="backup")]
    used, answer = await upstreams.chat(routes, {"model": "chat", "messages": MESSAGES})
    assert used.provider.id == 2
    assert state_a.count("/v1/chat/completions") == 3  # one try + max_retries 2
    assert state_b.requests[-1].body["model"] == "backup"
    assert len(sleeps) == 2 and all(0 <= s <= 0.05 for s in sleeps)


async def test_exhausted_routes_raise_the_last_failure(stub, upstreams) -> None:
    state, base = stub
    state.fail(429, times=3, retry_after="1")
    with pytest.raises(UpstreamError) as info:
        await upstreams.chat([route(provider(base))], {"model": "chat", "messages": MESSAGES})
    assert info.value.status == 429
    assert info.value.retry_after == 1.0
    assert info.value.message == UPSTREAM_STATUS.format(alias="chat", status=429)


async def test_400_is_returned_without_fallback(stub, stub2, upstreams) -> None:
    (state_a, base_a), (state_b, base_b) = stub, stub2
    state_a.fail(400, body={"error": {"message": "context too long", "type": "invalid_request_error",
                                      "param": "messages", "code": "context_length_exceeded"}})
    routes = [route(provider(base_a, pid=1)), route(provider(base_b, pid=2), priority=1)]
    with pytest.raises(UpstreamError) as info:
        await upstreams.chat(routes, {"model": "chat", "messages": MESSAGES})
    assert (info.value.status, info.value.message) == (400, "context too long")
    assert info.value.body["error"]["code"] == "context_length_exceeded"
    assert state_a.count("/v1/chat/completions") == 1
    assert state_b.requests == []


async def test_upstream_auth_failure_is_a_bad_gateway(stub, upstreams) -> None:
    state, base = stub
    state.fail(401)
    with pytest.raises(UpstreamError) as info:
        await upstreams.chat([route(provider(base))], {"model": "chat", "messages": MESSAGES})
    assert (info.value.status, info.value.message) == (502, UPSTREAM_CREDENTIALS.format(alias="chat"))


async def test_connection_refused_falls_back(stub, upstreams) -> None:
    _, base = stub
    routes = [route(provider(closed_port_url(), pid=1, max_retries=1)), route(provider(base, pid=2), priority=1)]
    used, answer = await upstreams.chat(routes, {"model": "chat", "messages": MESSAGES})
    assert used.provider.id == 2
    assert answer["choices"][0]["message"]["content"] == CONTENT


async def test_read_timeout(stub, upstreams) -> None:
    state, base = stub
    state.stall(1.0)
    prov = provider(base, read_timeout_s=0.2, max_retries=0)
    with pytest.raises(UpstreamError) as info:
        await upstreams.chat([route(prov)], {"model": "chat", "messages": MESSAGES})
    assert (info.value.status, info.value.message) == (504, UPSTREAM_TIMEOUT.format(alias="chat"))


async def test_read_timeout_is_retried(stub, upstreams) -> None:
    state, base = stub
    state.stall(1.0)
    prov = provider(base, read_timeout_s=0.3, max_retries=1)
    _, answer = await upstreams.chat([route(prov)], {"model": "chat", "messages": MESSAGES})
    assert answer["choices"][0]["message"]["content"] == CONTENT


# --- circuit breaker ----------------------------------------------------------------------------------------------


async def test_circuit_opens_skips_the_provider_then_half_opens(stub, stub2) -> None:
    (state_a, base_a), (_, base_b) = stub, stub2
    now = [0.0]
    client = Upstreams(retry=RetryPolicy(base_delay_s=0.0), sleep=lambda _s: asyncio.sleep(0),
                       breakers=Breakers(BreakerPolicy(failure_threshold=2, cooldown_s=30.0), clock=lambda: now[0]))
    only_a = [route(provider(base_a, pid=1, max_retries=0))]
    state_a.fail(500, times=2)
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await client.chat(only_a, {"model": "chat", "messages": MESSAGES})
    assert client.breakers.get(1).state == OPEN

    with pytest.raises(UpstreamError) as info:
        await client.chat(only_a, {"model": "chat", "messages": MESSAGES})
    assert (info.value.status, info.value.message) == (503, CIRCUIT_OPEN.format(alias="chat"))
    assert info.value.retry_after == 30.0
    assert state_a.count("/v1/chat/completions") == 2  # the open circuit was not called

    with_fallback = [*only_a, route(provider(base_b, pid=2), priority=1)]
    used, _ = await client.chat(with_fallback, {"model": "chat", "messages": MESSAGES})
    assert used.provider.id == 2

    now[0] = 31.0
    used, _ = await client.chat(with_fallback, {"model": "chat", "messages": MESSAGES})
    assert used.provider.id == 1  # the half-open probe went through and closed the circuit
    assert client.breakers.get(1).state == CLOSED
    await client.aclose()


def test_breaker_states() -> None:
    now = [0.0]
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=3, cooldown_s=10.0), clock=lambda: now[0])
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow() and breaker.state == HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.record_failure()
    assert breaker.state == OPEN and breaker.retry_in() == 10.0
    now[0] = 20.0
    assert breaker.allow()
    breaker.release()  # the probe's caller went away: another may probe
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.retry_in() is None


def test_retry_policy_and_retry_after() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=2.0, retry_after_cap_s=5.0, rng=lambda: 1.0)
    assert [policy.backoff(n) for n in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert RetryPolicy(rng=lambda: 0.0).backoff(3) == 0.0
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(0, 6.0) is None
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0


# --- Azure OpenAI -------------------------------------------------------------------------------------------------


async def test_azure_url_scheme_and_api_key_header(stub, upstreams) -> None:
    state, base = stub
    prov = provider(base.removesuffix("/v1"), kind="azure_openai", api_version="2024-10-21")
    await upstreams.chat([route(prov, model="gpt-4o-eu")], {"model": "chat", "messages": MESSAGES})
    seen = state.requests[-1]
    assert seen.path == "/openai/deployments/gpt-4o-eu/chat/completions"
    assert seen.query == {"api-version": "2024-10-21"}
    assert seen.headers["api-key"] == "sk-upstream-secret"
    assert "authorization" not in seen.headers

    await upstreams.embeddings([route(prov, model="embed-eu")], {"model": "e", "input": "x"})
    assert state.requests[-1].path == "/openai/deployments/embed-eu/embeddings"


# --- the stub speaks OpenAI ---------------------------------------------------------------------------------------


async def test_the_official_sdk_talks_to_the_stub(stub) -> None:
    _, base = stub
    async with openai.AsyncOpenAI(base_url=base, api_key="x", max_retries=0) as sdk:
        models = await sdk.models.list()
        assert [m.id for m in models.data] == ["stub-model"]
        answer = await sdk.chat.completions.create(model="stub-model", messages=MESSAGES)
        assert answer.choices[0].message.content == CONTENT
        parts = [c.choices[0].delta.content or "" async for c in
                 await sdk.chat.completions.create(model="stub-model", messages=MESSAGES, stream=True)]
        assert "".join(parts) == CONTENT
        vectors = await sdk.embeddings.create(model="stub-model", input="hello")
        assert len(vectors.data[0].embedding) == 8


# --- the demonstration upstream -----------------------------------------------------------------------------------


def demo_route() -> RouteConfig:
    return route(ProviderConfig(id=99, name="demo", kind="demo", base_url="", api_key=None), model="demo-chat")


async def test_demo_chat_is_labelled_and_deterministic() -> None:
    client = Upstreams()
    body = {"model": "chat", "messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": "Summarise <PERSON_1>'s ticket please"}]}
    _, answer = await client.chat([demo_route()], body)
    content = answer["choices"][0]["message"]["content"]
    assert content == demo_upstream.ANSWER.format(label=demo_upstream.LABEL, count=2, chars=44, model="demo-chat",
                                                  quote="Summarise <PERSON_1>'s ticket please")
    assert (await client.chat([demo_route()], body))[1]["choices"] == answer["choices"]
    assert answer["usage"]["completion_tokens"] == demo_upstream.count_tokens(content)

    _, stream = await client.chat_stream([demo_route()], body)
    chunks = await collect(stream)
    assert len(chunks) > 5  # small chunks
    assert streamed_text(chunks) == content
    assert all("usage" not in c for c in chunks)
    assert stream.usage == answer["usage"]
    await client.aclose()


async def test_demo_tools_and_tool_results() -> None:
    client = Upstreams()
    body = {"model": "chat", "messages": MESSAGES, "tools": [WEATHER_TOOL]}
    _, answer = await client.chat([demo_route()], body)
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    follow_up = {**body, "messages": [*MESSAGES, answer["choices"][0]["message"],
                                      {"role": "tool", "tool_call_id": "call_demo_0", "content": "sunny"}]}
    _, final = await client.chat([demo_route()], follow_up)
    assert final["choices"][0]["message"]["content"] == demo_upstream.TOOL_RESULT_ANSWER.format(
        label=demo_upstream.LABEL, count=1)
    await client.aclose()


async def test_demo_embeddings_are_unit_vectors_where_shared_words_are_close() -> None:
    client = Upstreams()
    texts = ["cancel my insurance policy", "cancel the insurance policy now", "chocolate cake recipe", ""]
    _, answer = await client.embeddings([demo_route()], {"model": "embed", "input": texts})
    vectors = [item["embedding"] for item in answer["data"]]
    assert all(len(v) == demo_upstream.EMBEDDING_DIM for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert demo_upstream.embed("cancel my insurance policy") == vectors[0]
    assert answer["usage"]["prompt_tokens"] > 0
    _, single = await client.embeddings([demo_route()], {"model": "embed", "input": "one text"})
    assert len(single["data"]) == 1
    await client.aclose()
