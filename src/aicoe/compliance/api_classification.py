"""JSON routes for the EU AI Act questionnaire, previews, and the classifications of AI systems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from aicoe.auth.deps import require
from aicoe.compliance import classification, eu_ai_act
from aicoe.compliance import schemas_classification as schemas
from aicoe.core.deps import SessionDep
from aicoe.web.api_common import PageOut, PageQuery

router = APIRouter(tags=["compliance"])


def _row(system: Any, record: Any) -> dict[str, Any]:
    return {"id": system.id, "name": system.name, "business_unit": system.business_unit,
            "eu_ai_act_role": system.eu_ai_act_role, "lifecycle_status": system.lifecycle_status,
            "current": record}


@router.get("/classification/questionnaire", response_model=schemas.QuestionnaireOut)
def questionnaire(principal: require("compliance:read")) -> dict[str, Any]:
    """The questions by section, each with the articles it rests on, its options and when it is asked."""
    return eu_ai_act.questionnaire()


@router.post("/classification/preview", response_model=schemas.PreviewOut)
def preview(principal: require("compliance:read"), body: schemas.PreviewIn) -> dict[str, Any]:
    """Classify answers without storing anything (422 naming each question that is missing or invalid)."""
    return classification.preview(body.answers).as_dict()


@router.get("/classifications", response_model=PageOut[schemas.SystemClassificationOut])
def list_classifications(session: SessionDep, principal: require("compliance:read"), page: PageQuery,
                         tier: Annotated[str | None, Query(max_length=16)] = None,
                         business_unit_id: int | None = None,
                         unclassified: Annotated[bool | None, Query(description="true: only systems not "
                                                                                "classified yet")] = None,
                         ) -> dict[str, Any]:
    """Every AI system in the caller's units with its current classification. Sort by name (default), tier or
    classified_at; '-' for descending."""
    result = classification.list_current(session, principal, page, tier=tier, business_unit_id=business_unit_id,
                                         unclassified=unclassified)
    return {"items": [_row(system, record) for system, record in result.items], "total": result.total,
            "limit": result.limit, "offset": result.offset, "next_offset": result.next_offset}


@router.get("/ai-systems/{system_id}/classification", response_model=schemas.ClassificationOut)
def current_classification(session: SessionDep, principal: require("compliance:read"), system_id: int) -> object:
    """The current classification; 404 when the system has not been classified yet."""
    return classification.get_current(session, principal, system_id)


@router.get("/ai-systems/{system_id}/classifications", response_model=list[schemas.ClassificationOut])
def classification_history(session: SessionDep, principal: require("compliance:read"), system_id: int) -> object:
    """Every version, newest first."""
    return classification.history(session, principal, system_id)


@router.post("/ai-systems/{system_id}/classification", response_model=schemas.ClassificationOut, status_code=201)
def classify(session: SessionDep, principal: require("compliance:write"), system_id: int,
             body: schemas.ClassifyIn) -> object:
    """Classify the system: a new current version; sets the system's risk tier (and its EU AI Act role when the
    answered role differs)."""
    return classification.classify_system(session, principal, system_id, body.answers, body.notes)
