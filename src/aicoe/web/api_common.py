"""Shared pieces of the JSON API: the page envelope and the pagination/sort query parameters."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from aicoe.core.pagination import Page, PageParams

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def page_params(
    request: Request,
    limit: Annotated[int, Query(ge=1, description="page size (at most the configured maximum)")] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str | None, Query(max_length=200, description="comma list of fields, '-' for descending")] = None,
) -> PageParams:
    return PageParams(limit=min(limit, request.app.state.settings.api_max_page_size), offset=offset, sort=sort)


PageQuery = Annotated[PageParams, Depends(page_params)]


def page_out(page: Page[Any], model: type[BaseModel]) -> dict[str, Any]:
    return {
        "items": [model.model_validate(item) for item in page.items],
        "total": page.total, "limit": page.limit, "offset": page.offset, "next_offset": page.next_offset,
    }
