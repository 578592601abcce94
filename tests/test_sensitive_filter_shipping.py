"""Shipping the compiled pattern filter to other processes: a process that adopts the parent's Hyperscan database
finds exactly what a compiling one finds and compiles nothing; a blob that does not fit is refused and the filter
compiles as usual (``PatternFilter.dump``/``load``, the scanner's pool workers)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import cache

import pytest
import re2

from aicoe.engines.sensitive import analyzer as analyzer_module
from aicoe.engines.sensitive import prefilter, scanner
from aicoe.engines.sensitive.analyzer import Analyzer, _options
from tests.sensitive_corpus import generate

pytestmark = pytest.mark.skipif(prefilter.hyperscan is None, reason="hyperscan is not installed")


@cache
def _texts() -> tuple[str, ...]:
    return tuple(doc.text for doc in generate(300, seed=7))


@cache
def _shipped() -> tuple[bytes, tuple[list, ...]]:
    """The default filter dumped by a prepared analyzer, and that analyzer's findings on the corpus."""
    source = Analyzer()
    assert source.prepare("en") == "hyperscan"
    blob = source.dump_filter("en")
    assert blob is not None
    found = tuple(source.scan_text(text) for text in _texts())
    assert sum(map(len, found)) > 300
    return blob, found


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """No compiled database remembered in this process, as in a newly started worker."""
    monkeypatch.setattr(prefilter, "_compiles", {})


def _no_compile(*_: object) -> object:
    raise AssertionError("compiled although a database was adopted")


def test_an_adopted_database_finds_the_same_and_compiles_nothing(fresh: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blob, expected = _shipped()
    monkeypatch.setattr(prefilter, "_compile", _no_compile)
    started = prefilter.compiles_started()
    adopter = Analyzer()
    assert adopter.load_filter("en", blob) is True
    assert adopter.prepare("en") == "hyperscan"
    assert tuple(adopter.scan_text(text) for text in _texts()) == expected
    assert prefilter.compiles_started() == started
    assert Analyzer().prepare("en") == "hyperscan"  # shared with later filters of the same patterns
    assert prefilter.compiles_started() == started


def _corrupt(blob: bytes) -> bytes:
    middle = len(blob) // 2
    return blob[:middle] + bytes(byte ^ 0xFF for byte in blob[middle:middle + 64]) + blob[middle + 64:]


@pytest.mark.parametrize("damage", [_corrupt, lambda blob: blob[:-100], lambda blob: blob[:40], lambda _: b"",
                                    lambda blob: b"x" + blob[1:], lambda blob: blob[:8] + bytes(32) + blob[40:]],
                         ids=["corrupt-database", "truncated-database", "header-only", "empty", "bad-magic",
                              "other-patterns"])
def test_a_blob_that_does_not_load_leaves_the_filter_to_compile(fresh: None, damage: object) -> None:
    blob, expected = _shipped()
    started = prefilter.compiles_started()
    adopter = Analyzer()
    assert adopter.load_filter("en", damage(blob)) is False  # type: ignore[operator]
    assert adopter._plans["en"].filter._compiling is None  # nothing changed
    assert adopter.prepare("en") == "hyperscan"
    assert prefilter.compiles_started() == started + 1
    assert tuple(adopter.scan_text(text) for text in _texts()[:50]) == expected[:50]


def test_a_dump_of_other_patterns_is_refused(fresh: None) -> None:
    blob, _ = _shipped()
    other = prefilter.PatternFilter([r"(?m)\bREF-\d{4}\b"], _options())
    assert other.load(blob) is False
    assert other.matching(b"x REF-1234") == [0]


def test_without_hyperscan_there_is_nothing_to_ship(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    blob, _ = _shipped()
    monkeypatch.setattr(prefilter, "hyperscan", None)
    filter_ = prefilter.PatternFilter([r"(?m)\bREF-\d{4}\b"], re2.Options())
    assert filter_.dump() is None and filter_.load(blob) is False and filter_.engine == "re2"


@pytest.mark.parametrize(("damage", "compiles"), [(bytes, 0), (_corrupt, 1)], ids=["shipped", "corrupt"])
def test_a_pool_worker_adopts_the_shipped_filter(damage: object, compiles: int) -> None:
    """The scanner's worker start-up in a spawned process: it compiles only when the blob does not load."""
    blob, expected = _shipped()
    texts = list(_texts()[:40])
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=scanner._start_worker,
                             initargs=("en", damage(blob))) as pool:  # type: ignore[operator]
        assert pool.submit(prefilter.compiles_started).result() == compiles
        assert [pool.submit(analyzer_module.scan_text, text).result() for text in texts] == list(expected[:40])
