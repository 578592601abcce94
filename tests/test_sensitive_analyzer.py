"""The analyzer's contract: resolution of overlaps, filters, context scoring, batch scanning, the NER plug-in,
errors, and bounded work on adversarial input."""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import analyzer as an
from aicoe.engines.sensitive import context as ctx
from aicoe.engines.sensitive.analyzer import Analyzer
from aicoe.engines.sensitive.model import Finding, Pattern, PatternRecognizer, Reason
from aicoe.engines.sensitive.ner import NER_ENTITIES, UNKNOWN_NER_ENTITY, NerRecognizer, SpacyNer, ner_finding
from aicoe.engines.sensitive.recognizers import identifiers
from tests.test_sensitive_validators import cards, emails, group_card, ibans, ipv4s, ssns

IDENTIFIERS = Analyzer(identifiers.RECOGNIZERS)


def recognizer(name: str, regex: str, score: float, **options: object) -> PatternRecognizer:
    return PatternRecognizer(name=name, entity=name.upper(), patterns=(Pattern(name, regex, score),),
                             category="personal", **options)  # type: ignore[arg-type]


def spans(findings: list[Finding]) -> list[tuple[str, int, int, float]]:
    return [(f.entity, f.start, f.end, f.score) for f in findings]


def test_overlaps_higher_score_wins_then_longer() -> None:
    four = recognizer("four", r"\d{4}", 0.6)
    dashed = recognizer("dashed", r"\d{2}-\d{4}", 0.6)
    assert spans(Analyzer([four, dashed]).scan_text("x 12-3456 y")) == [("DASHED", 2, 9, 0.6)]
    two = recognizer("two", r"\d{2}", 0.9)
    assert spans(Analyzer([four, dashed, two]).scan_text("x 12-3456 y")) == [
        ("TWO", 2, 4, 0.9), ("TWO", 5, 7, 0.9), ("TWO", 7, 9, 0.9)]


def test_findings_sorted_by_start_and_adjacent_ones_kept() -> None:
    word = recognizer("word", r"[a-z]{3}", 0.7)
    digits = recognizer("digits", r"\d{3}", 0.9)
    assert spans(Analyzer([word, digits]).scan_text("abc123def456")) == [
        ("WORD", 0, 3, 0.7), ("DIGITS", 3, 6, 0.9), ("WORD", 6, 9, 0.7), ("DIGITS", 9, 12, 0.9)]


def test_min_score_and_entity_filters() -> None:
    weak, strong = recognizer("weak", r"w\d", 0.4), recognizer("strong", r"s\d", 0.8)
    analyzer = Analyzer([weak, strong])
    assert spans(analyzer.scan_text("w1 s2")) == [("STRONG", 3, 5, 0.8)]
    assert spans(analyzer.scan_text("w1 s2", min_score=0.4)) == [("WEAK", 0, 2, 0.4), ("STRONG", 3, 5, 0.8)]
    assert spans(analyzer.scan_text("w1 s2", min_score=0.4, entities=["WEAK"])) == [("WEAK", 0, 2, 0.4)]
    assert analyzer.scan_text("w1 s2", entities=[]) == []
    assert analyzer.entities == ("STRONG", "WEAK")


def test_a_filtered_out_entity_does_not_hide_another() -> None:
    long = recognizer("long", r"\d{6}", 0.9)
    short = recognizer("short", r"\d{3}", 0.6)
    assert spans(Analyzer([long, short]).scan_text("123456", entities=["SHORT"])) == [
        ("SHORT", 0, 3, 0.6), ("SHORT", 3, 6, 0.6)]


def test_errors_are_exact() -> None:
    analyzer = Analyzer([recognizer("one", "1", 0.5)])
    with pytest.raises(ValueError) as exc:
        analyzer.scan_text("1", entities=["NOPE"])
    assert str(exc.value) == "unknown entity type 'NOPE'; supported: ONE"
    with pytest.raises(ValueError) as exc:
        analyzer.scan_text("1", language="xx")
    assert str(exc.value) == "unsupported language 'xx'; supported: en"
    with pytest.raises(ValueError) as exc:
        analyzer.scan_text("1", min_score=1.5)
    assert str(exc.value) == an.BAD_MIN_SCORE.format(value=1.5) == "min_score must be between 0 and 1, got 1.5"
    with pytest.raises(ValueError) as exc:
        Analyzer([recognizer("one", "1", 0.5), recognizer("one", "2", 0.5)])
    assert str(exc.value) == "two recognisers are named 'one'"
    with pytest.raises(re2.error) as compile_error:
        re2.compile("(?m)a(?=b)")
    with pytest.raises(ValueError) as exc:
        Analyzer([recognizer("look", "a(?=b)", 0.5)])
    assert str(exc.value) == f"recogniser 'look', pattern 'look': {compile_error.value}"


