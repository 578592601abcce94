"""The scoring model and the scores: criteria with weights, ratings per scorer, and the totals kept on each use
case so that ranking reads one indexed table.

Totals. A scorer's total is the weighted mean of their ratings, an inverse criterion (risk) counting as
``6 - rating`` so that 5 is always good. The use case's ``score_total`` is the mean of its scorers' totals;
``score_value`` and ``score_feasibility`` are the same restricted to the criteria on that axis; ``score_spread``
is the highest scorer total minus the lowest (how much the scorers disagree); ``scorer_count`` how many scored.
Totals are computed by one SQL statement (``recompute``) for one use case after a score is written and for all
of them after the model changes, and stored rounded to six decimals so that equal ratings always give equal
totals, whatever order the database adds them in (ranking ties depend on it).

Default model (``DEFAULT_CRITERIA``): each axis weighs 6 in total, so value and feasibility count alike.
Value: business value 3 (the size of the prize leads), strategic alignment 2, time to value 1. Feasibility:
feasibility 2, data readiness 2, risk 2 (inverse).

There is exactly one active model. Until somebody scores or saves the model it is not stored: readers see the
default criteria and the first write stores them, so a plain read never writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Float, Numeric, case, cast, delete, exists, func, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import ColumnElement

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, Principal, audit_actor
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.models.portfolio import Score, ScoringCriterion, ScoringModel, UseCase
from aicoe.portfolio import schemas
from aicoe.portfolio.constants import SCORE_MAX, SCORE_MIN

DEFAULT_MODEL_NAME = "Default"
DEFAULT_CRITERIA: tuple[tuple[str, str, str, float, bool, str], ...] = (
    ("business_value", "Business value", "value", 3.0, False,
     "Size of the expected benefit: revenue, savings, hours, satisfaction or risk avoided."),
    ("strategic_alignment", "Strategic alignment", "value", 2.0, False,
     "How directly it serves the CoE's strategic objectives and KPIs."),
    ("feasibility", "Feasibility", "feasibility", 2.0, False,
     "Whether the technique is proven for this problem and the team can build or buy it."),
    ("data_readiness", "Data readiness", "feasibility", 2.0, False,
     "Whether the data exists, is accessible, of adequate quality and cleared for this use."),
    ("risk", "Risk", "feasibility", 2.0, True,
     "Regulatory, ethical, security and delivery risk. A high rating means high risk; it counts inversely."),
    ("time_to_value", "Time to value", "value", 1.0, False,
     "How soon the benefit arrives: 5 within a quarter, 1 beyond two years."),
)
DECIMALS = 6
RATING_FLIP = SCORE_MIN + SCORE_MAX  # an inverse rating r counts as RATING_FLIP - r (6 - r on the 1..5 scale)


# --- the model -------------------------------------------------------------------------------------------------

def default_model() -> ScoringModel:
    """The default model as an unsaved object."""
    model = ScoringModel(name=DEFAULT_MODEL_NAME, description="The built-in criteria; adjust them to your CoE.",
                         is_active=True)
    model.criteria = [ScoringCriterion(key=k, name=n, axis=a, weight=w, inverse=i, description=d, position=p)
                      for p, (k, n, a, w, i, d) in enumerate(DEFAULT_CRITERIA)]
    return model


def active_model(session: Session) -> ScoringModel | None:
    return session.scalar(select(ScoringModel).where(ScoringModel.is_active.is_(True))
                          .options(selectinload(ScoringModel.criteria)).order_by(ScoringModel.id).limit(1))


def current_model(session: Session) -> ScoringModel:
    """The active model, or the unsaved default when none is stored yet (for reading only)."""
    return active_model(session) or default_model()


def ensure_active_model(session: Session, principal: Actor = None) -> ScoringModel:
    """The active model, storing the default first when there is none (the demo and the first write call it)."""
    model = active_model(session)
    if model is not None:
        return model
    model = default_model()
    name = DEFAULT_MODEL_NAME
    while session.scalar(select(ScoringModel.id).where(ScoringModel.name == name)) is not None:
        name += "+"  # an inactive model already has the name
    model.name = name
    session.add(model)
    session.flush()
    diff = ledger.created(model)
    diff["criteria"] = [None, _criteria_labels(model.criteria)]
    ledger.append(session, audit_actor(principal), "create", "scoring_model", model.id, diff)
    return model


def _criteria_labels(criteria: Iterable[ScoringCriterion]) -> list[str]:
    return [f"{c.key} {c.name!r} w={c.weight:g} {c.axis}{' inverse' if c.inverse else ''}" for c in criteria]


def replace_model(session: Session, principal: Actor, data: schemas.ScoringModelIn) -> ScoringModel:
    """Replace the active model's criteria, matched by key: kept keys keep their ratings, new keys start
    unrated, a key left out is removed with its ratings. When anything that enters the totals changes (weights,
    inverse, axis, the set of criteria), every use case's stored totals are recomputed in SQL."""
    keys = [c.key for c in data.criteria]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValidationFailed(f"criterion {dupes[0]!r} appears twice", errors=[
            FieldError("criteria", f"Each key once; {', '.join(dupes)} appear more than once.")])
    model = ensure_active_model(session, principal)
    session.execute(select(ScoringModel.id).where(ScoringModel.id == model.id).with_for_update())
    session.refresh(model, ["criteria"])  # as it stands now that concurrent changes have committed
    before = _criteria_labels(model.criteria)
    by_key = {c.key: c for c in model.criteria}
    totals_change = set(by_key) != set(keys)
    kept: list[ScoringCriterion] = []
    for position, item in enumerate(data.criteria):
        criterion = by_key.get(item.key)
        if criterion is None:
            criterion = ScoringCriterion(key=item.key)
        elif (criterion.weight, criterion.inverse, criterion.axis) != (item.weight, item.inverse, item.axis):
            totals_change = True
        criterion.name, criterion.description = item.name, item.description
        criterion.weight, criterion.inverse, criterion.axis = item.weight, item.inverse, item.axis
        criterion.position = position
        kept.append(criterion)
    removed = [c for k, c in by_key.items() if k not in keys]
    ratings_removed = 0
    if removed:
        ratings_removed = session.execute(
            delete(Score).where(Score.criterion_id.in_([c.id for c in removed]))
        ).rowcount or 0
    model.criteria = kept
    if data.name is not None:
        model.name = data.name
    if data.description is not None:
        model.description = data.description
    diff = ledger.changed(model)
    after = _criteria_labels(kept)
    if before != after:
        diff["criteria"] = [before, after]
    if ratings_removed:
        diff["ratings_removed"] = [ratings_removed, 0]
    session.flush()
    if totals_change:
        diff["use_cases_recomputed"] = [None, recompute(session, model)]
    if diff:
        ledger.append(session, audit_actor(principal), "update", "scoring_model", model.id, diff)
    return model


