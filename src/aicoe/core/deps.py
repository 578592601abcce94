"""Request-scoped dependencies shared by every area: settings and the database session.

The request owns the transaction: the session commits after the route returns and rolls back if it raised.
State-changing requests (POST, PUT, PATCH, DELETE) open a writing transaction up front.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.core.db import session_scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.sessionmaker, write=request.method not in SAFE_METHODS) as session:
        yield session


# scope="function": commit before the response leaves, so a client following a redirect sees the change.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