def test_languages_select_recognizers() -> None:
    german = recognizer("german", r"\d", 0.5, languages=("de",))
    english = recognizer("english", r"[a-z]", 0.5)
    analyzer = Analyzer([german, english])
    assert analyzer.languages == ("de", "en")
    assert spans(analyzer.scan_text("a1", language="de")) == [("GERMAN", 1, 2, 0.5)]
    assert spans(analyzer.scan_text("a1")) == [("ENGLISH", 0, 1, 0.5)]
    assert IDENTIFIERS.languages == ("de", "en", "es", "fr", "it", "nl", "pt")


CONTEXT = recognizer("code", r"\bC\d{4}\b", 0.6, context=("account number", "acct"), negative_context=("test",))


@pytest.mark.parametrize(("text", "score", "words"), [
    ("C1234", 0.6, ()),
    ("acct C1234", 0.85, ("acct",)),
    ("accts: C1234", 0.85, ("acct",)),  # a trailing "s" on the text's word counts
    ("your Account-Number is C1234", 0.85, ("account number",)),
    ("C1234 is the acct", 0.85, ("acct",)),  # up to three words after
    ("C1234 one two three acct", 0.6, ()),  # four words after: too far
    ("acct one two three four five six C1234", 0.6, ()),  # seven words before: too far
    ("acct one two three four five C1234", 0.85, ("acct",)),
    ("acct\nC1234", 0.6, ()),  # context never crosses a line break
    ("account C1234 number", 0.6, ()),  # a phrase does not span the value
    ("acct test C1234", 0.6, ("acct", "test")),
    ("bacct C1234", 0.6, ()),  # whole words only
])
def test_context_moves_scores_exactly(text: str, score: float, words: tuple[str, ...]) -> None:
    found = Analyzer([CONTEXT]).scan_text(text, min_score=0.0)
    assert [(f.score, f.reason.context) for f in found] == [(score, words)]


def test_negative_context_lowers_below_the_threshold() -> None:
    analyzer = Analyzer([CONTEXT])
    assert analyzer.scan_text("test C1234") == []
    assert [(f.score, f.reason.context) for f in analyzer.scan_text("test C1234", min_score=0.3)] == [
        (0.35, ("test",))]


def test_extra_context_counts_near_every_value() -> None:
    analyzer = Analyzer([CONTEXT])
    found = analyzer.scan_texts(["C1234", "x C1234 y"], extra_context=["customerAcct_id"])
    assert [[(f.score, f.reason.context) for f in row] for row in found] == [[(0.85, ("acct",))], [(0.85, ("acct",))]]
    assert ctx.split_words("customerAcct_ID2") == ("customer", "acct", "id2")
    assert ctx.split_words("HTTPServer-Name") == ("http", "server", "name")


def test_required_context() -> None:
    analyzer = Analyzer([recognizer("dob", r"\d{4}-\d{2}-\d{2}", 0.6, context=("born",), requires_context=True)])
    assert analyzer.scan_text("1990-01-02") == []
    assert spans(analyzer.scan_text("born 1990-01-02")) == [("DOB", 5, 15, 0.85)]
    assert spans(analyzer.scan_text("1990-01-02", extra_context=["born"])) == [("DOB", 0, 10, 0.85)]


def test_no_match_crosses_a_line_break() -> None:
    spaced = recognizer("spaced", r"a\s{1,3}b|c[^x]{1,3}d", 0.6)
    assert spans(Analyzer([spaced]).scan_text("a\nb c\nd a b")) == [("SPACED", 8, 11, 0.6)]


def test_groups_and_line_anchors() -> None:
    grouped = PatternRecognizer(name="kv", entity="KV", category="credential",
                                patterns=(Pattern("kv", r"^key=(\w{1,10})$", 0.9, group=1),))
    assert spans(Analyzer([grouped]).scan_text("x\nkey=abc\nkey=de f")) == [("KV", 6, 9, 0.9)]


