"""The prioritised pipeline and the value-vs-feasibility matrix.

The stored ranking reads ``use_cases`` alone, never the scores: filtered, ordered by the stored ``score_total``
(then ``score_value``, then key) off the score index, one page fetched, and competition ranks (1, 2, 2, 4)
worked out from the page plus one count of the use cases scoring higher than the page's first row (a range
scan on the same index). Unscored use cases come last, unranked, by key.

A "what if" ranking re-weights the criteria without saving anything: it averages each criterion's ratings per
use case (inverse criteria inverted) and takes their weighted mean with the trial weights, in one SQL statement
with a ``GROUP BY`` over the scores and a ``RANK()`` window. It reads every rating in scope, so it is slower than
the stored ranking, and is meant for exploring. With a complete scorecard from every scorer it equals the stored
formula (mean of the scorers' weighted means), because both are linear in the ratings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, selectinload

from aicoe.auth.principal import Principal
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.portfolio import Score, ScoringCriterion, UseCase
from aicoe.portfolio import scoring
from aicoe.portfolio.constants import STAGES
from aicoe.portfolio.usecases import _key_number, filtered, parse_stages, use_cases_query

PIPELINE_STAGES: tuple[str, ...] = STAGES[:5]  # idea .. pilot: what still waits for a decision or delivery
MATRIX_THRESHOLD = 3.0  # on the 1..5 scale; at or above is "high"
QUADRANTS: dict[str, str] = {
    "quick_wins": "Quick wins", "strategic_bets": "Strategic bets", "fill_ins": "Fill-ins", "money_pits": "Money pits",
}


@dataclass
class Ranked:
    rank: int | None
    use_case: UseCase
    what_if_total: float | None = None
    what_if_value: float | None = None


@dataclass
class Ranking:
    items: list[Ranked]
    total: int
    limit: int
    offset: int
    what_if: dict[str, float] | None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def prev_offset(self) -> int | None:
        return max(self.offset - self.limit, 0) if self.offset > 0 else None


def _base(principal: Principal | None, stage: Any, business_unit_id: int | None, ai_type: str | None) -> Select[Any]:
    return filtered(use_cases_query(principal), stage=parse_stages(stage) or list(PIPELINE_STAGES),
                    business_unit_id=business_unit_id, ai_type=ai_type)


def parse_weights(text: str | None, criteria: dict[str, float]) -> dict[str, float] | None:
    """``"business_value:3,risk:1"``: trial weights over the model's; unnamed criteria keep their weight. A
    weight may be 0 (leave the criterion out) but not all of them; anything malformed is a field error."""
    if text is None or not text.strip():
        return None
    weights = dict(criteria)
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, raw = part.partition(":")
        key = key.strip()
        if key not in criteria:
            raise ValidationFailed(f"unknown criterion {key!r}", errors=[FieldError(
                "weights", f"No criterion {key!r}; the criteria are {', '.join(criteria)}.")])
        try:
            value = float(raw) if sep else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not 0 <= value <= 1000:
            raise ValidationFailed(f"bad weight for {key!r}", errors=[FieldError(
                "weights", f"Give {key} a weight from 0 to 1000, as key:weight.")])
        weights[key] = value
    if not any(weights.values()):
        raise ValidationFailed("all weights are zero", errors=[FieldError("weights", "At least one weight above 0.")])
    return weights


def _order(total: Any, value: Any) -> list[Any]:
    return [total.desc().nulls_last(), value.desc().nulls_last(), _key_number().asc()]


def ranking(session: Session, principal: Principal | None, params: PageParams, *, stage: Any = None,
            business_unit_id: int | None = None, ai_type: str | None = None,
            weights: str | None = None) -> Ranking:
    base = _base(principal, stage, business_unit_id, ai_type)
    model = scoring.current_model(session)
    trial = parse_weights(weights, {c.key: c.weight for c in model.criteria})
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    if trial is not None:
        items = _what_if(session, base, model, trial, params)
    else:
        items = _stored(session, base, params)
    return Ranking(items=items, total=total, limit=params.limit, offset=params.offset, what_if=trial)


def _stored(session: Session, base: Select[Any], params: PageParams) -> list[Ranked]:
    """Scored use cases first, read in score order straight off the score index (``score_total IS NOT NULL``
    lets both databases scan it backwards and stop after the page), then the unscored ones by key."""
    scored = base.where(UseCase.score_total.is_not(None))
    rows = list(session.scalars(
        scored.options(selectinload(UseCase.business_unit))
        .order_by(UseCase.score_total.desc(), UseCase.score_value.desc().nulls_last(), _key_number().asc())
        .limit(params.limit).offset(params.offset)))
    out: list[Ranked] = []
    for i, use_case in enumerate(rows):
        if i and rows[i - 1].score_total == use_case.score_total:
            rank = out[-1].rank
        elif i:
            rank = params.offset + i + 1
        else:  # competition rank: one more than the number scoring higher
            higher = scored.where(UseCase.score_total > use_case.score_total).order_by(None)
            rank = 1 + (session.scalar(select(func.count()).select_from(higher.subquery())) or 0)
        out.append(Ranked(rank, use_case))
    if len(rows) < params.limit:
        n_scored = params.offset + len(rows) if rows else (
            session.scalar(select(func.count()).select_from(scored.order_by(None).subquery())) or 0)
        unscored = session.scalars(
            base.where(UseCase.score_total.is_(None)).options(selectinload(UseCase.business_unit))
            .order_by(_key_number().asc()).limit(params.limit - len(rows)).offset(max(params.offset - n_scored, 0)))
        out.extend(Ranked(None, u) for u in unscored)
    return out


def _what_if(session: Session, base: Select[Any], model: Any, weights: dict[str, float],
             params: PageParams) -> list[Ranked]:
    if model.id is None:  # nothing stored, so nothing rated: every use case is unscored
        rows = session.scalars(base.options(selectinload(UseCase.business_unit))
                               .order_by(*_order(UseCase.score_total, UseCase.score_value))
                               .limit(params.limit).offset(params.offset)).all()
        return [Ranked(None, u) for u in rows]
    per_criterion = (
        select(Score.use_case_id, Score.criterion_id, func.avg(scoring.counted_rating()).label("rating"))
        .join(ScoringCriterion, ScoringCriterion.id == Score.criterion_id)
        .where(ScoringCriterion.model_id == model.id)
        .group_by(Score.use_case_id, Score.criterion_id)
    ).subquery("per_criterion")
    ids = {c.key: c.id for c in model.criteria}
    weight = case({ids[k]: w for k, w in weights.items()}, value=per_criterion.c.criterion_id, else_=0.0)
    value_ids = [c.id for c in model.criteria if c.axis == "value"]
    value_weight = case((per_criterion.c.criterion_id.in_(value_ids), weight), else_=0.0)
    rating = per_criterion.c.rating
    trial = select(
        per_criterion.c.use_case_id,
        scoring._rounded(session, func.sum(weight * rating) / func.nullif(func.sum(weight), 0)).label("total"),
        scoring._rounded(session, func.sum(value_weight * rating) / func.nullif(func.sum(value_weight), 0))
        .label("value"),
    ).group_by(per_criterion.c.use_case_id).subquery("trial")
    rank = func.rank().over(order_by=trial.c.total.desc().nulls_last())
    stmt = (base.add_columns(trial.c.total, trial.c.value, rank)
            .outerjoin(trial, trial.c.use_case_id == UseCase.id)
            .options(selectinload(UseCase.business_unit))
            .order_by(*_order(trial.c.total, trial.c.value)).limit(params.limit).offset(params.offset))
    return [Ranked(r if t is not None else None, u, t, v) for u, t, v, r in session.execute(stmt)]


# --- the matrix ------------------------------------------------------------------------------------------------

def quadrant(value: float, feasibility: float) -> str:
    high_value, high_feasibility = value >= MATRIX_THRESHOLD, feasibility >= MATRIX_THRESHOLD
    if high_value:
        return "quick_wins" if high_feasibility else "strategic_bets"
    return "fill_ins" if high_feasibility else "money_pits"


@dataclass
class Matrix:
    points: list[UseCase]
    quadrants: dict[str, int]
    total: int


def matrix(session: Session, principal: Principal | None, *, stage: Any = None, business_unit_id: int | None = None,
           ai_type: str | None = None, limit: int = 500) -> Matrix:
    """Scored use cases placed by value (y) and feasibility (x): counts per quadrant over all of them (one
    ``GROUP BY``), and the ``limit`` highest-scored as points."""
    base = _base(principal, stage, business_unit_id, ai_type).where(
        UseCase.score_total.is_not(None), UseCase.score_value.is_not(None), UseCase.score_feasibility.is_not(None))
    high_v, high_f = UseCase.score_value >= MATRIX_THRESHOLD, UseCase.score_feasibility >= MATRIX_THRESHOLD
    label = case((high_v & high_f, "quick_wins"), (high_v, "strategic_bets"), (high_f, "fill_ins"),
                 else_="money_pits").label("quadrant")
    counted = base.with_only_columns(label, func.count()).select_from(UseCase).group_by(label).order_by(None)
    counts = {name: 0 for name in QUADRANTS}
    counts.update({name: n for name, n in session.execute(counted)})
    points = session.scalars(base.order_by(UseCase.score_total.desc(), UseCase.score_value.desc(), _key_number())
                             .limit(limit)).all()
    return Matrix(points=list(points), quadrants=counts, total=sum(counts.values()))
