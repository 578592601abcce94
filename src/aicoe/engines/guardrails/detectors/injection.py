"""Prompt injection and jailbreak attempts: a transparent table of weighted RE2 patterns, and an optional
classifier plug-in.

Each rule that matches contributes its weight; the rule score is their noisy-or, ``1 - prod(1 - weight)``, so
one strong signal (0.9) is enough to pass the default 0.8 threshold and two moderate ones (0.6 and 0.5) reach
0.8 together. Text hidden in base64 blobs or in Unicode tag characters is decoded and checked against the same
table. A plug-in classifier's score, when given, is combined with the rules' score by taking the larger. Every
pattern is RE2 (linear time) and none crosses a line break or a sentence end except where said.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import re2

CLASSIFIER_REASON = "classifier"
ENCODED_REASON = "encoded_instructions"
HIDDEN_REASON = "hidden_tag_text"
ENCODED_WEIGHT = 0.9
HIDDEN_WEIGHT = 0.9
# Blobs decoded per text, and the longest blob decoded: bound the work on a text full of base64.
MAX_BLOBS = 8
MAX_BLOB_CHARS = 8192
BAD_CLASSIFIER_SCORE = "the injection classifier returned {score!r}; a score is a number between 0 and 1"

_VERB_IGNORE = r"(?:ignore|disregard|forget|skip|override|bypass|drop|abandon)"
_PRIOR = r"(?:all|any|every|the|your|previous|prior|above|earlier|preceding|former|initial|original|system)"
_DIRECTIVES = r"(?:instructions?|prompts?|rules|directions|directives|guidelines|constraints|commands|context)"
_GAP = r"[^.\n]{0,40}"


class InjectionClassifier(Protocol):
    """A model that scores a text's likelihood of being an injection attempt, between 0 and 1."""

    def score(self, text: str) -> float: ...


@dataclass(frozen=True, slots=True)
class InjectionRule:
    name: str
    weight: float
    pattern: str
    why: str


RULES: tuple[InjectionRule, ...] = (
    InjectionRule("ignore_instructions", 0.9,
                  rf"(?i)\b{_VERB_IGNORE}\b{_GAP}\b{_PRIOR}\b{_GAP}\b{_DIRECTIVES}\b",
                  "asks the model to drop its instructions: 'ignore all previous instructions'"),
    InjectionRule("new_instructions", 0.5,
                  r"(?i)\b(?:new|updated|real|actual|true|revised)\s+(?:system\s+)?(?:instructions|rules|prompt)\s*:",
                  "announces replacement instructions: 'new instructions:'"),
    InjectionRule("dan_jailbreak", 0.9, r"\bDAN\b|(?i:\bdo\s+anything\s+now\b)",
                  "the 'DAN' (do anything now) role-play jailbreak"),
    InjectionRule("jailbreak_mode", 0.8,
                  r"(?i)\b(?:developer|god|jailbreak|jailbroken|unrestricted|unfiltered|evil|opposite)\s+mode\b",
                  "asks for a mode without rules: 'developer mode', 'god mode'"),
    InjectionRule("jailbreak_word", 0.6, r"(?i)\bjailbr(?:eak|eaks|eaking|oken)\b",
                  "names jailbreaking outright"),
    InjectionRule("persona_without_rules", 0.6,
                  r"(?i)\b(?:you\s+are|you're|act\s+as|pretend\s+(?:to\s+be|you\s+are)|role-?play\s+as|from\s+now"
                  r"\s+on)\b[^.\n]{0,80}\b(?:no|without|free\s+(?:of|from)|not\s+bound\s+by|unbound\s+by|ignores?)"
                  r"\b[^.\n]{0,30}\b(?:restrictions|rules|filters|limits|limitations|guidelines|censorship|ethics|"
                  r"morals|policies)\b",
                  "casts the model as a character free of its rules"),
    InjectionRule("system_prompt_exfiltration", 0.85,
                  r"(?i)\b(?:reveal|show|print|repeat|output|display|tell\s+me|what\s+(?:is|are|was|were)|leak|"
                  r"dump|give\s+me|copy|write\s+out)\b[^.\n]{0,40}\b(?:system|initial|original|hidden|secret|"
                  r"developer|pre-?prompt)\s+(?:prompt|instructions|message|rules)s?\b",
                  "asks for the system prompt or hidden instructions"),
    InjectionRule("repeat_above", 0.6,
                  r"(?i)\b(?:repeat|print|output|summari[sz]e)\b[^.\n]{0,30}\b(?:everything|all|the\s+text|the"
                  r"\s+words)\s+(?:above|before\s+this|so\s+far)\b",
                  "asks for the text above the user's turn (where the system prompt sits)"),
    InjectionRule("chat_template_tokens", 0.7,
                  r"<\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\|>|\[/?INST\]|"
                  r"<</?SYS>>",
                  "chat-template control tokens that fake a system or assistant turn"),
    InjectionRule("fake_role_header", 0.5,
                  r"(?im)^[ \t]*(?:#+[ \t]*)?(?:system|assistant|developer)[ \t]*(?:message|prompt)?[ \t]*:",
                  "a line that poses as a system or assistant turn: 'SYSTEM:'"),
    InjectionRule("decode_and_follow", 0.7,
                  r"(?i)\b(?:decode|decipher|translate|convert)\b[^.\n]{0,40}\b(?:base64|rot13|hex|binary|"
                  r"cipher|morse)\b[^.\n]{0,60}\b(?:follow|execute|run|obey|do\s+what|act\s+on|carry\s+out)\b",
                  "asks to decode a payload and follow it"),
    InjectionRule("safety_bypass", 0.5,
                  r"(?i)\b(?:bypass|disable|turn\s+off|switch\s+off|ignore|circumvent|evade|remove)\b[^.\n]{0,30}"
                  r"\b(?:safety|content\s+polic(?:y|ies)|moderation|guardrails?|filters?|restrictions|censorship)\b",
                  "asks to switch off safety measures"),
)

