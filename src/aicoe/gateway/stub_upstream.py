"""A small OpenAI-compatible upstream for tests and the benchmark (the network edge aicoe does not own).

``make_stub_app`` builds a Starlette app serving ``/v1/chat/completions`` (streamed or not, tool calls answered when
the request offers tools, usage reported), ``/v1/embeddings`` and ``/v1/models``. Knobs: a fixed latency before
each answer, a delay between streamed chunks, the answer text, and a script of failures to serve first
(``stub.fail(500, times=2)``, ``stub.fail(429, retry_after="1")``). It records every request it receives (path,
query, headers, JSON body) and every stream the client abandoned. ``serve_in_thread(app)`` runs it with uvicorn
on a free local port and yields the base URL to configure as a provider (``http://127.0.0.1:PORT/v1``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aicoe.core.net import tcp_listener

DEFAULT_CONTENT = "Hello from the stub upstream."
SERVER_START_TIMEOUT_S = 10.0
CUT_OFF = "the stub upstream cut the stream off as scripted"
NOT_STARTED = "the stub upstream did not start within {seconds} s"


@dataclass(frozen=True)
class Scripted:
    """One scripted answer served before normal ones: an error status, or (status 200) a delay then the normal
    answer, or a stream cut off after ``cut_after`` chunks (the connection drops mid-body)."""

    status: int
    retry_after: str | None = None
    delay_s: float = 0.0
    body: dict[str, Any] | None = None
    cut_after: int | None = None


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class StubState:
    """What the stub serves and what it saw; shared between the server thread and the test."""

    latency_s: float
    chunk_delay_s: float
    content: str
    models: tuple[str, ...]
    embedding_dim: int
    script: deque[Scripted] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    completed_streams: int = 0
    disconnects: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def fail(self, status: int, *, times: int = 1, retry_after: str | None = None,
             body: dict[str, Any] | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (an OpenAI-style error body unless given)."""
        error = body or {"error": {"message": f"stub failure {status}", "type": "stub_error", "param": None,
                                   "code": str(status)}}
        self.script.extend(Scripted(status, retry_after=retry_after, body=error) for _ in range(times))

    def stall(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` requests for ``seconds`` before answering (to trip read timeouts)."""
        self.script.extend(Scripted(200, delay_s=seconds) for _ in range(times))

    def cut_stream(self, after_chunks: int) -> None:
        """Drop the connection of the next stream after ``after_chunks`` content chunks."""
        self.script.append(Scripted(200, cut_after=after_chunks))

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def wait_disconnects(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until ``count`` abandoned streams were seen (True) or the timeout passes (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.disconnects >= count, timeout)

    def _stream_ended(self, completed: bool) -> None:
        with self._changed:
            if completed:
                self.completed_streams += 1
            else:
                self.disconnects += 1
            self._changed.notify_all()


def _tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def _usage(body: dict[str, Any], completion: str) -> dict[str, int]:
    prompt = _tokens(json.dumps(body.get("messages") or body.get("input") or "", ensure_ascii=False))
    completion_tokens = _tokens(completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens}


def _tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools") or []
    if not tools or body.get("tool_choice") == "none" or (body.get("messages") or [{}])[-1].get("role") == "tool":
        return None
    name = tools[0].get("function", {}).get("name", "tool")
    return {"id": "call_stub_0", "type": "function", "function": {"name": name, "arguments": '{"echo": true}'}}


def _vector(text: str, dim: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [digest[i % len(digest)] - 127.5 for i in range(dim)]
    norm = sum(v * v for v in raw) ** 0.5
    return [v / norm for v in raw]


def make_stub_app(*, latency_ms: float = 0.0, chunk_delay_ms: float = 0.0, content: str = DEFAULT_CONTENT,
                  models: tuple[str, ...] = ("stub-model",), embedding_dim: int = 8) -> Starlette:
    """The stub upstream; its ``StubState`` is ``app.state.stub``."""
    state = StubState(latency_ms / 1000, chunk_delay_ms / 1000, content, models, embedding_dim)

    async def prelude(request: Request) -> tuple[dict[str, Any] | None, Response | None, Scripted | None]:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        state.requests.append(Recorded(request.url.path, dict(request.query_params), dict(request.headers), body))
        scripted = state.script.popleft() if state.script else None
        if scripted and scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        if scripted and scripted.status >= 400:
            headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else None
            return body, JSONResponse(scripted.body, status_code=scripted.status, headers=headers), scripted
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        return body, None, scripted

    async def chat(request: Request) -> Response:
        body, early, scripted = await prelude(request)
        if early is not None:
            return early
        body = body or {}
        call = _tool_call(body)
        ident = f"chatcmpl-stub-{len(state.requests)}"
        if body.get("stream"):
            cut_after = scripted.cut_after if scripted else None
            return StreamingResponse(_stream(body, call, ident, cut_after), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": None if call else state.content}
        if call:
            message["tool_calls"] = [call]
        return JSONResponse({
            "id": ident, "object": "chat.completion", "created": int(time.time()), "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}],
            "usage": _usage(body, state.content if not call else json.dumps(call)),
        })

    async def _stream(body: dict[str, Any], call: dict[str, Any] | None, ident: str,
                      cut_after: int | None) -> AsyncIterator[str]:
        base = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "")}
        include_usage = (body.get("stream_options") or {}).get("include_usage")

        def event(choices: list[dict[str, Any]], **extra: Any) -> str:
            payload = {**base, "choices": choices, **extra}
            if include_usage and "usage" not in extra:
                payload["usage"] = None
            return f"data: {json.dumps(payload)}\n\n"

        def delta(value: dict[str, Any], finish: str | None = None) -> str:
            return event([{"index": 0, "delta": value, "finish_reason": finish}])

        completed = False
        try:
            yield delta({"role": "assistant", "content": ""})
            if call:
                yield delta({"tool_calls": [{"index": 0, **call, "function": {**call["function"], "arguments": ""}}]})
                yield delta({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]})
            else:
                for i, word in enumerate(state.content.split(" ")):
                    if i == cut_after:
                        raise ConnectionAbortedError(CUT_OFF)
                    if state.chunk_delay_s:
                        await asyncio.sleep(state.chunk_delay_s)
                    yield delta({"content": word if i == 0 else " " + word})
            yield delta({}, "tool_calls" if call else "stop")
            if include_usage:
                yield event([], usage=_usage(body, state.content if not call else json.dumps(call)))
            yield "data: [DONE]\n\n"
            completed = True
        finally:
            state._stream_ended(completed)

    async def embeddings(request: Request) -> Response:
        body, early, _ = await prelude(request)
        if early is not None:
            return early
        body = body or {}
        raw = body.get("input", "")
        texts = [raw] if isinstance(raw, str) else [str(item) for item in raw]
        return JSONResponse({
            "object": "list", "model": body.get("model", ""),
            "data": [{"object": "embedding", "index": i, "embedding": _vector(t, state.embedding_dim)}
                     for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": sum(_tokens(t) for t in texts), "total_tokens": sum(_tokens(t) for t in texts)},
        })

    async def list_models(request: Request) -> Response:
        _, early, _ = await prelude(request)
        if early is not None:
            return early
        return JSONResponse({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "stub"} for name in state.models]})

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/openai/deployments/{deployment}/chat/completions", chat, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/openai/deployments/{deployment}/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.stub = state
    return app


@contextmanager
def serve_in_thread(app: Any, port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a daemon thread; yields ``http://127.0.0.1:PORT/v1``."""
    sock = tcp_listener("127.0.0.1", port)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(NOT_STARTED.format(seconds=SERVER_START_TIMEOUT_S))
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
