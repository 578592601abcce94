"""Pydantic I/O for gateway administration: providers, routes, guardrail policies, virtual keys, budgets, usage.

Money crosses the API as decimal text in the platform currency (``"2.50"``) and is stored in integer
micro-units; ``to_micros`` converts exactly with ``Decimal`` and refuses fractions finer than a micro-unit.
Provider API keys are write-only: outputs say ``has_api_key`` and never carry the key.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, StringConstraints

from aicoe.core.schemas import Input, Output

MICROS = 1_000_000
PROVIDER_KINDS = ("openai", "azure_openai", "openai_compatible", "demo")
ROUTE_KINDS = ("chat", "embedding")
LOGGING_MODES = ("off", "redacted", "full")
BUDGET_SCOPES = ("key", "use_case", "business_unit")
PERIODS = ("day", "month", "total")
USAGE_GROUPS = ("use_case", "business_unit", "model", "day")
TOO_PRECISE = "use at most 6 decimal places"
NEGATIVE = "must not be negative"


def to_micros(amount: Decimal | str | int) -> int:
    """Exact decimal currency -> integer micro-units; raises ValueError on a finer fraction or a negative."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not a number")
    if value < 0:
        raise ValueError(NEGATIVE)
    scaled = value * MICROS
    if scaled != scaled.to_integral_value():
        raise ValueError(TOO_PRECISE)
    return int(scaled)


def from_micros(micros: int) -> str:
    """Integer micro-units -> decimal text with at least two decimals ("2.50", "0.000125")."""
    value = Decimal(micros).scaleb(-6)
    cents = value.quantize(Decimal("0.01"))
    return str(cents) if cents == value else format(value.normalize(), "f")


def _amount(value: Decimal) -> Decimal:
    to_micros(value)
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120,
                                         pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Amount = Annotated[Decimal, AfterValidator(_amount)]
ProviderKind = Literal["openai", "azure_openai", "openai_compatible", "demo"]
RouteKind = Literal["chat", "embedding"]
LoggingMode = Literal["off", "redacted", "full"]
BudgetScope = Literal["key", "use_case", "business_unit"]
Period = Literal["day", "month", "total"]
Direction = Literal["input", "output"]
Headers = Annotated[dict[str, Annotated[str, StringConstraints(max_length=500)]], Field(max_length=20)]


# --- providers and routes ------------------------------------------------------------------------------------------

class ProviderCreate(Input):
    """``base_url`` is required except for the demo upstream; Azure OpenAI also needs ``api_version``."""

    name: Name
    kind: ProviderKind
    base_url: Url = ""
    api_key: SecretStr | None = None
    api_version: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    headers: Headers = Field(default_factory=dict)
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    read_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 120.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    enabled: bool = True


class ProviderUpdate(Input):
    """Every field optional; ``api_key`` omitted keeps the stored key, ``null`` removes it."""

    name: Name | None = None
    kind: ProviderKind | None = None
    base_url: Url | None = None
    api_key: SecretStr | None = None
    api_version: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    headers: Headers | None = None
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] | None = None
    read_timeout_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=10)] | None = None
    enabled: bool | None = None


class ProviderOut(Output):
    id: int
    name: str
    kind: str
    base_url: str
    has_api_key: bool
    api_version: str
    headers: dict[str, str]
    connect_timeout_s: float
    read_timeout_s: float
    max_retries: int
    enabled: bool
    created_at: datetime
    updated_at: datetime


class RouteCreate(Input):
    """Prices per million tokens, as decimal currency (``price_input_per_mtok: "2.50"``) or in micro-units
    (``price_input_micros_per_mtok``); give one form per price."""

    alias: Alias
    provider_id: int
    upstream_model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    priority: Annotated[int, Field(ge=0, le=1000)] = 0
    kind: RouteKind = "chat"
    price_input_per_mtok: Amount | None = None
    price_output_per_mtok: Amount | None = None
    price_input_micros_per_mtok: Annotated[int, Field(ge=0)] | None = None
    price_output_micros_per_mtok: Annotated[int, Field(ge=0)] | None = None
    context_limit: Annotated[int, Field(ge=1, le=10_000_000)] = 8192
    enabled: bool = True


class RouteUpdate(Input):
    alias: Alias | None = None
    provider_id: int | None = None
    upstream_model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    priority: Annotated[int, Field(ge=0, le=1000)] | None = None
    kind: RouteKind | None = None
    price_input_per_mtok: Amount | None = None
    price_output_per_mtok: Amount | None = None
    price_input_micros_per_mtok: Annotated[int, Field(ge=0)] | None = None
    price_output_micros_per_mtok: Annotated[int, Field(ge=0)] | None = None
    context_limit: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    enabled: bool | None = None


