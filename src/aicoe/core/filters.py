"""Small helpers shared by list filters: validated choices and literal ``LIKE`` patterns."""

from __future__ import annotations

from collections.abc import Mapping

from aicoe.core.errors import FieldError, ValidationFailed


def choice(field: str, value: str | None, allowed: Mapping[str, str]) -> str | None:
    """``value`` when it is one of ``allowed`` (None when empty); else a field error listing the allowed values."""
    if value and value not in allowed:
        raise ValidationFailed(f"unknown {field} {value!r}", errors=[FieldError(
            field, f"Unknown value {value!r}; allowed: {', '.join(allowed)}.")])
    return value or None


def like_pattern(q: str) -> str:
    """A case-insensitive ``LIKE`` pattern (use ``escape="\\\\"``) for "contains q", wildcards in q taken literally."""
    escaped = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
