"""The gateway demo seed: the labelled built-in upstream, routes, policies, keys stored as hashes only, 60 days
of usage with guardrail events, budgets with their spend, inference cost in the use cases' value; idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.demo import DemoResult
from aicoe.demo.gateway import KEYS, PROVIDER, seed_gateway
from aicoe.demo.inventory import seed_inventory
from aicoe.demo.org import seed_org
from aicoe.demo.portfolio import seed_portfolio
from aicoe.gateway import value_sync
from aicoe.models.gateway import (
    GatewayBudget,
    GatewayProvider,
    GatewayRoute,
    GatewaySpend,
    GuardrailEvent,
    GuardrailPolicy,
    UsageRecord,
    VirtualKey,
)
from aicoe.models.portfolio import UseCase, ValueEntry
from tests.factories import _writing, make_settings


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    return make_settings(any_db_url, tmp_path)


def test_the_demo_seeds_a_working_gateway_with_history_and_is_idempotent(db: Session, settings: Settings) -> None:
    result = DemoResult()
    _writing(db)
    for seeder in (seed_org, seed_portfolio, seed_inventory, seed_gateway):
        seeder(db, settings, result)
    db.commit()
    provider = db.scalars(select(GatewayProvider)).one()
    assert (provider.name, provider.kind, provider.base_url, provider.api_key_encrypted) == (PROVIDER, "demo", "",
                                                                                             None)
    assert sorted(db.scalars(select(GatewayRoute.alias))) == ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
    policies = {p.name: p for p in db.scalars(select(GuardrailPolicy))}
    assert [p.name for p in policies.values() if p.is_default] == ["Standard"]
    assert all(r["action"] == "block" for r in policies["Strict (customer-facing)"].rules)
    keys = db.scalars(select(VirtualKey)).all()
    assert len(keys) == len(KEYS) and all(len(k.key_hash) == 64 and k.use_case_id for k in keys)
    records = db.scalar(select(func.count()).select_from(UsageRecord))
    assert result.created["gateway usage records"] == records and 4000 < records < 20000
    outcomes = dict(db.execute(select(UsageRecord.guardrail, func.count()).group_by(UsageRecord.guardrail)).all())
    events = dict(db.execute(select(GuardrailEvent.action, func.count()).group_by(GuardrailEvent.action)).all())
    assert (events["block"], events["anonymise"]) == (outcomes["blocked"], outcomes["anonymised"])
    assert db.scalar(select(func.sum(UsageRecord.cost_micros)).where(UsageRecord.outcome != "ok")) == 0
    assert db.scalar(select(func.count()).select_from(GatewayBudget)) == len(KEYS)
    assert db.scalar(select(func.count()).select_from(GatewaySpend)) == len(KEYS)

    ours = (ValueEntry.kind == value_sync.KIND) & ValueEntry.note.startswith(value_sync.NOTE_PREFIX)
    entries = db.scalars(select(ValueEntry).where(ours)).all()
    assert entries and all(e.created_by_id is None for e in entries)
    by_use_case = dict(db.execute(select(UsageRecord.use_case_id, func.sum(UsageRecord.cost_micros))
                                  .group_by(UsageRecord.use_case_id)).all())
    for use_case_id, micros in by_use_case.items():
        booked = sum(e.amount for e in entries if e.use_case_id == use_case_id)
        assert abs(booked - int(micros) / 1_000_000) <= 0.005 * 4, use_case_id  # cents rounded per month
        assert db.get(UseCase, use_case_id).realised_cost >= booked

    again = DemoResult()
    _writing(db)
    seed_gateway(db, settings, again)
    db.commit()
    assert again.created == {}
    assert db.scalar(select(func.count()).select_from(UsageRecord)) == records
    assert db.scalar(select(func.count()).select_from(ValueEntry).where(ours)) == len(entries)


def test_the_demo_needs_the_demo_use_cases(db: Session, settings: Settings) -> None:
    result = DemoResult()
    _writing(db)
    seed_gateway(db, settings, result)
    assert result.created == {} and db.scalar(select(func.count()).select_from(GatewayProvider)) == 0
