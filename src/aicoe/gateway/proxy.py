"""The hot path of ``/v1``: authenticate the virtual key, bound and route the request, admit it under the key's
rate limits, check its input against the key's guardrail policy, reserve its maximum cost in every budget that
applies, call the upstream, check the answer (incrementally when streamed), settle the budgets with the actual
cost and queue a usage record. Nothing on this path waits for the database unless the limit store is the database.

Budgets: the reservation is the maximum cost over the alias's routes (a fallback may be pricier); it is settled
with the actual cost when the upstream answered (charged even if the output guard then withheld the answer, since
the tokens were spent) and released when no upstream answer was produced (an error, or the caller gone first).

Guard checks run on the event loop (they are CPU-bound and short) except those of a policy that compares text with
denied topics' examples through the embedding route: a blocking call, so they run in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from aicoe.core.time import utcnow
from aicoe.engines.guardrails.anonymise import restore_text
from aicoe.engines.guardrails.guard import Guard, Verdict
from aicoe.engines.guardrails.policy import GuardPolicy
from aicoe.gateway import errors, metrics, tokens
from aicoe.gateway.errors import GatewayError
from aicoe.gateway.keys import hash_key
from aicoe.gateway.limits import LimitExceeded, Reservation
from aicoe.gateway.metering import PromptEntry
from aicoe.gateway.runtime import GUARD_CALLER, GatewayRuntime, GuardCaller
from aicoe.gateway.service import KeyConfig
from aicoe.gateway.upstream import RouteConfig, UpstreamError

log = logging.getLogger("aicoe.gateway")
T = TypeVar("T")

JSON_SEPARATORS = (",", ":")
DONE = b"data: [DONE]\n\n"
GUARD_SEVERITY = {"pass": 0, "logged": 1, "anonymised": 2, "blocked": 3}
VERDICT_OUTCOME = {"block": "blocked", "anonymise": "anonymised"}


class ClientGone(Exception):
    """The caller disconnected before the answer was ready."""


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=JSON_SEPARATORS).encode()


def json_response(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json")


def sse(data: Any) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"


class Call:
    """What one request accumulates for its usage record, metrics and events."""

    __slots__ = ("started", "request_id", "endpoint", "key", "alias", "route", "stream", "tokens_in", "tokens_out",
                 "cost", "upstream_s", "upstream_status", "guardrail", "events", "policy_id", "policy", "prompt",
                 "answer", "answer_bytes", "reservation", "answered", "offload")

    def __init__(self, endpoint: str) -> None:
        self.started = time.perf_counter()
        self.request_id = uuid.uuid4().hex
        self.endpoint = endpoint
        self.key: KeyConfig | None = None
        self.alias = ""
        self.route: RouteConfig | None = None
        self.stream = False
        self.tokens_in = self.tokens_out = self.cost = 0
        self.upstream_s = 0.0
        self.upstream_status: int | None = None
        self.guardrail = "pass"
        self.events: list[dict[str, Any]] = []
        self.policy_id: int | None = None
        self.policy: GuardPolicy | None = None
        self.prompt: str | None = None
        self.answer: list[str] = []  # kept only for a prompt log
        self.answer_bytes = 0
        self.reservation: Reservation | None = None
        self.answered = False
        self.offload: frozenset[str] = frozenset()  # directions whose guard checks run in a worker thread

    def note_answer(self, text: str) -> None:
        """Count what the caller received (the token bound when no usage comes), keep it only for a prompt log."""
        if text:
            self.answer_bytes += tokens.text_bound(text)
            if self.prompt is not None:
                self.answer.append(text)

    def note_verdict(self, verdict: Verdict, direction: str) -> None:
        """Record the verdict's findings as guardrail events (no text) and raise the call's guardrail outcome."""
        if not verdict.findings:
            return
        outcome = VERDICT_OUTCOME.get(verdict.action, "logged")
        if GUARD_SEVERITY[outcome] > GUARD_SEVERITY[self.guardrail]:
            self.guardrail = outcome
        key = self.key
        now = utcnow()
        for f in verdict.findings:
            metrics.child(metrics.GUARDRAIL, f.rule, f.action, direction).inc()
            self.events.append({
                "ts": now, "request_id": self.request_id, "key_id": key.id if key else None,
                "use_case_id": key.use_case_id if key else None, "policy_id": self.policy_id,
                "direction": direction, "rule": f.rule[:80], "kind": f.kind, "action": f.action,
                "entity_types": list(f.entity_types), "score": f.score,
            })


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def render_messages(messages: Sequence[Any]) -> str:
    """A chat as plain text for prompt logs."""
    return "\n".join(f"{m.get('role', '?')}: {_message_text(m.get('content'))}" for m in messages
                     if isinstance(m, Mapping))


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work`` unless the caller disconnects first; then cancel it (closing its upstream call).

    ``work`` runs in the request's own task; one watcher task cancels that task when the caller goes (cheaper
    than a task for ``work`` and a wait on both)."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        result = await work
    except asyncio.CancelledError:
        if gone and task.uncancel() == 0:  # ours, not a cancellation from outside (server shutdown)
            raise ClientGone from None
        raise
    finally:
        watcher.cancel()
    if gone:  # the caller left as ``work`` finished: it consumed our cancellation
        task.uncancel()
        raise ClientGone
    return result


class Proxy:
    """The /v1 endpoints over one ``GatewayRuntime``."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        self.rt = runtime

    # -- request preparation -----------------------------------------------------------------------------------
    def authenticate(self, request: Request) -> KeyConfig:
        config = self.rt.config
        if config is None or not self.rt.started:
            raise GatewayError(503, errors.NOT_READY, type="server_error", code="gateway_starting",
                               headers={"Retry-After": "1"})
        header = request.headers.get("authorization", "")
        raw = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("api-key", "").strip()
        if not raw:
            raise errors.unauthorized(errors.MISSING_KEY)
        key = config.keys.get(hash_key(raw))
        if key is None:
            raise errors.unauthorized(errors.INVALID_KEY)
        if key.revoked:
            raise errors.unauthorized(errors.REVOKED_KEY)
        if key.expires_at is not None and key.expires_at <= utcnow():
            raise errors.unauthorized(errors.EXPIRED_KEY)
        return key

    async def read_json(self, request: Request) -> dict[str, Any]:
        limit = self.rt.settings.gateway_max_request_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise GatewayError(413, errors.BODY_TOO_LARGE.format(limit=limit), code="request_too_large")
        chunks, size, more = [], 0, True
        while more:  # ASGI messages read directly: Request.stream()'s async generator costs more per request
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk, more = message.get("body", b""), message.get("more_body", False)
            size += len(chunk)
            if size > limit:
                raise GatewayError(413, errors.BODY_TOO_LARGE.format(limit=limit), code="request_too_large")
            chunks.append(chunk)
        try:
            body = json.loads(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        except ValueError:
            raise GatewayError(400, errors.INVALID_JSON, code="invalid_json") from None
        if not isinstance(body, dict):
            raise GatewayError(400, errors.INVALID_BODY.format(detail="the body must be a JSON object"))
        return body

    def routes_for(self, key: KeyConfig, body: Mapping[str, Any], kind: str, endpoint: str) -> list[RouteConfig]:
        config = self.rt.config
        assert config is not None
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise GatewayError(400, errors.INVALID_BODY.format(detail="'model' is required"), param="model")
        routes = config.routes.get(model)
        if not routes:
            raise GatewayError(404, errors.MODEL_NOT_FOUND.format(model=model[:120]), code="model_not_found",
                               param="model")
        if key.allowed_aliases and model not in key.allowed_aliases:
            raise GatewayError(403, errors.MODEL_NOT_ALLOWED.format(model=model), code="model_not_allowed",
                               param="model")
        usable = [r for r in routes if r.kind == kind]
        if not usable:
            raise GatewayError(400, errors.WRONG_ENDPOINT.format(model=model, endpoint=endpoint), param="model",
                               code="model_not_supported")
        return usable

    async def admit(self, key: KeyConfig, tokens_estimate: int) -> None:
        store = self.rt.store
        assert store is not None
        if key.rpm_limit is None and key.tpm_limit is None:
            return
        try:
            await store.admit(key.id, key.rpm_limit, key.tpm_limit, tokens_estimate)
        except LimitExceeded as exc:
            raise self.limit_error(exc) from None

    async def reserve(self, key: KeyConfig, amount: int, tokens_estimate: int) -> Reservation | None:
        store = self.rt.store
        assert store is not None
        if not key.budgets and key.tpm_limit is None:
            return None
        try:
            return await store.reserve(key.budgets, amount, key_id=key.id, tokens=tokens_estimate)
        except LimitExceeded as exc:
            raise self.limit_error(exc) from None

    @staticmethod
    def limit_error(exc: LimitExceeded) -> GatewayError:
        metrics.child(metrics.LIMIT_REJECTIONS, exc.kind, exc.scope).inc()
        headers = errors.retry_after_headers(exc.retry_after) if exc.kind != "budget" else {}
        if exc.kind == "budget" or exc.retry_after is None:
            headers["x-should-retry"] = "false"  # the OpenAI SDKs honour this: waiting a few seconds will not help
        if exc.kind == "budget":
            return GatewayError(429, exc.message, type="insufficient_quota", code="budget_exceeded", headers=headers)
        return GatewayError(429, exc.message, type="tokens" if exc.kind == "tpm" else "requests",
                            code="rate_limit_exceeded", headers=headers)

    @staticmethod
    async def guarded(call: Call, direction: str, check: Callable[..., T], *args: Any) -> T:
        """Run a guard check, in a worker thread when it may wait on the embedding route (whose calls are metered
        to this call: the thread gets a copy of ``GUARD_CALLER``)."""
        if direction in call.offload:
            caller = GUARD_CALLER.set(GuardCaller(call.request_id, call.key))
            try:
                return await asyncio.to_thread(check, *args)
            finally:
                GUARD_CALLER.reset(caller)
        return check(*args)

    async def guard_input(self, call: Call, guard: Guard, check: Callable[[], Verdict]) -> Verdict:
        """Run an input check; a guard that raises fails closed unless the policy says fail open."""
        try:
            verdict = await self.guarded(call, "input", check)
        except Exception as exc:  # noqa: BLE001 -- detectors are plug-ins; their failure must not pass text through
            log.error("guardrail check raised %s", type(exc).__name__)
            if call.policy is not None and call.policy.fail_open:
                return Verdict(action="allow", findings=[], messages=None, restore={}, reason=None)
            raise errors.guard_unavailable() from None
        call.note_verdict(verdict, "input")
        if verdict.action == "block":
            if any(f.kind == "error" for f in verdict.findings):
                raise errors.guard_unavailable(verdict.reason or errors.GUARD_UNAVAILABLE_MESSAGE)
            raise GatewayError(400, verdict.reason or errors.GUARD_UNAVAILABLE_MESSAGE, code="guardrail_blocked",
                               headers={"x-should-retry": "false"})
        return verdict

    # -- usage ---------------------------------------------------------------------------------------------------
    def finish(self, call: Call, status: int, outcome: str, error: str = "") -> None:
        """Metrics and the usage record of a finished call (none for an unauthenticated one)."""
        elapsed = time.perf_counter() - call.started
        metrics.child(metrics.REQUESTS, call.alias, str(status), outcome).inc()
        metrics.child(metrics.OVERHEAD, call.endpoint).observe(max(elapsed - call.upstream_s, 0.0))
        key = call.key
        if key is None:
            return
        route = call.route
        if route is not None:
            metrics.child(metrics.UPSTREAM_LATENCY, call.alias).observe(call.upstream_s)
            metrics.child(metrics.TOKENS, call.alias, "in").inc(call.tokens_in)
            metrics.child(metrics.TOKENS, call.alias, "out").inc(call.tokens_out)
            metrics.child(metrics.COST, call.alias).inc(call.cost)
        now = utcnow()
        usage = {
            "ts": now, "request_id": call.request_id, "key_id": key.id, "use_case_id": key.use_case_id,
            "ai_system_id": key.ai_system_id, "business_unit_id": key.business_unit_id, "endpoint": call.endpoint,
            "alias": call.alias[:120], "provider_id": route.provider.id if route else None,
            "upstream_model": route.upstream_model if route else "", "stream": call.stream,
            "tokens_in": call.tokens_in, "tokens_out": call.tokens_out, "cost_micros": call.cost,
            "latency_ms": elapsed * 1000, "upstream_status": call.upstream_status, "outcome": outcome,
            "guardrail": call.guardrail, "error": error[:200],
        }
        prompt = None
        if key.logging in ("redacted", "full") and call.prompt is not None:
            prompt = PromptEntry(request_id=call.request_id, key_id=key.id, mode=key.logging, prompt=call.prompt,
                                 response="".join(call.answer), retention_days=key.log_retention_days,
                                 policy=call.policy, ts=now)
        self.rt.writer.add(usage, call.events, prompt)

    def charge(self, call: Call, route: RouteConfig, usage: Mapping[str, Any] | None, in_bound: int) -> None:
        """Tokens and cost from the upstream's usage, else from the gateway's upper bounds."""
        if usage and isinstance(usage.get("prompt_tokens"), int):
            call.tokens_in = usage["prompt_tokens"]
            call.tokens_out = int(usage.get("completion_tokens") or 0)
        else:
            call.tokens_in = in_bound
            call.tokens_out = call.answer_bytes
        call.cost = tokens.cost_micros(call.tokens_in, call.tokens_out, route.price_input_micros_per_mtok,
                                       route.price_output_micros_per_mtok)

    async def close_reservation(self, call: Call) -> None:
        """Settle with the actual cost once the upstream answered, else release; at most once per call."""
        store, reservation = self.rt.store, call.reservation
        call.reservation = None
        if reservation is None or store is None:
            return
        try:
            if call.answered:
                await store.settle(reservation, call.cost, call.tokens_in + call.tokens_out)
            else:
                await store.release(reservation)
        except Exception as exc:  # noqa: BLE001 -- the store reclaims stale reservations; the answer stands
            log.error("settling a gateway budget reservation failed: %s", type(exc).__name__)

    def upstream_error(self, call: Call, exc: UpstreamError) -> GatewayError:
        call.upstream_status = exc.status
        body_error = (exc.body or {}).get("error") if isinstance(exc.body, dict) else None
        headers = errors.retry_after_headers(exc.retry_after)
        if isinstance(body_error, dict) and 400 <= exc.status < 500 and exc.status != 429:
            return GatewayError(exc.status, str(body_error.get("message") or exc.message),
                                type=str(body_error.get("type") or "invalid_request_error"),
                                code=body_error.get("code"), param=body_error.get("param"), headers=headers)
        return GatewayError(exc.status, exc.message, type="upstream_error", code="upstream_error", headers=headers)

    # -- endpoints -----------------------------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        call = Call("models")
        try:
            key = self.authenticate(request)
        except GatewayError as err:
            self.finish(call, err.status, "rejected")
            return err.response()
        config = self.rt.config
        assert config is not None
        aliases = sorted(a for a in config.routes if not key.allowed_aliases or a in key.allowed_aliases)
        metrics.child(metrics.REQUESTS, "", "200", "ok").inc()
        return json_response({"object": "list", "data": [
            {"id": alias, "object": "model", "created": 0, "owned_by": "aicoe"} for alias in aliases]})

    async def chat(self, request: Request) -> Response:
        return await self.run(Call("chat"), request, self.chat_flow)

    async def embeddings(self, request: Request) -> Response:
        return await self.run(Call("embeddings"), request, self.embeddings_flow)

    async def run(self, call: Call, request: Request, flow: Any) -> Response:
        """Run one endpoint's flow; every way out settles or releases its reservation and records the call."""
        try:
            return await flow(call, request)
        except GatewayError as err:
            await self.close_reservation(call)
            outcome = "blocked" if err.code in ("guardrail_blocked", "guardrail_unavailable") else "rejected"
            self.finish(call, err.status, outcome, err.code or "")
            return err.response()
        except UpstreamError as exc:
            await self.close_reservation(call)
            err = self.upstream_error(call, exc)
            self.finish(call, err.status, "error", f"upstream {exc.status}")
            return err.response()
        except ClientGone:
            await self.close_reservation(call)
            self.finish(call, 499, "cancelled")
            return Response(status_code=499)
        except Exception as exc:  # noqa: BLE001 -- answer in OpenAI's format; log the type only (no text)
            log.error("gateway request failed: %s", type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
            await self.close_reservation(call)
            self.finish(call, 500, "error", type(exc).__name__)
            return GatewayError(500, errors.INTERNAL, type="server_error", code="internal_error").response()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close_reservation(call)
            raise

    async def chat_flow(self, call: Call, request: Request) -> Response:
        call.key = key = self.authenticate(request)
        body = await self.read_json(request)
        routes = self.routes_for(key, body, "chat", "chat completions")
        call.alias = routes[0].alias
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GatewayError(400, errors.INVALID_BODY.format(detail="'messages' must be a non-empty list"),
                               param="messages")
        call.stream = body.get("stream") is True
        bounds = [tokens.chat_bounds(body, r.context_limit) for r in routes]
        in_bound = bounds[0][0]
        max_cost = max(tokens.cost_micros(i, o, r.price_input_micros_per_mtok, r.price_output_micros_per_mtok)
                       for (i, o), r in zip(bounds, routes, strict=True))
        estimate = in_bound + (tokens.requested_output(body) or 0)
        await self.admit(key, estimate)
        call.policy_id, call.policy, guard = self.rt.policy_for(key)
        call.offload = self.rt.offloaded(call.policy_id)
        if key.logging in ("redacted", "full"):
            call.prompt = render_messages(messages)
        restore: Mapping[str, str] = {}
        if guard is not None and "input" in guard.directions:  # a policy with no input rule has nothing to say
            verdict = await self.guard_input(call, guard, lambda: guard.check_input(messages))
            if verdict.action == "anonymise" and verdict.messages is not None:
                body["messages"] = verdict.messages
            if call.policy is not None and call.policy.restore:
                restore = verdict.restore
        call.reservation = await self.reserve(key, max_cost, estimate)
        if guard is not None and not guard.checks("output") and not restore:
            guard = None  # nothing to check or restore in the answer: relay it untouched
        upstreams = self.rt.upstreams
        assert upstreams is not None
        started = time.perf_counter()
        if call.stream:
            route, stream = await until_disconnect(request, upstreams.chat_stream(routes, body))
            call.upstream_s += time.perf_counter() - started
            call.route, call.upstream_status, call.answered = route, 200, True
            relay = self.relay(call, stream, guard, restore, in_bound)
            return StreamingResponse(relay, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        route, answer = await until_disconnect(request, upstreams.chat(routes, body))
        call.upstream_s += time.perf_counter() - started
        call.route, call.upstream_status, call.answered = route, 200, True
        await self.guarded(call, "output", self.check_answer, call, guard, answer, restore)
        self.charge(call, route, answer.get("usage"), in_bound)
        await self.close_reservation(call)
        self.finish(call, 200, "blocked" if call.guardrail == "blocked" else "ok")
        return json_response(answer)

    def check_answer(self, call: Call, guard: Guard | None, answer: dict[str, Any], restore: Mapping[str, str]) -> None:
        """Output guard of a whole answer: withhold a blocked choice (``finish_reason: content_filter``), rewrite an
        anonymised one, restore placeholders where the policy allows."""
        for choice in answer.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                continue
            text = message["content"]
            if guard is not None:
                verdict = guard.check_text(text, "output", taken=restore)
                call.note_verdict(verdict, "output")
                if verdict.action == "block":
                    message["content"] = verdict.reason or errors.GUARD_UNAVAILABLE_MESSAGE
                    choice["finish_reason"] = "content_filter"
                    continue
                if verdict.action == "anonymise" and verdict.text is not None:
                    text = verdict.text
            message["content"] = restore_text(text, restore) if restore else text
            call.note_answer(message["content"])

    async def relay(self, call: Call, stream: Any, guard: Guard | None, restore: Mapping[str, str],
                    in_bound: int) -> AsyncIterator[bytes]:
        """Forward a stream as SSE; with a guard, each choice's text goes through a ``StreamGuard`` and is released
        once checked (at most the hold-back behind); a violation ends the stream with the guardrail message and
        ``finish_reason: content_filter`` and closes the upstream."""
        holdback = self.rt.settings.gateway_stream_holdback_chars
        guards: dict[int, Any] = {}
        status, outcome, error = 200, "ok", ""
        started = time.perf_counter()
        try:
            envelope: dict[str, Any] = {}
            async for chunk in stream:
                envelope = chunk
                if guard is None:
                    for choice in chunk.get("choices") or ():
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            call.note_answer(content)
                    yield sse(chunk)
                    continue
                stopped = False
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta")
                    if not isinstance(delta, dict):
                        delta = choice["delta"] = {}
                    index = choice.get("index", 0)
                    sguard = guards.get(index)
                    if sguard is None:
                        sguard = guards[index] = guard.stream(restore=restore or None, holdback=holdback)
                    released: list[str] = []
                    if delta.get("content"):
                        step = await self.guarded(call, "output", sguard.feed, delta["content"])
                        released.append(step.release)
                        stopped = self.note_step(call, step)
                    if not stopped and choice.get("finish_reason") is not None:
                        step = await self.guarded(call, "output", sguard.finish)
                        released.append(step.release)
                        stopped = self.note_step(call, step)
                    text = "".join(released)
                    call.note_answer(text)
                    if stopped:
                        if text:
                            yield from_chunk(chunk, index, text, None)
                        yield from_chunk(chunk, index, self.stop_message(step), "content_filter")
                        break
                    if text or "content" in delta:
                        delta["content"] = text
                if stopped:
                    outcome = "blocked"
                    yield DONE
                    break
                if self.worth_sending(chunk):
                    yield sse(chunk)
            else:
                for index, sguard in guards.items():
                    step = await self.guarded(call, "output", sguard.finish)
                    if step.release and envelope:
                        call.note_answer(step.release)
                        yield from_chunk(envelope, index, step.release, None)
                yield DONE
        except UpstreamError as exc:
            status, outcome, error = exc.status, "error", f"upstream {exc.status}"
            yield sse(self.upstream_error(call, exc).body())
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            with anyio.CancelScope(shield=True):
                call.upstream_s += time.perf_counter() - started
                await stream.aclose()
                assert call.route is not None
                self.charge(call, call.route, stream.usage, in_bound)
                await self.close_reservation(call)
                self.finish(call, status, outcome, error)

    def note_step(self, call: Call, step: Any) -> bool:
        if step.verdict is not None:
            call.note_verdict(step.verdict, "output")
        return bool(step.stop)

    @staticmethod
    def stop_message(step: Any) -> str:
        return (step.verdict.reason if step.verdict is not None else None) or errors.GUARD_UNAVAILABLE_MESSAGE

    @staticmethod
    def worth_sending(chunk: Mapping[str, Any]) -> bool:
        """A chunk whose text is all held back is dropped unless it still carries something else."""
        if chunk.get("usage") or not chunk.get("choices"):
            return True
        for choice in chunk["choices"]:
            delta = choice.get("delta") or {}
            if choice.get("finish_reason") is not None or delta.get("content") or delta.get("tool_calls") \
                    or delta.get("role") or delta.get("function_call") or delta.get("refusal"):
                return True
        return False

    async def embeddings_flow(self, call: Call, request: Request) -> Response:
        call.key = key = self.authenticate(request)
        body = await self.read_json(request)
        routes = self.routes_for(key, body, "embedding", "embeddings")
        call.alias = routes[0].alias
        if body.get("input") in (None, "", []):
            raise GatewayError(400, errors.INVALID_BODY.format(detail="'input' is required"), param="input")
        in_bound = tokens.embedding_input_bound(body)
        max_cost = max(tokens.cost_micros(min(in_bound, r.context_limit), 0, r.price_input_micros_per_mtok, 0)
                       for r in routes)
        await self.admit(key, in_bound)
        call.policy_id, call.policy, guard = self.rt.policy_for(key)
        call.offload = self.rt.offloaded(call.policy_id)
        if guard is not None:
            body["input"] = await self.guard_embedding_input(call, guard, body["input"])
        call.reservation = await self.reserve(key, max_cost, in_bound)
        upstreams = self.rt.upstreams
        assert upstreams is not None
        started = time.perf_counter()
        route, answer = await until_disconnect(request, upstreams.embeddings(routes, body))
        call.upstream_s += time.perf_counter() - started
        call.route, call.upstream_status, call.answered = route, 200, True
        usage = answer.get("usage") or {}
        call.tokens_in = int(usage.get("prompt_tokens") or usage.get("total_tokens") or in_bound)
        call.cost = tokens.cost_micros(call.tokens_in, 0, route.price_input_micros_per_mtok, 0)
        await self.close_reservation(call)
        self.finish(call, 200, "ok")
        return json_response(answer)

    async def guard_embedding_input(self, call: Call, guard: Guard, value: Any) -> Any:
        """Each text input is checked like a prompt; anonymised text is what gets embedded."""
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, str):
                verdict = await self.guard_input(call, guard, lambda text=item: guard.check_text(text, "input"))
                if verdict.action == "anonymise" and verdict.text is not None:
                    item = verdict.text
            out.append(item)
        return out if isinstance(value, list) else out[0]


def from_chunk(chunk: Mapping[str, Any], index: int, text: str, finish_reason: str | None) -> bytes:
    """A chunk in the upstream's envelope (id, created, model) carrying ``text`` for one choice."""
    out = {k: v for k, v in chunk.items() if k not in ("choices", "usage")}
    out["choices"] = [{"index": index, "delta": {"content": text}, "finish_reason": finish_reason}]
    return sse(out)
