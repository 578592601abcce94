"""The pattern filter: Hyperscan and the RE2 set must name the same patterns, so findings never depend on which
one ran (``aicoe.engines.sensitive.prefilter``)."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import prefilter
from aicoe.engines.sensitive.analyzer import Analyzer, _encode, _multiline, _options
from aicoe.engines.sensitive.model import Pattern, PatternRecognizer
from aicoe.engines.sensitive.recognizers.identifiers import LANGUAGES
from tests.sensitive_corpus import generate

needs_hyperscan = pytest.mark.skipif(prefilter.hyperscan is None, reason="hyperscan is not installed")


@pytest.mark.parametrize(("regex", "expected"), [
    (r"[^\s:/]+", r"[^\t\n\f\r :/]+"),
    (r"a\sb", r"a[\t\n\f\r ]b"),
    (r"a\Sb", r"a[^\t\n\f\r ]b"),
    (r"x\vy", r"x\x0by"),
    (r"[[:alpha:]\s]", r"[[:alpha:]\t\n\f\r ]"),
    (r"[]\s]", r"[]\t\n\f\r ]"),
    (r"[^]\s]\s", r"[^]\t\n\f\r ][\t\n\f\r ]"),
    (r"\[\s\]", r"\[[\t\n\f\r ]\]"),
    (r"\b\d{9}\b", r"\b\d{9}\b"),
], ids=["negated-class", "outside-class", "not-space", "vertical-tab", "posix-class", "leading-bracket",
        "negated-leading-bracket", "escaped-brackets", "unchanged"])
def test_pcre_spells_re2_classes_out(regex: str, expected: str) -> None:
    assert prefilter.pcre(regex) == expected


@pytest.mark.parametrize("regex", [r"[\S]", r"\pL+", r"\QA.B\E", r"\C", r"a\z\Z"],
                         ids=["not-space-in-class", "unicode-class", "quoted", "any-byte", "end-anchors"])
def test_pcre_refuses_what_reads_differently(regex: str) -> None:
    assert prefilter.pcre(regex) is None


def _filters(language: str = "en") -> tuple[prefilter.PatternFilter, prefilter.PatternFilter]:
    plan = Analyzer()._plans[language]
    regexes = [_multiline(item.pattern.regex) for item in plan.compiled]
    fast = prefilter.PatternFilter(regexes, _options())
    assert fast.engine == "hyperscan"  # waits for the compile, so that Hyperscan answers from here on
    return fast, prefilter.PatternFilter(regexes, _options(), use_hyperscan=False)


@needs_hyperscan
def test_hyperscan_takes_every_default_pattern() -> None:
    fast, slow = _filters()
    assert (fast.engine, slow.engine) == ("hyperscan", "re2")
    assert fast._ready is not None and fast._ready[1] == frozenset()


@needs_hyperscan
@pytest.mark.parametrize("language", LANGUAGES)
def test_both_filters_name_the_same_patterns_on_the_corpus(language: str) -> None:
    fast, slow = _filters(language)
    docs = generate(300, seed=23)
    answers = [(fast.matching(_encode(doc.text)), slow.matching(_encode(doc.text))) for doc in docs]
    assert all(hyperscan_says == re2_says for hyperscan_says, re2_says in answers)
    assert sum(len(re2_says) for _, re2_says in answers) > 1000  # the corpus exercises the patterns


tricky = st.sampled_from(["4111 1111 1111 1111", "123-45-6789", "+44 20 7946 0018", "zoe@example.com",
                          "GB82 WEST 1234 5698 7654 32", "00:1A:2B:3C:4D:5E", "AKIAIOSFODNN7EXAMPLE",
                          "postgres://u:p@h/db", "password=hunter2;", "1990-05-17", "\u212a", "\u017f", "\x0b",
                          "é", "ß", "İ", "\n", " ", "-", ".", ":", "/", "@", "0x", "bc1", "ghp_", "eyJ"])
texts = st.lists(st.one_of(tricky, st.text(alphabet="0123456789 .-+()xeA@:/\n", max_size=12),
                           st.text(max_size=8)), max_size=16).map("".join)


@needs_hyperscan
@settings(max_examples=300, deadline=None)
@given(texts)
def test_both_filters_agree_on_generated_text(text: str) -> None:
    fast, slow = _default_filters()
    data = _encode(text)
    assert fast.matching(data) == slow.matching(data)


@cache
def _default_filters() -> tuple[prefilter.PatternFilter, prefilter.PatternFilter]:
    return _filters()


def _recognizer(regex: str) -> PatternRecognizer:
    return PatternRecognizer(name="custom", entity="CUSTOM", patterns=(Pattern("custom", regex, 0.9),),
                             category="personal")


@needs_hyperscan
def test_case_folding_beyond_ascii_agrees() -> None:
    # RE2 folds the Kelvin sign to "k" and the long s to "s"; Hyperscan must say the pattern occurs as well.
    analyzer = Analyzer([_recognizer(r"(?i)kelvins")])
    assert analyzer._plans["en"].filter.engine == "hyperscan"
    assert [(f.start, f.end) for f in analyzer.scan_text("Zero \u212aelvin\u017f, then")] == [(5, 12)]
    assert [(f.start, f.end) for f in analyzer.scan_text("Zero KELVINS")] == [(5, 12)]


@needs_hyperscan
def test_a_pattern_hyperscan_cannot_read_stays_with_re2() -> None:
    analyzer = Analyzer([_recognizer(r"\bID-\pL{3}\d{2}\b"), _recognizer_named("plain", r"\bREF-\d{4}\b")])
    plan = analyzer._plans["en"]
    assert plan.filter.engine == "hyperscan" and plan.filter._ready[1] == frozenset({0})
    found = analyzer.scan_text("ID-Ωμέ42 and REF-1234")
    assert [(f.entity, f.start, f.end) for f in found] == [("CUSTOM", 0, 8), ("PLAIN", 13, 21)]


def _recognizer_named(name: str, regex: str) -> PatternRecognizer:
    return PatternRecognizer(name=name, entity=name.upper(), patterns=(Pattern(name, regex, 0.9),),
                             category="personal")


@needs_hyperscan
def test_findings_do_not_depend_on_the_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = generate(150, seed=29)
    fast = Analyzer()
    assert fast.prepare() == "hyperscan"
    results_fast = [[(f, f.reason) for f in fast.scan_text(doc.text)] for doc in docs]
    monkeypatch.setattr(prefilter, "hyperscan", None)
    slow = Analyzer()
    assert slow.prepare() == "re2"
    results_slow = [[(f, f.reason) for f in slow.scan_text(doc.text)] for doc in docs]
    assert results_fast == results_slow
    assert sum(map(len, results_slow)) > 500


def test_an_empty_plan_matches_nothing() -> None:
    empty = prefilter.PatternFilter([], re2.Options())
    assert empty.matching(b"anything") == [] and empty.engine == "re2"


@needs_hyperscan
def test_the_re2_set_answers_while_hyperscan_compiles() -> None:
    regexes = [r"(?m)\bREF-\d{4}\b", r"(?m)\bID-[A-Z]{3}\b"]
    filter_ = prefilter.PatternFilter(regexes, _options())
    assert filter_._compiling is None
    first = filter_.matching(b"x REF-1234 y")  # starts the compile; answered either way
    assert filter_._compiling is not None and first == [0]
    assert filter_.engine == "hyperscan"
    assert filter_.matching(b"ID-ABC then REF-1234") == [0, 1] and filter_.matching(b"nothing") == []


def test_without_hyperscan_the_re2_set_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "hyperscan", None)
    filter_ = prefilter.PatternFilter([r"(?m)\bREF-\d{4}\b"], _options())
    assert filter_.matching(b"REF-1234") == [0] and filter_.engine == "re2" and filter_._compiling is None


_REF_PATTERNS = [r"(?m)\bREF-\d{4}\b", r"(?m)\bID-[A-Z]{3}\b"]


def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new process starts with: no database compiled or loaded yet."""
    monkeypatch.setattr(prefilter, "_compiles", {})


