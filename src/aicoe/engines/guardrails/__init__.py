"""Guardrails engine: detectors and policy evaluation for prompts and completions. Pure.

``Guard(policy).check_input(messages)`` checks a chat request, ``check_text`` one text, ``stream()`` a streamed
answer with a bounded hold-back window. Policies are data (:mod:`.policy`); detectors reuse the sensitive-data
engine for personal data and secrets.
"""

from aicoe.engines.guardrails.anonymise import restore_text
from aicoe.engines.guardrails.detectors.injection import InjectionClassifier
from aicoe.engines.guardrails.guard import Guard, redact_for_log
from aicoe.engines.guardrails.policy import ACTIONS, DEFAULT_POLICY, KINDS, GuardPolicy, GuardrailError, Rule
from aicoe.engines.guardrails.stream import StreamGuard, StreamStep
from aicoe.engines.guardrails.verdict import GUARD_UNAVAILABLE, Finding, Verdict

__all__ = ["ACTIONS", "DEFAULT_POLICY", "GUARD_UNAVAILABLE", "KINDS", "Finding", "Guard", "GuardPolicy",
           "GuardrailError", "InjectionClassifier", "Rule", "StreamGuard", "StreamStep", "Verdict", "redact_for_log",
           "restore_text"]
