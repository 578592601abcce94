"""Check a streamed answer as it arrives, holding back a bounded window.

Text is released once the window holding it has been checked with at least three quarters of ``holdback``
characters after it, and never trails what was fed by more than ``holdback`` (plus, at most, one entity that
straddles the release point: a match is released whole or not at all). Scans run whenever more than ``holdback``
characters are held, so each releases about a quarter window and the work stays linear in the answer's length.
A block stops the stream: nothing more is released. Anonymising rules replace values in released text; the
request's placeholders are put back (``restore``) in the text between them, and a placeholder cut by a chunk
boundary is held until it is complete. A scan also sees the last few released characters, so context words
and a match's left edge are found across the release point.

When the policy checks no output at all, text is released as it comes (only a placeholder's start is held).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aicoe.engines.guardrails.anonymise import (
    Anonymiser,
    non_overlapping,
    partial_placeholder,
    placeholder_spans,
    restore_text,
)
from aicoe.engines.guardrails.policy import GuardrailError
from aicoe.engines.guardrails.verdict import Finding, Verdict, blocked, error_finding, finding, unavailable

if TYPE_CHECKING:
    from aicoe.engines.guardrails.guard import Guard

# Released characters a scan looks back over (context words, a match's left edge).
CONTEXT_CHARS = 64
BAD_HOLDBACK = "holdback must be 0 or more characters, got {value!r}"


@dataclass(frozen=True, slots=True)
class StreamStep:
    """What to send on: ``release`` (checked text), ``stop`` (a block: send the verdict's reason and end), and a
    ``verdict`` on a block or at the finish."""

    release: str
    stop: bool
    verdict: Verdict | None


_NOTHING = StreamStep("", False, None)
_STOPPED = StreamStep("", True, None)


class StreamGuard:
    def __init__(self, guard: Guard, restore: Mapping[str, str] | None, holdback: int) -> None:
        if isinstance(holdback, bool) or not isinstance(holdback, int) or holdback < 0:
            raise GuardrailError(BAD_HOLDBACK.format(value=holdback))
        self._guard = guard
        self._restore = dict(restore or {})
        self._holdback = holdback
        self._lookahead = holdback - holdback // 4
        self._checks = guard.checks("output")
        self._anonymiser = Anonymiser(self._restore)
        self._pending = ""  # fed, not yet released (raw upstream text)
        self._offset = 0  # the answer offset of pending[0]
        self._tail = ""  # the last released raw characters
        self._findings: list[Finding] = []
        self._failed = False
        self._stopped = False
        self.fed = 0
        self.released = 0

    def feed(self, delta: str) -> StreamStep:
        """Take the next piece of the answer; return what may be sent now."""
        if self._stopped:
            return _STOPPED
        self._pending += delta
        self.fed += len(delta)
        if not self._checks:
            return self._pass_through(final=False)
        if len(self._pending) <= self._holdback:
            return _NOTHING
        return self._advance(final=False)

    def finish(self) -> StreamStep:
        """The answer is complete: check and release the rest; the verdict sums up the whole answer."""
        if self._stopped:
            return _STOPPED
        step = self._advance(final=True) if self._checks else self._pass_through(final=True)
        if step.stop:
            return step
        self._stopped = True
        action = "anonymise" if self._anonymiser.restore else "allow"
        return StreamStep(step.release, False, Verdict(action, list(self._findings)))

    def _pass_through(self, final: bool) -> StreamStep:
        held = None if final else partial_placeholder(self._pending, self._restore)
        cut = len(self._pending) if held is None else held
        return self._emit(self._pending[:cut], [], cut)

    def _advance(self, final: bool) -> StreamStep:
        base = len(self._tail)
        text = self._tail + self._pending
        matches, errors = self._guard.scan([text], "output", [True])
        if errors and not self._guard.policy.fail_open:
            self._stopped = True
            return StreamStep("", True, unavailable(errors[0][0], errors[0][1], "output"))
        if errors and not self._failed:
            self._failed = True
            self._findings.extend(error_finding(rule, exc, "output", True) for rule, exc in errors)
        matches = [m for m in matches if m.hit.end > base]
        shift = self._offset - base
        if any(m.rule.action == "block" for m in matches):
            self._stopped = True
            found = self._findings + [finding(m.rule, m.hit, "output", None, shift) for m in matches]
            return StreamStep("", True, blocked(self._guard.policy.name, found, "output"))
        cut = len(text) if final else len(text) - self._lookahead
        spans = [(m.hit.start, m.hit.end) for m in matches]
        spans += [(start + base, end + base) for start, end in placeholder_spans(self._pending, self._restore)]
        moved = True
        while moved:
            moved = False
            for start, end in spans:
                if start < cut < end:
                    cut, moved = start, True
        cut = max(cut, base)
        released = [m for m in matches if m.hit.start < cut]
        self._findings.extend(finding(m.rule, m.hit, "output", None, shift) for m in released)
        replace = non_overlapping((max(m.hit.start, base) - base, m.hit.end - base, m.hit.entity_types[0])
                                  for m in released if m.rule.action == "anonymise")
        return self._emit(text[base:cut], replace, cut - base)

    def _emit(self, raw: str, replace: list[tuple[int, int, str]], consumed: int) -> StreamStep:
        """Release ``raw`` (the first ``consumed`` pending characters) with ``replace`` spans anonymised and the
        request's placeholders restored in between."""
        pieces, position = [], 0
        for start, end, entity in replace:
            pieces.append(restore_text(raw[position:start], self._restore))
            pieces.append(self._anonymiser.placeholder(entity, raw[start:end]))
            position = end
        pieces.append(restore_text(raw[position:], self._restore))
        self._tail = (self._tail + raw)[-CONTEXT_CHARS:]
        self._pending = self._pending[consumed:]
        self._offset += consumed
        self.released += consumed
        return StreamStep("".join(pieces), False, None)