@needs_hyperscan
def test_a_compile_is_kept_and_the_next_process_answers_with_it_from_its_first_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache" / "aicoe"
    monkeypatch.setattr(prefilter, "_cache_dir", None)  # restored after the test
    prefilter.use_cache_dir(cache)
    _new_process(monkeypatch)
    started = prefilter.compiles_started()
    assert prefilter.PatternFilter(_REF_PATTERNS, _options()).engine == "hyperscan"
    prefilter._settle()  # the compile thread writes the file after handing over the database
    (kept,) = cache.iterdir()
    assert kept.name.startswith("hyperscan-") and kept.suffix == ".db" and cache.stat().st_mode & 0o777 == 0o700
    assert prefilter.compiles_started() == started + 1

    _new_process(monkeypatch)
    loaded = prefilter.PatternFilter(_REF_PATTERNS, _options())
    assert loaded.matching(b"see REF-1234") == [0]
    assert loaded._ready is not None and loaded._ready[0] is not None  # Hyperscan answered that first text
    assert prefilter.compiles_started() == started + 1
    other = prefilter.PatternFilter(_REF_PATTERNS[:1], _options())  # other patterns: their own file
    assert other.engine == "hyperscan" and prefilter.compiles_started() == started + 2
    prefilter._settle()
    assert len(list(cache.iterdir())) == 2


@needs_hyperscan
def test_a_damaged_kept_file_is_compiled_over_and_a_directory_others_may_write_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(prefilter, "_cache_dir", None)
    prefilter.use_cache_dir(cache)
    _new_process(monkeypatch)
    assert prefilter.PatternFilter(_REF_PATTERNS, _options()).engine == "hyperscan"
    prefilter._settle()
    (kept,) = cache.iterdir()
    whole = kept.read_bytes()
    kept.write_bytes(whole[: len(whole) // 2])
    _new_process(monkeypatch)
    started = prefilter.compiles_started()
    assert prefilter.PatternFilter(_REF_PATTERNS, _options()).engine == "hyperscan"
    prefilter._settle()
    assert prefilter.compiles_started() == started + 1 and kept.read_bytes() == whole  # compiled and kept again

    cache.chmod(0o777)
    _new_process(monkeypatch)
    assert prefilter.PatternFilter(_REF_PATTERNS, _options()).engine == "hyperscan"
    prefilter._settle()
    assert prefilter.compiles_started() == started + 2  # not loaded from there
    assert [p.name for p in cache.iterdir()] == [kept.name]  # nor written


@needs_hyperscan
def test_a_short_process_waits_at_exit_to_keep_its_compile_and_the_next_starts_with_it(tmp_path: Path) -> None:
    probe = ("import sys; from aicoe.engines.sensitive import prefilter; "
             "from aicoe.engines.sensitive.analyzer import Analyzer; prefilter.use_cache_dir(sys.argv[1]); "
             "a = Analyzer(); a.scan_text('mail zoe@example.com'); "
             "print(prefilter.compiles_started(), a._plans['en'].filter._ready is not None)")
    runs = [subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert [run.stdout.split() for run in runs] == [["1", "False"], ["0", "True"]]