_COMPILED = tuple((rule, re2.compile(rule.pattern)) for rule in RULES)
_BLOB = re2.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_TAGS = re2.compile(r"[\x{E0020}-\x{E007E}]+")


@dataclass(frozen=True, slots=True)
class InjectionScore:
    """The combined score, the reasons (rule names, strongest first) and the strongest match's span."""

    score: float
    reasons: tuple[str, ...]
    start: int
    end: int


def _noisy_or(weights: Sequence[float]) -> float:
    missing = 1.0
    for weight in weights:
        missing *= 1.0 - weight
    return 1.0 - missing


def _matches(text: str) -> list[tuple[InjectionRule, int, int]]:
    found = []
    for rule, regex in _COMPILED:
        match = regex.search(text)
        if match is not None:
            found.append((rule, match.start(), match.end()))
    return found


def _decoded_blobs(text: str) -> list[tuple[int, int, str]]:
    """Base64 blobs that decode to text, with their spans."""
    out = []
    for match in _BLOB.finditer(text):
        if len(out) == MAX_BLOBS:
            break
        blob = match.group(0)[:MAX_BLOB_CHARS]
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or all(ch.isprintable() or ch in "\n\r\t" for ch in decoded):
            out.append((match.start(), match.end(), decoded))
    return out


def _hidden_tags(text: str) -> list[tuple[int, int, str]]:
    """Runs of Unicode tag characters (invisible, but read by models) mapped back to the ASCII they encode."""
    return [(m.start(), m.end(), "".join(chr(ord(ch) - 0xE0000) for ch in m.group(0))) for m in _TAGS.finditer(text)]


def score_text(text: str, classifier: InjectionClassifier | None = None) -> InjectionScore:
    """Score ``text``: the rules' noisy-or, hidden payloads checked too, then the classifier's score if higher."""
    weighted: list[tuple[str, float, int, int]] = [(rule.name, rule.weight, start, end)
                                                   for rule, start, end in _matches(text)]
    for reason, weight, payloads in ((ENCODED_REASON, ENCODED_WEIGHT, _decoded_blobs(text)),
                                     (HIDDEN_REASON, HIDDEN_WEIGHT, _hidden_tags(text))):
        for start, end, payload in payloads:
            if _matches(payload):
                weighted.append((reason, weight, start, end))
                break
    weighted.sort(key=lambda item: -item[1])
    score = round(_noisy_or([weight for _, weight, _, _ in weighted]), 6)
    reasons = tuple(name for name, _, _, _ in weighted)
    start, end = (weighted[0][2], weighted[0][3]) if weighted else (0, len(text))
    if classifier is not None:
        model = classifier.score(text)
        if isinstance(model, bool) or not isinstance(model, int | float) or not 0.0 <= model <= 1.0:
            raise ValueError(BAD_CLASSIFIER_SCORE.format(score=model))
        if model > score:
            return InjectionScore(float(model), (CLASSIFIER_REASON, *reasons), 0, len(text))
    return InjectionScore(score, reasons, start, end)
