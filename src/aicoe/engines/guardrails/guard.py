"""Run a policy over a chat request, a text, or a streamed answer.

The guard compiles a policy once (word and phrase patterns, the sensitive-data scan shared by its pii and secrets
rules) and is then safe to reuse for every request. Personal data and secrets are looked for in every message's
text (system, user, assistant, tool, and tool-call arguments), since all of it reaches the provider; injection
only in what the user or a tool supplied (user, tool and function messages), since the system prompt and earlier
answers come from the application. A detector that raises blocks the request unless the policy fails open.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aicoe.engines.guardrails.anonymise import Anonymiser, non_overlapping
from aicoe.engines.guardrails.detectors import Hit
from aicoe.engines.guardrails.detectors.injection import CLASSIFIER_REASON, InjectionClassifier, score_text
from aicoe.engines.guardrails.detectors.sensitive import SensitiveScan, hits
from aicoe.engines.guardrails.detectors.topics import Embed, TopicDetector
from aicoe.engines.guardrails.detectors.words import WORD_ENTITY, WordsDetector
from aicoe.engines.guardrails.policy import DEFAULT_MIN_SCORE, GuardPolicy, GuardrailError, Rule
from aicoe.engines.guardrails.stream import StreamGuard, StreamStep
from aicoe.engines.guardrails.verdict import (
    GUARD_UNAVAILABLE,
    Finding,
    Verdict,
    blocked,
    error_finding,
    finding,
    unavailable,
)
from aicoe.engines.sensitive.analyzer import default_analyzer

__all__ = ["GUARD_UNAVAILABLE", "Finding", "Guard", "InjectionClassifier", "StreamGuard", "StreamStep", "Verdict",
           "redact_for_log"]

BAD_DIRECTION = "direction must be 'input' or 'output', got {value!r}"
BAD_MESSAGES = "messages must be a list of objects"
UNTRUSTED_ROLES = ("user", "tool", "function")
SENSITIVE_KINDS = ("pii", "secrets")
LIMIT_ENTITY = {"max_prompt_chars": "PROMPT_CHARS", "max_messages": "MESSAGES"}


@dataclass(frozen=True, slots=True)
class Match:
    """A hit of one rule in one of the texts checked together."""

    rule: Rule
    segment: int
    hit: Hit


@dataclass(frozen=True, slots=True)
class _Segment:
    message: int
    where: tuple[str, int | None]  # ("content", None), ("content", part index) or ("tool_calls", call index)
    text: str
    untrusted: bool


class Guard:
    """A compiled policy. ``embed`` turns texts into vectors for topic examples; ``classifier`` adds a model's
    injection score to the rules'."""

    def __init__(self, policy: GuardPolicy, *, embed: Embed | None = None,
                 classifier: InjectionClassifier | None = None) -> None:
        self.policy = policy
        # The directions any rule (limits included) applies to: a caller skips a direction outside it without a check.
        self.directions = frozenset(d for d in ("input", "output") if any(r.applies_to(d) for r in policy.rules))
        self._classifier = classifier
        sensitive = [rule.params for rule in policy.rules if rule.kind in SENSITIVE_KINDS]
        self._sensitive = SensitiveScan(sensitive) if sensitive else None
        self._detectors: dict[str, Callable[[str], list[Hit]]] = {}
        for rule in policy.rules:
            if rule.kind == "words":
                self._detectors[rule.id] = WordsDetector(rule.params).find
            elif rule.kind == "topic":
                self._detectors[rule.id] = TopicDetector(rule.params, embed).find

    def checks(self, direction: str) -> bool:
        """Whether any rule looks at text in this direction."""
        return any(rule.applies_to(direction) and rule.kind != "limits" for rule in self.policy.rules)

    def check_input(self, messages: list[dict[str, Any]]) -> Verdict:
        """Check an OpenAI chat request's messages (content as text or as parts)."""
        if not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages):
            raise GuardrailError(BAD_MESSAGES)
        segments = list(_segments(messages))
        found = self._limit_findings(len(messages), sum(len(s.text) for s in segments))
        matches, errors = self.scan([s.text for s in segments], "input", [s.untrusted for s in segments])
        if errors and not self.policy.fail_open:
            return unavailable(errors[0][0], errors[0][1], "input")
        found += [finding(m.rule, m.hit, "input", segments[m.segment].message) for m in matches]
        found.sort(key=lambda f: (f.message if f.message is not None else -1, f.start))
        found += [error_finding(rule, exc, "input", True) for rule, exc in errors]
        if any(f.action == "block" for f in found):
            return blocked(self.policy.name, found, "input")
        anonymiser = Anonymiser()
        by_segment = _anonymise_spans(matches)
        if not by_segment:
            return Verdict("allow", found)
        rewritten = [dict(m) for m in messages]
        copied: set[int] = set()
        for index, spans in sorted(by_segment.items()):
            segment = segments[index]
            if segment.message not in copied:
                rewritten[segment.message] = copy.deepcopy(messages[segment.message])
                copied.add(segment.message)
            _put(rewritten[segment.message], segment.where, anonymiser.apply(segment.text, spans))
        return Verdict("anonymise", found, messages=rewritten, restore=anonymiser.restore)

    def check_text(self, text: str, direction: str = "input", *, taken: Iterable[str] = ()) -> Verdict:
        """Check one text: a prompt (``input``) or a whole answer (``output``). ``taken``: placeholders the
        request already uses (its restore map's keys); new ones are numbered after them, so restoring the
        request's placeholders afterwards never turns an answer's placeholder into a prompt's value."""
        if direction not in ("input", "output"):
            raise GuardrailError(BAD_DIRECTION.format(value=direction))
        found = self._limit_findings(None, len(text)) if direction == "input" else []
        matches, errors = self.scan([text], direction, [True])
        if errors and not self.policy.fail_open:
            return unavailable(errors[0][0], errors[0][1], direction)
        found += sorted((finding(m.rule, m.hit, direction, None) for m in matches), key=lambda f: f.start)
        found += [error_finding(rule, exc, direction, True) for rule, exc in errors]
        if any(f.action == "block" for f in found):
            return blocked(self.policy.name, found, direction)
        spans = _anonymise_spans(matches).get(0)
        if not spans:
            return Verdict("allow", found)
        anonymiser = Anonymiser(taken)
        return Verdict("anonymise", found, restore=anonymiser.restore, text=anonymiser.apply(text, spans))

    def stream(self, restore: Mapping[str, str] | None = None, holdback: int = 256) -> StreamGuard:
        """A checker for one streamed answer: feed it the deltas, release what it returns."""
        return StreamGuard(self, restore, holdback)

    def scan(self, texts: Sequence[str], direction: str,
             untrusted: Sequence[bool]) -> tuple[list[Match], list[tuple[Rule, Exception]]]:
        """Every text rule of this direction over ``texts``; a rule whose detector raised is returned with its
        exception instead of its matches."""
        rules = [rule for rule in self.policy.rules if rule.applies_to(direction) and rule.kind != "limits"]
        matches: list[Match] = []
        errors: list[tuple[Rule, Exception]] = []
        sensitive = [rule for rule in rules if rule.kind in SENSITIVE_KINDS]
        if sensitive and self._sensitive is not None:
            try:
                scanned = self._sensitive.scan(texts)
            except Exception as exc:  # noqa: BLE001 -- any detector failure is handled by the policy
                errors.extend((rule, exc) for rule in sensitive)
            else:
                matches.extend(Match(rule, index, hit) for rule in sensitive
                               for index, findings in enumerate(scanned) for hit in hits(findings, rule.params,
                                                                                        rule.kind))
        for rule in rules:
            if rule.kind in SENSITIVE_KINDS:
                continue
            try:
                matches.extend(Match(rule, index, hit) for index, text in enumerate(texts)
                               for hit in self._find(rule, text, untrusted[index]))
            except Exception as exc:  # noqa: BLE001 -- any detector failure is handled by the policy
                errors.append((rule, exc))
        return matches, errors

    def _find(self, rule: Rule, text: str, untrusted: bool) -> list[Hit]:
        if rule.kind != "injection":
            return self._detectors[rule.id](text)
        if not untrusted or not text:
            return []
        result = score_text(text, self._classifier)
        if result.score < rule.params["threshold"]:
            return []
        detector = "classifier" if result.reasons[:1] == (CLASSIFIER_REASON,) else "rules"
        return [Hit(result.start, result.end, result.reasons, result.score, detector)]

    def _limit_findings(self, messages: int | None, chars: int) -> list[Finding]:
        found = []
        for rule in self.policy.rules:
            if rule.kind != "limits" or not rule.applies_to("input"):
                continue
            for name, value in (("max_messages", messages), ("max_prompt_chars", chars)):
                limit = rule.params.get(name)
                if limit is not None and value is not None and value > limit:
                    found.append(Finding(rule.id, rule.kind, rule.action, "input", (LIMIT_ENTITY[name],), None,
                                         "limits", None, 0, 0))
        return found


