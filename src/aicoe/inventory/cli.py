"""Inventory commands: ``aicoe inventory list | show | export-bom | sync-mlflow``.

Commands act as the system (no signed-in user), so they see every business unit. ``export-bom`` writes the
CycloneDX JSON to stdout (so it pipes into other tools) unless ``--output`` names a file.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from aicoe.cli.common import console, domain_errors, err_console, load_settings, unit_of_work
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.inventory import bom, mlflow_cli
from aicoe.inventory.constants import (
    CLASSIFICATIONS,
    DATASET_PURPOSES,
    ENVIRONMENTS,
    EU_AI_ACT_ROLES,
    LIFECYCLE_STATUSES,
    MODEL_KINDS,
    VENDOR_STATUSES,
    VENDOR_TYPES,
)
from aicoe.models.inventory import AISystem, Dataset, Model, ModelDataset, Vendor
from aicoe.models.org import BusinessUnit
from aicoe.portfolio.constants import AI_TYPES

inventory_app = typer.Typer(help="The AI inventory: list, show, export an AI bill of materials, sync from MLflow.",
                            no_args_is_help=True)


class Kind(StrEnum):
    systems = "systems"
    models = "models"
    datasets = "datasets"
    vendors = "vendors"


def register(app: typer.Typer) -> None:
    mlflow_cli.register(inventory_app)
    app.add_typer(inventory_app, name="inventory")


def _unit_id(session: Session, code: str) -> int:
    unit_id = session.scalar(select(BusinessUnit.id).where(func.lower(BusinessUnit.code) == code.strip().lower()))
    if unit_id is None:
        raise ValidationFailed(f"no business unit with code {code!r}",
                               errors=[FieldError("unit", f"No business unit {code!r}.")])
    return unit_id


def _refuse(option: str, message: str) -> None:
    raise ValidationFailed(message, errors=[FieldError(option, message)])


def _status(kind: Kind, status: str | None) -> str | None:
    if status is None:
        return None
    allowed = {Kind.systems: LIFECYCLE_STATUSES, Kind.vendors: VENDOR_STATUSES}.get(kind)
    if allowed is None:
        _refuse("status", "--status applies to systems and vendors only.")
    elif status not in allowed:
        _refuse("status", f"Status must be one of: {', '.join(allowed)}.")
    return status


def find_system(session: Session, name_or_id: str) -> AISystem:
    """By numeric id, else by name (case-insensitive)."""
    key = name_or_id.strip()
    system = session.get(AISystem, int(key)) if key.isdigit() else None
    if system is None:
        system = session.scalar(select(AISystem).where(func.lower(AISystem.name) == key.lower()))
    if system is None:
        raise NotFound(f"no AI system with id or name {name_or_id!r}")
    return system


def _table(session: Session, kind: Kind, unit_id: int | None, status: str | None, limit: int) -> tuple[Table, int]:
    stmt: Select
    if kind is Kind.vendors:
        stmt = select(Vendor).order_by(Vendor.name)
        if status:
            stmt = stmt.where(Vendor.status == status)
        table = Table("id", "name", "type", "status", "website")
        rows = [(str(v.id), v.name, VENDOR_TYPES.get(v.type, v.type), VENDOR_STATUSES.get(v.status, v.status),
                 v.website or "-") for v in session.scalars(stmt.limit(limit))]
    elif kind is Kind.systems:
        stmt = select(AISystem).options(selectinload(AISystem.business_unit)).order_by(AISystem.name)
        stmt = stmt.where(AISystem.lifecycle_status == status) if status else stmt
        stmt = stmt.where(AISystem.business_unit_id == unit_id) if unit_id else stmt
        table = Table("id", "name", "unit", "AI type", "status", "risk tier")
        rows = [(str(s.id), s.name, s.business_unit.code, AI_TYPES.get(s.ai_type, s.ai_type),
                 LIFECYCLE_STATUSES.get(s.lifecycle_status, s.lifecycle_status), s.risk_tier or "-")
                for s in session.scalars(stmt.limit(limit))]
    elif kind is Kind.models:
        stmt = select(Model).options(selectinload(Model.business_unit), selectinload(Model.vendor),
                                     selectinload(Model.base_model)).order_by(Model.name, Model.version)
        stmt = stmt.where(Model.business_unit_id == unit_id) if unit_id else stmt
        table = Table("id", "name", "version", "kind", "unit", "vendor", "base model")
        rows = [(str(m.id), m.name, m.version, MODEL_KINDS.get(m.kind, m.kind), m.business_unit.code,
                 m.vendor.name if m.vendor else "-",
                 f"{m.base_model.name} {m.base_model.version}" if m.base_model else "-")
                for m in session.scalars(stmt.limit(limit))]
    else:
        stmt = select(Dataset).options(selectinload(Dataset.business_unit)).order_by(Dataset.name)
        stmt = stmt.where(Dataset.business_unit_id == unit_id) if unit_id else stmt
        table = Table("id", "name", "unit", "classification", "personal data", "source")
        rows = [(str(d.id), d.name, d.business_unit.code, CLASSIFICATIONS.get(d.classification, d.classification),
                 "special category" if d.special_category_data else "yes" if d.personal_data else "no", d.source)
                for d in session.scalars(stmt.limit(limit))]
    for row in rows:
        table.add_row(*row)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return table, total


@inventory_app.command("list")
@domain_errors
def list_cmd(kind: Annotated[Kind, typer.Option("--kind", help="systems, models, datasets or vendors")] = Kind.systems,
             unit: Annotated[str | None, typer.Option("--unit", help="business unit code")] = None,
             status: Annotated[str | None, typer.Option("--status", help="lifecycle status (systems) or vendor "
                                                        "status (vendors)")] = None,
             limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 200) -> None:
    """List AI systems (default), models, datasets or vendors, by name."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        if unit and kind is Kind.vendors:
            _refuse("unit", "Vendors are CoE-wide: --unit does not apply.")
        table, total = _table(session, kind, _unit_id(session, unit) if unit else None, _status(kind, status), limit)
    console.print(table)
    console.print(f"{table.row_count} of {total} {kind.value}")


