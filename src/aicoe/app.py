"""create_app(settings): the API under /api/v1, the UI, health checks, error handling and request ids."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from aicoe.core.logging import configure_logging, request_id_var
from aicoe.sensitive.compiled import keep_compiled_filters

log = logging.getLogger("aicoe")
access_log = logging.getLogger("aicoe.access")
PROBLEM_JSON = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Takes the caller's X-Request-ID (if sane) or makes one; logs and audit events carry it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        token = request_id_var.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        started, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            access_log.info("%s %s %s %.1fms", scope["method"], scope["path"], status,
                            (time.perf_counter() - started) * 1000)
            request_id_var.reset(token)


def wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path.startswith("/v1/") or path in {"/healthz", "/readyz"})


def problem_response(request: Request, error: DomainError) -> Response:
    if wants_html(request):
        from aicoe.web.pages import error_page

        return error_page(request, error)
    headers = {}
    if "retry_after" in error.extra:
        headers["Retry-After"] = str(error.extra["retry_after"])
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error.problem(request.url.path), status_code=error.status, media_type=PROBLEM_JSON,
                        headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [FieldError(_field_name(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid input"
        return problem_response(request, ValidationFailed(detail, errors=errors))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        log.info("integrity error: %s", exc.orig)
        return problem_response(request, Conflict("the change conflicts with existing records"))

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> Response:
        log.warning("database unavailable: %s", exc.orig)
        return problem_response(
            request, ServiceUnavailable("the database is unavailable or busy; try again shortly", retry_after=5)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return problem_response(request, NotFound(f"nothing at {request.url.path}"))
        error = DomainError(str(exc.detail))
        error.status, error.title, error.code = exc.status_code, str(exc.detail), f"http-{exc.status_code}"
        return problem_response(request, error)


def create_app(settings: Settings | None = None, *, run_jobs: bool = False) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    keep_compiled_filters(settings)
    engine = make_engine(settings.effective_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from aicoe.jobs.runner import JobRunner

        runner = None
        if run_jobs and settings.job_workers > 0:
            runner = JobRunner(app.state.sessionmaker, settings, threads=settings.job_workers)
            runner.start()
        await app.state.gateway.start()
        try:
            yield
        finally:
            await app.state.gateway.stop()
            if runner is not None:
                runner.stop()
            engine.dispose()

    app = FastAPI(
        title="aicoe API", version="1", lifespan=lifespan,
        openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine, settings=settings)
    app.add_middleware(RequestIdMiddleware)  # type: ignore[arg-type]
    install_error_handlers(app)

    from aicoe.gateway.app import mount_gateway
    from aicoe.web import routes as web_routes

    web_routes.mount(app)
    mount_gateway(app, settings, app.state.sessionmaker)
    app.mount("/static", StaticFiles(packages=[("aicoe.web", "static")]), name="static")
    return app
