"""The GenAI gateway: upstream providers and model routes, virtual keys, budgets and their spend, guardrail
policies, and what the gateway records per request (usage, guardrail events, prompt logs when a key asks).

Money is kept in integer **micro-units** of the platform currency (1 = 0.000001): budgets are reserved and settled
with integer arithmetic, so concurrent requests can never spend past a budget through rounding. Raw prompt text is
stored only in ``gateway_prompt_logs``, only for keys whose logging is "redacted" or "full", and only until its
retention ends; usage records and guardrail events never hold it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicoe.core.db import Base, TimestampMixin
from aicoe.core.time import utcnow


class GatewayProvider(TimestampMixin, Base):
    """An OpenAI-compatible upstream (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp, a provider's compatible
    endpoint, or the built-in demonstration upstream)."""

    __tablename__ = "gateway_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(24))  # openai, azure_openai, openai_compatible, demo
    base_url: Mapped[str] = mapped_column(String(500), default="")
    api_key_encrypted: Mapped[str | None] = mapped_column(Text, doc="AES-GCM under a key derived from the secret key")
    api_version: Mapped[str] = mapped_column(String(40), default="", doc="Azure OpenAI's api-version")
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, doc="extra non-secret headers")
    connect_timeout_s: Mapped[float] = mapped_column(default=5.0)
    read_timeout_s: Mapped[float] = mapped_column(default=120.0)
    max_retries: Mapped[int] = mapped_column(default=2)
    enabled: Mapped[bool] = mapped_column(default=True)

    routes: Mapped[list[GatewayRoute]] = relationship(back_populates="provider", cascade="all, delete-orphan")


class GatewayRoute(TimestampMixin, Base):
    """Model alias -> provider + upstream model, with prices; several routes of one alias are tried in ``priority``
    order (the fallbacks)."""

    __tablename__ = "gateway_routes"
    __table_args__ = (UniqueConstraint("alias", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(120), index=True)
    priority: Mapped[int] = mapped_column(default=0, doc="0 first; fallbacks follow in ascending order")
    kind: Mapped[str] = mapped_column(String(16), default="chat")  # chat, embedding
    provider_id: Mapped[int] = mapped_column(ForeignKey("gateway_providers.id", ondelete="CASCADE"), index=True)
    upstream_model: Mapped[str] = mapped_column(String(200))
    price_input_micros_per_mtok: Mapped[int] = mapped_column(BigInteger, default=0,
                                                             doc="price per million input tokens, micro-units")
    price_output_micros_per_mtok: Mapped[int] = mapped_column(BigInteger, default=0)
    context_limit: Mapped[int] = mapped_column(default=8192, doc="tokens, input + output")
    enabled: Mapped[bool] = mapped_column(default=True)

    provider: Mapped[GatewayProvider] = relationship(back_populates="routes")


class GuardrailPolicy(TimestampMixin, Base):
    """A guardrail policy: the rules of ``aicoe.engines.guardrails`` as data, versioned on every change."""

    __tablename__ = "guardrail_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    fail_open: Mapped[bool] = mapped_column(default=False, doc="a detector that errors lets the request through")
    restore: Mapped[bool] = mapped_column(default=False, doc="restore anonymised values in the answer")
    version: Mapped[int] = mapped_column(default=1)
    is_default: Mapped[bool] = mapped_column(default=False)


class VirtualKey(Base):
    """A key callers present as ``Authorization: Bearer``; shown once, stored as its SHA-256."""

    __tablename__ = "gateway_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), doc="the key's first characters, to recognise it")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_units.id", ondelete="RESTRICT"), index=True)
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id", ondelete="SET NULL"), index=True)
    ai_system_id: Mapped[int | None] = mapped_column(ForeignKey("ai_systems.id", ondelete="SET NULL"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("guardrail_policies.id", ondelete="RESTRICT"))
    allowed_aliases: Mapped[list[str]] = mapped_column(JSON, default=list, doc="empty: every alias")
    rpm_limit: Mapped[int | None]
    tpm_limit: Mapped[int | None]
    logging: Mapped[str] = mapped_column(String(12), default="off")  # off, redacted, full
    log_retention_days: Mapped[int] = mapped_column(default=30)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, doc="set by every change but last use (no onupdate: "
                                                 "the gateway reloads its keys when this moves)")
    last_used_at: Mapped[datetime | None]

    policy: Mapped[GuardrailPolicy | None] = relationship()


class GatewayBudget(TimestampMixin, Base):
    """A spending limit per period for a key, a use case or a business unit."""

    __tablename__ = "gateway_budgets"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # key, use_case, business_unit
    scope_id: Mapped[int]
    period: Mapped[str] = mapped_column(String(8))  # day, month, total
    limit_micros: Mapped[int] = mapped_column(BigInteger)


class GatewaySpend(Base):
    """What a budget's scope has spent (settled) and holds reserved in one period; the database backend reserves
    with one conditional UPDATE, which is atomic on SQLite and PostgreSQL alike."""

    __tablename__ = "gateway_spend"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int]
    period_start: Mapped[str] = mapped_column(String(10), doc="YYYY-MM-DD, YYYY-MM or 'total'")
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class GatewayReservation(Base):
    """What one open reservation holds on one budget row, so a reservation whose worker died is found and given
    back (``limits_db.reclaim_stale``) instead of holding its budget until the period ends. ``reclaimed`` marks
    one given back after ``expires_at``: a settle that still arrives records its spend once, never the hold."""

    __tablename__ = "gateway_reservations"
    __table_args__ = (UniqueConstraint("token", "spend_id"), Index("ix_gateway_reservations_expires_at", "expires_at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32), doc="the reservation's token, shared by its budget rows")
    spend_id: Mapped[int] = mapped_column(ForeignKey("gateway_spend.id", ondelete="CASCADE"), index=True)
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    reserved_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reclaimed: Mapped[bool] = mapped_column(default=False)


GUARDRAIL_EMBEDDINGS = "guardrail_embeddings"


class UsageRecord(Base):
    """One request through the gateway (never its text), or one call a guardrail made to the embedding route for
    a request (endpoint ``GUARDRAIL_EMBEDDINGS``, attributed to that request's key): inference cost, not a request."""

    __tablename__ = "gateway_usage"
    __table_args__ = (Index("ix_gateway_usage_ts", "ts"), Index("ix_gateway_usage_use_case_ts", "use_case_id", "ts"),
                      Index("ix_gateway_usage_key_ts", "key_id", "ts"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(default=utcnow)
    request_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("gateway_keys.id", ondelete="SET NULL"))
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id", ondelete="SET NULL"))
    ai_system_id: Mapped[int | None] = mapped_column(ForeignKey("ai_systems.id", ondelete="SET NULL"))
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("business_units.id", ondelete="SET NULL"))
    endpoint: Mapped[str] = mapped_column(String(24))  # chat, embeddings, guardrail_embeddings
    alias: Mapped[str] = mapped_column(String(120), default="")
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("gateway_providers.id", ondelete="SET NULL"))
    upstream_model: Mapped[str] = mapped_column(String(200), default="")
    stream: Mapped[bool] = mapped_column(default=False)
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    upstream_status: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(16))  # ok, blocked, rejected, error, cancelled
    guardrail: Mapped[str] = mapped_column(String(16), default="pass")  # pass, logged, anonymised, blocked
    error: Mapped[str] = mapped_column(String(200), default="")


class GuardrailEvent(Base):
    """One guardrail intervention: the rule, what it did and the entity types involved — never the text."""

    __tablename__ = "guardrail_events"
    __table_args__ = (Index("ix_guardrail_events_ts", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(default=utcnow)
    request_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("gateway_keys.id", ondelete="SET NULL"))
    use_case_id: Mapped[int | None] = mapped_column(ForeignKey("use_cases.id", ondelete="SET NULL"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("guardrail_policies.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(8))  # input, output
    rule: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # pii, secrets, injection, topic, words, limits, error
    action: Mapped[str] = mapped_column(String(12))  # block, anonymise, log
    entity_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    score: Mapped[float | None]


class PromptLog(Base):
    """A request's prompt and answer, for keys that log them (redacted: sensitive values masked), purged when its
    retention ends."""

    __tablename__ = "gateway_prompt_logs"
    __table_args__ = (Index("ix_gateway_prompt_logs_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(default=utcnow)
    request_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("gateway_keys.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(12))  # redacted, full
    prompt: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime]