# --- totals ----------------------------------------------------------------------------------------------------

def _rounded(session: Session, expr: ColumnElement[Any]) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":  # round(double, int) does not exist there
        return cast(func.round(cast(expr, Numeric), DECIMALS), Float)
    return func.round(expr, DECIMALS)


def counted_rating() -> ColumnElement[Any]:
    """A rating as it counts: inverted for inverse criteria."""
    return case((ScoringCriterion.inverse.is_(True), RATING_FLIP - Score.value), else_=Score.value)


def _axis_mean(weighted: ColumnElement[Any], weight: ColumnElement[Any], on: ColumnElement[bool]) -> Any:
    return func.sum(case((on, weighted))) / func.nullif(func.sum(case((on, weight))), 0)


def recompute(session: Session, model: ScoringModel | None = None, use_case_ids: Sequence[int] | None = None) -> int:
    """Store fresh totals for the given use cases (all when None) from their ratings, in two statements:
    an ``UPDATE ... FROM`` over the per-scorer aggregate, and a reset for use cases left without ratings.
    Works the same for one use case and for 100,000. Returns how many use cases got totals."""
    model = model or active_model(session)
    session.flush()
    weight = ScoringCriterion.weight
    weighted = weight * counted_rating()
    per_scorer = (
        select(Score.use_case_id, Score.scorer_id,
               (func.sum(weighted) / func.sum(weight)).label("total"),
               _axis_mean(weighted, weight, ScoringCriterion.axis == "value").label("value"),
               _axis_mean(weighted, weight, ScoringCriterion.axis == "feasibility").label("feasibility"))
        .join(ScoringCriterion, ScoringCriterion.id == Score.criterion_id)
        .where(ScoringCriterion.model_id == (model.id if model is not None else -1))
        .group_by(Score.use_case_id, Score.scorer_id)
    )
    if use_case_ids is not None:
        per_scorer = per_scorer.where(Score.use_case_id.in_(list(use_case_ids)))
    ps = per_scorer.subquery("per_scorer")
    per_case = select(
        ps.c.use_case_id,
        _rounded(session, func.avg(ps.c.total)).label("total"),
        _rounded(session, func.avg(ps.c.value)).label("value"),
        _rounded(session, func.avg(ps.c.feasibility)).label("feasibility"),
        _rounded(session, func.max(ps.c.total) - func.min(ps.c.total)).label("spread"),
        func.count().label("scorers"),
    ).group_by(ps.c.use_case_id).subquery("per_case")
    result = session.execute(
        update(UseCase).where(UseCase.id == per_case.c.use_case_id).values(
            score_total=per_case.c.total, score_value=per_case.c.value, score_feasibility=per_case.c.feasibility,
            score_spread=per_case.c.spread, scorer_count=per_case.c.scorers,
        ).execution_options(synchronize_session=False)
    )
    rated = exists().where(Score.use_case_id == UseCase.id, Score.criterion_id == ScoringCriterion.id,
                           ScoringCriterion.model_id == (model.id if model is not None else -1))
    reset = update(UseCase).where(~rated, UseCase.score_total.is_not(None) | (UseCase.scorer_count > 0))
    if use_case_ids is not None:
        reset = reset.where(UseCase.id.in_(list(use_case_ids)))
    session.execute(reset.values(score_total=None, score_value=None, score_feasibility=None, score_spread=None,
                                 scorer_count=0).execution_options(synchronize_session=False))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, UseCase) and (use_case_ids is None or obj.id in use_case_ids):
            session.expire(obj, ["score_total", "score_value", "score_feasibility", "score_spread", "scorer_count",
                                 "updated_at"])
    return result.rowcount or 0


