"""Catalog commands: ``aicoe catalog list | show | validate | import | sync``.

``validate`` needs no database: it checks files against the format and, for mappings, against the shipped
catalogs and any catalogs named with them. The other commands act as the system on the configured database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from aicoe.catalogs import loader
from aicoe.cli.common import console, domain_errors, err_console, load_settings, unit_of_work
from aicoe.compliance import frameworks as service

catalog_app = typer.Typer(help="Framework catalogs and cross-framework mappings: list, show, validate, import.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")


@contextmanager
def _reported() -> Iterator[None]:
    """Print every problem of invalid files as ``file:line: path: reason`` and exit 1."""
    try:
        yield
    except loader.CatalogError as exc:
        for problem in exc.problems:
            err_console.print(escape(str(problem)), soft_wrap=True, highlight=False)
        err_console.print(f"[red]{escape(exc.detail)}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None


def _outcome_line(outcome: service.ImportOutcome) -> str:
    if outcome.kind == "framework":
        return f"{outcome.status:9} framework {outcome.label} ({outcome.counts['requirements']} requirements)"
    c = outcome.counts
    return (f"{outcome.status:9} mapping {outcome.label} ({c['links']} links; {c['added']} added, "
            f"{c['removed']} removed, {c['changed']} changed)")


@catalog_app.command("list")
@domain_errors
def list_cmd(current: Annotated[bool, typer.Option("--current", help="only the version in use of each")] = False,
             ) -> None:
    """List the loaded frameworks and their versions."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        listings = service.list_frameworks(session, None, current_only=current)
    table = Table("id", "version", "name", "publisher", "requirements", "current")
    for item in listings:
        f = item.framework
        table.add_row(f.key, f.version, f.name, f.publisher, str(item.requirements), "yes" if f.is_current else "")
    console.print(table)
    console.print(f"{len(listings)} framework version{'s' if len(listings) != 1 else ''}")


@catalog_app.command("show")
@domain_errors
def show(framework: Annotated[str, typer.Argument(metavar="ID", help="a framework id, e.g. nist-ai-rmf")],
         version: Annotated[str | None, typer.Option("--version", help="a version other than the current one")]
         = None,
         summaries: Annotated[bool, typer.Option("--summaries", help="print each requirement's summary")]
         = False) -> None:
    """Show a framework's provenance and its requirement tree."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        row = service.get_framework(session, None, framework, version)
        listing = service.listing_of(session, row)
        details = Table(show_header=False, box=None)
        for label, text in [
            ("id", row.key), ("name", row.name), ("version", row.version + ("" if row.is_current else
                                                                              " (not the current version)")),
            ("publisher", row.publisher), ("published", str(row.published or "-")), ("source", row.source_url),
            ("licence", row.licence), ("requirements", f"{listing.requirements} ({listing.assessable} assessable)"),
            ("content sha256", row.file_sha256),
        ]:
            details.add_row(f"[bold]{label}[/bold]", escape(text))
        console.print(details)
        tree = Tree(escape(f"{row.name} {row.version}"))

        def add(branch: Tree, nodes: list[service.TreeNode]) -> None:
            for node in nodes:
                r = node.requirement
                label = f"[bold]{escape(r.ref)}[/bold] {escape(r.title)} [dim]{escape(r.kind)}[/dim]"
                if summaries and r.summary:
                    label += f"\n{escape(r.summary)}"
                add(branch.add(label), node.children)

        add(tree, service.requirement_tree(session, row.id))
    console.print(tree)


@catalog_app.command("validate")
def validate(paths: Annotated[list[Path] | None, typer.Argument(metavar="PATH...", help="catalog and mapping files",
                                                                exists=True, dir_okay=False)] = None,
             builtin: Annotated[bool, typer.Option("--builtin", help="validate the catalogs shipped with aicoe")]
             = False) -> None:
    """Check catalog and mapping files without loading them (no database needed); exit 1 listing every problem.
    Mappings are checked against the shipped catalogs and the catalogs given with them."""
    if not paths and not builtin:
        err_console.print("Name the files to validate, or use --builtin.")
        raise typer.Exit(2)
    with _reported():
        if builtin:
            bundle = loader.load_builtin()
        else:
            catalogs, mappings = loader.split_by_schema(paths or [])
            bundle = loader.load_files(catalogs, mappings, known=_shipped_refs())
    for loaded in bundle.catalogs:
        info = loaded.document.framework  # type: ignore[union-attr]
        count = sum(1 for _ in loaded.document.walk())  # type: ignore[union-attr]
        console.print(f"ok  {escape(loaded.file)}: {info.id} {escape(info.version)}, {count} requirements",
                      highlight=False, soft_wrap=True)
    for loaded in bundle.mappings:
        info = loaded.document.mapping  # type: ignore[union-attr]
        console.print(f"ok  {escape(loaded.file)}: {info.id}, {len(loaded.document.links)} links "  # type: ignore
                      f"({info.source_framework} → {info.target_framework})", highlight=False, soft_wrap=True)


def _shipped_refs() -> dict[str, frozenset[str]]:
    """The refs of each shipped catalog that loads (a broken shipped file is validate --builtin's business)."""
    refs: dict[str, frozenset[str]] = {}
    for path in loader.builtin_frameworks():
        try:
            catalog = loader.load_catalog(loader.read(path), path.name).document
        except loader.CatalogError:
            continue
        refs[catalog.framework.id] = loader.refs_of(catalog)  # type: ignore[union-attr]
    return refs


@catalog_app.command("import")
@domain_errors
def import_cmd(path: Annotated[Path, typer.Argument(metavar="PATH", exists=True, dir_okay=False,
                                                    help="a catalog file, or a mapping file with --mapping")],
               mapping: Annotated[bool, typer.Option("--mapping", help="the file is a cross-framework mapping")]
               = False) -> None:
    """Load a catalog (or, with --mapping, a mapping) file into the database. Loading the same content again
    changes nothing; a changed catalog needs a new version."""
    settings = load_settings()
    with _reported():
        data = loader.read(path)
        with unit_of_work(settings) as session:
            load = service.import_mapping if mapping else service.import_catalog
            outcome = load(session, None, data, path.name)
    console.print(escape(_outcome_line(outcome)), highlight=False, soft_wrap=True)


@catalog_app.command("sync")
@domain_errors
def sync() -> None:
    """Load the catalogs and mappings shipped with aicoe (new ones and new versions; the rest is unchanged)."""
    settings = load_settings()
    with _reported(), unit_of_work(settings) as session:
        outcomes = service.sync_builtin(session, None)
    for outcome in outcomes:
        console.print(escape(_outcome_line(outcome)), highlight=False, soft_wrap=True)
