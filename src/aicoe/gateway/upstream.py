"""Calls to OpenAI-compatible upstreams, with retries, fallback routes and a circuit breaker per provider.

One ``Upstreams`` per process owns one ``http1.Client``: keep-alive pools per origin (one connection per request in
flight, idle ones kept for reuse), so the hot path never opens a connection it could reuse, and a lean client
whose per-request CPU is a fraction of a general-purpose one's. URL schemes:

- ``openai`` and ``openai_compatible`` (vLLM, Ollama, llama.cpp server, providers' compatible endpoints):
  ``{base_url}/chat/completions`` with ``Authorization: Bearer <api_key>``; base_url includes ``/v1``.
- ``azure_openai``: ``{base_url}/openai/deployments/{upstream_model}/chat/completions?api-version=...`` with an
  ``api-key`` header.
- ``demo``: the in-process demonstration upstream (``demo_upstream``), no network.

Routes are tried in the order given. A route is retried (``RetryPolicy``) on connect errors, timeouts, 429 and
500-504, then the next route is tried; a provider whose circuit is open is skipped. Any other 4xx is the caller's
problem and is raised at once as ``UpstreamError`` without fallback (401/403 become 502: the gateway's upstream
credentials are wrong, not the caller's key).

Streams: ``chat_stream`` returns an ``UpstreamStream``, an async iterator of the upstream's SSE chunks as dicts that
ends at ``[DONE]``. Retries and fallback happen only before the first chunk. The gateway always asks the upstream
for usage (``stream_options.include_usage``); when the caller did not ask for it, the usage-only chunk (and the
``usage`` key of other chunks) is kept from the caller. Either way the last usage seen is ``stream.usage`` once
the iterator ends. Cancelling the consuming task, or ``aclose()``, closes the upstream response, so the upstream
sees the disconnect and stops generating.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from aicoe.gateway import demo_upstream, http1
from aicoe.gateway.resilience import RETRYABLE_STATUSES, Breakers, CircuitBreaker, RetryPolicy, parse_retry_after

PROVIDER_KINDS = ("openai", "azure_openai", "openai_compatible", "demo")
OPENAI_BASE_URL = "https://api.openai.com/v1"
WRITE_TIMEOUT_S = 30.0  # the guardrails' synchronous embedding client (runtime.py); http1 needs none

NO_ROUTE = "no upstream route is configured for this model"
CIRCUIT_OPEN = "the upstream for model {alias} is unavailable after repeated failures; try again later"
UPSTREAM_TIMEOUT = "the upstream for model {alias} did not answer in time"
UPSTREAM_UNREACHABLE = "the upstream for model {alias} could not be reached"
UPSTREAM_STATUS = "the upstream for model {alias} failed with status {status}"
UPSTREAM_CREDENTIALS = "the gateway's credentials for the upstream of model {alias} were refused"
UPSTREAM_INVALID = "the upstream for model {alias} sent an invalid response"
STREAM_INTERRUPTED = "the upstream for model {alias} interrupted the stream"

T = TypeVar("T")


@dataclass(frozen=True)
class ProviderConfig:
    id: int
    name: str
    kind: str
    base_url: str
    api_key: str | None
    api_version: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    max_retries: int = 2


@dataclass(frozen=True)
class RouteConfig:
    id: int
    alias: str
    priority: int
    kind: str
    provider: ProviderConfig
    upstream_model: str
    price_input_micros_per_mtok: int = 0
    price_output_micros_per_mtok: int = 0
    context_limit: int = 8192


class UpstreamError(Exception):
    """An upstream call that failed: ``status`` is what the gateway answers, ``body`` the upstream's JSON error
    (which may quote the request: never log it), ``route`` the last route tried."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None,
                 body: dict[str, Any] | None = None, route: RouteConfig | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.body = body
        self.route = route


