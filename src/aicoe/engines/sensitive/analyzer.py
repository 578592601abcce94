"""Text scanning: run every recogniser over a text in linear time and return resolved findings.

Patterns are RE2 (linear-time, no backtracking) compiled once with ``never_nl`` and multi-line anchors, so no
match crosses a line break and "^"/"$" anchor at line boundaries. A text is encoded to UTF-8 once; a pattern
filter (:mod:`.prefilter`: Hyperscan, or an RE2 set) finds which patterns match anywhere in one pass, and only
those are run (by RE2) to locate their matches. Validators and context run on candidates only. Because neither
matches nor context windows cross "\\n", :meth:`Analyzer.scan_texts` joins a batch with "\\n", scans it once
and maps offsets back — the same findings as scanning each text alone.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter

import numpy as np
import re2

from aicoe.engines.sensitive import context as ctx
from aicoe.engines.sensitive.model import Finding, Pattern, PatternRecognizer, Reason
from aicoe.engines.sensitive.ner import NerRecognizer
from aicoe.engines.sensitive.prefilter import PatternFilter

DEFAULT_MIN_SCORE = 0.5

UNKNOWN_ENTITY = "unknown entity type {entity!r}; supported: {supported}"
UNSUPPORTED_LANGUAGE = "unsupported language {language!r}; supported: {supported}"
BAD_MIN_SCORE = "min_score must be between 0 and 1, got {value!r}"
DUPLICATE_RECOGNIZER = "two recognisers are named {name!r}"
BAD_PATTERN = "recogniser {recognizer!r}, pattern {pattern!r}: {error}"
BAD_NER_SPAN = "NER finding span {start}..{end} lies outside the text (length {length})"

_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
# (start, end, score, entity, category, severity, reason): a finding before it becomes a Finding.
Span = tuple[int, int, float, str, str, str, Reason]


@dataclass(frozen=True, slots=True)
class _Compiled:
    recognizer: PatternRecognizer
    pattern: Pattern
    regex: re2._Regexp
    rule: ctx.ContextRule
    cue: str | None


class _LanguagePlan:
    """The patterns that apply to one language, the filter that tells which of them match a text, and an RE2 set
    of the recognisers' context cues (each a case-insensitive alternation of its context words) that tells, in one
    pass, which recognisers have a context word anywhere in a text."""

    def __init__(self, compiled: Sequence[_Compiled], options: re2.Options) -> None:
        self.compiled = tuple(compiled)
        self.filter = PatternFilter([_multiline(item.pattern.regex) for item in compiled], options)
        cues = {item.recognizer.name: item.cue for item in compiled if item.cue is not None}
        self._cued_names = tuple(cues)
        self._cues = re2.Set.SearchSet(options) if cues else None
        if self._cues is not None:
            for cue in cues.values():
                self._cues.Add(cue)
            self._cues.Compile()

    def cued(self, data: bytes) -> frozenset[str]:
        """The names of the recognisers with a context word somewhere in ``data``."""
        if self._cues is None:
            return frozenset()
        return frozenset(self._cued_names[index] for index in self._cues.Match(data) or ())

    def matching(self, data: bytes, entities: frozenset[str] | None) -> Iterator[_Compiled]:
        for index in self.filter.matching(data):
            item = self.compiled[index]
            if entities is None or item.recognizer.entity in entities:
                yield item


def _options() -> re2.Options:
    options = re2.Options()
    options.never_nl = True
    options.max_mem = 64 << 20
    return options


_NO_PATTERNS = _LanguagePlan((), _options())


def _multiline(regex: str) -> str:
    return "(?m)" + regex


class Analyzer:
    """Scans texts with a set of recognisers (the default: every identifier and secret recogniser).

    The languages it accepts are those its recognisers declare (any, when it has none: an NER-only analyzer).
    ``ner`` adds an optional named-entity recogniser (PERSON, LOCATION, ORGANIZATION); its findings join the
    pattern findings before overlaps are resolved.
    """

    def __init__(self, recognizers: Iterable[PatternRecognizer] | None = None, *,
                 ner: NerRecognizer | None = None) -> None:
        if recognizers is None:
            from aicoe.engines.sensitive.recognizers import DEFAULT_RECOGNIZERS

            recognizers = DEFAULT_RECOGNIZERS
        self.recognizers: tuple[PatternRecognizer, ...] = tuple(recognizers)
        self.ner = ner
        names = [r.name for r in self.recognizers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(DUPLICATE_RECOGNIZER.format(name=name))
        options = _options()
        by_language: dict[str, list[_Compiled]] = {}
        for recognizer in self.recognizers:
            rule = ctx.ContextRule.build(recognizer.context, recognizer.negative_context, recognizer.context_boost)
            cue = "(?i)" + "|".join(re2.escape(t) for t in rule.tokens) if rule.tokens else None
            for pattern in recognizer.patterns:
                try:
                    regex = re2.compile(_multiline(pattern.regex), options)
                except re2.error as exc:
                    raise ValueError(BAD_PATTERN.format(recognizer=recognizer.name, pattern=pattern.name,
                                                        error=exc)) from exc
                item = _Compiled(recognizer, pattern, regex, rule, cue)
                for language in recognizer.languages:
                    by_language.setdefault(language, []).append(item)
        self._plans = {language: _LanguagePlan(items, options) for language, items in by_language.items()}
        ner_entities = tuple(ner.entities) if ner is not None else ()
        self.entities: tuple[str, ...] = tuple(sorted({r.entity for r in self.recognizers} | set(ner_entities)))
        self.languages: tuple[str, ...] = tuple(sorted(self._plans))

    def __reduce__(self) -> tuple[object, tuple[tuple[PatternRecognizer, ...], NerRecognizer | None]]:
        """Pickles as its recognisers and NER; the patterns are compiled again where it is unpickled (worker
        processes, Ray tasks)."""
        return _rebuild, (self.recognizers, self.ner)

    def scan_text(self, text: str, *, entities: Iterable[str] | None = None, min_score: float = DEFAULT_MIN_SCORE,
                  language: str = "en", extra_context: Iterable[str] = ()) -> list[Finding]:
        """Findings in ``text`` sorted by start; where two overlap, the higher score wins, then the longer."""
        return self.scan_texts([text], entities=entities, min_score=min_score, language=language,
                               extra_context=extra_context)[0]

    def scan_texts(self, texts: Sequence[str], *, entities: Iterable[str] | None = None,
                   min_score: float = DEFAULT_MIN_SCORE, language: str = "en",
                   extra_context: Iterable[str] = ()) -> list[list[Finding]]:
        """:meth:`scan_text` for each text, scanned together in one pass over the texts joined by "\\n" (each
        text alone when there is an NER recogniser, which sees one text at a time)."""
        options = {"entities": entities, "min_score": min_score, "language": language,
                   "extra_context": tuple(extra_context)}
        if len(texts) == 1 or self.ner is not None:
            return [[Finding(entity, start, end, score, category, severity, reason)
                     for start, end, score, entity, category, severity, reason in self.scan_spans(text, **options)]
                    for text in texts]
        starts = [0]
        for text in texts[:-1]:
            starts.append(starts[-1] + len(text) + 1)
        results: list[list[Finding]] = [[] for _ in texts]
        for start, end, score, entity, category, severity, reason in self.scan_spans("\n".join(texts), **options):
            index = bisect.bisect_right(starts, start) - 1
            shift = starts[index]
            results[index].append(Finding(entity, start - shift, end - shift, score, category, severity, reason))
        return results

    def scan_spans(self, text: str, *, entities: Iterable[str] | None = None, min_score: float = DEFAULT_MIN_SCORE,
                   language: str = "en", extra_context: Iterable[str] = ()) -> list[Span]:
        """:meth:`scan_text`'s findings as plain tuples (start, end, score, entity, category, severity, reason):
        the form table scanning maps to cells without building each finding twice."""
        plan, wanted = self._check(entities, min_score, language)
        spans = self._pattern_spans(text, plan, wanted, ctx.extra_words(extra_context), min_score)
        if self.ner is not None:
            spans.extend((f.start, f.end, f.score, f.entity, f.category, f.severity, f.reason)
                         for f in _ner_findings(self.ner, text, language, wanted) if f.score >= min_score)
        return _resolve(spans)

    def prepare(self, language: str = "en") -> str:
        """Build now, and wait for, what scans in ``language`` otherwise build in the background from their first
        text on (the Hyperscan pattern filter): for a server or a benchmark that wants full speed from its first
        text. Returns the filter's engine, "hyperscan" or "re2"."""
        plan, _ = self._check(None, DEFAULT_MIN_SCORE, language)
        return plan.filter.engine

    def dump_filter(self, language: str = "en") -> bytes | None:
        """``language``'s compiled pattern filter, serialised for :meth:`load_filter` in another process (a pool
        worker, a Ray task) that would otherwise compile it again; waits for the compile. None without Hyperscan."""
        plan, _ = self._check(None, DEFAULT_MIN_SCORE, language)
        return plan.filter.dump()

    def load_filter(self, language: str, blob: bytes) -> bool:
        """Adopt a filter :meth:`dump_filter` serialised (an analyzer with the same recognisers); False when it does
        not load here, and the filter is compiled as usual."""
        plan, _ = self._check(None, DEFAULT_MIN_SCORE, language)
        return plan.filter.load(blob)

    def candidate_count(self, text: str, *, language: str = "en") -> int:
        """How many pattern matches ``text`` yields before validation: the work a scan does, bounded by the
        text's length (each pattern's matches are non-overlapping and non-empty)."""
        plan, _ = self._check(None, DEFAULT_MIN_SCORE, language)
        data = _encode(text)
        return sum(1 for item in plan.matching(data, None) for _ in _spans(item.regex, data, item.pattern.group))

    def _check(self, entities: Iterable[str] | None, min_score: float,
               language: str) -> tuple[_LanguagePlan, frozenset[str] | None]:
        plan = self._plans.get(language, None if self.recognizers else _NO_PATTERNS)
        if plan is None:
            raise ValueError(UNSUPPORTED_LANGUAGE.format(language=language, supported=", ".join(self.languages)))
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(BAD_MIN_SCORE.format(value=min_score))
        if entities is None:
            return plan, None
        wanted = frozenset(entities)
        for entity in sorted(wanted):
            if entity not in self.entities:
                raise ValueError(UNKNOWN_ENTITY.format(entity=entity, supported=", ".join(self.entities)))
        return plan, wanted

    def _pattern_spans(self, text: str, plan: _LanguagePlan, wanted: frozenset[str] | None, extra: str,
                       min_score: float) -> list[Span]:
        """Validated, context-scored matches scoring at least ``min_score``, unresolved.

        Per recogniser and text, two things are worked out once: the caller's context alone (what a value alone
        on its line, such as a table cell, gets) and whether any of the recogniser's context words occurs in the
        text at all (one case-insensitive RE2 set pass for every recogniser). Without one, no window needs
        looking at, and a recogniser that requires context and finds none in the caller's words is skipped
        without running its pattern.
        Context is looked at before the validator when it is required (it is cheaper than most validators).
        """
        data = _encode(text)
        ascii_only = len(data) == len(text)
        to_chars = _CharOffsets(data)
        spans: list[Span] = []
        cues: dict[str, tuple[ctx.Found, bool]] = {}
        cued: frozenset[str] | None = None
        for item in plan.matching(data, wanted):
            recognizer, rule, base = item.recognizer, item.rule, item.pattern.score
            validator, requires_context = recognizer.validator, recognizer.requires_context
            cue = cues.get(recognizer.name)
            if cue is None:
                alone = rule.found(" | " + extra) if rule else ((), ())
                if cued is None:
                    cued = plan.cued(data)
                cue = cues[recognizer.name] = alone, recognizer.name in cued
            alone, nearby = cue
            if requires_context and not nearby and not alone[0]:
                continue
            entity, category, severity = recognizer.entity, recognizer.category, recognizer.severity
            reasons: dict[tuple[str, ...], tuple[float, Reason]] = {}
            for start, end in _spans(item.regex, data, item.pattern.group):
                if not ascii_only:
                    start, end = to_chars(start), to_chars(end)
                found = None
                if requires_context:
                    found = _context(text, start, end, rule, extra, alone, positive_only=True) if nearby else alone
                    if not found[0]:
                        continue
                if validator is not None and not validator(text[start:end]):
                    continue
                if found is None:
                    found = _context(text, start, end, rule, extra, alone) if nearby else alone
                words = found[0] + found[1]
                scored = reasons.get(words)
                if scored is None:
                    reason = Reason(recognizer.name, item.pattern.name, recognizer.validator_name, words)
                    scored = reasons[words] = rule.score(base, bool(found[0]), bool(found[1])), reason
                if scored[0] >= min_score:
                    spans.append((start, end, scored[0], entity, category, severity, scored[1]))
        return spans