def test_offsets_are_string_offsets_in_non_ascii_text() -> None:
    text = "Zoë 😀 née Ångström: zoe@example.com — ☎ +44 20 7946 0018\nß 123-45-6789"
    found = IDENTIFIERS.scan_text(text)
    assert [(f.entity, text[f.start:f.end]) for f in found] == [
        ("EMAIL_ADDRESS", "zoe@example.com"), ("PHONE_NUMBER", "+44 20 7946 0018"), ("US_SSN", "123-45-6789")]


def test_lone_surrogates_do_not_break_offsets() -> None:
    text = "\ud800 x 123-45-6789"
    assert [(f.entity, f.start, f.end) for f in IDENTIFIERS.scan_text(text)] == [("US_SSN", 4, 15)]


identifier_values = st.one_of(emails, ssns().map(lambda d: f"{d[:3]}-{d[3:5]}-{d[5:]}"), cards().map(group_card),
                              ibans(), ipv4s)
pieces = st.one_of(identifier_values, st.sampled_from(["ssn", "card", "email", "lorem", "ipsum", "\n", " ", ", "]),
                   st.text(max_size=6))
texts = st.lists(pieces, max_size=12).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(st.lists(texts, max_size=8), st.sampled_from([(), ("ssn",), ("card", "number")]))
def test_batch_equals_one_text_at_a_time(batch: list[str], extra: tuple[str, ...]) -> None:
    assert IDENTIFIERS.scan_texts([]) == []
    together = IDENTIFIERS.scan_texts(batch, extra_context=extra)
    alone = [IDENTIFIERS.scan_text(text, extra_context=extra) for text in batch]
    assert [[(f, f.reason) for f in row] for row in together] == [[(f, f.reason) for f in row] for row in alone]


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=())), st.floats(0.0, 1.0))
def test_arbitrary_text_never_raises_and_findings_are_well_formed(text: str, min_score: float) -> None:
    found = IDENTIFIERS.scan_text(text, min_score=min_score)
    for finding in found:
        assert 0 <= finding.start < finding.end <= len(text)
        assert "\n" not in text[finding.start:finding.end]
        assert finding.score >= min_score
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))


@settings(max_examples=80, deadline=None)
@given(texts)
def test_found_values_are_what_the_recogniser_accepts(text: str) -> None:
    by_name = {r.name: r for r in identifiers.RECOGNIZERS}
    for finding in IDENTIFIERS.scan_text(text):
        validator = by_name[finding.reason.recognizer].validator
        assert validator is None or validator(text[finding.start:finding.end])


def test_adversarial_megabyte_inputs_do_bounded_work() -> None:
    # No pattern can start inside an unbroken run of digits or of "a@" (no word boundary, no dot).
    assert IDENTIFIERS.candidate_count("1" * 10**6) == 0
    assert IDENTIFIERS.candidate_count("a@" * 500_000) == 0
    # Runs of 19 digits: exactly one candidate each (the 13-19 digit card pattern), none valid.
    runs = ("1" * 19 + " ") * 50_000
    assert IDENTIFIERS.candidate_count(runs) == 50_000
    assert IDENTIFIERS.scan_text(runs) == []
    assert IDENTIFIERS.scan_text("1" * 10**6) == []


@settings(max_examples=100, deadline=None)
@given(texts)
def test_the_pattern_set_prefilter_drops_no_candidate(text: str) -> None:
    options = re2.Options()
    options.never_nl = True
    expected = sum(1 for r in identifiers.RECOGNIZERS if "en" in r.languages for p in r.patterns
                   for m in re2.compile("(?m)" + p.regex, options).finditer(text) if m.end(p.group) > m.start(p.group))
    assert IDENTIFIERS.candidate_count(text) == expected


