"""``aicoe guard check TEXT``: what a guardrail policy does to a text, from the command line.

The policy is a YAML or JSON file, or the name of a policy in the database; without ``--policy``, the database's
default policy, else the built-in default. Each finding is printed with its rule, kind, action, entity types,
score and offsets; the matched text only with ``--show-values``. The exit code is the gate: 1 when the text
would be blocked, 0 when it would pass (anonymised or not), 2 for bad input.

Denied topics' examples are compared as the gateway compares them: through the embedding routes of
``gateway_guard_embedding_alias`` in the database (``runtime.RouteEmbedder``; these calls are not metered, no key
made them). Without that setting, such a route or the database, or when the route fails, only the topics' phrases
match; the output says which (``topics`` in JSON).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from aicoe.cli.common import console, err_console, load_settings, unit_of_work
from aicoe.engines.guardrails import DEFAULT_POLICY, Guard, GuardPolicy, GuardrailError, Verdict

if TYPE_CHECKING:
    import httpx2

    from aicoe.gateway.runtime import RouteEmbedder

EMPTY_TEXT = "the text to check is empty"
POLICY_FILE_UNREADABLE = "cannot read policy file {path}: {error}"
POLICY_INVALID = "policy {source}: {error}"
POLICY_UNKNOWN = "no guardrail policy named {name!r} in the database"
NO_DATABASE = "no database policy available ({error}); using the built-in default policy"
POLICY_SUFFIXES = (".yaml", ".yml", ".json")
TOPICS_EMBEDDINGS = "denied topics: phrases, and examples compared through the embedding route {alias!r}"
TOPICS_PHRASES = "denied topics: phrases only ({reason})"
NO_EXAMPLES = "the policy compares no topic examples in this direction"
NO_ALIAS = "gateway_guard_embedding_alias is not set"
NO_ROUTE = "no enabled embedding route has the alias {alias!r}"
NO_ROUTES_DATABASE = "the embedding routes could not be read: {error}"
ROUTE_FAILED = "the embedding route {alias!r} failed"

guard_app = typer.Typer(help="Check texts against guardrail policies.", no_args_is_help=True)


class Direction(StrEnum):
    input = "input"
    output = "output"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(guard_app, name="guard")


def _usage_error(message: str) -> typer.Exit:
    err_console.print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(2)


def _from_file(path: Path) -> GuardPolicy:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _usage_error(POLICY_FILE_UNREADABLE.format(path=path, error=exc)) from None
    try:
        return GuardPolicy.from_dict(data)
    except GuardrailError as exc:
        raise _usage_error(POLICY_INVALID.format(source=path, error=exc)) from None


def _from_database(name: str | None) -> GuardPolicy:
    from aicoe.gateway import policies

    try:
        with unit_of_work(load_settings(), write=False) as session:
            row = policies.default_policy(session) if name is None else policies.get_by_name(session, name)
            policy = None if row is None else policies.to_guard_policy(row)
    except SQLAlchemyError as exc:
        if name is not None:
            raise _usage_error(NO_DATABASE.format(error=type(exc).__name__)) from None
        err_console.print(f"[yellow]{escape(NO_DATABASE.format(error=type(exc).__name__))}[/yellow]",
                          soft_wrap=True, highlight=False)
        return DEFAULT_POLICY
    except GuardrailError as exc:
        raise _usage_error(POLICY_INVALID.format(source=repr(name), error=exc)) from None
    if policy is None and name is not None:
        raise _usage_error(POLICY_UNKNOWN.format(name=name))
    return policy or DEFAULT_POLICY


def _policy(source: str | None) -> GuardPolicy:
    if source is not None and (Path(source).is_file() or source.lower().endswith(POLICY_SUFFIXES)):
        return _from_file(Path(source))
    return _from_database(source)


@dataclass(frozen=True)
class TopicMode:
    """How denied topics were matched: ``embeddings`` (phrases and examples) or ``phrases`` (and why)."""

    mode: str
    alias: str | None = None
    reason: str | None = None

    def describe(self) -> str:
        if self.mode == "embeddings":
            return TOPICS_EMBEDDINGS.format(alias=self.alias)
        return TOPICS_PHRASES.format(reason=self.reason)


def _embedder(client: httpx2.Client) -> tuple[RouteEmbedder | None, TopicMode]:
    """The gateway's embedder for guardrails, built from the database's routes, or why there is none."""
    from aicoe.gateway import service
    from aicoe.gateway.runtime import RouteEmbedder, embedding_routes

    settings = load_settings()
    alias = settings.gateway_guard_embedding_alias
    if not alias:
        return None, TopicMode("phrases", reason=NO_ALIAS)
    try:
        with unit_of_work(settings, write=False) as session:
            config = service.load_config(session, settings)
    except SQLAlchemyError as exc:
        return None, TopicMode("phrases", reason=NO_ROUTES_DATABASE.format(error=type(exc).__name__))
    routes = embedding_routes(config, alias)
    if not routes:
        return None, TopicMode("phrases", reason=NO_ROUTE.format(alias=alias))
    return RouteEmbedder(routes, client), TopicMode("embeddings", alias=alias)


def _embedding_failed(verdict: Verdict) -> bool:
    from aicoe.gateway.runtime import EmbeddingUnavailable

    return any(f.kind == "error" and EmbeddingUnavailable.__name__ in f.entity_types for f in verdict.findings)


def _check(policy: GuardPolicy, text: str, direction: str) -> tuple[Verdict, TopicMode]:
    """Check as the gateway would; when its embedding route is unavailable, with phrases alone. The gateway's
    runtime is imported here, not when the CLI starts, so other commands start lean."""
    from aicoe.gateway.runtime import embedding_directions

    if direction not in embedding_directions(policy):
        return Guard(policy).check_text(text, direction), TopicMode("phrases", reason=NO_EXAMPLES)
    import httpx2

    with httpx2.Client() as client:
        embed, mode = _embedder(client)
        if embed is not None:
            verdict = Guard(policy, embed=embed).check_text(text, direction)
            if not _embedding_failed(verdict):
                return verdict, mode
            mode = TopicMode("phrases", reason=ROUTE_FAILED.format(alias=mode.alias))
    return Guard(policy).check_text(text, direction), mode


def _report(policy: GuardPolicy, direction: str, verdict: Verdict, text: str, show_values: bool) -> dict[str, Any]:
    findings = []
    for item in verdict.findings:
        row = item.as_dict()
        if show_values:
            row["value"] = text[item.start:item.end] if item.end > item.start else None
        findings.append(row)
    report: dict[str, Any] = {"policy": policy.name, "direction": direction, "action": verdict.action,
                              "reason": verdict.reason, "findings": findings}
    if verdict.action == "anonymise":
        report["text"] = verdict.text
    return report


def _print_table(report: dict[str, Any], show_values: bool) -> None:
    if report["findings"]:
        table = Table(title=f"Findings (policy {report['policy']!r}, {report['direction']})")
        headers = ["rule", "kind", "action", "entity types", "score", "start", "end"] + (["value"] if show_values
                                                                                        else [])
        for header in headers:
            table.add_column(header, overflow="fold", no_wrap=header != "value")
        for row in report["findings"]:
            score = "" if row["score"] is None else f"{row['score']:.2f}"
            cells = [row["rule"], row["kind"], row["action"], ", ".join(row["entity_types"]), score,
                     str(row["start"]), str(row["end"])]
            if show_values:
                cells.append(row["value"] or "")
            table.add_row(*map(escape, cells))
        console.print(table)
    else:
        console.print(f"No findings (policy {report['policy']!r}, {report['direction']}).", highlight=False)
    console.print(escape(report["topics"]["description"]), soft_wrap=True, highlight=False)
    console.print(f"verdict: {report['action']}", highlight=False)
    if report["reason"]:
        console.print(escape(report["reason"]), soft_wrap=True, highlight=False)
    if "text" in report:
        console.print("passed on as:", highlight=False)
        console.print(escape(report["text"]), soft_wrap=True, highlight=False)


@guard_app.command("check")
def check(
    text: Annotated[str, typer.Argument(help='the text to check, or "-" to read it from stdin')],
    policy: Annotated[str | None, typer.Option("--policy", help="a YAML/JSON policy file or the name of a policy "
                                               "in the database (default: the database's default policy, else "
                                               "the built-in one)")] = None,
    direction: Annotated[Direction, typer.Option("--direction", help="check as a prompt (input) or an answer "
                                                 "(output)")] = Direction.input,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.table,
    show_values: Annotated[bool, typer.Option("--show-values", help="print the matched text of each finding "
                                              "(off by default: findings may be secrets)")] = False,
) -> None:
    """Check a text against a guardrail policy; exit 1 when it would be blocked."""
    body = sys.stdin.read() if text == "-" else text
    if not body.strip():
        raise _usage_error(EMPTY_TEXT)
    chosen = _policy(policy)
    verdict, topics = _check(chosen, body, direction.value)
    report = _report(chosen, direction.value, verdict, body, show_values)
    report["topics"] = asdict(topics) | {"description": topics.describe()}
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_table(report, show_values)
    if verdict.action == "block":
        raise typer.Exit(1)
