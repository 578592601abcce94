"""JSON routes for use cases, duplicate checks, scores, the scoring model, the pipeline and the matrix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.core.pagination import PageParams
from aicoe.portfolio import pipeline, schemas, scoring, usecases
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["portfolio"])

Stages = Annotated[list[str] | None, Query(description="stage names, repeated or comma-separated")]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/use-cases", response_model=PageOut[schemas.UseCaseSummary])
def list_use_cases(session: SessionDep, principal: require("use_case:read"), page: PageQuery,
                   stage: Stages = None, business_unit_id: int | None = None, ai_type: Text = None, q: Text = None,
                   pattern_id: int | None = None, owner_id: int | None = None) -> dict[str, Any]:
    """Sort by key, title, score_total, stage, submitted_at, target_date or expected_benefit_annual."""
    result = usecases.list_use_cases(session, principal, page, stage=stage, business_unit_id=business_unit_id,
                                     ai_type=ai_type, q=q, pattern_id=pattern_id, owner_id=owner_id)
    return page_out(result, schemas.UseCaseSummary)


@router.post("/use-cases", response_model=schemas.UseCaseOut, status_code=201)
def submit(session: SessionDep, principal: require("use_case:submit"), body: schemas.UseCaseCreate) -> object:
    """Intake. Call ``POST /use-cases/similar`` first to show possible duplicates to the submitter."""
    return usecases.create_use_case(session, principal, body)


@router.post("/use-cases/similar", response_model=schemas.SimilarOut)
def similar(session: SessionDep, principal: require("use_case:submit"), body: schemas.SimilarIn) -> dict[str, Any]:
    """Existing use cases whose title and problem statement read like these, with a similarity score 0..1."""
    found = usecases.similar(session, principal, body.title, body.problem_statement, exclude_key=body.exclude_key)
    return {"threshold": usecases.similarity.THRESHOLD, "items": [
        {"key": u.key, "title": u.title, "stage": u.stage, "business_unit": u.business_unit.name, "score": s}
        for u, s in found]}


@router.get("/use-cases/{key}", response_model=schemas.UseCaseOut)
def get_use_case(session: SessionDep, principal: require("use_case:read"), key: str) -> object:
    """By key (UC-0007) or numeric id."""
    return usecases.get_use_case(session, principal, key, detail=True)


@router.patch("/use-cases/{key}", response_model=schemas.UseCaseOut)
def update_use_case(session: SessionDep, principal: require("use_case:write"), key: str,
                    body: schemas.UseCaseUpdate) -> object:
    """Edit fields; the stage changes only through a transition."""
    return usecases.update_use_case(session, principal, key, body)


@router.delete("/use-cases/{key}", status_code=204)
def delete_use_case(session: SessionDep, principal: require("use_case:write"), key: str) -> Response:
    """Only in stage idea or rejected (409 otherwise)."""
    usecases.delete_use_case(session, principal, key)
    return Response(status_code=204)


@router.get("/use-cases/{key}/scores", response_model=schemas.ScoresOut)
def get_scores(session: SessionDep, principal: require("use_case:read"), key: str) -> dict[str, Any]:
    return scoring.scores_of(session, usecases.get_use_case(session, principal, key))


@router.put("/use-cases/{key}/scores", response_model=schemas.ScoresOut)
def put_scores(session: SessionDep, principal: require("use_case:score"), key: str,
               body: schemas.ScoresIn) -> dict[str, Any]:
    """Store the caller's ratings (1..5 for every criterion) and recompute the use case's totals."""
    use_case = scoring.rate(session, principal, usecases.get_use_case(session, principal, key), body)
    return scoring.scores_of(session, use_case)


@router.delete("/use-cases/{key}/scores", response_model=schemas.ScoresOut)
def withdraw_scores(session: SessionDep, principal: require("use_case:score"), key: str) -> dict[str, Any]:
    """Remove the caller's own ratings."""
    use_case = scoring.withdraw(session, principal, usecases.get_use_case(session, principal, key))
    return scoring.scores_of(session, use_case)


def _model_out(model: Any) -> dict[str, Any]:
    return {"id": model.id, "name": model.name, "description": model.description,
            "criteria": [schemas.CriterionOut.model_validate(c) for c in model.criteria]}


@router.get("/scoring-model", response_model=schemas.ScoringModelOut)
def get_scoring_model(session: SessionDep, principal: require("use_case:read")) -> dict[str, Any]:
    return _model_out(scoring.current_model(session))


@router.put("/scoring-model", response_model=schemas.ScoringModelOut)
def put_scoring_model(session: SessionDep, principal: require("scoring_model:write"),
                      body: schemas.ScoringModelIn) -> dict[str, Any]:
    """Replace the criteria (matched by key); weight changes recompute every use case's totals."""
    return _model_out(scoring.replace_model(session, principal, body))


@router.get("/pipeline", response_model=schemas.PipelineOut)
def get_pipeline(session: SessionDep, principal: require("use_case:read"), page: PageQuery, stage: Stages = None,
                 business_unit_id: int | None = None, ai_type: Text = None,
                 weights: Annotated[str | None, Query(max_length=1000, description="what-if weights, e.g. "
                                                       "business_value:3,risk:1; nothing is saved")] = None,
                 ) -> dict[str, Any]:
    """Use cases ranked by score (default: stages idea to pilot); equal totals share a rank (1, 2, 2, 4)."""
    result = pipeline.ranking(session, principal, PageParams(limit=page.limit, offset=page.offset), stage=stage,
                              business_unit_id=business_unit_id, ai_type=ai_type, weights=weights)
    items = [{"rank": r.rank, "key": r.use_case.key, "title": r.use_case.title, "stage": r.use_case.stage,
              "ai_type": r.use_case.ai_type, "business_unit": r.use_case.business_unit,
              "score_total": r.use_case.score_total, "score_value": r.use_case.score_value,
              "score_feasibility": r.use_case.score_feasibility, "score_spread": r.use_case.score_spread,
              "scorer_count": r.use_case.scorer_count, "what_if_total": r.what_if_total,
              "what_if_value": r.what_if_value} for r in result.items]
    return {"items": items, "total": result.total, "limit": result.limit, "offset": result.offset,
            "next_offset": result.next_offset, "what_if": result.what_if}


@router.get("/portfolio/matrix", response_model=schemas.MatrixOut)
def get_matrix(session: SessionDep, principal: require("use_case:read"), stage: Stages = None,
               business_unit_id: int | None = None, ai_type: Text = None,
               limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    """Value (y) against feasibility (x) with quadrants: quick wins, strategic bets, fill-ins, money pits
    (3 or more on the 1..5 scale is high)."""
    result = pipeline.matrix(session, principal, stage=stage, business_unit_id=business_unit_id, ai_type=ai_type,
                             limit=limit)
    return {"threshold": pipeline.MATRIX_THRESHOLD, "quadrants": result.quadrants, "total": result.total,
            "points": [{"key": u.key, "title": u.title, "x": u.score_feasibility, "y": u.score_value,
                        "quadrant": pipeline.quadrant(u.score_value, u.score_feasibility)} for u in result.points]}
