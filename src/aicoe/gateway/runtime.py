"""One ``GatewayRuntime`` per process: what the hot path reads without touching the database.

It holds a snapshot of the gateway's configuration (``service.load_config``: routes, keys by hash, policies), the
compiled ``Guard`` of each policy, the upstream client pool, the limit store and the usage writer. A background
task asks the database for ``service.config_version`` every ``gateway_config_refresh_s`` seconds and reloads the
snapshot only when it changed, so a new key, a revoked key or an edited policy takes effect within that interval
and requests never wait on the database for configuration.

Denied topics' examples are compared with prompts through the embedding route named by
``gateway_guard_embedding_alias`` (``RouteEmbedder``), each call metered as a usage record of the request whose
check made it. A guard is reused across reloads while its policy and that
route are unchanged, so the examples' embeddings (kept by the guard) are computed once per policy version. Checks of
a policy that embeds make blocking calls, so the proxy runs them in a worker thread (``offloaded``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx2
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.time import utcnow
from aicoe.engines.guardrails.guard import Guard
from aicoe.engines.guardrails.policy import GuardPolicy
from aicoe.gateway import demo_upstream, errors, limits, metrics, service, tokens, upstream
from aicoe.gateway.metering import UsageWriter
from aicoe.gateway.upstream import RouteConfig, Upstreams
from aicoe.models.gateway import GUARDRAIL_EMBEDDINGS

log = logging.getLogger("aicoe.gateway")

REFRESH_FAILED = "loading the gateway configuration failed (%s); serving the previous snapshot, if any"
NO_EMBEDDING_ALIAS = ("denied topics' examples are not compared, only their phrases match: "
                      "gateway_guard_embedding_alias is not set")
EMBEDDING_ALIAS_MISSING = ("denied topics' examples are not compared, only their phrases match: no enabled embedding "
                           "route has the alias %r (gateway_guard_embedding_alias)")
EMBEDDING_ROUTE_FAILED = "the guardrails' embedding route %s (provider %s) failed: %s"
EMBEDDING_UNAVAILABLE = "the guardrails' embedding route {alias} failed"
DIRECTIONS = ("input", "output")


class EmbeddingUnavailable(RuntimeError):
    """Every embedding route of the guardrails' alias failed; the guard applies the policy's fail-open rule."""


@dataclass(frozen=True)
class GuardCaller:
    """The request a guard check runs for: its embedding calls are metered to this key and use case."""

    request_id: str
    key: service.KeyConfig | None


# Set by the proxy around a check it runs in a worker thread (``asyncio.to_thread`` copies it into the thread).
GUARD_CALLER: ContextVar[GuardCaller | None] = ContextVar("aicoe_gateway_guard_caller", default=None)
Meter = Callable[[dict[str, Any]], None]


class RouteEmbedder:
    """The guards' synchronous ``embed`` (texts -> vectors) over the routes of one embedding alias, tried in
    priority order, one attempt each: a guard check waits on it, so it falls back rather than retries. It runs in
    the proxy's worker threads, hence a blocking client; kind ``demo`` is answered in process.

    With a ``meter`` (the gateway's usage writer), each attempt becomes one usage record of endpoint
    ``guardrail_embeddings`` for the request in ``GUARD_CALLER``: tokens from the upstream's ``usage``, else the
    input's bound, priced at the route's input price. Examples are embedded once per guard, on the first check
    that needs them, so that check's request carries their cost."""

    def __init__(self, routes: tuple[RouteConfig, ...], client: httpx2.Client, meter: Meter | None = None) -> None:
        self.routes = routes
        self._client = client
        self._meter = meter

    def __call__(self, texts: list[str]) -> list[list[float]]:
        for route in self.routes:
            started = time.perf_counter()
            try:
                data = self._embed(route, texts)
                vectors = [[float(value) for value in item["embedding"]]
                           for item in sorted(data["data"], key=lambda item: item["index"])]
            except Exception as exc:  # noqa: BLE001 -- any failure falls back to the next route
                log.warning(EMBEDDING_ROUTE_FAILED, route.alias, route.provider.id, type(exc).__name__)
                self._record(route, started, None, exc)
                continue
            self._record(route, started, _prompt_tokens(data, texts), None)
            return vectors
        raise EmbeddingUnavailable(EMBEDDING_UNAVAILABLE.format(alias=self.routes[0].alias))

    def _embed(self, route: RouteConfig, texts: list[str]) -> dict[str, Any]:
        body = {"model": route.upstream_model, "input": texts}
        if route.provider.kind == "demo":
            return demo_upstream.embeddings(body)
        provider = route.provider
        url, params = upstream.endpoint(route, "embeddings")
        timeout = httpx2.Timeout(connect=provider.connect_timeout_s, read=provider.read_timeout_s,
                                 write=upstream.WRITE_TIMEOUT_S, pool=provider.connect_timeout_s)
        response = self._client.post(url, params=params, json=body, headers=upstream.request_headers(provider),
                                     timeout=timeout)
        response.raise_for_status()
        return response.json()

    def _record(self, route: RouteConfig, started: float, tokens_in: int | None, exc: Exception | None) -> None:
        """Count the attempt in the metrics and, with a meter, queue its usage record."""
        outcome = "ok" if exc is None else "error"
        cost = 0 if tokens_in is None else tokens.cost_micros(tokens_in, 0, route.price_input_micros_per_mtok,
                                                                route.price_output_micros_per_mtok)
        metrics.child(metrics.GUARD_EMBEDDINGS, route.alias, outcome).inc()
        if tokens_in is not None:
            metrics.child(metrics.TOKENS, route.alias, "in").inc(tokens_in)
            metrics.child(metrics.COST, route.alias).inc(cost)
        if self._meter is None:
            return
        caller = GUARD_CALLER.get()
        key = caller.key if caller is not None else None
        response = getattr(exc, "response", None)
        self._meter({
            "ts": utcnow(), "request_id": caller.request_id if caller is not None else uuid.uuid4().hex,
            "key_id": key.id if key else None, "use_case_id": key.use_case_id if key else None,
            "ai_system_id": key.ai_system_id if key else None,
            "business_unit_id": key.business_unit_id if key else None, "endpoint": GUARDRAIL_EMBEDDINGS,
            "alias": route.alias[:120], "provider_id": route.provider.id, "upstream_model": route.upstream_model,
            "stream": False, "tokens_in": tokens_in or 0, "tokens_out": 0, "cost_micros": cost,
            "latency_ms": (time.perf_counter() - started) * 1000,
            "upstream_status": getattr(response, "status_code", None) if exc is not None else 200,
            "outcome": outcome, "guardrail": "pass", "error": "" if exc is None else type(exc).__name__[:200],
        })


def _prompt_tokens(data: dict[str, Any], texts: list[str]) -> int:
    """The upstream's count of input tokens, else the gateway's upper bound for the texts."""
    usage = data.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        return usage["prompt_tokens"]
    return tokens.embedding_input_bound({"input": texts})


def embedding_routes(config: service.GatewayConfig, alias: str | None) -> tuple[RouteConfig, ...]:
    """The enabled embedding routes of the guardrails' alias, in priority order (none without an alias)."""
    return tuple(r for r in config.routes.get(alias or "", ()) if r.kind == "embedding")


def embedding_directions(policy: GuardPolicy) -> frozenset[str]:
    """The directions in which the policy compares text with topic examples (and so calls the embedding route)."""
    rules = [rule for rule in policy.rules
             if rule.kind == "topic" and any(topic["examples"] for topic in rule.params["topics"])]
    return frozenset(d for d in DIRECTIONS if any(rule.applies_to(d) for rule in rules))


class GatewayRuntime:
    """Configuration snapshot, guards, upstreams, limits and metering of one gateway process."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session] | None = None, *,
                 upstreams: Upstreams | None = None, store: limits.LimitStore | None = None) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        if session_factory is None:
            self._engine = make_engine(settings.effective_database_url,
                                       busy_timeout_ms=settings.sqlite_busy_timeout_ms)
            session_factory = make_sessionmaker(self._engine, settings=settings)
        self.session_factory = session_factory
        self._given_upstreams, self._given_store = upstreams, store
        self.config: service.GatewayConfig | None = None
        self.guards: dict[int, Guard] = {}
        self.embedder: RouteEmbedder | None = None
        self._offloaded: dict[int, frozenset[str]] = {}
        self._embed_client = httpx2.Client() if settings.gateway_guard_embedding_alias else None
        self._warned_embedding = False
        self.upstreams: Upstreams | None = None
        self.store: limits.LimitStore | None = None
        self.writer = UsageWriter(session_factory, flush_s=settings.gateway_usage_flush_s,
                                  batch=settings.gateway_usage_batch)
        self._refresher: asyncio.Task[None] | None = None
        self.started = False

    async def start(self) -> None:
        """Load the first snapshot (if the database is not ready, the refresh task keeps trying and /v1 answers
        503 meanwhile), then start the pool, the limit store, the usage writer and the refresh task."""
        try:
            await self.reload()
        except Exception as exc:  # noqa: BLE001 -- e.g. a database not migrated yet: serve 503 until it is
            log.warning(REFRESH_FAILED, type(exc).__name__)
        self.upstreams = self._given_upstreams or Upstreams()
        self.store = self._given_store or limits.make_store(self.settings, self.session_factory)
        self.writer.start()
        self._refresher = asyncio.create_task(self._refresh_loop(), name="gateway-config-refresh")
        self.started = True

    async def stop(self) -> None:
        """Stop refreshing, write pending usage, close the upstream pool and the limit store."""
        if not self.started:
            return
        self.started = False
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        await self.writer.close()
        if self.upstreams is not None:
            await self.upstreams.aclose()
        if self.store is not None:
            await self.store.aclose()
        if self._embed_client is not None:
            self._embed_client.close()
        if self._engine is not None:
            self._engine.dispose()

    def _load(self) -> tuple[service.GatewayConfig, dict[int, Guard], RouteEmbedder | None,
                             dict[int, frozenset[str]]]:
        with self.session_factory() as session:
            config = service.load_config(session, self.settings)
        embedder = self._embedder(config)
        guards, offloaded = {}, {}
        for pid, policy in config.policies.items():
            previous = self.guards.get(pid)
            same = previous is not None and previous.policy == policy and embedder is self.embedder
            guards[pid] = previous if same else Guard(policy, embed=embedder)
            offloaded[pid] = embedding_directions(policy) if embedder is not None else frozenset()
        if embedder is None and not self._warned_embedding and any(map(embedding_directions,
                                                                       config.policies.values())):
            self._warned_embedding = True
            alias = self.settings.gateway_guard_embedding_alias
            if alias:
                log.warning(EMBEDDING_ALIAS_MISSING, alias)
            else:
                log.warning(NO_EMBEDDING_ALIAS)
        return config, guards, embedder, offloaded

    def _embedder(self, config: service.GatewayConfig) -> RouteEmbedder | None:
        """The embedder over the configured alias's embedding routes: the current one while they are unchanged."""
        routes = embedding_routes(config, self.settings.gateway_guard_embedding_alias)
        if not routes or self._embed_client is None:
            return None
        if self.embedder is not None and self.embedder.routes == routes:
            return self.embedder
        return RouteEmbedder(routes, self._embed_client, meter=self.writer.add_threadsafe)

    def _version(self) -> str:
        with self.session_factory() as session:
            return service.config_version(session)

    async def reload(self) -> None:
        """Load a fresh snapshot (in a thread) and swap it in whole."""
        self.config, self.guards, self.embedder, self._offloaded = await asyncio.to_thread(self._load)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.gateway_config_refresh_s)
            try:
                version = await asyncio.to_thread(self._version)
                if self.config is None or version != self.config.version:
                    await self.reload()
            except Exception as exc:  # noqa: BLE001 -- keep serving the last good snapshot
                log.warning(REFRESH_FAILED, type(exc).__name__)
            self._report_circuits()

    def _report_circuits(self) -> None:
        breakers = getattr(self.upstreams, "breakers", None)
        for provider_id, breaker in getattr(breakers, "_by_provider", {}).items():
            metrics.CIRCUIT_OPEN.labels(str(provider_id)).set(1 if breaker.state == "open" else 0)

    def policy_for(self, key: Any) -> tuple[int | None, GuardPolicy | None, Guard | None]:
        """The key's policy (else the default policy) and its compiled guard; none when neither exists. A policy
        that exists but cannot be read refuses the request (fail closed), whatever its ``fail_open``."""
        config = self.config
        assert config is not None
        policy_id = key.policy_id if key.policy_id is not None else config.default_policy_id
        if policy_id is not None and policy_id in config.unreadable_policy_ids:
            raise errors.guard_unavailable()
        if policy_id is None or policy_id not in self.guards:
            return None, None, None
        return policy_id, config.policies[policy_id], self.guards[policy_id]

    def offloaded(self, policy_id: int | None) -> frozenset[str]:
        """The directions in which this policy's checks call the embedding route (run them in a worker thread)."""
        return self._offloaded.get(policy_id, frozenset()) if policy_id is not None else frozenset()
