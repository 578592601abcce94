"""The engine's shortcuts must not change what it finds: distinct column values scanned once, the context memo,
byte-to-character offsets in non-ASCII text, the ASCII word split."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import context as ctx
from aicoe.engines.sensitive import tables
from aicoe.engines.sensitive.analyzer import default_analyzer

POOL = ["4111 1111 1111 1111", "ssn 123-45-6789 and 078-05-1120", "zoe@example.com", "call +44 20 7946 0018",
        "nothing here", "", "Zoë née Ångström 123-45-6789", "4111-1111-1111-1112"]


def _one_by_one(values: list[str | None], name: str) -> list[tuple[int, object, object]]:
    analyzer = default_analyzer()
    return [(row, finding, finding.reason) for row, value in enumerate(values) if value is not None
            for finding in analyzer.scan_text(value, extra_context=(name,))]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(POOL), st.text(max_size=12)), max_size=40),
       st.sampled_from(["notes", "card_number", "ssn"]))
def test_a_column_finds_what_its_cells_find_alone(values: list[str | None], name: str) -> None:
    located = tables.scan_strings(pa.array(values, type=pa.string()), context=(name,))
    assert [(row, f, f.reason) for row, f in located] == _one_by_one(values, name)


def test_repeated_values_are_scanned_once_and_counted_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [POOL[1], None, POOL[0], POOL[1], POOL[1], POOL[4], POOL[0]]
    scanned: list[int] = []
    analyzer = default_analyzer()
    original = analyzer.scan_spans

    def counting(text: str, **options: object) -> object:
        scanned.append(text.count("\n") + 1)
        return original(text, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(analyzer, "scan_spans", counting)
    scan = tables.scan_batch(pa.table({"notes": pa.array(values, type=pa.string())}), analyzer=analyzer)
    assert scanned == [3]  # three distinct values among six
    assert [(cell.row, cell.finding.entity) for cell in scan.findings] == [
        (0, "US_SSN"), (2, "CREDIT_CARD"), (3, "US_SSN"), (4, "US_SSN"), (6, "CREDIT_CARD")]
    profile = scan.columns["notes"]
    assert (profile.non_null, profile.occurrences, profile.rows) == (
        6, {"CREDIT_CARD": 2, "US_SSN": 3}, {"CREDIT_CARD": 2, "US_SSN": 3})


def test_profiles_count_occurrences_and_rows_apart() -> None:
    values = ["123-45-6789 / 234-56-7890", "zoe@example.com", "123-45-6789", "x"]
    profile = tables.scan_batch(pa.table({"text": values})).columns["text"]
    assert (profile.occurrences, profile.rows) == ({"EMAIL_ADDRESS": 1, "US_SSN": 3}, {"EMAIL_ADDRESS": 1,
                                                                                       "US_SSN": 2})


def test_the_context_memo_stays_bounded_and_answers_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx, "MEMO_SIZE", 2)
    rule = ctx.ContextRule.build(("phone", "call"), ("order",), 0.25)
    windows = [" my phone | ", " order | x ", " calls | ", " nothing | ", " my phone | "]
    answers = [rule.found(window) for window in windows]
    assert len(rule._memo) <= 2
    assert answers == [ctx.ContextRule.build(("phone", "call"), ("order",), 0.25).found(w) for w in windows]
    assert answers == [(("phone",), ()), ((), ("order",)), (("call",), ()), ((), ()), (("phone",), ())]


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(min_codepoint=0x80, max_codepoint=0x2FFFF, exclude_categories=("Cs",)), max_size=20),
       st.text(max_size=8))
def test_offsets_in_non_ascii_text_are_character_offsets(prefix: str, between: str) -> None:
    text = f"{prefix} 123-45-6789 {between}\n{prefix}zoe@example.com"
    found = [(f.entity, f.start, f.end) for f in default_analyzer().scan_text(text)]
    email_at = text.rindex("zoe@example.com")
    assert ("US_SSN", len(prefix) + 1, len(prefix) + 12) in found
    assert ("EMAIL_ADDRESS", email_at, email_at + 15) in found


_RULE_WORDS = ("access key", "token", "secret", "api")
_RULE_NEGATIVE = ("example", "test")
_WORDS = st.sampled_from(["access", "key", "keys", "Token", "tokens", "SECRET", "apis", "example", "Test", "x",
                          "AccessKey", "xtoken", "|", "é", "\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=12), st.lists(_WORDS, max_size=6), st.sampled_from([" ", "", "_", ":"]),
       st.lists(st.sampled_from(["", "secret", "test", "order", "apiKey"]), max_size=2))
def test_positive_only_windows_find_the_same_positive_words(before: list[str], after: list[str], gap: str,
                                                            extra_words: list[str]) -> None:
    rule = ctx.ContextRule.build(_RULE_WORDS, _RULE_NEGATIVE, 0.25)
    left = " ".join(before) + gap
    text = left + "V4LU3" + gap + " ".join(after)
    extra = ctx.extra_words(extra_words)
    alone = rule.found(" | " + extra)
    full = rule.near(text, len(left), len(left) + 5, extra, alone)
    assert rule.near(text, len(left), len(left) + 5, extra, alone, positive_only=True)[0] == full[0]


def test_one_cue_pass_tells_which_recognisers_have_context_words() -> None:
    plan = default_analyzer()._plans["en"]
    assert {"phone_en", "email"} <= plan.cued(b"Call me or e-mail")
    assert "us_ssn" not in plan.cued(b"Call me or e-mail")
    assert plan.cued(b"\x00\x01 42 = ;") == frozenset()


_WORD_DEFINITION = re.compile(r"[^\W_]+")
_CAMEL_DEFINITION = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@settings(max_examples=600)
@given(st.text(alphabet=st.sampled_from("aZbYcX09 _-.:/\t\x1cİKßé"), max_size=24) | st.text(max_size=24))
def test_split_words_is_its_definition(text: str) -> None:
    """The ASCII path (byte tables, no regex) gives the regex definition's words, camelCase splits included."""
    assert ctx.split_words(text) == tuple(_WORD_DEFINITION.findall(_CAMEL_DEFINITION.sub(" ", text).lower()))


def test_split_words_ascii_examples() -> None:
    assert ctx.split_words("Payment for 4111: Laura MENDES, contact_phone") == (
        "payment", "for", "4111", "laura", "mendes", "contact", "phone")
    assert ctx.split_words("apiKeyID=abcXYZ2") == ("api", "key", "id", "abc", "xyz2")
