"""Guardrail policies as data: rules with a kind, an action and a direction, validated once when built.

A policy is what an administrator writes (YAML, JSON or the platform's form) and what the database stores; the
:class:`~aicoe.engines.guardrails.guard.Guard` compiles it. Every rule is checked when it is constructed, so a
policy that exists is one the guard can run: unknown kinds, actions, entity types or parameters are refused with
a :class:`GuardrailError` naming the field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aicoe.engines.sensitive.recognizers import DEFAULT_RECOGNIZERS

KINDS = ("pii", "secrets", "injection", "topic", "words", "limits")
ACTIONS = ("block", "anonymise", "log")
DIRECTIONS = ("input", "output", "both")
# Kinds whose matches are values that a placeholder can stand for.
ANONYMISABLE = ("pii", "secrets", "words")

SECRET_ENTITIES: tuple[str, ...] = tuple(sorted({r.entity for r in DEFAULT_RECOGNIZERS if r.category == "credential"}))
PII_ENTITIES: tuple[str, ...] = tuple(sorted({r.entity for r in DEFAULT_RECOGNIZERS if r.category != "credential"}))
DEFAULT_MIN_SCORE = 0.5
DEFAULT_INJECTION_THRESHOLD = 0.8
DEFAULT_SIMILARITY = 0.82
MAX_RULE_ID = 80

NOT_AN_OBJECT = "{where}: expected an object"
NOT_A_LIST = "{where}: expected a list"
UNKNOWN_FIELDS = "{where}: unknown field(s) {fields}"
REQUIRED = "{where}: required"
BAD_TEXT = "{where}: expected a non-empty text"
BAD_BOOL = "{where}: expected true or false"
BAD_SCORE = "{where}: expected a number between 0 and 1"
BAD_POSITIVE = "{where}: expected a whole number of at least 1"
BAD_CHOICE = "{where}: {value!r} is not one of {choices}"
BAD_RULE_ID = "{where}: expected a non-empty text of at most 80 characters"
DUPLICATE_RULE = "{where}: rule id {rule!r} is used twice"
NOT_ANONYMISABLE = "{where}: action 'anonymise' applies to pii, secrets and words rules only"
UNKNOWN_ENTITY = "{where}: unknown entity type {entity!r}; supported: {supported}"
EMPTY_LIST = "{where}: name at least one"
TOPIC_EMPTY = "{where}: a topic needs at least one phrase or example"
LIMITS_EMPTY = "{where}: set max_prompt_chars, max_messages or both"


class GuardrailError(ValueError):
    """A policy or rule that cannot be run; the message names the field."""


def _fail(template: str, **values: Any) -> GuardrailError:
    return GuardrailError(template.format(**values))


def _object(value: Any, where: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(NOT_AN_OBJECT, where=where)
    unknown = sorted(set(value) - set(allowed), key=str)
    if unknown:
        raise _fail(UNKNOWN_FIELDS, where=where, fields=", ".join(map(repr, unknown)))
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(NOT_A_LIST, where=where)
    return list(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(BAD_TEXT, where=where)
    return value


def _texts(value: Any, where: str) -> list[str]:
    return [_text(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where))]


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(BAD_BOOL, where=where)
    return value


def _score(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise _fail(BAD_SCORE, where=where)
    return float(value)


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(BAD_POSITIVE, where=where)
    return value


def _entities(value: Any, where: str, supported: tuple[str, ...]) -> list[str]:
    names = _texts(value, where)
    if not names:
        raise _fail(EMPTY_LIST, where=where)
    for name in names:
        if name not in supported:
            raise _fail(UNKNOWN_ENTITY, where=where, entity=name, supported=", ".join(supported))
    return list(dict.fromkeys(names))


def _sensitive_params(params: Mapping[str, Any], where: str, supported: tuple[str, ...]) -> dict[str, Any]:
    _object(params, where, ("entities", "min_score"))
    entities = params.get("entities")
    return {"entities": list(supported) if entities is None else _entities(entities, f"{where}.entities", supported),
            "min_score": _score(params.get("min_score", DEFAULT_MIN_SCORE), f"{where}.min_score")}


def _pii(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    return _sensitive_params(params, where, PII_ENTITIES)


def _secrets(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    return _sensitive_params(params, where, SECRET_ENTITIES)


def _injection(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    _object(params, where, ("threshold",))
    return {"threshold": _score(params.get("threshold", DEFAULT_INJECTION_THRESHOLD), f"{where}.threshold")}


def _topic(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    _object(params, where, ("topics", "similarity"))
    if "topics" not in params:
        raise _fail(REQUIRED, where=f"{where}.topics")
    topics = []
    for i, item in enumerate(_list(params["topics"], f"{where}.topics")):
        at = f"{where}.topics[{i}]"
        _object(item, at, ("name", "phrases", "examples"))
        topic = {"name": _text(item.get("name"), f"{at}.name"),
                 "phrases": _texts(item.get("phrases", []), f"{at}.phrases"),
                 "examples": _texts(item.get("examples", []), f"{at}.examples")}
        if not topic["phrases"] and not topic["examples"]:
            raise _fail(TOPIC_EMPTY, where=at)
        topics.append(topic)
    if not topics:
        raise _fail(EMPTY_LIST, where=f"{where}.topics")
    return {"topics": topics, "similarity": _score(params.get("similarity", DEFAULT_SIMILARITY),
                                                    f"{where}.similarity")}


def _words(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    _object(params, where, ("words", "whole_word"))
    if "words" not in params:
        raise _fail(REQUIRED, where=f"{where}.words")
    words = list(dict.fromkeys(_texts(params["words"], f"{where}.words")))
    if not words:
        raise _fail(EMPTY_LIST, where=f"{where}.words")
    return {"words": words, "whole_word": _bool(params.get("whole_word", True), f"{where}.whole_word")}


def _limits(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    _object(params, where, ("max_prompt_chars", "max_messages"))
    limits = {name: _positive(params[name], f"{where}.{name}")
              for name in ("max_prompt_chars", "max_messages") if params.get(name) is not None}
    if not limits:
        raise _fail(LIMITS_EMPTY, where=where)
    return limits


_PARAMS = {"pii": _pii, "secrets": _secrets, "injection": _injection, "topic": _topic, "words": _words,
           "limits": _limits}


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(BAD_CHOICE, where=where, value=value, choices=", ".join(choices))
    return value


@dataclass(frozen=True)
class Rule:
    """One check: ``kind`` says what it looks for, ``action`` what happens on a match, ``direction`` whether it
    applies to prompts (input), answers (output) or both. ``params`` are validated and completed with their
    defaults on construction (see docs/guardrails.md for each kind's parameters)."""

    id: str
    kind: str
    action: str
    direction: str = "both"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"rule {self.id!r}" if isinstance(self.id, str) else "rule"
        if not isinstance(self.id, str) or not self.id.strip() or len(self.id) > MAX_RULE_ID:
            raise _fail(BAD_RULE_ID, where=f"{where}.id")
        _choice(self.kind, f"{where}.kind", KINDS)
        _choice(self.action, f"{where}.action", ACTIONS)
        _choice(self.direction, f"{where}.direction", DIRECTIONS)
        if self.action == "anonymise" and self.kind not in ANONYMISABLE:
            raise _fail(NOT_ANONYMISABLE, where=f"{where}.action")
        params = _PARAMS[self.kind](self.params if self.params is not None else {}, f"{where}.params")
        object.__setattr__(self, "params", MappingProxyType(params))

    def applies_to(self, direction: str) -> bool:
        return self.direction in (direction, "both")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "action": self.action, "direction": self.direction,
                "params": copy.deepcopy(dict(self.params))}