# --- rating ----------------------------------------------------------------------------------------------------

def _lock(session: Session, model: ScoringModel, use_case: UseCase) -> None:
    """Serialise score writes on one use case, and score writes against model changes (PostgreSQL; SQLite
    writers are serialised already): the totals are recomputed from a snapshot taken after the lock, so
    concurrent scorers never overwrite each other's contribution."""
    session.execute(select(ScoringModel.id).where(ScoringModel.id == model.id).with_for_update(read=True))
    session.execute(select(UseCase.id).where(UseCase.id == use_case.id).with_for_update())


def _snapshot(use_case: UseCase) -> dict[str, Any]:
    return {"score_total": use_case.score_total, "scorer_count": use_case.scorer_count}


def rate(session: Session, principal: Principal, use_case: UseCase, data: schemas.ScoresIn,
         *, scorer_id: int | None = None) -> UseCase:
    """Store the caller's scorecard for a use case: a rating 1..5 for every criterion, comments optional.

    Unknown criteria, ratings off the scale and unrated criteria are each a field error named
    ``ratings.<key>``; nothing is written unless the whole card is valid. Then the totals are recomputed."""
    principal.check_unit("use_case:score", use_case.business_unit_id, hide=False)
    model = ensure_active_model(session, principal)
    _lock(session, model, use_case)
    criteria = {c.key: c for c in model.criteria}
    errors: list[FieldError] = []
    for key, value in data.ratings.items():
        if key not in criteria:
            errors.append(FieldError(f"ratings.{key}", f"No criterion {key!r} in the scoring model."))
        elif isinstance(value, bool) or not SCORE_MIN <= value <= SCORE_MAX:
            errors.append(FieldError(f"ratings.{key}", f"Rate {criteria[key].name} from {SCORE_MIN} to {SCORE_MAX}."))
    for key in criteria:
        if key not in data.ratings:
            errors.append(FieldError(f"ratings.{key}", f"Rate {criteria[key].name} as well."))
    for key in data.comments:
        if key not in criteria:
            errors.append(FieldError(f"comments.{key}", f"No criterion {key!r} in the scoring model."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    who = scorer_id if scorer_id is not None else principal.user.id
    existing = {s.criterion_id: s for s in session.scalars(
        select(Score).where(Score.use_case_id == use_case.id, Score.scorer_id == who))}
    before_ratings = {c.key: existing[c.id].value for c in model.criteria if c.id in existing}
    before = _snapshot(use_case)
    for key, value in data.ratings.items():
        criterion = criteria[key]
        comment = data.comments.get(key, "")
        score = existing.pop(criterion.id, None)
        if score is None:
            session.add(Score(use_case_id=use_case.id, criterion_id=criterion.id, scorer_id=who, value=value,
                              comment=comment))
        else:
            score.value, score.comment = value, comment
    for stale in existing.values():  # ratings of criteria no longer in the model
        session.delete(stale)
    recompute(session, model, [use_case.id])
    after = _snapshot(use_case)
    diff: dict[str, Any] = {"scorer_id": [None, who],
                            "ratings": [before_ratings or None, {k: data.ratings[k] for k in criteria}]}
    diff.update({k: [before[k], after[k]] for k in before if before[k] != after[k]})
    ledger.append(session, principal.audit_actor, "score", "use_case", use_case.key, diff)
    return use_case


def withdraw(session: Session, principal: Principal, use_case: UseCase) -> UseCase:
    """Remove the caller's own scorecard from a use case and recompute its totals."""
    principal.check_unit("use_case:score", use_case.business_unit_id, hide=False)
    model = active_model(session)
    if model is not None:
        _lock(session, model, use_case)
    before = _snapshot(use_case)
    removed = session.execute(delete(Score).where(Score.use_case_id == use_case.id,
                                                  Score.scorer_id == principal.user.id)).rowcount or 0
    if not removed:
        return use_case
    recompute(session, None, [use_case.id])
    after = _snapshot(use_case)
    diff: dict[str, Any] = {"scorer_id": [principal.user.id, None]}
    diff.update({k: [before[k], after[k]] for k in before if before[k] != after[k]})
    ledger.append(session, principal.audit_actor, "unscore", "use_case", use_case.key, diff)
    return use_case


# --- reading scores --------------------------------------------------------------------------------------------

def _weighted(pairs: list[tuple[float, float]]) -> float | None:
    weight = sum(w for w, _ in pairs)
    return round(sum(w * r for w, r in pairs) / weight, DECIMALS) if weight else None


def scores_of(session: Session, use_case: UseCase) -> dict[str, Any]:
    """Per scorer (their ratings and totals) and per criterion (mean, min, max, count), for one use case."""
    model = current_model(session)
    criteria = list(model.criteria)
    by_id = {c.id: c for c in criteria if c.id is not None}
    rows = session.scalars(select(Score).where(Score.use_case_id == use_case.id)
                           .options(selectinload(Score.scorer)).order_by(Score.scorer_id, Score.criterion_id)).all()
    cards: dict[int, list[Score]] = {}
    for row in rows:
        if row.criterion_id in by_id:
            cards.setdefault(row.scorer_id, []).append(row)
    scorecards = []
    for scores in cards.values():
        counted = [(by_id[s.criterion_id], float(RATING_FLIP - s.value if by_id[s.criterion_id].inverse else s.value))
                   for s in scores]
        scorecards.append({
            "scorer": {"id": scores[0].scorer.id, "full_name": scores[0].scorer.full_name},
            "total": _weighted([(c.weight, r) for c, r in counted]) or 0.0,
            "value": _weighted([(c.weight, r) for c, r in counted if c.axis == "value"]),
            "feasibility": _weighted([(c.weight, r) for c, r in counted if c.axis == "feasibility"]),
            "ratings": {by_id[s.criterion_id].key: s.value for s in scores},
            "comments": {by_id[s.criterion_id].key: s.comment for s in scores if s.comment},
            "updated_at": max(s.updated_at for s in scores),
        })
    scorecards.sort(key=lambda card: (card["scorer"]["full_name"], card["scorer"]["id"]))
    summary = []
    for c in criteria:
        values = [s.value for s in rows if s.criterion_id == c.id and c.id is not None]
        summary.append({"key": c.key, "name": c.name, "weight": c.weight, "inverse": c.inverse, "axis": c.axis,
                        "mean": round(sum(values) / len(values), 2) if values else None,
                        "min": min(values) if values else None, "max": max(values) if values else None,
                        "count": len(values)})
    return {"key": use_case.key, "score_total": use_case.score_total, "score_value": use_case.score_value,
            "score_feasibility": use_case.score_feasibility, "score_spread": use_case.score_spread,
            "scorer_count": use_case.scorer_count, "criteria": summary, "scorers": scorecards, "model": model}
