"""Organisation commands: ``aicoe unit ...``, ``aicoe user ...`` (people and accounts), ``aicoe token create``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth import service as auth_service
from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, User
from aicoe.org import schemas, service

unit_app = typer.Typer(help="Business units (a tree).", no_args_is_help=True)
user_app = typer.Typer(help="People, their accounts and roles.", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)

RoleOpt = Annotated[list[str] | None, typer.Option(
    "--role", help="role, optionally scoped to a business unit code as ROLE@UNIT; repeatable")]


def _user(session: Session, email: str) -> User:
    user = service.find_by_email(session, email)
    if user is None:
        raise NotFound(f"no user with email {email!r}")
    return user


def _unit(session: Session, code: str) -> BusinessUnit:
    unit = session.scalar(select(BusinessUnit).where(BusinessUnit.code == code))
    if unit is None:
        raise ValidationFailed(f"no business unit with code {code!r}",
                               errors=[FieldError("business_unit", f"No business unit {code!r}.")])
    return unit


def _unit_id(session: Session, code: str | None) -> int | None:
    return _unit(session, code).id if code else None


def _roles(session: Session, specs: list[str]) -> list[schemas.RoleIn]:
    out = []
    for spec in specs:
        role, _, unit = spec.partition("@")
        out.append(schemas.RoleIn(role=role.strip(), business_unit_id=_unit_id(session, unit.strip() or None)))
    return out


@user_app.command("create")
@domain_errors
def create(
    email: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option("--name", help="full name")],
    role: RoleOpt = None,
    unit: Annotated[str | None, typer.Option("--unit", help="business unit code")] = None,
    title: Annotated[str, typer.Option("--title")] = "",
    password: Annotated[str | None, typer.Option("--password", envvar="AICOE_USER_PASSWORD",
                                                  help="leave out to be prompted")] = None,
    no_login: Annotated[bool, typer.Option("--no-login", help="a person without a password")] = False,
) -> None:
    """Create a person with an account."""
    settings = load_settings()
    if password is None and not no_login:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with unit_of_work(settings) as session:
        user = service.create_person(session, settings, None, schemas.PersonCreate(
            email=email, full_name=name, title=title, business_unit_id=_unit_id(session, unit),
            password=password, roles=_roles(session, role or []),
        ))
        console.print(f"Created {user.email} (id {user.id})")


@user_app.command("list")
def list_users(
    include_disabled: Annotated[bool, typer.Option("--all", help="include disabled accounts")] = False,
) -> None:
    """List accounts with their roles."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        query = select(User).order_by(User.email)
        if not include_disabled:
            query = query.where(User.is_active.is_(True))
        table = Table("id", "email", "name", "unit", "roles", "active", "can sign in")
        for user in session.scalars(query):
            roles = ", ".join(r.role + (f"@{r.business_unit.code}" if r.business_unit else "") for r in user.roles)
            table.add_row(str(user.id), user.email, user.full_name,
                          user.business_unit.code if user.business_unit else "", roles or "-",
                          "yes" if user.is_active else "no", "yes" if user.password_hash else "no")
    console.print(table)


@user_app.command("disable")
@domain_errors
def disable(email: str) -> None:
    """Disable an account: its sessions and tokens stop working at once."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        service.set_active(session, None, _user(session, email), False)
    console.print(f"Disabled {email}")


@user_app.command("enable")
@domain_errors
def enable(email: str) -> None:
    """Enable a disabled account."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        service.set_active(session, None, _user(session, email), True)
    console.print(f"Enabled {email}")


@user_app.command("set-role")
@domain_errors
def set_role(email: str, role: RoleOpt = None) -> None:
    """Replace the account's roles with the given ones (ROLE or ROLE@UNIT, repeatable)."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        user = service.set_roles(session, None, _user(session, email), _roles(session, role or []))
        labels = ", ".join(r.role for r in user.roles) or "none"
    console.print(f"{email} now has roles: {labels}")


@user_app.command("set-password")
@domain_errors
def set_password(
    email: str, password: Annotated[str | None, typer.Option(envvar="AICOE_USER_PASSWORD")] = None
) -> None:
    """Set an account's password (prompts when not given)."""
    settings = load_settings()
    password = password or typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with unit_of_work(settings) as session:
        service.set_password(session, settings, None, _user(session, email), password)
    console.print(f"Password set for {email}")


