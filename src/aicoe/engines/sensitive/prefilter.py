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

A compiled database travels: :meth:`PatternFilter.dump` serialises it (about 1.4 MB for the default patterns,
under a millisecond) and :meth:`PatternFilter.load` adopts it in another process (pool workers, Ray tasks) in well
under a millisecond instead of compiling for a second. The blob names the patterns it was compiled from (a
SHA-256 of them) and the ones left to the RE2 set; a blob for other patterns, a corrupt one, or one Hyperscan
refuses here (another Hyperscan build or CPU) is not adopted, and the filter compiles as it would have.

It also outlives the process when :func:`use_cache_dir` names a directory: a compile is written there, and the
next process (a CLI run, a restarted server or gateway worker) loads it on its first text instead of compiling,
so it runs at full speed from the start rather than on the RE2 set for a second.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import struct
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, wait
from pathlib import Path
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

    def dump(self) -> bytes | None:
        """The Hyperscan database, serialised for :meth:`load` in another process; waits for the compile. None
        when there is none (Hyperscan missing or refusing every pattern: the RE2 set answers alone)."""
        if self.engine != "hyperscan":
            return None
        fast, rest = self._ready  # type: ignore[misc]
        return _serialise(self._regexes, fast, rest)  # type: ignore[arg-type]

    def load(self, blob: bytes) -> bool:
        """Adopt the database another filter with the same patterns dumped, instead of compiling one; it is shared,
        like a compiled one, by every filter with these patterns in this process. True when this filter answers
        with a Hyperscan database (this one, or one it already had); False, with nothing changed, when the blob
        does not load here."""
        if self._ready is not None and self._ready[0] is not None:
            return True
        if not self._wanted or (built := _deserialise(self._regexes, blob, hyperscan)) is None:
            return False
        loaded: Future[_Built] = Future()
        loaded.set_result(built)
        with _compiles_lock:
            _keep(self._regexes, loaded)
        self._compiling, self._ready, self._wanted = loaded, built, False
        return True

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

    def dump(self, engine: ModuleType) -> bytes:
        return engine.dumpb(self._database)

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
# Hyperscan compiles started in this process: a worker that adopted a shipped database shows none.
_compiles_started = 0
# A dumped filter: magic, SHA-256 of the patterns, how many are left to the RE2 set; their indices; the database.
_BLOB_MAGIC = b"aicoehs1"
_BLOB_HEAD = struct.Struct("<8s32sI")


# Where compiled databases are kept for later processes (see use_cache_dir); None: nowhere.
_cache_dir: Path | None = None
# The compile threads this process started, and whether exit waits for them (at most SETTLE_S each).
_compile_threads: list[threading.Thread] = []
_settle_at_exit = threading.Event()
SETTLE_S = 30.0


def compiles_started() -> int:
    """How many Hyperscan compiles this process has started (each about a second of a core)."""
    return _compiles_started


def use_cache_dir(directory: str | os.PathLike[str] | None) -> None:
    """Keep compiled databases in ``directory`` (created on first write, readable by this user only) and load
    them from there instead of compiling; None keeps none. Best effort: a file that does not load (other patterns,
    another Hyperscan build or CPU, damage) is compiled over, and a directory that cannot be written, or that other
    users may write to (a database is loaded without further checks), is not used.

    A process that ends while a compile runs (a short CLI run) waits for it at exit, once, so that the next one
    finds it kept."""
    global _cache_dir
    _cache_dir = None if directory is None else Path(directory)
    if _cache_dir is not None and not _settle_at_exit.is_set():
        _settle_at_exit.set()
        atexit.register(_settle)


def _settle() -> None:
    for thread in list(_compile_threads):
        thread.join(SETTLE_S)


def _fingerprint(regexes: tuple[str, ...]) -> bytes:
    """The patterns and what Hyperscan is given for them: a blob from code that translates them otherwise (an
    older or newer version on another Ray node) is not taken for a database of these patterns."""
    digest = hashlib.sha256()
    for regex in regexes:
        for text in (regex, pcre(regex) or ""):
            encoded = text.encode("utf-8", "surrogatepass")
            digest.update(struct.pack("<Q", len(encoded)) + encoded)
    return digest.digest()


