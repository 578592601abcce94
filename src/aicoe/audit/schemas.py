"""Pydantic output for the audit API: events as stored (``diff`` parsed) and a chain verification result."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    ts: datetime
    actor_type: str
    actor_id: str
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    diff: dict[str, Any]
    request_id: str
    prev_hash: str
    hash: str

    @field_validator("diff", mode="before")
    @classmethod
    def _parse_diff(cls, value: Any) -> Any:
        """The table holds the canonical JSON text that was hashed; clients get the object."""
        return json.loads(value) if isinstance(value, str) else value


class VerifyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ok: bool
    checked: int
    head_seq: int
    broken_seq: int | None
    reason: str
    head_hash: str = Field(description="hash of the head event when intact; keep it outside the database")