class _Retryable(Exception):
    """An attempt that failed in a way worth retrying or falling back from."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.error = error


def endpoint(route: RouteConfig, path: str) -> tuple[str, dict[str, str]]:
    """The URL and query parameters of ``path`` (``chat/completions``, ``embeddings``) for a route."""
    provider = route.provider
    base = provider.base_url.rstrip("/")
    if provider.kind == "azure_openai":
        return f"{base}/openai/deployments/{quote(route.upstream_model, safe='')}/{path}", {
            "api-version": provider.api_version}
    return f"{base or OPENAI_BASE_URL}/{path}", {}


def request_headers(provider: ProviderConfig) -> dict[str, str]:
    """The provider's extra headers, then its credential (which they cannot override, in any letter case)."""
    if not provider.api_key:
        return dict(provider.headers)
    name, value = ("api-key", provider.api_key) if provider.kind == "azure_openai" else (
        "Authorization", f"Bearer {provider.api_key}")
    headers = {k: v for k, v in provider.headers.items() if k.lower() != name.lower()}
    headers[name] = value
    return headers


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _json_body(content: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _http_error(route: RouteConfig, response: http1.Response) -> UpstreamError:
    status = response.status
    body = _json_body(response.content)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status in RETRYABLE_STATUSES:
        gateway_status = 429 if status == 429 else 502
        return UpstreamError(gateway_status, UPSTREAM_STATUS.format(alias=route.alias, status=status),
                             retry_after=retry_after, body=body, route=route)
    if status in (401, 403):
        return UpstreamError(502, UPSTREAM_CREDENTIALS.format(alias=route.alias), body=body, route=route)
    error = (body or {}).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return UpstreamError(status, message or UPSTREAM_STATUS.format(alias=route.alias, status=status),
                         body=body, route=route)


def _transport_error(route: RouteConfig, exc: Exception, template_timeout: str, template_other: str) -> UpstreamError:
    if isinstance(exc, http1.Timeout):
        return UpstreamError(504, template_timeout.format(alias=route.alias), route=route)
    return UpstreamError(502, template_other.format(alias=route.alias), route=route)


async def lines(blocks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The lines of a body read in blocks (LF, CRLF or CR endings; a last unterminated line too), without their
    endings: what ``bytes.splitlines`` gives for the whole body, however it is split."""
    pending = b""
    async for block in blocks:
        buffer = pending + block if pending else block
        end = len(buffer) - 1 if buffer.endswith(b"\r") else len(buffer)  # maybe the first half of a CRLF
        cut = max(buffer.rfind(b"\n", 0, end), buffer.rfind(b"\r", 0, end))
        if cut < 0:
            pending = buffer
            continue
        pending = buffer[cut + 1:]
        for line in buffer[:cut + 1].splitlines():
            yield line
    for line in pending.splitlines():
        yield line


async def _sse_chunks(route: RouteConfig, response: http1.Response) -> AsyncIterator[dict[str, Any]]:
    """The response's SSE ``data`` events as dicts, until ``[DONE]``; transport failures become UpstreamError.
    Comments (keep-alive pings) and ``event:`` lines are skipped."""
    data: list[bytes] = []
    try:
        async for line in lines(response.aiter_bytes()):
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip())
            elif not line and data:
                payload, data = b"\n".join(data), []
                if payload == b"[DONE]":
                    return
                yield _chunk(route, payload)
    except http1.TransportError as exc:
        raise _transport_error(route, exc, UPSTREAM_TIMEOUT, STREAM_INTERRUPTED) from None
    if data and data != [b"[DONE]"]:
        yield _chunk(route, b"\n".join(data))


def _chunk(route: RouteConfig, payload: bytes) -> dict[str, Any]:
    try:
        chunk = json.loads(payload)
    except ValueError:
        raise UpstreamError(502, UPSTREAM_INVALID.format(alias=route.alias), route=route) from None
    if not isinstance(chunk, dict):
        raise UpstreamError(502, UPSTREAM_INVALID.format(alias=route.alias), route=route)
    if "error" in chunk and "choices" not in chunk:
        raise UpstreamError(502, STREAM_INTERRUPTED.format(alias=route.alias), body=chunk, route=route)
    return chunk


class UpstreamStream:
    """A chat stream from one route: iterate for chunks (dicts); ``usage`` holds the last usage reported.

    Close it (``aclose``, ``async with``, or by cancelling the task awaiting it) to close the upstream response."""

    def __init__(self, route: RouteConfig, source: AsyncIterator[dict[str, Any]],
                 close: Callable[[], Awaitable[None]], *, first: dict[str, Any] | None, strip_usage: bool,
                 breaker: CircuitBreaker | None = None) -> None:
        self.route = route
        self.usage: dict[str, Any] | None = None
        self._source = source
        self._close = close
        self._pending = first
        self._strip_usage = strip_usage
        self._breaker = breaker
        self._closed = False

    def __aiter__(self) -> UpstreamStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while True:
            chunk = await self._next_raw()
            if chunk.get("usage"):
                self.usage = chunk["usage"]
            if not self._strip_usage or "usage" not in chunk:
                return chunk
            if chunk.get("choices"):
                return {key: value for key, value in chunk.items() if key != "usage"}

    async def _next_raw(self) -> dict[str, Any]:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        if self._closed:
            raise StopAsyncIteration
        try:
            return await anext(self._source)
        except StopAsyncIteration:
            await self.aclose()
            raise
        except UpstreamError:
            if self._breaker is not None:
                self._breaker.record_failure()
            await self.aclose()
            raise
        except BaseException:
            await asyncio.shield(self.aclose())
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending = None
        await self._close()

    async def __aenter__(self) -> UpstreamStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Upstreams:
    """The process's upstream client: one connection pool, one circuit breaker per provider."""

    def __init__(self, *, client: http1.Client | None = None, retry: RetryPolicy | None = None,
                 breakers: Breakers | None = None, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self._owns_client = client is None
        self._client = client or http1.Client()
        self.retry = retry or RetryPolicy()
        self.breakers = breakers or Breakers()
        self._sleep = sleep

    async def chat(self, routes: Sequence[RouteConfig], body: dict[str, Any]) -> tuple[RouteConfig, dict[str, Any]]:
        """A non-streamed chat completion from the first route that answers."""

        async def attempt(route: RouteConfig) -> dict[str, Any]:
            payload = {key: value for key, value in body.items() if key not in ("stream", "stream_options")}
            payload["model"] = route.upstream_model
            if route.provider.kind == "demo":
                return demo_upstream.chat(payload)
            return await self._post_json(route, "chat/completions", payload)

        return await self._first_success(routes, attempt)

    async def embeddings(self, routes: Sequence[RouteConfig],
                         body: dict[str, Any]) -> tuple[RouteConfig, dict[str, Any]]:
        """Embeddings from the first route that answers."""

        async def attempt(route: RouteConfig) -> dict[str, Any]:
            payload = {**body, "model": route.upstream_model}
            if route.provider.kind == "demo":
                return demo_upstream.embeddings(payload)
            return await self._post_json(route, "embeddings", payload)

        return await self._first_success(routes, attempt)

    async def chat_stream(self, routes: Sequence[RouteConfig],
                          body: dict[str, Any]) -> tuple[RouteConfig, UpstreamStream]:
        """A streamed chat completion; the first chunk has arrived when this returns."""
        options = dict(body.get("stream_options") or {})
        strip_usage = not options.get("include_usage")
        options["include_usage"] = True

        async def attempt(route: RouteConfig) -> UpstreamStream:
            payload = {**body, "model": route.upstream_model, "stream": True, "stream_options": options}
            if route.provider.kind == "demo":
                source = demo_upstream.chat_stream(payload)
                first = await anext(source)
                return UpstreamStream(route, source, source.aclose, first=first, strip_usage=strip_usage)
            return await self._open_stream(route, payload, strip_usage)

        return await self._first_success(routes, attempt)

    async def aclose(self) -> None:
        """Close the connection pool (a client passed in stays its owner's to close)."""
        if self._owns_client:
            await self._client.aclose()

    async def _first_success(self, routes: Sequence[RouteConfig],
                             attempt: Callable[[RouteConfig], Awaitable[T]]) -> tuple[RouteConfig, T]:
        """Try each route in order, retrying each per the retry policy; raise the last failure when all fail."""
        last: UpstreamError | None = None
        for route in routes:
            if route.provider.kind == "demo":
                return route, await attempt(route)
            breaker = self.breakers.get(route.provider.id)
            for number in range(route.provider.max_retries + 1):
                if not breaker.allow():
                    last = UpstreamError(503, CIRCUIT_OPEN.format(alias=route.alias),
                                         retry_after=breaker.retry_in(), route=route)
                    break
                try:
                    result = await attempt(route)
                except _Retryable as exc:
                    breaker.record_failure()
                    last = exc.error
                    wait = self.retry.delay(number, exc.error.retry_after)
                    if wait is None or number == route.provider.max_retries:
                        break
                    await self._sleep(wait)
                    continue
                except UpstreamError:
                    breaker.record_success()
                    raise
                except BaseException:
                    breaker.release()
                    raise
                breaker.record_success()
                return route, result
        raise last or UpstreamError(404, NO_ROUTE)

    async def _send(self, route: RouteConfig, path: str, payload: dict[str, Any], *,
                    stream: bool) -> http1.Response:
        """POST ``payload`` to the route's ``path``: a 2xx/3xx response (head only when ``stream``), else the
        upstream's error as ``UpstreamError`` (``_Retryable`` when worth another try)."""
        provider = route.provider
        url, params = endpoint(route, path)
        try:
            origin, target = http1.parse_url(url, tuple(params.items()))
            request = http1.build_request("POST", origin, target, request_headers(provider).items(), dumps(payload))
            response = await self._client.send(origin, request, connect_s=provider.connect_timeout_s,
                                               read_s=provider.read_timeout_s, stream=stream)
            if response.status < 400:
                return response
            if stream:
                try:
                    await response.aread()
                finally:
                    response.close()
        except http1.TransportError as exc:
            raise _Retryable(_transport_error(route, exc, UPSTREAM_TIMEOUT, UPSTREAM_UNREACHABLE)) from None
        error = _http_error(route, response)
        if response.status in RETRYABLE_STATUSES:
            raise _Retryable(error)
        raise error

    async def _post_json(self, route: RouteConfig, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self._send(route, path, payload, stream=False)
        data = _json_body(response.content)
        if data is None:
            raise _Retryable(UpstreamError(502, UPSTREAM_INVALID.format(alias=route.alias), route=route))
        return data

    async def _open_stream(self, route: RouteConfig, payload: dict[str, Any], strip_usage: bool) -> UpstreamStream:
        response = await self._send(route, "chat/completions", payload, stream=True)
        source = _sse_chunks(route, response)

        async def close() -> None:
            try:
                await source.aclose()
            finally:
                response.close()

        try:
            first = await anext(source)
        except StopAsyncIteration:
            await close()
            raise _Retryable(UpstreamError(502, UPSTREAM_INVALID.format(alias=route.alias), route=route)) from None
        except UpstreamError as exc:
            await close()
            raise _Retryable(exc) from None
        except BaseException:
            await asyncio.shield(close())
            raise
        return UpstreamStream(route, source, close, first=first, strip_usage=strip_usage,
                              breaker=self.breakers.get(route.provider.id))
