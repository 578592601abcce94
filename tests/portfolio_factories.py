"""Plain factory functions for portfolio tests: use cases through the intake service (so keys come from the
counter and the figures stay consistent) and scorecards through the scoring service. They commit."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase
from aicoe.portfolio import schemas, scoring, usecases
from tests.factories import _writing

_seq = itertools.count(1)


def make_use_case(session: Session, *, unit: BusinessUnit, stage: str = "idea", title: str | None = None,
                  problem_statement: str = "", ai_type: str = "predictive_ml", owner: User | None = None,
                  sponsor: User | None = None, benefits: list[dict[str, Any]] | None = None,
                  target_date: date | None = None, **fields: Any) -> UseCase:
    """A use case submitted by the system in ``unit``; ``stage`` is then set directly (no gate checks), and
    any further keyword sets that column as is (e.g. ``delivery_mode="build"``, ``scorer_count=1``)."""
    _writing(session)
    create_fields = {k: fields.pop(k) for k in list(fields) if k in schemas.UseCaseCreate.model_fields}
    data = schemas.UseCaseCreate(
        title=title or f"Use case {next(_seq)}", problem_statement=problem_statement, ai_type=ai_type,
        business_unit_id=unit.id, owner_id=owner.id if owner else None, sponsor_id=sponsor.id if sponsor else None,
        benefits=[schemas.BenefitIn(**b) for b in benefits or []], target_date=target_date, **create_fields)
    use_case = usecases.create_use_case(session, None, data)
    if stage != "idea":
        use_case.stage, use_case.stage_entered_at = stage, utcnow()
    for name, value in fields.items():
        setattr(use_case, name, value)
    session.commit()
    return use_case


def score(session: Session, use_case: UseCase, scorer: User, ratings: int | Mapping[str, int],
          comments: Mapping[str, str] | None = None) -> UseCase:
    """Store ``scorer``'s scorecard (they need the use_case:score permission for the use case's unit).
    ``ratings`` maps criterion keys to 1..5; a single number rates every criterion of the active model alike."""
    _writing(session)
    if isinstance(ratings, int):
        ratings = {c.key: ratings for c in scoring.current_model(session).criteria}
    principal = Principal.resolve(session, scorer)
    scoring.rate(session, principal, use_case, schemas.ScoresIn(ratings=dict(ratings), comments=dict(comments or {})))
    session.commit()
    session.refresh(use_case)
    return use_case
