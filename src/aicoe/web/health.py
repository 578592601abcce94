"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from aicoe import __version__
from aicoe.core.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the latest migration."""
    engine = request.app.state.engine
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current = current_revision(engine)
        head = head_revision(engine.url.render_as_string(hide_password=False))
        checks["migrations"] = "ok" if current == head else f"at {current}, latest is {head}"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks.setdefault("database", f"unavailable: {type(exc).__name__}")
    ready = all(v == "ok" for v in checks.values()) and "migrations" in checks
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)
