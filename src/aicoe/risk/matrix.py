"""The likelihood × impact matrix risks are scored on: axis labels and the score bands that name a level.

One row holds it; ``get_matrix`` creates the default 5 × 5 matrix on first use. A risk stores the positions it
was given on each axis (1 = the first label) and its score (likelihood × impact); its level is read from the
bands at display time, so re-banding re-levels every risk at once. Axes may not shrink below a position a risk
still uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, scope_of
from aicoe.core.errors import Conflict, FieldError, ValidationFailed
from aicoe.models.risk import Risk, RiskMatrix
from aicoe.risk import schemas
from aicoe.risk.constants import LEVELS

WRITE = "risk_matrix:write"
MIN_LABELS, MAX_LABELS = 2, 10
MIN_BANDS, MAX_BANDS = 2, len(LEVELS)
DEFAULT_LIKELIHOOD = ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
DEFAULT_IMPACT = ["Negligible", "Minor", "Moderate", "Major", "Severe"]
DEFAULT_BANDS: list[dict[str, Any]] = [
    {"level": "low", "min": 1, "max": 4}, {"level": "medium", "min": 5, "max": 9},
    {"level": "high", "min": 10, "max": 16}, {"level": "critical", "min": 17, "max": 25},
]


@dataclass(frozen=True)
class Band:
    level: str
    min: int
    max: int

    @property
    def label(self) -> str:
        return LEVELS.get(self.level, self.level)


def get_matrix(session: Session) -> RiskMatrix:
    """The matrix, created (and audited, as the system) with the default 5 × 5 layout on first use."""
    matrix = session.scalar(select(RiskMatrix).order_by(RiskMatrix.id).limit(1))
    if matrix is None:
        matrix = RiskMatrix(likelihood_labels=list(DEFAULT_LIKELIHOOD), impact_labels=list(DEFAULT_IMPACT),
                            bands=[dict(b) for b in DEFAULT_BANDS])
        session.add(matrix)
        session.flush()
        ledger.append(session, ledger.SYSTEM, "create", "risk_matrix", matrix.id, ledger.created(matrix))
    return matrix


def bands(matrix: RiskMatrix) -> list[Band]:
    return [Band(str(b["level"]), int(b["min"]), int(b["max"])) for b in matrix.bands]


def max_score(matrix: RiskMatrix) -> int:
    return len(matrix.likelihood_labels) * len(matrix.impact_labels)


def level(matrix: RiskMatrix, score: int | None) -> str | None:
    """The level of the band holding ``score`` (None for no score)."""
    if score is None:
        return None
    return next((b.level for b in bands(matrix) if b.min <= score <= b.max), None)


def score_range(matrix: RiskMatrix, level_name: str) -> tuple[int, int] | None:
    """The scores a level covers, or None when the matrix has no band of that level."""
    return next(((b.min, b.max) for b in bands(matrix) if b.level == level_name), None)


def levels_in_use(matrix: RiskMatrix) -> dict[str, str]:
    return {b.level: b.label for b in bands(matrix)}


# --- validation and update -----------------------------------------------------------------------------------------

def _label_errors(field: str, labels: list[str]) -> list[FieldError]:
    if not MIN_LABELS <= len(labels) <= MAX_LABELS:
        return [FieldError(field, f"Give between {MIN_LABELS} and {MAX_LABELS} labels; got {len(labels)}.")]
    if any(not label for label in labels):
        return [FieldError(field, "Labels cannot be empty.")]
    seen: set[str] = set()
    for label in labels:
        if label.lower() in seen:
            return [FieldError(field, f"Labels must differ; {label!r} appears twice.")]
        seen.add(label.lower())
    return []


def _band_errors(wanted: list[Band], top: int) -> list[FieldError]:
    def error(message: str) -> list[FieldError]:
        return [FieldError("bands", message)]

    if not MIN_BANDS <= len(wanted) <= MAX_BANDS:
        return error(f"Give {MIN_BANDS} to {MAX_BANDS} bands; got {len(wanted)}.")
    order = list(LEVELS)
    previous_end, previous_rank = 0, -1
    for band in wanted:
        if band.level not in LEVELS:
            return error(f"Unknown level {band.level!r}; allowed: {', '.join(LEVELS)}.")
        if order.index(band.level) <= previous_rank:
            return error(f"Levels must rise from band to band in the order {', '.join(LEVELS)}, each used once.")
        if band.min > band.max:
            return error(f"Band {band.level!r} ends ({band.max}) before it starts ({band.min}).")
        if band.min != previous_end + 1:
            if previous_end == 0:
                return error(f"The first band must start at 1, not {band.min}.")
            kind = "a gap" if band.min > previous_end + 1 else "an overlap"
            return error(f"Band {band.level!r} starts at {band.min} but the previous band ends at {previous_end}: "
                         f"{kind} between them; bands must follow each other exactly.")
        previous_end, previous_rank = band.max, order.index(band.level)
    if previous_end != top:
        return error(f"The last band must end at the highest score, {top} (likelihood levels × impact levels), "
                     f"not {previous_end}.")
    return []


def validate(data: schemas.MatrixIn) -> list[FieldError]:
    """Every problem with a proposed matrix, by field (empty when it is sound)."""
    errors = _label_errors("likelihood_labels", data.likelihood_labels)
    errors += _label_errors("impact_labels", data.impact_labels)
    if not errors:
        top = len(data.likelihood_labels) * len(data.impact_labels)
        errors += _band_errors([Band(b.level, b.min, b.max) for b in data.bands], top)
    return errors


def _check_positions_in_use(session: Session, data: schemas.MatrixIn) -> None:
    """Refuse dropping an axis position that a risk (inherent or residual) still stands on."""
    errors: list[FieldError] = []
    for field, labels, columns in (
        ("likelihood_labels", data.likelihood_labels, (Risk.inherent_likelihood, Risk.residual_likelihood)),
        ("impact_labels", data.impact_labels, (Risk.inherent_impact, Risk.residual_impact)),
    ):
        limit = len(labels)
        stmt = select(Risk.key).where(or_(*(c > limit for c in columns)))
        used = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        if used:
            keys = list(session.scalars(stmt.order_by(Risk.key).limit(5)))
            more = f" and {used - len(keys)} more" if used > len(keys) else ""
            axis = field.split("_")[0]
            errors.append(FieldError(field, f"{used} risk(s) are scored above {axis} {limit} "
                                            f"({', '.join(keys)}{more}); re-score them before removing that level."))
    if errors:
        raise Conflict("the matrix cannot shrink below the positions existing risks use; "
                       + "; ".join(e.message for e in errors), errors=errors)


def update_matrix(session: Session, principal: Actor, data: schemas.MatrixIn) -> RiskMatrix:
    """Replace the labels and bands (CoE-wide permission). Invalid layouts are refused by field, and so is a
    shrink that would strand existing risks; nothing changes then."""
    scope_of(principal, WRITE)
    errors = validate(data)
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    _check_positions_in_use(session, data)
    matrix = get_matrix(session)
    wanted = {"likelihood_labels": list(data.likelihood_labels), "impact_labels": list(data.impact_labels),
              "bands": [b.model_dump() for b in data.bands]}
    for field, value in wanted.items():
        if getattr(matrix, field) != value:
            setattr(matrix, field, value)
    diff = ledger.changed(matrix)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "risk_matrix", matrix.id, diff)
    return matrix