@inventory_app.command("show")
@domain_errors
def show(name_or_id: Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="an AI system's id or name")]) -> None:
    """Show one AI system: its details, models, datasets, deployments and vendors."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        s = find_system(session, name_or_id)
        details = Table(show_header=False, box=None)
        for label, text in [
            ("id", str(s.id)), ("name", s.name), ("purpose", s.purpose or "-"),
            ("business unit", f"{s.business_unit.name} ({s.business_unit.code})"),
            ("use case", s.use_case.key if s.use_case else "-"), ("AI type", AI_TYPES.get(s.ai_type, s.ai_type)),
            ("status", LIFECYCLE_STATUSES.get(s.lifecycle_status, s.lifecycle_status)),
            ("EU AI Act role", EU_AI_ACT_ROLES.get(s.eu_ai_act_role, s.eu_ai_act_role)),
            ("owner", s.owner.email if s.owner else "-"),
            ("technical owner", s.technical_owner.email if s.technical_owner else "-"),
            ("risk tier", s.risk_tier or "-"), ("assessment", s.assessment_status or "-"),
            ("vendors", ", ".join(v.name for v in s.vendors) or "-"),
        ]:
            details.add_row(f"[bold]{label}[/bold]", text)
        console.print(details)
        models = Table("model", "version", "kind", "role", "datasets", title="Models")
        for link in sorted(s.model_links, key=lambda k: (k.model.name, k.model.version)):
            m = link.model
            used = session.execute(select(Dataset.name, ModelDataset.purpose).join(ModelDataset.dataset)
                                   .where(ModelDataset.model_id == m.id).order_by(Dataset.name)).all()
            models.add_row(m.name, m.version, MODEL_KINDS.get(m.kind, m.kind), link.role or "-",
                           ", ".join(f"{n} ({DATASET_PURPOSES.get(p, p)})" for n, p in used) or "-")
        console.print(models)
        datasets = Table("dataset", "purpose", title="Datasets used directly")
        for link in sorted(s.dataset_links, key=lambda k: k.dataset.name):
            datasets.add_row(link.dataset.name, link.purpose or "-")
        console.print(datasets)
        deployments = Table("id", "environment", "status", "endpoint", "gateway route", title="Deployments")
        for d in s.deployments:
            deployments.add_row(str(d.id), ENVIRONMENTS.get(d.environment, d.environment), d.status,
                                d.endpoint or "-", d.gateway_route or "-")
        console.print(deployments)


@inventory_app.command("export-bom")
@domain_errors
def export_bom(system: Annotated[str | None, typer.Option("--system", help="an AI system's id or name; the "
                                                          "whole inventory when left out")] = None,
               output: Annotated[Path | None, typer.Option("--output", help="file to write; stdout if left out")]
               = None) -> None:
    """Export a CycloneDX 1.6 ML-BOM (JSON) of one AI system or the whole inventory."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        if system is None:
            document = bom.to_json(bom.inventory_bom(session, None))
        else:
            document = bom.to_json(bom.system_bom(session, None, find_system(session, system).id))
    if output is None:
        sys.stdout.write(document + "\n")
        sys.stdout.flush()
    else:
        output.write_text(document + "\n", encoding="utf-8")
        err_console.print(f"Wrote {output}")