class RouteOut(Output):
    id: int
    alias: str
    priority: int
    kind: str
    provider_id: int
    provider_name: str
    upstream_model: str
    price_input_micros_per_mtok: int
    price_output_micros_per_mtok: int
    price_input_per_mtok: str
    price_output_per_mtok: str
    context_limit: int
    enabled: bool
    created_at: datetime
    updated_at: datetime


# --- guardrail policies --------------------------------------------------------------------------------------------

Rules = Annotated[list[dict[str, Any]], Field(max_length=100)]


class PolicyCreate(Input):
    """``rules`` as ``aicoe.engines.guardrails`` reads them: ``{"id", "kind", "action", "direction", "params"}``."""

    name: Name
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    rules: Rules
    fail_open: bool = False
    restore: bool = False
    is_default: bool = False


class PolicyUpdate(Input):
    name: Name | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    rules: Rules | None = None
    fail_open: bool | None = None
    restore: bool | None = None
    is_default: bool | None = None


class PolicyOut(Output):
    id: int
    name: str
    description: str
    rules: list[dict[str, Any]]
    fail_open: bool
    restore: bool
    version: int
    is_default: bool
    created_at: datetime
    updated_at: datetime


SampleText = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class PolicyTryIn(Input):
    text: SampleText
    direction: Direction = "input"


class PolicyCheckIn(Input):
    """Unsaved rules and a sample text: what the rules would do, before saving them."""

    rules: Rules
    fail_open: bool = False
    restore: bool = False
    text: SampleText
    direction: Direction = "input"


class FindingOut(Output):
    """Where and what was found; never the matched value."""

    rule: str
    kind: str
    action: str
    direction: str
    entity_types: list[str]
    score: float | None
    detector: str
    start: int
    end: int


class VerdictOut(Output):
    """``text`` is the sample as the policy passes it on (placeholders where it anonymises); null when blocked."""

    action: str
    reason: str | None
    findings: list[FindingOut]
    text: str | None


# --- virtual keys --------------------------------------------------------------------------------------------------

class KeyBudgetIn(Input):
    period: Period = "month"
    amount: Amount


class KeyCreate(Input):
    """The use case and AI system, when given, must belong to ``business_unit_id``; ``allowed_aliases`` empty
    means every alias; ``policy_id`` empty means the default policy, whichever it is at request time."""

    name: Name
    business_unit_id: int
    use_case_id: int | None = None
    ai_system_id: int | None = None
    allowed_aliases: Annotated[list[Alias], Field(max_length=100)] = Field(default_factory=list)
    rpm_limit: Annotated[int, Field(ge=1)] | None = None
    tpm_limit: Annotated[int, Field(ge=1)] | None = None
    logging: LoggingMode = "off"
    log_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    expires_at: datetime | None = None
    policy_id: int | None = None
    budgets: Annotated[list[KeyBudgetIn], Field(max_length=3)] = Field(default_factory=list)


class KeyUpdate(Input):
    """Every field optional; the owner unit, use case and AI system are fixed for the key's life."""

    name: Name | None = None
    allowed_aliases: Annotated[list[Alias], Field(max_length=100)] | None = None
    rpm_limit: Annotated[int, Field(ge=1)] | None = None
    tpm_limit: Annotated[int, Field(ge=1)] | None = None
    logging: LoggingMode | None = None
    log_retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    expires_at: datetime | None = None
    policy_id: int | None = None


class KeyOut(Output):
    id: int
    name: str
    prefix: str
    business_unit_id: int
    use_case_id: int | None
    ai_system_id: int | None
    policy_id: int | None
    allowed_aliases: list[str]
    rpm_limit: int | None
    tpm_limit: int | None
    logging: str
    log_retention_days: int
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    status: str


class KeyCreated(KeyOut):
    """The one response that carries the key itself: store it now, it is never shown again."""

    key: str


# --- budgets -------------------------------------------------------------------------------------------------------

class BudgetIn(Input):
    """Set (create or replace) the limit of one scope and period."""

    scope: BudgetScope
    scope_id: int
    period: Period = "month"
    amount: Amount


class BudgetOut(Output):
    id: int
    scope: str
    scope_id: int
    period: str
    limit_micros: int
    amount: str
    period_start: str
    spent_micros: int
    reserved_micros: int
    spent: str
    updated_at: datetime


# --- usage ---------------------------------------------------------------------------------------------------------

class UsageRow(Output):
    group: str
    label: str
    requests: int
    tokens_in: int
    tokens_out: int
    cost_micros: int
    cost: str
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    interventions: int
    intervention_rate: float
    errors: int


class UsageOut(Output):
    group_by: str
    from_: datetime | None = Field(serialization_alias="from")
    to: datetime | None
    currency: str
    rows: list[UsageRow]
