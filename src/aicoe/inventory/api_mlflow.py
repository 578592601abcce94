"""JSON route that queues an MLflow sync: /api/v1/inventory/mlflow-sync.

Reading a tracking server can take a while, so the request only checks the caller's right to write models in
the unit and queues a job (``inventory.sync_mlflow``); poll /api/v1/jobs/{id} for the report.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.inventory import mlflow_sync
from aicoe.jobs import service as jobs
from aicoe.jobs.schemas import JobOut

router = APIRouter(tags=["inventory"])

ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=mlflow_sync.MAX_NAME)]


class MlflowSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_uri: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    business_unit_id: int = Field(description="where newly imported models go")
    owner_id: int | None = Field(default=None, description="owner of newly imported models")
    model_names: list[ModelName] = Field(default_factory=list, max_length=1000,
                                         description="registered models to sync; all of them when empty")


@router.post("/inventory/mlflow-sync", response_model=JobOut, status_code=202)
def queue_mlflow_sync(session: SessionDep, principal: require("inventory:write"), data: MlflowSyncIn) -> object:
    """Queue a sync of the server's registered models into the inventory; the job's result is the report."""
    principal.check_unit("inventory:write", data.business_unit_id, hide=False)
    mlflow_sync.check_references(session, data.business_unit_id, data.owner_id)
    payload = mlflow_sync.job_payload(principal, data.tracking_uri, business_unit_id=data.business_unit_id,
                                      owner_id=data.owner_id, model_names=data.model_names)
    return jobs.enqueue(session, principal, mlflow_sync.JOB_KIND, payload)
