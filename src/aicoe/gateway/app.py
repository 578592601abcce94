"""The gateway's ASGI app: ``/v1`` (OpenAI-compatible), ``/metrics`` and ``/healthz``.

Lean on purpose: plain Starlette routes, no platform middleware, sessions or templates, stdlib JSON. Served
standalone by ``aicoe gateway serve`` (``create_gateway_app``) and inside ``aicoe serve`` (``mount_gateway``: the
platform app mounts the same routes and starts and stops the runtime in its own lifespan, since Starlette does
not run a mounted app's lifespan).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from aicoe.config import Settings
from aicoe.core.logging import configure_logging
from aicoe.gateway import metrics
from aicoe.gateway.errors import GatewayError
from aicoe.gateway.proxy import Proxy, json_response
from aicoe.gateway.runtime import GatewayRuntime

NOT_FOUND = "Unknown API route: {method} {path}."


def v1_router(proxy: Proxy) -> Router:
    """The OpenAI-compatible routes, relative to ``/v1``."""

    async def not_found(scope, receive, send) -> None:  # noqa: ANN001 -- ASGI
        error = GatewayError(404, NOT_FOUND.format(method=scope["method"], path=scope["path"]), code="not_found")
        await error.response()(scope, receive, send)

    return Router(routes=[
        Route("/chat/completions", proxy.chat, methods=["POST"]),
        Route("/embeddings", proxy.embeddings, methods=["POST"]),
        Route("/models", proxy.models, methods=["GET"]),
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


def create_gateway_app(settings: Settings, session_factory: sessionmaker[Session] | None = None, *,
                       runtime: GatewayRuntime | None = None) -> Starlette:
    """The standalone gateway; its lifespan starts and stops the runtime."""
    runtime = runtime or GatewayRuntime(settings, session_factory)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
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
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_gateway_app(settings)
