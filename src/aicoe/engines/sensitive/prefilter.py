r"""Which of a language's patterns match somewhere in a text: the first stage of every scan, one pass per text.

Two matchers give the same answer. An RE2 set is always available, but its lazy DFA builds its states as it
meets new text: with the default recognisers' 65 patterns it runs at about 1 M chars/s on text it has not seen
(the same text again runs at 20+ M chars/s), which made it the largest single cost of a scan. Hyperscan (the
``hyperscan`` package, a dependency where its wheels exist: x86-64 Linux) compiles its automata ahead of time
and runs at about 25 M chars/s from the first text. It is used when it imports: compiled in the background from
a plan's first scan on (about a second of one core for the default patterns; the RE2 set answers meanwhile) and
shared by every plan with the same patterns.

Hyperscan reads patterns as PCRE, which differs from RE2 in a few escapes that :func:`pcre` accounts for: RE2's
``\s`` has no vertical tab and its ``\v`` is the vertical tab (PCRE's are classes), so both are spelled out; a
pattern with an escape that reads differently or has no PCRE spelling (``\S`` inside a class, ``\p``, ``\Q``,
``\C``, ``\Z``…), or that Hyperscan refuses, stays with the RE2 set. In UTF-8 mode both fold case over Unicode
("K", the Kelvin sign, matches "(?i)k"; "ſ" matches "(?i)s"). Only which patterns occur is taken from
Hyperscan; where they match is always RE2's answer, so findings are identical either way
(tests/test_sensitive_prefilter.py compares the two on the labelled corpus and on generated text).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, wait
from types import ModuleType

import re2

try:
    import hyperscan
except ImportError:  # optional: the RE2 set answers alone
    hyperscan = None

# RE2's \s: no vertical tab.
_RE2_SPACE = r"\t\n\f\r "
# Escapes whose PCRE meaning is not RE2's and that have no simple spelling for Hyperscan.
_UNTRANSLATED = frozenset("hHRKXZVNGQEpPC")


def pcre(regex: str) -> str | None:
    """``regex`` (RE2 syntax) spelled so that PCRE (Hyperscan) reads it the same way; None when it cannot be."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\" and index + 1 < len(regex):
            escape = regex[index + 1]
            index += 2
            if escape == "s":
                out.append(_RE2_SPACE if in_class else f"[{_RE2_SPACE}]")
            elif escape == "S":
                if in_class:
                    return None
                out.append(f"[^{_RE2_SPACE}]")
            elif escape == "v":
                out.append(r"\x0b")
            elif escape in _UNTRANSLATED:
                return None
            else:
                out.append("\\" + escape)
            continue
        if in_class:
            if regex.startswith("[:", index) and (close := regex.find(":]", index + 2)) != -1:
                out.append(regex[index:close + 2])  # a POSIX class, "[:alpha:]", the same in both
                index = close + 2
                continue
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if regex.startswith("[^", index):
                out.append("[^")
                index += 2
                if regex.startswith("]", index):
                    out.append("]")
                    index += 1
                continue
            if regex.startswith("[]", index):
                out.append("[]")
                index += 2
                continue
        out.append(char)
        index += 1
    return "".join(out)


class PatternFilter:
    """Answers "which of ``regexes`` match somewhere in this UTF-8 text" (indices, ascending).

    The first question starts Hyperscan's compile in a background thread (it releases the GIL, so on a second
    core it costs the scan nothing); until it is ready the RE2 set answers, and a short job never waits for it.
    """

    def __init__(self, regexes: Sequence[str], options: re2.Options, *, use_hyperscan: bool = True) -> None:
        self._count = len(regexes)
        self._set = _re2_set(regexes, options)
        self._regexes = tuple(regexes)
        self._wanted = use_hyperscan and hyperscan is not None and bool(regexes)
        self._compiling: Future[_Built] | None = None
        # Hyperscan's database and the patterns it does not take (the RE2 set answers for those): one attribute,
        # so that a concurrent scan sees both or neither.
        self._ready: _Built | None = None

    @property
    def engine(self) -> str:
        """"hyperscan" when it answers for at least one pattern, else "re2"; starts Hyperscan's compile if needed
        and waits for it."""
        if self._wanted:
            wait([self._start()])
            self._adopt()
        return "hyperscan" if self._ready is not None and self._ready[0] is not None else "re2"

    def matching(self, data: bytes) -> list[int]:
        if not self._count:
            return []
        ready = self._ready if self._ready is not None or not self._wanted else self._adopt()
        if ready is None or ready[0] is None:
            return sorted(self._set.Match(data) or ())
        fast, rest = ready
        hits = fast.matching(data)
        if rest:
            hits.extend(index for index in self._set.Match(data) or () if index in rest)
        return sorted(hits)

    def _adopt(self) -> _Built | None:
        """The compiled database once the background compile is done (a failed compile leaves the RE2 set)."""
        compiling = self._start()
        if compiling.done():
            if compiling.exception() is None:
                self._ready = compiling.result()
            self._wanted = False
        return self._ready

    def _start(self) -> Future[_Built]:
        if self._compiling is None:
            self._compiling = _compile_in_background(self._regexes)
        return self._compiling


