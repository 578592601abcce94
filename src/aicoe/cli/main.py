"""The ``aicoe`` command: one Typer root, one sub-app or command per area.

An area's module is imported only when one of its commands runs (or when the root's help lists them all): the
areas together take seconds to import (the evaluation engine brings SciPy, most areas the database models), and
``aicoe scan`` or ``aicoe redact`` need none of that.
"""

from __future__ import annotations

import importlib
from functools import cache

import typer
from typer.core import TyperGroup
from typer.main import get_group

# Each top-level command, then each group, in the order the help lists them, and the module whose
# ``register(app)`` adds it.
AREAS: dict[str, str] = {
    "serve": "aicoe.cli.server", "init": "aicoe.cli.server", "demo": "aicoe.cli.server",
    "worker": "aicoe.jobs.cli",
    "scan": "aicoe.sensitive.cli_scan",
    "redact": "aicoe.sensitive.cli_redact",
    "evaluate": "aicoe.evaluation.cli",
    "db": "aicoe.cli.server", "config": "aicoe.cli.server",
    "unit": "aicoe.org.cli", "user": "aicoe.org.cli", "token": "aicoe.org.cli",
    "audit": "aicoe.audit.cli",
    "jobs": "aicoe.jobs.cli",
    "usecase": "aicoe.portfolio.cli",
    "inventory": "aicoe.inventory.cli",
    "catalog": "aicoe.compliance.cli_catalog",
    "classification": "aicoe.compliance.cli_classify",
    "assessment": "aicoe.compliance.cli_assess",
    "control": "aicoe.compliance.cli_controls", "evidence": "aicoe.compliance.cli_controls",
    "risk": "aicoe.risk.cli",
    "policy": "aicoe.policy.cli",
    "review": "aicoe.reviews.cli",
    "gateway": "aicoe.gateway.cli_serve",
    "guard": "aicoe.gateway.cli_guard",
}


class _LazyRoot(TyperGroup):
    """The root group: its commands come from :data:`AREAS`, each built from its module on first use."""

    def list_commands(self, ctx: object) -> list[str]:  # type: ignore[override]
        return list(AREAS)

    def get_command(self, ctx: object, cmd_name: str) -> object:  # type: ignore[override]
        module = AREAS.get(cmd_name)
        return None if module is None else area_commands(module).get(cmd_name)


@cache
def area_commands(module: str) -> dict[str, object]:
    """The commands and groups the area ``module`` registers, by name."""
    area = typer.Typer()
    importlib.import_module(module).register(area)
    return dict(get_group(area).commands)


app = typer.Typer(cls=_LazyRoot, help="aicoe: the platform an AI/ML Center of Excellence runs on.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)


@app.callback()
def _root() -> None:
    """A root with a callback is a group even before any command is registered (all of them come lazily)."""


def main() -> None:
    app()
