"""UTC time helpers: one clock for the whole platform, and one canonical text form of an instant."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Databases return naive datetimes (SQLite) or aware ones (PostgreSQL); both mean UTC here."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def isoformat(value: datetime) -> str:
    """Canonical instant text: UTC, microseconds, ``Z`` suffix; equal instants always render equally."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
