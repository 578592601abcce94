"""The table-driven hot validators (Luhn, card brand, US SSN, separator stripping) against plain reference
implementations written here from their definitions, on generated inputs of every relevant length and at every
issuer range's edges."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import validators as v


def reference_luhn(digits: str) -> bool:
    """Textbook Luhn: from the rightmost digit, double every second digit, subtract 9 above 9, sum, mod 10."""
    if not digits or any(char not in "0123456789" for char in digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def reference_card_brand(digits: str) -> str | None:
    """The first brand in the table whose lengths hold len(digits) and one of whose prefix ranges holds the
    number formed by as many leading digits as the range's bounds have."""
    for brand, ranges, lengths in v.CARD_BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            if low <= int(digits[:len(str(low))]) <= high:
                return brand
    return None


def reference_digits(value: str, separators: str) -> str | None:
    kept = "".join(char for char in value if char not in separators)
    return kept if kept and all(char in "0123456789" for char in kept) else None


def reference_ssn(value: str) -> bool:
    digits = reference_digits(value, " -./")
    if digits is None or len(digits) != 9 or digits in ("078051120", "219099999"):
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return area != 0 and area != 666 and not 900 <= area <= 999 and group != 0 and serial != 0


digit_strings = st.text(alphabet="0123456789", min_size=0, max_size=25)
# Every issuer range's bounds and their neighbours, as prefixes of numbers of every card length.
_EDGES = sorted({str(bound + delta).zfill(len(str(low)))
                 for _, ranges, _ in v.CARD_BRANDS for low, high in ranges for bound in (low, high)
                 for delta in (-1, 0, 1) if bound + delta >= 0})


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(12, 19))
    prefix = draw(st.sampled_from(_EDGES) | st.text(alphabet="0123456789", min_size=1, max_size=6))[:length]
    return prefix + draw(st.text(alphabet="0123456789", min_size=length - len(prefix),
                                 max_size=length - len(prefix)))


@settings(max_examples=2000)
@given(digit_strings)
@example("")
@example("0")
@example("79927398713")
def test_luhn_matches_the_textbook_check(digits: str) -> None:
    assert v.luhn(digits) is reference_luhn(digits)


@given(st.text(alphabet="0123456789 -a٣²", max_size=20))
def test_luhn_refuses_what_is_not_ascii_digits_as_the_reference_does(value: str) -> None:
    assert v.luhn(value) is reference_luhn(value)


@settings(max_examples=3000)
@given(card_numbers() | digit_strings.filter(lambda digits: len(digits) >= 6))
def test_card_brand_matches_the_successive_checks(digits: str) -> None:
    assert v.card_brand(digits) == reference_card_brand(digits)


def test_card_brand_at_every_range_edge_for_every_length() -> None:
    for length in range(12, 20):
        for edge in _EDGES:
            for filler in "09":
                digits = (edge + filler * length)[:length]
                assert v.card_brand(digits) == reference_card_brand(digits), digits


@settings(max_examples=2000)
@given(st.text(alphabet="0123456789 -./x\u00e9\u0663", max_size=24))
def test_digits_strip_separators_as_the_reference(value: str) -> None:
    assert v._digits(value) == reference_digits(value, " -./")
    assert v._digits(value, b" -") == reference_digits(value, " -")


def test_digits_refuse_a_lone_surrogate() -> None:
    assert v._digits("12\ud80034") is None


@settings(max_examples=2000)
@given(st.text(alphabet="0123456789", min_size=9, max_size=9)
       | st.builds("{}-{}-{}".format, st.sampled_from(["000", "001", "665", "666", "667", "899", "900", "999"]),
                   st.sampled_from(["00", "01", "99"]), st.sampled_from(["0000", "0001", "9999"]))
       | st.text(alphabet="0123456789 -", max_size=12))
@example("078-05-1120")
@example("219-09-9999")
def test_us_ssn_matches_the_rules(value: str) -> None:
    assert v.us_ssn(value) is reference_ssn(value)


@settings(max_examples=1000)
@given(card_numbers(), st.sampled_from(["", " ", "-"]))
def test_credit_card_is_shape_brand_and_luhn(digits: str, separator: str) -> None:
    value = separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))
    expected = reference_card_brand(digits) is not None and reference_luhn(digits)
    assert v.credit_card(value) is expected