def _spans(regex: re2._Regexp, data: bytes, group: int) -> Iterator[tuple[int, int]]:
    """Byte spans of ``group`` in successive non-overlapping matches, skipping empty and unset ones.

    This is google-re2's ``finditer`` without building a match object per hit (a third of the per-candidate
    cost on table columns): it calls the compiled ``RE2`` object the wrapper wraps, through an attribute that is
    not public, so the public ``finditer`` is used when a version of the wrapper lacks it.
    """
    matcher = getattr(getattr(regex, "_regexp", None), "Match", None)
    if matcher is None or _UNANCHORED is None:
        for match in regex.finditer(data):
            start, stop = match.span(group)
            if start < stop:
                yield start, stop
        return
    position, end = 0, len(data)
    while position <= end:
        spans = matcher(_UNANCHORED, data, position, end)
        match_start, match_end = spans[0]
        if match_start < 0:
            return
        start, stop = spans[group]
        if start < stop:
            yield start, stop
        position = match_end if match_end > match_start else match_end + 1


def _context(text: str, start: int, end: int, rule: ctx.ContextRule, extra: str, alone: ctx.Found, *,
             positive_only: bool = False) -> ctx.Found:
    """The rule's words near ``text[start:end]``; ``alone`` (the caller's context only, precomputed) when the
    value fills its line. ``positive_only``: see :meth:`.ContextRule.near`."""
    if (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n"):
        return alone
    return rule.near(text, start, end, extra, alone, positive_only=positive_only)


def _encode(text: str) -> bytes:
    """UTF-8 for RE2; a lone surrogate becomes one "?" byte so character offsets still line up."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


class _CharOffsets:
    """Maps RE2's byte offsets back to string offsets in non-ASCII text: a byte offset less the UTF-8 continuation
    bytes before it, counted by bisecting their positions (found once, on first use, with numpy)."""

    __slots__ = ("_continuations", "_data")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._continuations: list[int] | None = None

    def __call__(self, offset: int) -> int:
        if self._continuations is None:
            bytes_ = np.frombuffer(self._data, dtype=np.uint8)
            self._continuations = np.flatnonzero((bytes_ & 0xC0) == 0x80).tolist()
        return offset - bisect.bisect_left(self._continuations, offset)


def _resolve(spans: list[Span]) -> list[Span]:
    """Drop findings that overlap a better one (higher score, then longer, then earlier) and sort by start.

    Most texts have no overlaps at all, which one pass over the sorted spans shows; otherwise claimed characters
    are marked in a byte array, so the work stays linear in the findings' total length.
    """
    spans.sort(key=itemgetter(0))
    if all(spans[i][0] >= spans[i - 1][1] for i in range(1, len(spans))):
        return spans
    low = spans[0][0]
    claimed = bytearray(max(span[1] for span in spans) - low)
    kept = []
    for span in sorted(spans, key=lambda f: (-f[2], f[0] - f[1], f[0], f[3], f[6].recognizer)):
        start, end = span[0] - low, span[1] - low
        if 1 in claimed[start:end]:
            continue
        claimed[start:end] = b"\x01" * (end - start)
        kept.append(span)
    kept.sort(key=itemgetter(0))
    return kept


def _ner_findings(ner: NerRecognizer, text: str, language: str,
                  wanted: frozenset[str] | None) -> Iterator[Finding]:
    for finding in ner.find(text, language=language):
        if not 0 <= finding.start < finding.end <= len(text):
            raise ValueError(BAD_NER_SPAN.format(start=finding.start, end=finding.end, length=len(text)))
        if wanted is None or finding.entity in wanted:
            yield finding


def _rebuild(recognizers: tuple[PatternRecognizer, ...], ner: NerRecognizer | None) -> Analyzer:
    return Analyzer(recognizers, ner=ner)


@cache
def default_analyzer() -> Analyzer:
    """The shared analyzer with the default recognisers, built on first use."""
    return Analyzer()


def scan_text(text: str, **options: object) -> list[Finding]:
    """:meth:`Analyzer.scan_text` with the default analyzer."""
    return default_analyzer().scan_text(text, **options)  # type: ignore[arg-type]


def scan_texts(texts: Sequence[str], **options: object) -> list[list[Finding]]:
    """:meth:`Analyzer.scan_texts` with the default analyzer."""
    return default_analyzer().scan_texts(texts, **options)  # type: ignore[arg-type]