def _segments(messages: Sequence[Mapping[str, Any]]) -> Iterator[_Segment]:
    for index, message in enumerate(messages):
        untrusted = message.get("role") in UNTRUSTED_ROLES
        content = message.get("content")
        if isinstance(content, str):
            yield _Segment(index, ("content", None), content, untrusted)
        elif isinstance(content, list):
            for number, part in enumerate(content):
                if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    yield _Segment(index, ("content", number), part["text"], untrusted)
        for number, call in enumerate(message.get("tool_calls") or ()):
            function = call.get("function") if isinstance(call, Mapping) else None
            arguments = function.get("arguments") if isinstance(function, Mapping) else None
            if isinstance(arguments, str):
                yield _Segment(index, ("tool_calls", number), arguments, False)


def _put(message: dict[str, Any], where: tuple[str, int | None], text: str) -> None:
    field, number = where
    if field == "content" and number is None:
        message["content"] = text
    elif field == "content":
        message["content"][number]["text"] = text
    else:
        message["tool_calls"][number]["function"]["arguments"] = text


def _anonymise_spans(matches: Sequence[Match]) -> dict[int, list[tuple[int, int, str]]]:
    """Per text, the spans the anonymising rules replace."""
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for match in matches:
        if match.rule.action == "anonymise":
            spans.setdefault(match.segment, []).append((match.hit.start, match.hit.end, match.hit.entity_types[0]))
    return {index: non_overlapping(items) for index, items in spans.items()}


def redact_for_log(text: str, policy: GuardPolicy | None = None) -> str:
    """``text`` with every personal-data and secret value the sensitive engine finds (whatever the policy checks)
    and every word of the policy's word filters replaced by ``<ENTITY>``: the form a "redacted" prompt log keeps.
    A policy can only add to what is masked (lower scores, more words), never take away."""
    rules = policy.rules if policy is not None else ()
    min_score = min([DEFAULT_MIN_SCORE] + [r.params["min_score"] for r in rules if r.kind in SENSITIVE_KINDS])
    spans = [(f.start, f.end, f.entity) for f in default_analyzer().scan_text(text, min_score=min_score)]
    for rule in rules:
        if rule.kind == "words":
            detector = WordsDetector(rule.params)
            spans.extend((hit.start, hit.end, WORD_ENTITY) for hit in detector.find(text))
    out, position = [], 0
    for start, end, entity in non_overlapping(spans):
        out.append(text[position:start])
        out.append(f"<{entity}>")
        position = end
    out.append(text[position:])
    return "".join(out)
