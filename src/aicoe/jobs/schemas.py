"""Pydantic output of the jobs API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    progress: float
    message: str
    payload: dict[str, Any]
    result: Any
    error: str | None
    attempts: int
    max_attempts: int
    cancel_requested: bool
    run_after: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