@dataclass(frozen=True)
class GuardPolicy:
    """A named set of rules. ``fail_open``: a detector that errors lets the text through (logged) instead of
    blocking it. ``restore``: placeholders put into a prompt by anonymisation are put back in the answer."""

    name: str
    rules: tuple[Rule, ...]
    fail_open: bool = False
    restore: bool = False

    def __post_init__(self) -> None:
        _text(self.name, "name")
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise _fail(DUPLICATE_RULE, where=f"rules[{i}].id", rule=rule.id)
            seen.add(rule.id)
        _bool(self.fail_open, "fail_open")
        _bool(self.restore, "restore")

    @classmethod
    def from_dict(cls, data: Any) -> GuardPolicy:
        """A policy from its JSON/YAML form; ``description`` is accepted and left to the platform to store."""
        _object(data, "policy", ("name", "description", "rules", "fail_open", "restore"))
        if "name" not in data:
            raise _fail(REQUIRED, where="name")
        rules = []
        for i, item in enumerate(_list(data.get("rules", []), "rules")):
            _object(item, f"rules[{i}]", ("id", "kind", "action", "direction", "params"))
            for name in ("id", "kind", "action"):
                if name not in item:
                    raise _fail(REQUIRED, where=f"rules[{i}].{name}")
            rules.append(Rule(item["id"], item["kind"], item["action"], item.get("direction", "both"),
                              item.get("params") or {}))
        return cls(data["name"], tuple(rules), data.get("fail_open", False), data.get("restore", False))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rules": [rule.to_dict() for rule in self.rules], "fail_open": self.fail_open,
                "restore": self.restore}


DEFAULT_POLICY = GuardPolicy("default", (
    Rule("pii", "pii", "anonymise", "input"),
    Rule("secrets", "secrets", "block", "input"),
    Rule("injection", "injection", "block", "input", {"threshold": DEFAULT_INJECTION_THRESHOLD}),
    Rule("limits", "limits", "block", "input", {"max_prompt_chars": 400_000, "max_messages": 1_000}),
))
