"""Base classes for every area's Pydantic I/O: inputs refuse unknown fields, outputs read ORM objects."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)