def _re2_set(regexes: Sequence[str], options: re2.Options) -> re2.Set | None:
    if not regexes:
        return None
    matcher = re2.Set.SearchSet(options)
    for regex in regexes:
        matcher.Add(regex)
    matcher.Compile()
    return matcher


class _Hyperscan:
    """A compiled Hyperscan block-mode database reporting each pattern once, with one scratch space per thread
    (a scratch may not be shared by concurrent scans)."""

    def __init__(self, database: object, scratch: object) -> None:
        self._database = database
        self._scratch = scratch
        self._local = threading.local()

    def matching(self, data: bytes) -> list[int]:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._scratch.clone()
        hits: list[int] = []
        self._database.scan(data, match_event_handler=_collect, context=hits, scratch=scratch)
        return hits


def _collect(index: int, _start: int, _end: int, _flags: int, hits: list[int]) -> None:
    hits.append(index)


_Built = tuple["_Hyperscan | None", frozenset[int]]
# Compiles by pattern tuple, shared by every filter with the same patterns; the oldest are forgotten past this.
_COMPILED_KEPT = 32
_compiles: dict[tuple[str, ...], Future[_Built]] = {}
_compiles_lock = threading.Lock()


def _compile_in_background(regexes: tuple[str, ...]) -> Future[_Built]:
    with _compiles_lock:
        compiling = _compiles.get(regexes)
        if compiling is None:
            if len(_compiles) >= _COMPILED_KEPT:
                del _compiles[next(iter(_compiles))]
            compiling = _compiles[regexes] = Future()
            threading.Thread(target=_run, args=(compiling, regexes, hyperscan), name="hyperscan-compile",
                             daemon=True).start()
    return compiling


def _run(compiling: Future[_Built], regexes: tuple[str, ...], engine: ModuleType) -> None:
    try:
        compiling.set_result(_compile(regexes, engine))
    except Exception as exc:  # reported through the future (the RE2 set keeps answering); a later filter retries
        with _compiles_lock:
            if _compiles.get(regexes) is compiling:
                del _compiles[regexes]
        compiling.set_exception(exc)


def _compile(regexes: tuple[str, ...], engine: ModuleType) -> _Built:
    """A database of the patterns Hyperscan (``engine``, the module) reads as RE2 does, and the indices of the
    others."""
    flags = engine.HS_FLAG_UTF8 | engine.HS_FLAG_SINGLEMATCH | engine.HS_FLAG_ALLOWEMPTY
    accepted: dict[int, bytes] = {}
    for index, regex in enumerate(regexes):
        translated = pcre(regex)
        if translated is not None:
            accepted[index] = translated.encode("utf-8")
    while accepted:
        database = engine.Database(mode=engine.HS_MODE_BLOCK)
        try:
            database.compile(expressions=list(accepted.values()), ids=list(accepted), elements=len(accepted),
                             flags=[flags] * len(accepted))
        except engine.error:
            refused = _refused(accepted, flags, engine)
            if refused is None:  # refused as a whole (too large): the RE2 set answers alone
                break
            del accepted[refused]
            continue
        rest = frozenset(range(len(regexes))) - frozenset(accepted)
        return _Hyperscan(database, engine.Scratch(database)), rest
    return None, frozenset(range(len(regexes)))


def _refused(accepted: dict[int, bytes], flags: int, engine: ModuleType) -> int | None:
    """The first pattern Hyperscan refuses on its own (the whole database is refused for any one of them)."""
    for index, expression in accepted.items():
        try:
            engine.Database(mode=engine.HS_MODE_BLOCK).compile(
                expressions=[expression], ids=[index], elements=1, flags=[flags])
        except engine.error:
            return index
    return None
