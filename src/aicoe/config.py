"""One Settings object for the whole platform (environment prefix ``AICOE_``).

Development generates a secret key on first run and keeps it under the data directory; production refuses to
start with a missing, short or well-known key, so a forgotten setting can never sign cookies with a public value.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KNOWN_WEAK_KEYS = frozenset({"", "changeme", "change-me", "secret", "dev", "development", "aicoe"})
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


def default_cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/aicoe``, else ``~/.cache/aicoe``; None without a home directory."""
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "aicoe"
    try:
        return Path.home() / ".cache" / "aicoe"
    except RuntimeError:
        return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AICOE_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("aicoe-data")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under data_dir")
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cookie_secure: bool = False
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_s: int = Field(default=900, ge=1)
    password_min_length: int = Field(default=12, ge=8)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    job_workers: int = Field(default=2, ge=0, description="worker threads inside `aicoe serve`")
    job_lease_s: int = Field(default=60, ge=1)
    job_poll_s: float = Field(default=1.0, gt=0)
    job_backoff_s: float = Field(default=10.0, ge=0, description="first retry delay; doubles per attempt")
    job_backoff_max_s: float = Field(default=3600.0, ge=0)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    api_max_page_size: int = Field(default=200, ge=1)
    redis_url: str | None = Field(default=None, description="Redis for gateway limits and budgets shared by several "
                                  "workers (else the database)")
    gateway_max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="largest /v1 request body")
    gateway_config_refresh_s: float = Field(default=2.0, gt=0, description="how often the gateway looks for changed "
                                            "providers, routes, keys, policies and budgets")
    gateway_usage_flush_s: float = Field(default=1.0, gt=0, description="usage records are written in batches at "
                                         "this interval (a crash loses at most this much)")
    gateway_usage_batch: int = Field(default=500, ge=1, description="largest batch of usage records per write")
    gateway_stream_holdback_chars: int = Field(default=256, ge=16, description="streamed answers are released once "
                                               "checked, at most this many characters behind the upstream")
    gateway_guard_embedding_alias: str | None = Field(default=None, description="the embedding route alias the "
                                                      "guardrails use to compare prompts with denied topics' examples")
    currency: str = Field(default="EUR", min_length=3, max_length=3, description="ISO 4217 code for all amounts")
    discount_rate: float = Field(default=0.08, ge=0, le=1, description="annual rate for portfolio NPV")
    gate_min_assessment_completion: float = Field(
        default=0.8, ge=0, le=1, description="share of applicable requirements a high-risk system's assessment must "
                                             "have decided before its use case may enter pilot or production")
    evidence_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1, description="largest evidence file accepted")
    evidence_reminder_days: int = Field(default=30, ge=0, description="remind this many days before evidence expires")
    attestation_due_days: int = Field(default=30, ge=1, description="default time people have to attest a policy")
    scan_roots: list[Path] = Field(default_factory=list, description="directories dataset scans and evaluation "
                                   "runs may read, besides data_dir/datasets (a JSON list)")
    scan_max_file_bytes: int = Field(default=5 * 1024**3, ge=1, description="larger files are skipped by scans")
    cache_dir: Path | None = Field(default_factory=default_cache_dir, description="where a process keeps what it "
                                   "compiles for the next one (the sensitive-data engine's pattern filter); empty: "
                                   "nowhere")

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env == "production":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if key.lower() in KNOWN_WEAK_KEYS or len(key) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"AICOE_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} characters "
                    "in production (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'aicoe.db').as_posix()}"

    @cached_property
    def signing_key(self) -> str:
        """The secret key; in development, generated once and persisted under the data directory."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key

    def masked(self) -> dict[str, object]:
        """Effective settings for display, with secrets and database passwords masked."""
        from sqlalchemy.engine import make_url

        out: dict[str, object] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else None
            elif name == "secret_key":
                value = "(generated, stored in data_dir/secret_key)"
            elif name in {"database_url", "redis_url"} and value:
                value = make_url(value).render_as_string(hide_password=True)
            out[name] = str(value) if isinstance(value, Path) else value
        out["effective_database_url"] = make_url(self.effective_database_url).render_as_string(hide_password=True)
        return out
