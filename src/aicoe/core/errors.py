"""Domain errors carry their HTTP status; one handler renders them (problem+json for the API, a page for the UI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "https://aicoe.dev/problems/"


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class DomainError(Exception):
    """Base of every expected failure. ``code`` forms the stable problem ``type``."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body


class ValidationFailed(DomainError):
    status, code, title = 422, "validation-error", "Invalid input"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class Unauthenticated(DomainError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class PermissionDenied(DomainError):
    status, code, title = 403, "forbidden", "Permission denied"


class TooManyRequests(DomainError):
    status, code, title = 429, "too-many-requests", "Too many requests"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "service-unavailable", "Service unavailable"


@dataclass
class Problem:
    """A rendered problem for templates: title, detail and the field errors keyed by field name."""

    title: str
    detail: str
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, error: DomainError) -> Problem:
        return cls(error.title, error.detail, {e.field: e.message for e in error.errors})