@unit_app.command("list")
def unit_list() -> None:
    """Print the business-unit tree with each unit's code and number of people."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        units = service.all_units(session, None)
        people = service.people_per_unit(session)
    children: dict[int | None, list[BusinessUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    tree = Tree("[bold]Business units[/bold]")

    def add(node: Tree, parent_id: int | None) -> None:
        for unit in children.get(parent_id, []):
            add(node.add(f"{unit.name} [dim]({unit.code}, {people.get(unit.id, 0)} people)[/dim]"), unit.id)

    add(tree, None)
    console.print(tree)


@unit_app.command("create")
@domain_errors
def unit_create(
    code: str,
    name: Annotated[str, typer.Option("--name")],
    parent: Annotated[str | None, typer.Option("--parent", help="parent unit code")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create a business unit, optionally under a parent."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        unit = service.create_unit(session, None, schemas.BusinessUnitCreate(
            code=code, name=name, description=description, parent_id=_unit_id(session, parent)))
        console.print(f"Created business unit {unit.code} (id {unit.id})")


@unit_app.command("update")
@domain_errors
def unit_update(
    code: str,
    new_code: Annotated[str | None, typer.Option("--code", help="new code")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="new parent unit code")] = None,
    top_level: Annotated[bool, typer.Option("--top-level", help="move to the top of the tree")] = False,
    description: Annotated[str | None, typer.Option("--description")] = None,
) -> None:
    """Change a business unit's code, name, description or place in the tree."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        changes: dict[str, object] = {k: v for k, v in
                                      {"code": new_code, "name": name, "description": description}.items() if v}
        if parent or top_level:
            changes["parent_id"] = None if top_level else _unit_id(session, parent)
        unit = service.update_unit(session, None, _unit(session, code).id, schemas.BusinessUnitUpdate(**changes))
        console.print(f"Saved business unit {unit.code}")


@unit_app.command("delete")
@domain_errors
def unit_delete(code: str) -> None:
    """Delete a business unit that has no sub-units, people or scoped roles."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        service.delete_unit(session, None, _unit(session, code).id)
    console.print(f"Deleted business unit {code}")


@user_app.command("update")
@domain_errors
def update(
    email: str,
    name: Annotated[str | None, typer.Option("--name", help="full name")] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="business unit code")] = None,
    coe_role: Annotated[str | None, typer.Option("--coe-role", help="function on the CoE team; '' removes")] = None,
) -> None:
    """Change a person's profile."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        changes: dict[str, object] = {k: v for k, v in {"full_name": name, "title": title}.items() if v is not None}
        if unit is not None:
            changes["business_unit_id"] = _unit_id(session, unit)
        if coe_role is not None:
            changes["coe_role"] = coe_role or None
        service.update_person(session, None, _user(session, email).id, schemas.PersonUpdate(**changes))
    console.print(f"Saved {email}")


@user_app.command("delete")
@domain_errors
def delete(email: str) -> None:
    """Delete a person and their account (their audit events stay)."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        service.delete_person(session, None, _user(session, email).id)
    console.print(f"Deleted {email}")


@token_app.command("create")
@domain_errors
def token_create(
    email: str,
    name: Annotated[str, typer.Option("--name", help="what the token is for")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help="permission to allow; repeatable")] = None,
    days: Annotated[int | None, typer.Option("--days", min=1, help="expires after this many days")] = 90,
) -> None:
    """Create a personal API token for EMAIL and print it once."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        issued = auth_service.create_token(
            session, None, _user(session, email), name=name, scopes=scope or [],
            expires_at=utcnow() + timedelta(days=days) if days else None,
        )
    console.print("Token (shown once; send as 'Authorization: Bearer <token>'):")
    print(issued.secret)


def register(app: typer.Typer) -> None:
    app.add_typer(unit_app, name="unit")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
