"""The gateway's ASGI app: ``/v1`` (OpenAI-compatible), ``/metrics`` and ``/healthz``.

Lean on purpose: plain Starlette routes, no platform middleware, sessions or templates, stdlib JSON. Served
standalone by ``aicoe gateway serve`` (``create_gateway_app``) and inside ``aicoe serve`` (``mount_gateway``: the
platform app mounts the same routes and starts and stops the runtime in its own lifespan, since Starlette does
not run a mounted app's lifespan).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router
from starlette.types import Receive, Scope, Send

from aicoe.config import Settings
from aicoe.core.logging import configure_logging
from aicoe.gateway import metrics
from aicoe.gateway.errors import GatewayError
from aicoe.gateway.proxy import Proxy, json_response
from aicoe.gateway.runtime import GatewayRuntime

NOT_FOUND = "Unknown API route: {method} {path}."
# Collect the youngest generation after this many net allocations (Python's default: 700). A request allocates a few
# hundred containers that die young by reference counting; collecting every ~2 requests would be wasted work.
GC_GEN0_THRESHOLD = 10_000


class Endpoint:
    """A request-response endpoint as a plain ASGI app. Starlette wraps a function endpoint in exception-handler
    plumbing (closures and a send wrapper per request) that the proxy never needs: it answers every error itself."""

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def v1_router(proxy: Proxy) -> Router:
    """The OpenAI-compatible routes, relative to ``/v1``."""

    async def not_found(scope, receive, send) -> None:  # noqa: ANN001 -- ASGI
        error = GatewayError(404, NOT_FOUND.format(method=scope["method"], path=scope["path"]), code="not_found")
        await error.response()(scope, receive, send)

    return Router(routes=[
        Route("/chat/completions", Endpoint(proxy.chat), methods=["POST"], name="chat"),
        Route("/embeddings", Endpoint(proxy.embeddings), methods=["POST"], name="embeddings"),
        Route("/models", Endpoint(proxy.models), methods=["GET"], name="models"),
    ], default=not_found)


async def metrics_endpoint(request: Request) -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


def health_endpoint(runtime: GatewayRuntime):  # noqa: ANN201
    async def health(request: Request) -> Response:
        config = runtime.config
        if not runtime.started or config is None:
            return json_response({"status": "starting"}, status=503)
        return json_response({"status": "ok", "config_version": config.version})

    return health


def settle_garbage_collector() -> None:
    """Move what start-up allocated (modules, the configuration, compiled guards: hundreds of thousands of objects
    that live as long as the process) out of the collector's reach, and collect the young generation less often.
    A full collection otherwise walks all of them, a pause of several milliseconds that shows in the p99 latency;
    afterwards it walks only what requests allocated since."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def create_gateway_app(settings: Settings, session_factory: sessionmaker[Session] | None = None, *,
                       runtime: GatewayRuntime | None = None, tune_gc: bool = False) -> Starlette:
    """The standalone gateway; its lifespan starts and stops the runtime (and, with ``tune_gc``, which only a
    process of its own should ask for, then settles the garbage collector)."""
    runtime = runtime or GatewayRuntime(settings, session_factory)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        if tune_gc:
            settle_garbage_collector()
        try:
            yield
        finally:
            await runtime.stop()

    app = Starlette(routes=[
        Mount("/v1", app=v1_router(Proxy(runtime))),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/healthz", health_endpoint(runtime), methods=["GET"]),
    ], lifespan=lifespan)
    app.state.gateway = runtime
    return app


def mount_gateway(app: Starlette, settings: Settings, session_factory: sessionmaker[Session]) -> GatewayRuntime:
    """Serve ``/v1`` and ``/metrics`` from the platform app; the caller starts and stops the returned runtime.
    They go first in the routing table, so a /v1 request never walks the platform's hundreds of routes."""
    runtime = GatewayRuntime(settings, session_factory)
    app.router.routes[:0] = [Mount("/v1", app=v1_router(Proxy(runtime))),
                             Route("/metrics", metrics_endpoint, methods=["GET"])]
    app.state.gateway = runtime
    return runtime


def app_from_env() -> Starlette:
    """The uvicorn factory of ``aicoe gateway serve``: each worker process builds its app from the environment."""
    from aicoe.sensitive.compiled import keep_compiled_filters

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    keep_compiled_filters(settings)
    return create_gateway_app(settings, tune_gc=True)
