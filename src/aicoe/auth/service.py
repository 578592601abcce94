"""Sign-in with throttling, browser sessions, personal API tokens and password changes.

Services flush and audit; the request or CLI command owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.passwords import Passwords, check_password_rules
from aicoe.auth.permissions import PERMISSIONS
from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.errors import FieldError, NotFound, TooManyRequests, Unauthenticated, ValidationFailed
from aicoe.core.time import as_utc, utcnow
from aicoe.models.org import ApiToken, LoginAttempt, User, UserSession

TOKEN_PREFIX = "aicoe_"
IP_FAILURE_FACTOR = 4  # an address may fail this many times more than one account before it is throttled


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def passwords_for(settings: Settings) -> Passwords:
    return Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)


# --- sign-in ---------------------------------------------------------------------------------------------------

def _recent_failures(session: Session, column: object, value: str, since: datetime) -> tuple[int, datetime | None]:
    """Failures since the later of ``since`` and the last success for this account or address."""
    last_ok = session.scalar(select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.succeeded))
    start = max(since, as_utc(last_ok)) if last_ok else since
    count, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > start
        )
    ).one()
    return count, (as_utc(last) if last else None)


def check_throttle(session: Session, settings: Settings, email: str, ip: str) -> None:
    now = utcnow()
    since = now - timedelta(seconds=settings.login_lockout_s)
    for column, value, limit in (
        (LoginAttempt.email, email, settings.login_max_failures),
        (LoginAttempt.ip, ip, settings.login_max_failures * IP_FAILURE_FACTOR),
    ):
        count, last = _recent_failures(session, column, value, since)
        if count >= limit and last is not None:
            retry = int((last + timedelta(seconds=settings.login_lockout_s) - now).total_seconds()) + 1
            raise TooManyRequests(
                f"too many failed sign-in attempts; try again in {max(retry, 1)} seconds",
                retry_after=max(retry, 1),
            )


def authenticate(session: Session, settings: Settings, email: str, password: str, ip: str) -> User:
    """Check credentials, recording the attempt; the same message for an unknown account and a bad password."""
    email = email.strip().lower()
    check_throttle(session, settings, email, ip)
    user = session.scalar(select(User).where(User.email == email))
    hasher = passwords_for(settings)
    ok = user is not None and user.is_active and hasher.verify(user.password_hash, password)
    session.add(LoginAttempt(email=email, ip=ip, succeeded=ok))
    session.flush()
    if not ok or user is None:
        raise Unauthenticated("the email address or password is not correct")
    if user.password_hash and hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    return user


# --- browser sessions ----------------------------------------------------------------------------------------

@dataclass
class NewSession:
    key: str  # goes into the signed cookie; only its hash is stored
    row: UserSession


def start_session(session: Session, settings: Settings, user: User, *, ip: str, user_agent: str) -> NewSession:
    key = secrets.token_urlsafe(32)
    row = UserSession(
        id=sha256_hex(key), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(seconds=settings.session_max_age_s), ip=ip, user_agent=user_agent[:255],
    )
    session.add(row)
    ledger.append(session, ledger.AuditActor("user", str(user.id), user.email), "login", "user", user.id)
    return NewSession(key, row)


def session_principal(session: Session, key: str) -> Principal:
    row = session.get(UserSession, sha256_hex(key))
    if row is None or as_utc(row.expires_at) <= utcnow() or not row.user.is_active:
        raise Unauthenticated("your session has ended; sign in again")
    return Principal.resolve(session, row.user, csrf_token=row.csrf_token)


def end_session(session: Session, key: str, principal: Principal) -> None:
    session.execute(delete(UserSession).where(UserSession.id == sha256_hex(key)))
    ledger.append(session, principal.audit_actor, "logout", "user", principal.user.id)


# --- API tokens ----------------------------------------------------------------------------------------------

@dataclass
class IssuedToken:
    secret: str  # shown once
    token: ApiToken


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(PERMISSIONS))
    if unknown:
        raise ValidationFailed(
            f"unknown scope {unknown[0]!r}",
            errors=[FieldError("scopes", f"unknown permission(s): {', '.join(unknown)}")],
        )
    return sorted(set(scopes))


def create_token(
    session: Session, actor: Principal | None, user: User, *, name: str, scopes: list[str],
    expires_at: datetime | None,
) -> IssuedToken:
    name = name.strip()
    if not name:
        raise ValidationFailed("a token needs a name", errors=[FieldError("name", "Give the token a name.")])
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise ValidationFailed("expiry is in the past", errors=[FieldError("expires_at", "Must be in the future.")])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, prefix=secret[: len(TOKEN_PREFIX) + 6], token_hash=sha256_hex(secret),
        scopes=validate_scopes(scopes), expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    actor_id = actor.audit_actor if actor else ledger.SYSTEM
    ledger.append(session, actor_id, "create", "api_token", token.id, ledger.created(token))
    return IssuedToken(secret, token)


def token_principal(session: Session, secret: str) -> Principal:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(secret)))
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("the API token is not valid")
    if token.expires_at is not None and as_utc(token.expires_at) <= utcnow():
        raise Unauthenticated("the API token has expired")
    if not token.user.is_active:
        raise Unauthenticated("the account behind this API token is disabled")
    return Principal.resolve(session, token.user, token=token)


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user.id:
        raise NotFound(f"no API token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        ledger.append(session, principal.audit_actor, "revoke", "api_token", token.id, ledger.changed(token))
    return token


def change_password(
    session: Session, settings: Settings, principal: Principal, *, current: str, new: str
) -> None:
    user = principal.user
    hasher = passwords_for(settings)
    if not hasher.verify(user.password_hash, current):
        raise ValidationFailed("the current password is not correct",
                               errors=[FieldError("current_password", "This is not your current password.")])
    check_password_rules(new, email=user.email, min_length=settings.password_min_length, field="new_password")
    user.password_hash = hasher.hash(new)
    diff = ledger.changed(user)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    ledger.append(session, principal.audit_actor, "change_password", "user", user.id, diff)
