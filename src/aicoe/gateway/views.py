"""HTML pages for the GenAI gateway: the usage overview and breakdowns, providers and model routes, virtual keys,
guardrail policies with their "try it" box, and guardrail events.

Every write goes through the admin services (``providers``, ``keys``, ``policies``), so a form is refused for the
same reasons as the API, field by field, and changes nothing when refused. Secrets never come back: a provider's
API key is write-only, and a new virtual key is rendered once on the response to its create form (never put in a
redirect or a flash cookie). The "try it" box shows findings as rule, type, score and position, and the prompt as
the policy passes it on (placeholders in place of anonymised values); the only raw text on the page is what the
user typed into the box.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope, scope_of
from aicoe.config import Settings
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams, paginate
from aicoe.gateway import dashboards, keys, policies, providers, schemas
from aicoe.models.gateway import GatewayProvider, GatewayRoute, GuardrailEvent, GuardrailPolicy, VirtualKey
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase
from aicoe.web import charts, forms, pages

router = APIRouter()

READ, KEY, ADMIN, POLICY = "gateway:read", "gateway:key", "gateway:admin", "gateway:policy"
PAGE_SIZE = 50
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
PROVIDER_KINDS = {"openai": "OpenAI", "azure_openai": "Azure OpenAI",
                  "openai_compatible": "OpenAI-compatible (vLLM, Ollama, llama.cpp, …)", "demo": "Built-in demo"}
ROUTE_KINDS = {"chat": "Chat completions", "embedding": "Embeddings"}
LOGGING = {"off": "Off", "redacted": "Redacted (sensitive values masked)", "full": "Full text"}
DIRECTIONS = {"input": "A prompt (input)", "output": "An answer (output)"}
VERDICTS = {"allow": "Allowed", "anonymise": "Allowed, anonymised", "block": "Blocked"}
VERDICT_BADGES = {"allow": "on", "anonymise": "st warn", "block": "off"}
KEY_BADGES = {"active": "on", "expired": "st warn", "revoked": "off"}
BAD_RULES = "Write the rules as a YAML or JSON list of rules."
BAD_HEADERS = "Write one header per line as Name: value."
KEY_CREATED = "Key {name} created. Copy it now: it is not shown again."


def _money(micros: int) -> str:
    return schemas.from_micros(micros)


def _base(settings: Settings, **extra: Any) -> dict[str, Any]:
    return {"currency": settings.currency, "money": _money, "verdicts": VERDICTS, "verdict_badges": VERDICT_BADGES,
            "key_badges": KEY_BADGES, "key_statuses": keys.STATUSES, "sample": dashboards.LATENCY_SAMPLE, **extra}


# --- usage ---------------------------------------------------------------------------------------------------------

@router.get("/gateway")
def overview_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require(READ),
                  period: str | None = None) -> HTMLResponse:
    win = dashboards.window(period)
    total = dashboards.totals(session, principal, win)
    days = dashboards.by(session, principal, win, "day")
    return pages.render(request, "gateway/overview.html", _base(
        settings, win=win, periods=dashboards.PERIODS, total=total, days=days,
        budgets=dashboards.budget_status(session, principal),
        requests_chart=charts.line_chart([(u.key, u.requests) for u in days], target=None, baseline=None,
                                         unit="requests", title="Requests per day"),
        spend_chart=charts.line_chart([(u.key, u.cost_micros / 1_000_000) for u in days], target=None,
                                      baseline=None, unit=settings.currency, title="Spend per day")))


@router.get("/gateway/usage")
def usage_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require(READ),
               by: str | None = None, period: str | None = None) -> HTMLResponse:
    dimension = by if by in dashboards.DIMENSIONS else "use_case"
    win = dashboards.window(period)
    rows = dashboards.by(session, principal, win, dimension)
    label = dashboards.DIMENSIONS[dimension]
    return pages.render(request, "gateway/usage.html", _base(
        settings, win=win, periods=dashboards.PERIODS, dimensions=dashboards.DIMENSIONS, dimension=dimension,
        rows=rows, total=dashboards.totals(session, principal, win),
        chart=charts.bar_chart([(u.label, u.cost_micros / 1_000_000) for u in rows if dimension != "day"]
                               or [(u.label, u.cost_micros / 1_000_000) for u in rows if u.requests],
                               unit=settings.currency, title=f"Spend by {label.lower()}")))


# --- providers and routes --------------------------------------------------------------------------------------------

def _headers(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValidationFailed(BAD_HEADERS, errors=[FieldError("headers", BAD_HEADERS)])
        out[name.strip()] = value.strip()
    return out


def _provider_values(form: forms.FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: forms.text(form, name) for name in (
        "name", "kind", "base_url", "api_version", "connect_timeout_s", "read_timeout_s", "max_retries")}
    values["headers"] = _headers(str(form.get("headers") or ""))
    values["enabled"] = form.get("enabled") == "1"
    return {k: v for k, v in values.items() if v != "" or k in ("base_url", "api_version")}


def _providers_page(request: Request, session: Session, settings: Settings, principal: Principal,
                    values: dict[str, Any] | None = None, err: DomainError | None = None) -> HTMLResponse:
    context = _base(settings, providers=providers.list_providers(session, principal),
                    routes=providers.list_routes(session, principal), can_admin=principal.has(ADMIN),
                    kind_options=list(PROVIDER_KINDS.items()), kind_labels=PROVIDER_KINDS,
                    route_kind_options=list(ROUTE_KINDS.items()), route_kinds=ROUTE_KINDS)
    context["provider_options"] = [(p.id, p.name) for p in context["providers"]]
    if err is not None:
        return pages.form_error(request, "gateway/providers.html", err, values or {}, context)
    return pages.render(request, "gateway/providers.html", {**context, "form": {"enabled": "1", "max_retries": "2",
                                                                               "priority": "0"}})


@router.get("/gateway/providers")
def providers_page(request: Request, session: SessionDep, settings: SettingsDep,
                   principal: require(READ)) -> HTMLResponse:
    return _providers_page(request, session, settings, principal)


@router.post("/gateway/providers")
def create_provider(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                    principal: require(ADMIN)) -> Response:
    def act() -> GatewayProvider:
        values = _provider_values(form)
        api_key = str(form.get("api_key") or "")
        return providers.create_provider(session, principal, settings, forms.parse(
            schemas.ProviderCreate, {**values, **({"api_key": api_key} if api_key else {})}))

    return pages.attempt(request, session, act, then="/gateway/providers", message="Provider added.",
                         on_error=lambda err: _providers_page(request, session, settings, principal,
                                                              {**forms.values(form, omit=("csrf_token", "api_key")),
                                                               "form_id": "provider"}, err))


def _provider_form(request: Request, session: Session, settings: Settings, principal: Principal,
                   provider: GatewayProvider, values: dict[str, Any] | None = None,
                   err: DomainError | None = None) -> HTMLResponse:
    form = values if values is not None else {
        "name": provider.name, "kind": provider.kind, "base_url": provider.base_url,
        "api_version": provider.api_version, "connect_timeout_s": provider.connect_timeout_s,
        "read_timeout_s": provider.read_timeout_s, "max_retries": provider.max_retries,
        "headers": "\n".join(f"{k}: {v}" for k, v in (provider.headers or {}).items()),
        "enabled": "1" if provider.enabled else ""}
    context = _base(settings, provider=provider, kind_options=list(PROVIDER_KINDS.items()))
    if err is not None:
        return pages.form_error(request, "gateway/provider_form.html", err, form, context)
    return pages.render(request, "gateway/provider_form.html", {**context, "form": form})


@router.get("/gateway/providers/{provider_id}")
def provider_form(request: Request, session: SessionDep, settings: SettingsDep, principal: require(ADMIN),
                  provider_id: int) -> HTMLResponse:
    return _provider_form(request, session, settings, principal,
                          providers.get_provider(session, principal, provider_id))


@router.post("/gateway/providers/{provider_id}")
def update_provider(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                    principal: require(ADMIN), provider_id: int) -> Response:
    provider = providers.get_provider(session, principal, provider_id)

    def act() -> GatewayProvider:
        values = _provider_values(form)
        api_key = str(form.get("api_key") or "")
        if api_key:
            values["api_key"] = api_key
        elif form.get("remove_api_key") == "1":
            values["api_key"] = None
        return providers.update_provider(session, principal, settings, provider_id,
                                         forms.parse(schemas.ProviderUpdate, values))

    return pages.attempt(request, session, act, then="/gateway/providers", message="Provider saved.",
                         on_error=lambda err: _provider_form(request, session, settings, principal, provider,
                                                             forms.values(form, omit=("csrf_token", "api_key")),
                                                             err))


def _route_values(form: forms.FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: forms.text(form, name) for name in (
        "alias", "provider_id", "upstream_model", "priority", "kind", "price_input_per_mtok",
        "price_output_per_mtok", "context_limit")}
    values["enabled"] = form.get("enabled") == "1"
    return {k: v for k, v in values.items() if v != ""}


@router.post("/gateway/routes")
def create_route(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                 principal: require(ADMIN)) -> Response:
    return pages.attempt(
        request, session, lambda: providers.create_route(session, principal, forms.parse(
            schemas.RouteCreate, _route_values(form))),
        then="/gateway/providers", message="Route added.",
        on_error=lambda err: _providers_page(request, session, settings, principal,
                                             {**forms.values(form), "form_id": "route"}, err))


def _route_form(request: Request, session: Session, settings: Settings, principal: Principal, route: GatewayRoute,
                values: dict[str, Any] | None = None, err: DomainError | None = None) -> HTMLResponse:
    form = values if values is not None else {
        "alias": route.alias, "provider_id": route.provider_id, "upstream_model": route.upstream_model,
        "priority": route.priority, "kind": route.kind,
        "price_input_per_mtok": _money(route.price_input_micros_per_mtok),
        "price_output_per_mtok": _money(route.price_output_micros_per_mtok),
        "context_limit": route.context_limit, "enabled": "1" if route.enabled else ""}
    context = _base(settings, route=route, route_kind_options=list(ROUTE_KINDS.items()),
                    provider_options=[(p.id, p.name) for p in providers.list_providers(session, principal)])
    if err is not None:
        return pages.form_error(request, "gateway/route_form.html", err, form, context)
    return pages.render(request, "gateway/route_form.html", {**context, "form": form})


@router.get("/gateway/routes/{route_id}")
def route_form(request: Request, session: SessionDep, settings: SettingsDep, principal: require(ADMIN),
               route_id: int) -> HTMLResponse:
    return _route_form(request, session, settings, principal, providers.get_route(session, principal, route_id))


@router.post("/gateway/routes/{route_id}")
def update_route(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                 principal: require(ADMIN), route_id: int) -> Response:
    route = providers.get_route(session, principal, route_id)
    return pages.attempt(
        request, session, lambda: providers.update_route(session, principal, route_id, forms.parse(
            schemas.RouteUpdate, _route_values(form))),
        then="/gateway/providers", message="Route saved.",
        on_error=lambda err: _route_form(request, session, settings, principal, route, forms.values(form), err))


# --- keys ----------------------------------------------------------------------------------------------------------

def _key_options(session: Session, principal: Principal) -> dict[str, Any]:
    """What the create form offers: only the units (and their use cases and AI systems) the user may key."""
    scope = scope_of(principal, KEY)
    units = session.execute(select(BusinessUnit.id, BusinessUnit.name).where(in_scope(BusinessUnit.id, scope))
                            .order_by(BusinessUnit.name)).all()
    use_cases = session.execute(select(UseCase.id, UseCase.key, UseCase.title).where(
        in_scope(UseCase.business_unit_id, scope)).order_by(UseCase.key)).all()
    systems = session.execute(select(AISystem.id, AISystem.name).where(
        in_scope(AISystem.business_unit_id, scope)).order_by(AISystem.name)).all()
    return {"unit_options": [(i, n) for i, n in units],
            "use_case_options": [(i, f"{k} {t}") for i, k, t in use_cases],
            "system_options": [(i, n) for i, n in systems],
            "alias_options": sorted(set(session.scalars(select(GatewayRoute.alias)))),
            "policy_options": [(p.id, p.name) for p in policies.list_policies(session, principal)],
            "logging_options": list(LOGGING.items())}


def _keys_page(request: Request, session: Session, settings: Settings, principal: Principal, offset: int = 0,
               values: dict[str, Any] | None = None, err: DomainError | None = None) -> HTMLResponse:
    page = keys.list_keys(session, principal, PageParams(limit=PAGE_SIZE, offset=offset))
    units = {k.business_unit_id for k in page.items}
    use_cases = {k.use_case_id for k in page.items if k.use_case_id is not None}
    context = _base(settings, page=page, statuses={k.id: keys.status_of(k) for k in page.items},
                    unit_names=dict(session.execute(select(BusinessUnit.id, BusinessUnit.name).where(
                        BusinessUnit.id.in_(units))).all()),
                    use_case_keys=dict(session.execute(select(UseCase.id, UseCase.key).where(
                        UseCase.id.in_(use_cases))).all()),
                    can_key={k.id: principal.may(KEY, k.business_unit_id) for k in page.items},
                    may_create=principal.has(KEY), logging_labels=LOGGING,
                    **(_key_options(session, principal) if principal.has(KEY) else {}))
    if err is not None:
        return pages.form_error(request, "gateway/keys.html", err, values or {}, context)
    return pages.render(request, "gateway/keys.html", {**context, "form": {
        "logging": "off", "log_retention_days": "30", "chosen_aliases": []}})


@router.get("/gateway/keys")
def keys_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require(READ),
              offset: Offset = 0) -> HTMLResponse:
    return _keys_page(request, session, settings, principal, offset)


def _key_request(form: forms.FormData) -> schemas.KeyCreate:
    data: dict[str, Any] = {name: forms.text(form, name) for name in (
        "name", "business_unit_id", "use_case_id", "ai_system_id", "rpm_limit", "tpm_limit", "logging",
        "log_retention_days", "policy_id")}
    data = {k: v for k, v in data.items() if v != ""}
    data["allowed_aliases"] = [v for v in form.getlist("allowed_aliases") if isinstance(v, str) and v]
    data["expires_at"] = forms.end_of_day(form, "expires_on")
    budget = forms.text(form, "monthly_budget")
    data["budgets"] = [{"period": "month", "amount": budget}] if budget else []
    try:
        return forms.parse(schemas.KeyCreate, data)
    except ValidationFailed as err:
        for e in err.errors:  # the budget's amount is the form's monthly_budget field
            e.field = "monthly_budget" if e.field == "budgets" else e.field
        raise


@router.post("/gateway/keys")
def create_key(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
               principal: require(KEY)) -> Response:
    try:
        key, raw = keys.create_key(session, principal, _key_request(form))
    except DomainError as err:
        session.rollback()
        values = {**forms.values(form), "chosen_aliases": form.getlist("allowed_aliases")}
        return _keys_page(request, session, settings, principal, values=values, err=err)
    session.commit()  # the raw key is shown below and never again: the key must exist before it is shown
    return pages.render(request, "gateway/key_created.html", _base(
        settings, key=key, raw_key=raw, message=KEY_CREATED.format(name=key.name)))


@router.post("/gateway/keys/{key_id}/revoke")
def revoke_key(request: Request, session: SessionDep, principal: require(KEY), key_id: int) -> Response:
    return pages.attempt(request, session, lambda: keys.revoke_key(session, principal, key_id),
                         then="/gateway/keys", message="Key revoked; the gateway refuses it from now on.",
                         on_error=lambda err: pages.error_page(request, err))


# --- policies ------------------------------------------------------------------------------------------------------

def rules_text(rules: list[dict[str, Any]]) -> str:
    """Rules as YAML for editing (block style, keys in the order the engine writes them)."""
    return yaml.safe_dump(rules, sort_keys=False, allow_unicode=True, default_flow_style=False) if rules else ""


def parse_rules(text: str) -> list[dict[str, Any]]:
    """YAML or JSON (JSON is YAML) text -> a list of rule mappings, or a field error."""
    try:
        rules = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError:
        rules = None
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ValidationFailed(BAD_RULES, errors=[FieldError("rules", BAD_RULES)])
    return json.loads(json.dumps(rules, default=str))


def _policy_values(form: forms.FormData) -> dict[str, Any]:
    return {"name": forms.text(form, "name"), "description": forms.text(form, "description"),
            "rules": parse_rules(str(form.get("rules") or "")), "fail_open": form.get("fail_open") == "1",
            "restore": form.get("restore") == "1", "is_default": form.get("is_default") == "1"}


def _policies_page(request: Request, session: Session, settings: Settings, principal: Principal,
                   values: dict[str, Any] | None = None, err: DomainError | None = None) -> HTMLResponse:
    context = _base(settings, policies=policies.list_policies(session, principal), can_edit=principal.has(POLICY))
    if err is not None:
        return pages.form_error(request, "gateway/policies.html", err, values or {}, context)
    return pages.render(request, "gateway/policies.html", {**context, "form": {}})


@router.get("/gateway/policies")
def policies_page(request: Request, session: SessionDep, settings: SettingsDep,
                  principal: require(READ)) -> HTMLResponse:
    return _policies_page(request, session, settings, principal)


@router.post("/gateway/policies")
def create_policy(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                  principal: require(POLICY)) -> Response:
    return pages.attempt(
        request, session, lambda: policies.create_policy(session, principal, forms.parse(
            schemas.PolicyCreate, _policy_values(form))),
        then=lambda p: f"/gateway/policies/{p.id}", message="Policy created.",
        on_error=lambda err: _policies_page(request, session, settings, principal, forms.values(form), err))


def _policy_values_of(policy: GuardrailPolicy) -> dict[str, Any]:
    return {"name": policy.name, "description": policy.description, "rules": rules_text(policy.rules),
            "fail_open": "1" if policy.fail_open else "", "restore": "1" if policy.restore else "",
            "is_default": "1" if policy.is_default else ""}


def _policy_page(request: Request, session: Session, settings: Settings, principal: Principal,
                 policy: GuardrailPolicy, *, values: dict[str, Any] | None = None, err: DomainError | None = None,
                 verdict: schemas.VerdictOut | None = None, status: int = 200) -> HTMLResponse:
    form = values if values is not None else {**_policy_values_of(policy), "direction": "input"}
    context = _base(settings, policy=policy, can_edit=principal.has(POLICY), verdict=verdict,
                    direction_options=list(DIRECTIONS.items()), rules_yaml=rules_text(policy.rules))
    if err is not None:
        return pages.form_error(request, "gateway/policy.html", err, form, context)
    return pages.render(request, "gateway/policy.html", {**context, "form": form}, status=status)


@router.get("/gateway/policies/{policy_id}")
def policy_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require(READ),
                policy_id: int) -> HTMLResponse:
    return _policy_page(request, session, settings, principal, policies.get_policy(session, principal, policy_id))


@router.post("/gateway/policies/{policy_id}")
def update_policy(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                  principal: require(POLICY), policy_id: int) -> Response:
    policy = policies.get_policy(session, principal, policy_id)
    return pages.attempt(
        request, session, lambda: policies.update_policy(session, principal, policy_id, forms.parse(
            schemas.PolicyUpdate, _policy_values(form))),
        then=f"/gateway/policies/{policy_id}", message="Policy saved; the gateway applies it within seconds.",
        on_error=lambda err: _policy_page(request, session, settings, principal, policy,
                                          values=forms.values(form), err=err))


@router.post("/gateway/policies/{policy_id}/try")
def try_policy(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
               principal: require(READ), policy_id: int) -> HTMLResponse:
    """Run the saved policy on the sample; nothing is stored or logged."""
    policy = policies.get_policy(session, principal, policy_id)
    values = {**_policy_values_of(policy), "sample": str(form.get("sample") or ""),
              "direction": forms.text(form, "direction") or "input"}
    try:
        verdict = policies.try_policy(session, principal, policy_id, forms.parse(schemas.PolicyTryIn, {
            "text": values["sample"], "direction": values["direction"]}))
    except ValidationFailed as err:
        for e in err.errors:
            e.field = "sample" if e.field == "text" else e.field
        return _policy_page(request, session, settings, principal, policy, values=values, err=err)
    return _policy_page(request, session, settings, principal, policy, values=values, verdict=verdict)


# --- guardrail events ----------------------------------------------------------------------------------------------

@router.get("/gateway/events")
def events_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require(READ),
                offset: Offset = 0) -> HTMLResponse:
    """Interventions in the reader's units (through the key's unit), newest first; never any text."""
    stmt = (select(GuardrailEvent, VirtualKey, UseCase, GuardrailPolicy)
            .join(VirtualKey, VirtualKey.id == GuardrailEvent.key_id)
            .outerjoin(UseCase, UseCase.id == GuardrailEvent.use_case_id)
            .outerjoin(GuardrailPolicy, GuardrailPolicy.id == GuardrailEvent.policy_id)
            .where(in_scope(VirtualKey.business_unit_id, scope_of(principal, READ)))
            .order_by(GuardrailEvent.ts.desc(), GuardrailEvent.id.desc()))
    page = paginate(session, stmt, PageParams(limit=PAGE_SIZE, offset=offset), scalars=False)
    return pages.render(request, "gateway/events.html", _base(settings, page=page))