def _serialise(regexes: tuple[str, ...], fast: _Hyperscan, rest: frozenset[int]) -> bytes:
    head = _BLOB_HEAD.pack(_BLOB_MAGIC, _fingerprint(regexes), len(rest))
    return head + struct.pack(f"<{len(rest)}I", *sorted(rest)) + fast.dump(hyperscan)


def _deserialise(regexes: tuple[str, ...], blob: bytes, engine: ModuleType | None) -> _Built | None:
    """The database ``blob`` holds, with a scratch space (Hyperscan checks the database fits this CPU there),
    or None when it is not a dump of these patterns or does not load."""
    if engine is None or len(blob) < _BLOB_HEAD.size:
        return None
    magic, fingerprint, rest_count = _BLOB_HEAD.unpack_from(blob)
    start = _BLOB_HEAD.size + 4 * rest_count
    if magic != _BLOB_MAGIC or fingerprint != _fingerprint(regexes) or len(blob) <= start:
        return None
    rest = frozenset(struct.unpack_from(f"<{rest_count}I", blob, _BLOB_HEAD.size))
    if not rest <= frozenset(range(len(regexes))):
        return None
    try:
        database = engine.loadb(blob[start:], engine.HS_MODE_BLOCK)
        scratch = engine.Scratch(database)
    except engine.error:
        return None
    return _Hyperscan(database, scratch), rest


def _compile_in_background(regexes: tuple[str, ...]) -> Future[_Built]:
    """The database for ``regexes``: one this process has (or is compiling), one kept by an earlier process, or a
    compile started in a background thread."""
    global _compiles_started
    with _compiles_lock:
        compiling = _compiles.get(regexes)
        if compiling is None:
            compiling = Future()
            _keep(regexes, compiling)
            kept = _load_kept(regexes)
            if kept is not None:
                compiling.set_result(kept)
                return compiling
            _compiles_started += 1
            thread = threading.Thread(target=_run, args=(compiling, regexes, hyperscan), name="hyperscan-compile",
                                      daemon=True)
            _compile_threads.append(thread)
            thread.start()
    return compiling


def _kept_file(regexes: tuple[str, ...]) -> Path | None:
    """Where a database of ``regexes`` is kept: named by the Hyperscan version and the patterns' fingerprint."""
    if _cache_dir is None or hyperscan is None:
        return None
    version = getattr(hyperscan, "__version__", "0")
    return _cache_dir / f"hyperscan-{version}-{_fingerprint(regexes).hex()[:32]}.db"


def _private(directory: Path) -> bool:
    """Owned by this user and writable by no one else."""
    try:
        info = directory.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def _load_kept(regexes: tuple[str, ...]) -> _Built | None:
    path = _kept_file(regexes)
    if path is None or not _private(path.parent):
        return None
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    return _deserialise(regexes, blob, hyperscan)


def _store_kept(regexes: tuple[str, ...], built: _Built) -> None:
    """Write the compiled database where the next process finds it: whole or not at all (a temporary file renamed
    over the old one), so a concurrent reader never sees half a file."""
    path, (fast, rest) = _kept_file(regexes), built
    if path is None or fast is None:
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(path.parent):
            return
        file = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False)
    except OSError:
        return
    temporary = Path(file.name)
    try:
        with file:
            file.write(_serialise(regexes, fast, rest))
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)


def _keep(regexes: tuple[str, ...], built: Future[_Built]) -> None:
    """Remember ``built`` for these patterns, forgetting the oldest past ``_COMPILED_KEPT`` (hold the lock)."""
    _compiles.pop(regexes, None)
    if len(_compiles) >= _COMPILED_KEPT:
        del _compiles[next(iter(_compiles))]
    _compiles[regexes] = built


def _run(compiling: Future[_Built], regexes: tuple[str, ...], engine: ModuleType) -> None:
    try:
        built = _compile(regexes, engine)
    except Exception as exc:  # reported through the future (the RE2 set keeps answering); a later filter retries
        with _compiles_lock:
            if _compiles.get(regexes) is compiling:
                del _compiles[regexes]
        compiling.set_exception(exc)
        return
    compiling.set_result(built)
    _store_kept(regexes, built)


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
