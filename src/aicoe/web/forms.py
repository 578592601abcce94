"""Reading HTML forms for the views: the same pydantic schemas as the API, so a form and a JSON body are
refused for the same reasons, with the error attached to the field the user has to fix.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from aicoe.core.errors import FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)

_FRIENDLY = {
    "missing": "This field is required.",
    "string_too_short": "This field is required.",
}


async def form_data(request: Request) -> FormData:
    """The submitted form (parsed once per request; the CSRF check may already have read it)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]


def values(form: FormData, *, omit: tuple[str, ...] = ("csrf_token",)) -> dict[str, str]:
    """What the user typed, to put back into the form when it is shown again; secrets are never echoed."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k not in omit and "password" not in k}


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional_int(form: FormData, name: str) -> int | None:
    """An id from a select; empty means none. Anything else that is not a whole number is a field error."""
    raw = text(form, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(
            f"{name} must be a number", errors=[FieldError(name, f"{raw!r} is not a valid choice.")]
        ) from None


def end_of_day(form: FormData, name: str) -> datetime | None:
    """A date input (YYYY-MM-DD) read as the end of that day in UTC; empty means none."""
    raw = text(form, name)
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(23, 59, 59), tzinfo=UTC)
    except ValueError:
        raise ValidationFailed(
            f"{name} is not a date", errors=[FieldError(name, "Enter a date as YYYY-MM-DD.")]
        ) from None


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate ``data`` with ``model``; pydantic's errors become field errors keyed by form field name."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[FieldError] = []
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "form"
            if all(f.field != field for f in errors):
                errors.append(FieldError(field, _FRIENDLY.get(e["type"], e["msg"].rstrip(".") + ".")))
        detail = "; ".join(f"{f.field}: {f.message}" for f in errors)
        raise ValidationFailed(detail, errors=errors) from None


def query_id(value: str | None, name: str) -> int | None:
    """An id filter from a query string; empty means no filter."""
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(
            f"{name} must be a number", errors=[FieldError(name, f"{value!r} is not a number.")]
        ) from None


def tri_state(value: str | None) -> bool | None:
    """A yes/no/any filter: "1", "0" or anything else (no filter)."""
    return {"1": True, "0": False}.get((value or "").strip())


def query_url(path: str, **params: Any) -> str:
    """``path`` with the non-empty filters, for pager links that keep the current filters."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path
