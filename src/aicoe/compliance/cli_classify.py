"""EU AI Act classification commands: ``aicoe classification questions | run | show``.

``run`` reads the answers from a YAML file (``questions --template`` prints one to fill in: yes/no, an option id,
or a list of option ids; a question left empty counts as unanswered). Commands act as the system, so they see
every business unit; a stored classification is audited as the system.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.compliance import classification, eu_ai_act
from aicoe.compliance.constants import GPAI_FLAGS, RISK_TIERS
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.inventory.cli import find_system
from aicoe.inventory.constants import EU_AI_ACT_ROLES

classification_app = typer.Typer(help="EU AI Act classification: the questionnaire, classify an AI system, show "
                                      "the result.", no_args_is_help=True)

SystemArg = Annotated[str, typer.Argument(metavar="SYSTEM_ID_OR_NAME", help="an AI system's id or name")]


def register(app: typer.Typer) -> None:
    app.add_typer(classification_app, name="classification")


def answers_template() -> str:
    """A YAML answers file with every question as a comment above its empty key."""
    lines = [f"# EU AI Act classification answers (questionnaire {eu_ai_act.QUESTIONNAIRE_VERSION}).",
             "# yes/no questions: yes or no. Single choice: one option id. Multiple choice: a list, e.g. [none].",
             "# Leave a question empty when it does not apply (see 'Only if')."]
    for section in eu_ai_act.questionnaire()["sections"]:
        lines += ["", f"# {section['title']}"]
        for q in section["questions"]:
            lines.append(f"# {q['number']} {q['text']} ({', '.join(q['articles'])})")
            if q["condition"]:
                lines.append(f"#   {q['condition']['text'][:1].upper()}{q['condition']['text'][1:]}.")
            lines += [f"#   - {o['id']}: {o['label']}" for o in q["options"]]
            lines.append(f"{q['id']}:")
    return "\n".join(lines) + "\n"


@classification_app.command("questions")
def questions(template: Annotated[bool, typer.Option("--template", help="print a YAML answers file to fill in")]
              = False) -> None:
    """Print the questionnaire: each question with the articles it rests on, its options and when it is asked."""
    if template:
        sys.stdout.write(answers_template())
        return
    data = eu_ai_act.questionnaire()
    console.print(f"[bold]EU AI Act classification questionnaire[/bold] {data['version']}")
    for section in data["sections"]:
        console.print(f"\n[bold]{section['title']}[/bold] ({', '.join(section['articles'])})")
        for q in section["questions"]:
            console.print(f"{q['number']} [cyan]{q['id']}[/cyan] ({q['type']}): {q['text']}", soft_wrap=True)
            console.print(f"    rests on {', '.join(q['articles'])}", soft_wrap=True)
            if q["condition"]:
                console.print(f"    {q['condition']['text']}", soft_wrap=True)
            for o in q["options"]:
                cited = f" ({', '.join(o['articles'])})" if o["articles"] else ""
                console.print(f"    - {o['id']}: {o['label']}{cited}", soft_wrap=True)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0]
        raise ValidationFailed(f"cannot read answers from {path}: {reason}",
                               errors=[FieldError("answers", reason)]) from None
    if not isinstance(data, dict):
        raise ValidationFailed(f"{path} must hold a mapping of question id to answer",
                               errors=[FieldError("answers", "Not a mapping of question id to answer.")])
    return data


def _print(name: str, tier: str, gpai: str | None, role: str, rationale: list[dict[str, Any]],
           obligations: list[dict[str, Any]]) -> None:
    console.print(f"[bold]{name}[/bold]: {RISK_TIERS.get(tier, tier)}"
                  + (f", {GPAI_FLAGS[gpai]}" if gpai else "") + f" (role: {EU_AI_ACT_ROLES.get(role, role)})")
    reasons = Table("question", "answer", "articles", "finding", title="Rationale")
    for r in rationale:
        reasons.add_row(r["question"], r["answer"], ", ".join(r["articles"]), r["finding"])
    console.print(reasons)
    duties = Table("article", "obligation", "who", "what it means", title="Obligations")
    for o in obligations:
        duties.add_row(o["ref"], o["title"], EU_AI_ACT_ROLES.get(o["role"], o["role"]), o["why"])
    console.print(duties)


@classification_app.command("run")
@domain_errors
def run(system: SystemArg,
        answers: Annotated[Path, typer.Option("--answers", metavar="FILE.yaml", exists=True, dir_okay=False,
                                              help="the answers, as 'questions --template' prints them")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="classify and print, store nothing")] = False,
        notes: Annotated[str, typer.Option("--notes", help="notes stored with the classification")] = "") -> None:
    """Classify an AI system: print the tier, rationale and obligations, and store it as the new current version."""
    data = _load(answers)
    settings = load_settings()
    with unit_of_work(settings, write=not dry_run) as session:
        target = find_system(session, system)
        if dry_run:
            result = classification.preview(data).as_dict()
            _print(target.name, result["tier"], result["gpai"], result["role"], result["rationale"],
                   result["obligations"])
            console.print("Dry run: nothing stored.")
            return
        record = classification.classify_system(session, None, target.id, data, notes.strip())
        _print(target.name, record.tier, record.gpai, record.answers["role"], record.rationale, record.obligations)
        console.print(f"Stored as version {record.version} of {target.name}'s classification.")


@classification_app.command("show")
@domain_errors
def show(system: SystemArg,
         version: Annotated[int | None, typer.Option("--version", min=1, help="an earlier version")] = None) -> None:
    """Show an AI system's current classification (or an earlier version) and its version history."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        target = find_system(session, system)
        versions = classification.history(session, None, target.id)
        if not versions:
            raise NotFound(f"{target.name!r} has not been classified yet")
        shown = versions[0] if version is None else next((v for v in versions if v.version == version), None)
        if shown is None:
            raise NotFound(f"{target.name!r} has no classification version {version}")
        _print(target.name, shown.tier, shown.gpai, shown.answers["role"], shown.rationale, shown.obligations)
        history = Table("version", "tier", "classified", "by", title="Versions")
        for v in versions:
            history.add_row(f"{v.version}{' (current)' if v.is_current else ''}", RISK_TIERS.get(v.tier, v.tier),
                            v.created_at.strftime("%Y-%m-%d %H:%M"),
                            v.classified_by.email if v.classified_by else "system")
        console.print(history)
