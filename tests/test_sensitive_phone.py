"""The phone validator's shortcuts (numbering-plan pre-rejection, precompiled validity) answer exactly as
``phonenumbers`` does, on valid numbers of every region the recognisers read and on near misses of them."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import validators as v
from aicoe.engines.sensitive.recognizers.identifiers import PHONE_REGIONS

REGIONS = sorted({region for regions in PHONE_REGIONS.values() for region in regions})
FORMATS = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
           phonenumbers.PhoneNumberFormat.NATIONAL)
SEPARATORS = ("", " ", "-", ".", "/", "(", ")")


def _library(value: str, regions: tuple[str, ...]) -> bool:
    """The validator's contract in plain library calls: 7–15 digits; a "+" number parsed once (in the first
    region, used only where its calling code is unknown), a national one in each region (one per calling code)."""
    if not 7 <= sum(char.isdigit() for char in value) <= 15:
        return False
    by_code: dict[int, str] = {}
    for region in regions:
        by_code.setdefault(phonenumbers.country_code_for_region(region), region)
    readings = list(by_code.values())
    for region in readings[:1] if value.startswith("+") else readings:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


@st.composite
def near_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(region, text): a region's example number of some type, formatted, then perhaps mutated (digits replaced,
    dropped or added, separators moved, an extension added) into a valid or invalid candidate."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from(sorted(phonenumbers.PhoneNumberType.values())))
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(region)
    text = phonenumbers.format_number(example, draw(st.sampled_from(FORMATS)))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(("replace", "drop", "digit", "separator")))
        if edit == "replace" and position < len(text) and text[position].isdigit():
            text = text[:position] + draw(st.sampled_from("0123456789")) + text[position + 1:]
        elif edit == "drop":
            text = text[:position] + text[position + 1:]
        elif edit == "digit":
            text = text[:position] + draw(st.sampled_from("0123456789")) + text[position:]
        else:
            text = text[:position] + draw(st.sampled_from(SEPARATORS)) + text[position:]
    if draw(st.booleans()) and draw(st.booleans()):
        text += draw(st.sampled_from((" x", " ext. ", "x"))) + str(draw(st.integers(1, 99999)))
    return region, text


digit_runs = st.tuples(st.sampled_from(("", "+", "00", "0", "011 ")),
                       st.lists(st.text("0123456789", min_size=1, max_size=5), min_size=1, max_size=5),
                       st.sampled_from(SEPARATORS)).map(lambda parts: parts[0] + parts[2].join(parts[1]))


@settings(max_examples=400, deadline=None)
@given(near_numbers(), st.sampled_from(sorted(PHONE_REGIONS)))
def test_the_validator_agrees_with_the_library_near_real_numbers(candidate: tuple[str, str], language: str) -> None:
    _, text = candidate
    regions = PHONE_REGIONS[language]
    assert v.PhoneNumberValidator(regions)(text) is _library(text, regions)


@settings(max_examples=400, deadline=None)
@given(digit_runs, st.sampled_from(sorted(PHONE_REGIONS)))
def test_the_validator_agrees_with_the_library_on_digit_runs(text: str, language: str) -> None:
    regions = PHONE_REGIONS[language]
    assert v.PhoneNumberValidator(regions)(text) is _library(text, regions)


@settings(max_examples=400, deadline=None)
@given(near_numbers())
def test_precompiled_validity_is_the_librarys(candidate: tuple[str, str]) -> None:
    region, text = candidate
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return
    assert v.is_valid_phone_number(number) is phonenumbers.is_valid_number(number)


@pytest.mark.parametrize("code", [1, 7, 39, 44, 61, 262, 290, 599, 800, 979], ids=str)
@settings(max_examples=60, deadline=None)
@given(nsn=st.text("0123456789", min_size=1, max_size=17))
def test_precompiled_validity_covers_shared_and_non_geographic_codes(code: int, nsn: str) -> None:
    # Shared calling codes pick the region by leading digits or by type; 800 and 979 have no region at all.
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(nsn),
                                      italian_leading_zero=nsn.startswith("0") or None,
                                      number_of_leading_zeros=len(nsn) - len(nsn.lstrip("0")) or None)
    assert v.is_valid_phone_number(number) is phonenumbers.is_valid_number(number)


def test_known_numbers() -> None:
    assert v.is_valid_phone_number(phonenumbers.parse("+1 650 253 0000"))
    assert v.is_valid_phone_number(phonenumbers.parse("+44 1624 756789"))  # the Isle of Man, sharing +44
    assert not v.is_valid_phone_number(phonenumbers.parse("+1 123 456 7890"))
    assert v.is_valid_phone_number(phonenumbers.parse("+800 1234 5678"))  # international freephone