@settings(max_examples=60, deadline=None)
@given(st.text("0123456789 -.:@/+()abfxABF", min_size=1, max_size=12))
def test_candidates_grow_linearly_with_repetition(unit: str) -> None:
    small = unit * (4000 // len(unit))
    count = IDENTIFIERS.candidate_count(small)
    patterns = sum(len(r.patterns) for r in identifiers.RECOGNIZERS)
    assert IDENTIFIERS.candidate_count(small * 4) <= 4 * count + patterns
    assert count <= len(small)


@dataclass
class FakeNer:
    """A test double at our own plug-in boundary: tags every "Alice" as a PERSON."""

    entities: tuple[str, ...] = ("PERSON",)
    calls: int = 0

    def find(self, text: str, *, language: str) -> list[Finding]:
        self.calls += 1
        found, at = [], text.find("Alice")
        while at != -1:
            found.append(ner_finding("PERSON", at, at + 5, 0.85, f"fake:{language}"))
            at = text.find("Alice", at + 1)
        return found


def test_ner_findings_are_merged_filtered_and_resolved() -> None:
    ner = FakeNer()
    assert isinstance(ner, NerRecognizer)
    analyzer = Analyzer(identifiers.RECOGNIZERS, ner=ner)
    assert "PERSON" in analyzer.entities
    text = "Alice wrote to alice@example.com"
    assert [(f.entity, f.start, f.end, f.category, f.reason) for f in analyzer.scan_text(text)] == [
        ("PERSON", 0, 5, "personal", Reason("ner", "fake:en")),
        ("EMAIL_ADDRESS", 15, 32, "contact", Reason("email", "email", "email_address", ()))]
    assert spans(analyzer.scan_text(text, entities=["PERSON"])) == [("PERSON", 0, 5, 0.85)]
    assert analyzer.scan_text(text, min_score=0.9) == [analyzer.scan_text(text)[1]]
    rows = analyzer.scan_texts(["x Alice", "Alice"])
    assert [spans(row) for row in rows] == [[("PERSON", 2, 7, 0.85)], [("PERSON", 0, 5, 0.85)]]


def test_ner_span_outside_the_text_is_an_error() -> None:
    class Broken(FakeNer):
        def find(self, text: str, *, language: str) -> list[Finding]:
            return [ner_finding("PERSON", 0, len(text) + 1, 0.9, "broken")]

    with pytest.raises(ValueError) as exc:
        Analyzer([], ner=Broken()).scan_text("abc")
    assert str(exc.value) == "NER finding span 0..4 lies outside the text (length 3)"


@dataclass
class _Ent:
    label_: str
    start_char: int
    end_char: int


@dataclass
class _Doc:
    ents: list[_Ent]


def test_spacy_adapter_maps_labels() -> None:
    def nlp(text: str) -> _Doc:  # stands in for a loaded spaCy pipeline: only .ents is read
        return _Doc([_Ent("PERSON", 0, 5), _Ent("GPE", 15, 21), _Ent("DATE", 25, 29), _Ent("ORG", 33, 37)])

    adapter = SpacyNer(nlp)
    assert adapter.entities == NER_ENTITIES
    found = Analyzer([], ner=adapter).scan_text("Alice lives in Berlin in 2024 at ACME")
    assert [(f.entity, f.start, f.end, f.score, f.reason.pattern) for f in found] == [
        ("PERSON", 0, 5, 0.85, "spacy:PERSON"), ("LOCATION", 15, 21, 0.85, "spacy:GPE"),
        ("ORGANIZATION", 33, 37, 0.85, "spacy:ORG")]
    assert SpacyNer(nlp, labels={"PERSON": "PERSON"}).entities == ("PERSON",)
    with pytest.raises(ValueError) as exc:
        SpacyNer(nlp, labels={"DATE": "DATE"})
    assert str(exc.value) == UNKNOWN_NER_ENTITY.format(entity="DATE")


def test_module_level_scan_uses_the_default_analyzer() -> None:
    assert an.default_analyzer() is an.default_analyzer()
    found = an.scan_text("mail john@example.com, key AKIAIOSFODNN7EXAMPLE")
    assert [f.entity for f in found] == ["EMAIL_ADDRESS", "AWS_ACCESS_KEY_ID"]
    assert an.scan_texts(["john@example.com"], entities=["EMAIL_ADDRESS"]) == [
        [Finding("EMAIL_ADDRESS", 0, 16, 0.9, "contact", "medium", Reason("email", "email", "email_address"))]]
    assert an.DEFAULT_MIN_SCORE == 0.5


def test_an_analyzer_pickles_for_worker_processes() -> None:
    text = "tel +44 20 7946 0018, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE"
    copy = pickle.loads(pickle.dumps(an.default_analyzer()))
    assert copy.recognizers == an.default_analyzer().recognizers
    found = copy.scan_text(text)
    assert [(f, f.reason) for f in found] == [(f, f.reason) for f in an.scan_text(text)]
    assert [f.entity for f in found] == ["PHONE_NUMBER", "CREDIT_CARD", "AWS_ACCESS_KEY_ID"]
