"""Seed Meridian Trust's strategy and AI portfolio through the services (idempotent: skips what exists).

Stage decisions are backdated (``at=``) so the portfolio has a believable 24-month history; everything else is
recorded as it happens, by the system actor.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.demo.org import DOMAIN
from aicoe.demo.portfolio_data import KPIS, MISSION, OBJECTIVES, PATTERNS, USE_CASES, VISION, DemoUseCase
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import Pattern, UseCase
from aicoe.portfolio import criteria, lifecycle, patterns, schemas, scoring, usecases, value
from aicoe.portfolio.constants import STAGES
from aicoe.portfolio.lifecycle_schemas import CriterionCreate, ResultIn
from aicoe.strategy import schemas as strategy_schemas
from aicoe.strategy import service as strategy

if TYPE_CHECKING:
    from aicoe.demo import DemoResult

SCORERS = ("marcus.chen", "ines.duarte", "priya.raman")
# the path each side stage is reached from
SIDE_PATHS = {"rejected": "qualified", "on_hold": "prioritised"}


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def seed_portfolio(session: Session, settings: Settings, result: DemoResult) -> None:
    people = {u.email.split("@")[0]: u for u in session.scalars(select(User).where(User.email.like(f"%@{DOMAIN}")))}
    units = {u.code: u for u in session.scalars(select(BusinessUnit))}
    today = utcnow().date()
    objectives = _seed_strategy(session, people, units, today, result)
    pattern_ids = _seed_patterns(session, result)
    model = scoring.ensure_active_model(session)
    scorers = [Principal.resolve(session, people[name]) for name in SCORERS]
    existing = set(session.scalars(select(UseCase.title)))
    made = 0
    for index, demo in enumerate(USE_CASES):
        if demo.title in existing:
            continue
        _seed_use_case(session, settings, demo, index, people, units, objectives, pattern_ids, model, scorers, today)
        made += 1
    result.created["use cases"] = made


def _seed_strategy(session: Session, people: dict[str, User], units: dict[str, BusinessUnit], today: date,
                   result: DemoResult) -> list[int]:
    if strategy.current_mission(session) is None:
        strategy.revise_mission(session, None, strategy_schemas.MissionIn(
            statement=MISSION, vision=VISION, change_note="Mission agreed by the steering committee"))
    by_title = {o.title: o for o in strategy.all_objectives(session)}
    ids: list[int] = []
    for title, description, owner, codes, (start, end) in OBJECTIVES:
        if title not in by_title:
            by_title[title] = strategy.create_objective(session, None, strategy_schemas.ObjectiveCreate(
                title=title, description=description, owner_id=people[owner].id, period_start=date.fromisoformat(start),
                period_end=date.fromisoformat(end), business_unit_ids=[units[c].id for c in codes]))
            result.created["objectives"] = result.created.get("objectives", 0) + 1
        ids.append(by_title[title].id)
    kpi_names = {k.name for k in strategy.all_kpis(session)}
    for name, unit, direction, baseline, target, target_date, objective, owner, values in KPIS:
        if name in kpi_names:
            continue
        kpi = strategy.create_kpi(session, None, strategy_schemas.KpiCreate(
            name=name, unit=unit, direction=direction, baseline=baseline, target=target,
            target_date=date.fromisoformat(target_date), objective_id=ids[objective], owner_id=people[owner].id))
        for back, figure in enumerate(reversed(values)):
            strategy.add_measurement(session, None, kpi.id, strategy_schemas.MeasurementIn(
                measured_on=_month_start(today, back + 1), value=figure), today=today)
        result.created["KPIs"] = result.created.get("KPIs", 0) + 1
    return ids


def _seed_patterns(session: Session, result: DemoResult) -> dict[str, int]:
    ids = {p.name: p.id for p in session.scalars(select(Pattern))}
    for name, description in PATTERNS.items():
        if name not in ids:
            pattern = patterns.create_pattern(session, None, patterns.PatternIn(name=name, description=description))
            ids[name] = pattern.id
            result.created["patterns"] = result.created.get("patterns", 0) + 1
    return ids


def _path(stage: str) -> list[str]:
    """The stages a demo use case passes through after ``idea`` to end in ``stage``."""
    if stage in SIDE_PATHS:
        return _path(SIDE_PATHS[stage]) + [stage]
    return list(STAGES[1:STAGES.index(stage) + 1])


def _seed_use_case(session: Session, settings: Settings, demo: DemoUseCase, index: int, people: dict[str, User],
                   units: dict[str, BusinessUnit], objectives: list[int], pattern_ids: dict[str, int],
                   model: object, scorers: list[Principal], today: date) -> None:
    rng = random.Random(demo.title)
    mode, rationale = demo.delivery or (None, "")
    use_case = usecases.create_use_case(session, None, schemas.UseCaseCreate(
        title=demo.title, problem_statement=demo.problem, opportunity_statement=demo.opportunity,
        business_unit_id=units[demo.unit].id, sponsor_id=people[demo.sponsor].id, owner_id=people[demo.owner].id,
        affected_users="Customers and colleagues of " + units[demo.unit].name, data_needed="See the data plan.",
        personal_data=demo.personal_data, ai_type=demo.ai_type,
        benefits=[schemas.BenefitIn(kind=k, amount=a, confidence=c) for k, a, c in demo.benefits],
        build_cost_estimate=demo.build_cost, run_cost_estimate=demo.run_cost,
        target_date=_month_start(today, -rng.randint(2, 12)), delivery_mode=mode, delivery_rationale=rationale,
        objective_ids=[objectives[i] for i in demo.objectives]))
    for name in demo.patterns:
        patterns.tag(session, None, use_case.key, pattern_ids[name])
    submitted = datetime.combine(_month_start(today, demo.months_ago), datetime.min.time(), UTC) + timedelta(days=3)
    use_case.submitted_at = use_case.stage_entered_at = submitted
    path = _path(demo.stage) if demo.stage != "idea" else []
    if path or index % 3 == 0:  # ideas are scored now and then; everything further along is scored
        _score(session, demo, use_case, scorers, rng)
    # decisions fill the first half of the time since submission, so live use cases have a history of value
    step = (datetime.now(UTC) - submitted) / (2 * max(len(path), 1))
    for n, stage in enumerate(path, start=1):
        if stage == "proof_of_concept":
            _criteria(session, use_case, rng)
        if stage == "pilot":
            for criterion in criteria.list_criteria(session, use_case):
                criteria.record_result(session, None, use_case, criterion.id, ResultIn(
                    value=_passing(criterion.comparator, criterion.threshold, rng), note="Measured in the PoC."))
        lifecycle.transition(session, None, use_case, stage, _reason(stage), at=submitted + step * n)
    if use_case.production_at is not None or demo.stage == "pilot":
        _value_history(session, demo, use_case, today, rng)


def _score(session: Session, demo: DemoUseCase, use_case: UseCase, scorers: list[Principal],
           rng: random.Random) -> None:
    size = sum(a for _, a, _ in demo.benefits)
    value_base = 1.6 + min(size / 700_000, 3.0)
    value_shift, feasibility_shift = rng.uniform(-0.9, 0.9), rng.uniform(-1.4, 1.4)  # the scorers broadly agree
    for scorer in scorers[: 2 + (rng.random() < 0.5)]:
        ratings = {
            "business_value": value_base + value_shift + rng.uniform(-0.5, 0.5),
            "strategic_alignment": 2.2 + len(demo.objectives) + value_shift + rng.uniform(-0.6, 0.6),
            "feasibility": 3.2 + 0.6 * (demo.ai_type == "predictive_ml") - (demo.ai_type == "agentic")
            + feasibility_shift + rng.uniform(-0.6, 0.6),
            "data_readiness": 3 + feasibility_shift + rng.uniform(-0.8, 0.8),
            "risk": 2.2 + demo.personal_data + (demo.ai_type == "agentic") - feasibility_shift + rng.uniform(-0.6, 0.6),
            "time_to_value": 3.4 - demo.build_cost / 350_000 + value_shift + rng.uniform(-0.6, 0.6),
        }
        card = {k: max(1, min(5, round(v))) for k, v in ratings.items()}
        scoring.rate(session, scorer, use_case, schemas.ScoresIn(ratings=card))


def _criteria(session: Session, use_case: UseCase, rng: random.Random) -> None:
    options = [
        ("Precision on the hold-out set", ">=", 0.85, "", "Evaluation on three months of labelled data."),
        ("Median handling time saved", ">=", 20, "%", "Timed on 200 cases with and without the tool."),
        ("User satisfaction in pilot survey", ">=", 4.0, "of 5", "Survey of pilot users after four weeks."),
        ("Cost per processed case", "<=", 1.5, "EUR", "Total run cost divided by cases handled."),
    ]
    for metric, comparator, threshold, unit, how in rng.sample(options, 2):
        criteria.create_criterion(session, None, use_case, CriterionCreate(
            metric=metric, comparator=comparator, threshold=threshold, unit=unit, how_measured=how))


def _passing(comparator: str, threshold: float, rng: random.Random) -> float:
    margin = abs(threshold) * rng.uniform(0.02, 0.15) or 0.1
    return round(threshold + margin if comparator in (">=", ">") else threshold - margin, 3)


def _reason(stage: str) -> str:
    return {
        "qualified": "Problem and opportunity confirmed with the business unit.",
        "prioritised": "Ranked in the quarterly portfolio review.",
        "proof_of_concept": "Success criteria agreed; PoC funded for eight weeks.",
        "pilot": "PoC met its success criteria; pilot approved by the steering committee.",
        "production": "Pilot results and controls accepted; go-live approved.",
        "retired": "Superseded; decommissioned with data deleted per retention policy.",
        "rejected": "Expected value does not justify the regulatory effort.",
        "on_hold": "Paused until the data platform migration completes.",
    }[stage]


def _value_history(session: Session, demo: DemoUseCase, use_case: UseCase, today: date, rng: random.Random) -> None:
    """Monthly costs and benefits: build costs before go-live, then run costs and ramping benefits."""
    live = use_case.production_at.date() if use_case.production_at else today
    start = _month_start(today, min(demo.months_ago, 24))
    months = (today.year - start.year) * 12 + today.month - start.month
    annual_benefit = sum(a for _, a, _ in demo.benefits)
    retired = demo.stage == "retired"
    go_live = date(live.year, live.month, 1)
    build_months = max((go_live.year - start.year) * 12 + go_live.month - start.month, 1)
    for back in range(months, 0, -1):
        period = _month_start(today, back)
        entries: list[tuple[str, float]] = []
        if period < go_live:
            entries.append(("cost_build", demo.build_cost / build_months))
        else:
            age = (period.year - live.year) * 12 + period.month - live.month + 1
            ramp = min(age / 6, 1.0) * (0.35 if retired and back < 6 else 1.0)
            entries.append(("cost_run", demo.run_cost / 12 * rng.uniform(0.9, 1.1)))
            if demo.ai_type == "generative_ai":
                entries.append(("cost_inference", demo.run_cost / 24 * rng.uniform(0.7, 1.3)))
            kind = demo.benefits[0][0] if demo.benefits else "cost_saving"
            entries.append((f"benefit_{kind}", annual_benefit / 12 * ramp * rng.uniform(0.75, 1.05)))
        for kind, amount in entries:
            value.add_entry(session, None, use_case.key, value.ValueEntryIn(
                period=period, kind=kind, amount=round(amount, 2)))
