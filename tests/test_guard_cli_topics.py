"""``aicoe guard check`` compares denied topics' examples through the gateway's embedding route for guardrails
(``gateway_guard_embedding_alias`` and its enabled routes in the database) and says so; without that setting,
such a route, or when the route fails, it matches phrases only and says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.cli.main import app
from aicoe.gateway import cli_guard
from tests.gateway_factories import make_policy, make_provider, make_route

runner = CliRunner()
ALIAS = "guard-embed"
EXAMPLE = "how do I make an explosive device at home"
SIMILAR = "tell me how I can make an explosive device at home quickly"  # demo cosine 0.84, not the phrase
PHRASE = "please explain how to build a bomb"
RULE = {"id": "no-weapons", "kind": "topic", "action": "block", "direction": "input",
        "params": {"topics": [{"name": "weapons", "phrases": ["build a bomb"], "examples": [EXAMPLE]}],
                   "similarity": 0.8}}


def check(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["guard", "check", "--format", "json", *args], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def topics_db(cli_db: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """The CLI's database with a default policy denying a topic by phrase and example, and the alias set."""
    make_policy(cli_db, name="topics", rules=[RULE], is_default=True)
    monkeypatch.setenv("AICOE_GATEWAY_GUARD_EMBEDDING_ALIAS", ALIAS)
    return cli_db


def test_examples_are_compared_through_the_databases_embedding_route(topics_db: Session) -> None:
    make_route(topics_db, make_provider(topics_db, kind="demo"), alias=ALIAS, kind="embedding",
               upstream_model="demo-embed")
    code, report = check(SIMILAR)
    assert code == 1 and report["action"] == "block"
    ((rule, kind, types, score),) = [(f["rule"], f["kind"], f["entity_types"], f["score"]) for f in report["findings"]]
    assert (rule, kind, types, score >= 0.8) == ("no-weapons", "topic", ["weapons"], True)
    assert report["topics"] == {"mode": "embeddings", "alias": ALIAS, "reason": None,
                                "description": cli_guard.TOPICS_EMBEDDINGS.format(alias=ALIAS)}
    table = runner.invoke(app, ["guard", "check", SIMILAR], catch_exceptions=False)
    assert cli_guard.TOPICS_EMBEDDINGS.format(alias=ALIAS) in table.stdout
    assert check("What is the capital of France?")[0] == 0


def test_a_policy_file_uses_the_databases_route_too(topics_db: Session, tmp_path: Path) -> None:
    make_route(topics_db, make_provider(topics_db, kind="demo"), alias=ALIAS, kind="embedding",
               upstream_model="demo-embed")
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "file", "rules": [RULE]}), encoding="utf-8")
    code, report = check("--policy", str(path), SIMILAR)
    assert (code, report["policy"], report["topics"]["mode"]) == (1, "file", "embeddings")


@pytest.mark.parametrize(("setup", "reason"), [
    ("no-alias", cli_guard.NO_ALIAS),
    ("no-route", cli_guard.NO_ROUTE.format(alias=ALIAS)),
    ("chat-route-only", cli_guard.NO_ROUTE.format(alias=ALIAS)),
    ("failing-route", cli_guard.ROUTE_FAILED.format(alias=ALIAS)),
])
def test_without_a_usable_route_phrases_match_and_the_output_says_why(
        topics_db: Session, monkeypatch: pytest.MonkeyPatch, setup: str, reason: str) -> None:
    if setup == "no-alias":
        monkeypatch.delenv("AICOE_GATEWAY_GUARD_EMBEDDING_ALIAS")
    elif setup == "chat-route-only":
        make_route(topics_db, make_provider(topics_db, kind="demo"), alias=ALIAS, upstream_model="demo-chat")
    elif setup == "failing-route":  # nothing listens on port 9 of this host: the connection is refused
        provider = make_provider(topics_db, kind="openai_compatible", base_url="http://127.0.0.1:9/v1",
                                 connect_timeout_s=2.0, max_retries=0)
        make_route(topics_db, provider, alias=ALIAS, kind="embedding", upstream_model="embed")
    code, report = check(SIMILAR)
    assert (code, report["action"], report["findings"]) == (0, "allow", [])
    assert report["topics"] == {"mode": "phrases", "alias": None, "reason": reason,
                                "description": cli_guard.TOPICS_PHRASES.format(reason=reason)}
    code, report = check(PHRASE)
    assert code == 1 and [f["score"] for f in report["findings"]] == [1.0]


def test_a_policy_without_examples_in_the_direction_needs_no_route(topics_db: Session) -> None:
    code, report = check("--direction", "output", SIMILAR)
    assert code == 0
    assert report["topics"]["reason"] == cli_guard.NO_EXAMPLES
