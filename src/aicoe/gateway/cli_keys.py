"""Gateway key commands: ``aicoe gateway key create | revoke | list``.

Commands act as the system (no signed-in user): they see and may change keys of every business unit. The raw
key is printed once, by ``create``; nothing can show it again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.gateway import keys, policies, schemas
from aicoe.gateway.cli_serve import gateway_cli
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase

key_cli = typer.Typer(help="Virtual keys: create (shown once), revoke, list.", no_args_is_help=True)
gateway_cli.add_typer(key_cli, name="key")

SHOWN_ONCE = "Store this key now: it is shown only once."
CREATED = "Created key {id} ({name}) for {unit}."
REVOKED = "Revoked key {id} ({prefix}…)."
NO_UNIT = "No business unit {code!r}."
NO_USE_CASE = "No use case {key!r}."
NO_AI_SYSTEM = "No AI system named {name!r}."
NO_POLICY = "No guardrail policy named {name!r}."
BAD_DATE = "Give a date (2025-12-31) or a date and time (2025-12-31T18:00)."


class Logging(StrEnum):
    off = "off"
    redacted = "redacted"
    full = "full"


class Period(StrEnum):
    day = "day"
    month = "month"
    total = "total"


def _missing(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, message)])


def _lookup(session: Session, field: str, stmt, message: str) -> int:  # noqa: ANN001 -- a select of one id
    found = session.scalar(stmt)
    if found is None:
        raise _missing(field, message)
    return found


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _missing("expires", BAD_DATE) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _invalid_input(exc: ValidationError) -> ValidationFailed:
    errors = [FieldError(".".join(str(p) for p in e["loc"]) or "input", e["msg"]) for e in exc.errors()]
    return ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


@key_cli.command("create")
@domain_errors
def create(
    unit: Annotated[str, typer.Option("--unit", help="owner business unit code")],
    name: Annotated[str, typer.Option("--name", help="what the key is for")],
    use_case: Annotated[str | None, typer.Option("--use-case", help="use case key, e.g. UC-0001")] = None,
    ai_system: Annotated[str | None, typer.Option("--ai-system", help="AI system name")] = None,
    alias: Annotated[list[str] | None, typer.Option("--alias", help="allowed model alias (repeat; none: all)")]
    = None,
    rpm: Annotated[int | None, typer.Option("--rpm", min=1, help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", min=1, help="tokens per minute")] = None,
    budget: Annotated[str | None, typer.Option("--budget", help="spending limit in the platform currency")] = None,
    period: Annotated[Period, typer.Option("--period", help="the budget's period")] = Period.month,
    logging: Annotated[Logging, typer.Option("--logging", help="prompt logging")] = Logging.off,
    expires: Annotated[str | None, typer.Option("--expires", help="expiry date (UTC)")] = None,
    policy: Annotated[str | None, typer.Option("--policy", help="guardrail policy name (default: the default "
                                               "policy)")] = None,
) -> None:
    """Create a virtual key and print it once."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        unit_id = _lookup(session, "unit", select(BusinessUnit.id).where(
            func.lower(BusinessUnit.code) == unit.strip().lower()), NO_UNIT.format(code=unit))
        use_case_id = None if use_case is None else _lookup(session, "use_case", select(UseCase.id).where(
            func.upper(UseCase.key) == use_case.strip().upper()), NO_USE_CASE.format(key=use_case))
        system_id = None if ai_system is None else _lookup(session, "ai_system", select(AISystem.id).where(
            AISystem.name == ai_system.strip()), NO_AI_SYSTEM.format(name=ai_system))
        policy_id = None
        if policy is not None:
            row = policies.get_by_name(session, policy.strip())
            if row is None:
                raise _missing("policy", NO_POLICY.format(name=policy))
            policy_id = row.id
        try:
            data = schemas.KeyCreate(
                name=name, business_unit_id=unit_id, use_case_id=use_case_id, ai_system_id=system_id,
                allowed_aliases=alias or [], rpm_limit=rpm, tpm_limit=tpm, logging=logging.value,
                expires_at=_expiry(expires), policy_id=policy_id,
                budgets=[] if budget is None else [schemas.KeyBudgetIn(period=period.value, amount=Decimal(budget))])
        except ValidationError as exc:
            raise _invalid_input(exc) from None
        except ArithmeticError:
            raise _missing("budget", f"{budget!r} is not an amount") from None
        key, raw = keys.create_key(session, None, data)
        message = CREATED.format(id=key.id, name=key.name, unit=unit)
    console.print(message)
    console.print(raw, soft_wrap=True, highlight=False)
    console.print(SHOWN_ONCE)


@key_cli.command("revoke")
@domain_errors
def revoke(key_id: Annotated[int, typer.Argument(metavar="ID", help="the key's id (see `aicoe gateway key list`)")]
           ) -> None:
    """Revoke a key: the gateway refuses it from its next configuration refresh on."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        key = keys.revoke_key(session, None, key_id)
        message = REVOKED.format(id=key.id, prefix=key.prefix)
    console.print(message)


@key_cli.command("list")
@domain_errors
def list_cmd(unit: Annotated[str | None, typer.Option("--unit", help="business unit code")] = None,
             status: Annotated[str | None, typer.Option("--status", help="active, expired or revoked")] = None,
             limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 200) -> None:
    """List keys, newest first (never the keys themselves: their prefix only)."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        unit_id = None if unit is None else _lookup(session, "unit", select(BusinessUnit.id).where(
            func.lower(BusinessUnit.code) == unit.strip().lower()), NO_UNIT.format(code=unit))
        page = keys.list_keys(session, None, PageParams(limit=limit), business_unit_id=unit_id, status=status)
        codes = dict(session.execute(select(BusinessUnit.id, BusinessUnit.code)).all())
        table = Table("id", "name", "prefix", "unit", "aliases", "rpm", "tpm", "logging", "expires", "status")
        for key in page.items:
            table.add_row(str(key.id), key.name, f"{key.prefix}…", codes.get(key.business_unit_id, "-"),
                          ", ".join(key.allowed_aliases) or "all", str(key.rpm_limit or "-"),
                          str(key.tpm_limit or "-"), key.logging,
                          key.expires_at.date().isoformat() if key.expires_at else "-", keys.status_of(key))
    console.print(table)
    console.print(f"{table.row_count} of {page.total} keys")
