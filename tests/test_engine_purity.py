"""Engines are pure: no module under ``aicoe.engines`` imports the database, web or CLI layers, or any other part
of aicoe, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import aicoe.engines

FORBIDDEN = ("sqlalchemy", "alembic", "fastapi", "starlette", "typer", "rich", "jinja2", "uvicorn")
ENGINES = Path(aicoe.engines.__file__).parent
MODULES = sorted(ENGINES.rglob("*.py"))


def imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_there_are_engine_modules_to_check() -> None:
    assert len(MODULES) > 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ENGINES)))
def test_an_engine_module_imports_no_platform_layer(path: Path) -> None:
    for name in imported_names(path):
        top = name.split(".")[0]
        assert top not in FORBIDDEN, f"{path.name} imports {name}"
        if top == "aicoe":
            assert name.startswith("aicoe.engines"), f"{path.name} imports {name}"
