"""Offset pagination and validated sorting shared by every list endpoint and page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from aicoe.core.errors import FieldError, ValidationFailed

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int = 50
    offset: int = 0
    sort: str | None = None


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def prev_offset(self) -> int | None:
        return max(self.offset - self.limit, 0) if self.offset > 0 else None


def apply_sort(stmt: Select[Any], sort: str | None, columns: Mapping[str, Any], default: Sequence[Any]) -> Select[Any]:
    """``sort`` is a comma list of allowed names, ``-`` for descending; unknown names are a field error."""
    if not sort:
        return stmt.order_by(*default)
    order = []
    for raw in sort.split(","):
        name = raw.strip()
        desc = name.startswith("-")
        key = name.lstrip("-+")
        if key not in columns:
            allowed = ", ".join(sorted(columns))
            message = f"unknown sort field {key!r}; allowed: {allowed}"
            raise ValidationFailed(f"cannot sort by {key!r}", errors=[FieldError("sort", message)])
        order.append(columns[key].desc() if desc else columns[key].asc())
    return stmt.order_by(*order, *default)


def paginate(session: Session, stmt: Select[Any], params: PageParams, *, scalars: bool = True) -> Page[Any]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    result = session.execute(stmt.limit(params.limit).offset(params.offset))
    items = list(result.scalars() if scalars else result)
    return Page(items=items, total=total, limit=params.limit, offset=params.offset)
