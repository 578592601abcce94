"""The phone validator reads phone-shaped values as ``phonenumbers.parse`` does (calling code and national
significant number, without parsing) and checks them with the library's validity rules, precompiled: it must answer
exactly as the library does, on real numbers of every region, near misses of them and random digit runs."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import validators as v
from aicoe.engines.sensitive.recognizers.identifiers import PHONE_REGIONS

LANGUAGES = sorted(PHONE_REGIONS)
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
NON_GEOGRAPHIC = sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
TYPES = sorted(phonenumbers.PhoneNumberType.values())
FORMATS = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
           phonenumbers.PhoneNumberFormat.NATIONAL)
SEPARATORS = ("", " ", "-", ".", "/", "(", ")")
# What may come before the digits: international prefixes ("00", "011", Australia's "0011", Brazil's "0021"), trunk
# prefixes ("0", "1", "(0)", Argentina's "015"), calling codes written without "+".
PREFIXES = ("", "", "+", "00", "011", "0011", "0021", "0", "1", "(0)", "015", "+0", "44", "55", "0044", "+1")
EXTENSIONS = (" x", "x", " x ", " ext. ", " ext.", "ext.", " ext ", "ext", "/x", "/ x")


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


def _parsed(text: str, region: str | None) -> tuple[int, str] | None:
    """(calling code, NSN) as ``parse`` reads ``text``, None where it raises."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number.country_code, phonenumbers.national_significant_number(number)


def _mutate(draw: st.DrawFn, text: str, characters: str) -> str:
    """``text`` with up to three edits: a digit replaced, a character dropped, a digit or a separator added."""
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(("replace", "drop", "digit", "separator")))
        if edit == "replace" and position < len(text) and text[position].isdigit():
            text = text[:position] + draw(st.sampled_from("0123456789")) + text[position + 1:]
        elif edit == "drop":
            text = text[:position] + text[position + 1:]
        elif edit == "digit":
            text = text[:position] + draw(st.sampled_from("0123456789")) + text[position:]
        elif characters:
            text = text[:position] + draw(st.sampled_from(characters)) + text[position:]
    return text


@st.composite
def example_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(region, text): the library's example number of some type for any region (or a non-geographic code's),
    formatted E164, international or national, perhaps dialled from abroad ("00" or "011" before the calling code),
    then perhaps edited into a near miss and given an extension."""
    if draw(st.integers(0, 9)):
        region = draw(st.sampled_from(REGIONS))
        example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
        example = example or phonenumbers.example_number(region)
    else:
        region = "001"
        example = phonenumbers.example_number_for_non_geo_entity(draw(st.sampled_from(NON_GEOGRAPHIC)))
    text = phonenumbers.format_number(example, draw(st.sampled_from(FORMATS))) if example else "123"
    if text.startswith("+") and draw(st.booleans()) and draw(st.booleans()):
        text = draw(st.sampled_from(("00", "011", "00 "))) + text[1:]
    text = _mutate(draw, text, "".join(SEPARATORS))
    if draw(st.integers(0, 5)) == 0:
        text += draw(st.sampled_from(EXTENSIONS)) + str(draw(st.integers(0, 9_999_999)))
    return region, text


@st.composite
def phone_shaped(draw: st.DrawFn) -> str:
    """Digits of any length in groups, after an international, trunk or calling-code prefix, joined by the
    separators the phone patterns allow, perhaps bracketed, perhaps with an extension (up to seven digits, one more
    than the validator reads itself)."""
    groups = draw(st.lists(st.text("0123456789", min_size=1, max_size=5), min_size=1, max_size=5))
    text = draw(st.sampled_from(PREFIXES)) + draw(st.sampled_from(SEPARATORS)).join(groups)
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from("( -")) + text + draw(st.sampled_from(") -."))
    if draw(st.integers(0, 4)) == 0:
        text += draw(st.sampled_from(EXTENSIONS)) + draw(st.text("0123456789", min_size=1, max_size=7))
    return text


@st.composite
def dialled_digits(draw: st.DrawFn) -> tuple[str, str]:
    """(region, digits): what a caller in ``region`` might dial, as bare digits: an example number of the region or
    of another, its national prefix, international prefix or calling code perhaps in front, then perhaps edited; or
    three to fifteen random digits."""
    region = draw(st.sampled_from(REGIONS))
    if draw(st.booleans()):
        return region, draw(st.text("0123456789", min_size=3, max_size=15))
    source = draw(st.sampled_from((region, *REGIONS)))
    example = (phonenumbers.example_number_for_type(source, draw(st.sampled_from(TYPES)))
               or phonenumbers.example_number(source))
    digits = phonenumbers.national_significant_number(example) if example else "123"
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    lead = draw(st.sampled_from(("", metadata.national_prefix or "", str(metadata.country_code), "00", "011",
                                 "0" + str(metadata.country_code), f"00{example.country_code if example else 1}")))
    return region, _mutate(draw, lead + digits, "")


@settings(max_examples=300, deadline=None)
@given(dialled_digits(), st.booleans())
def test_readings_are_the_parsers(dialled: tuple[str, str], international: bool) -> None:
    # The calling code and NSN the fast path computes are parse's, in every region, or both refuse the number.
    region, digits = dialled
    if not 3 <= len(digits) <= 15:
        return
    if international:
        code = v._country_code(digits)
        reading = v._international(code, digits[len(str(code)):]) if code is not None else None
        assert reading == (_parsed("+" + digits, None) if code is not None else None)
    else:
        assert v._rules_for_region(region).national(digits) == _parsed(digits, region)


@settings(max_examples=250, deadline=None)
@given(phone_shaped(), st.sampled_from(LANGUAGES))
def test_the_validator_agrees_with_the_library_on_phone_shaped_text(text: str, language: str) -> None:
    regions = PHONE_REGIONS[language]
    assert v.PhoneNumberValidator(regions)(text) is _library(text, regions)


@settings(max_examples=250, deadline=None)
@given(example_numbers(), st.sampled_from(LANGUAGES))
def test_the_validator_agrees_with_the_library_near_real_numbers(candidate: tuple[str, str], language: str) -> None:
    _, text = candidate
    regions = PHONE_REGIONS[language]
    assert v.PhoneNumberValidator(regions)(text) is _library(text, regions)


@settings(max_examples=150, deadline=None)
@given(example_numbers())
def test_precompiled_validity_is_the_librarys(candidate: tuple[str, str]) -> None:
    region, text = candidate
    try:
        number = phonenumbers.parse(text, None if region == "001" else region)
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


@pytest.mark.parametrize("text", ["020 7946 0000", "+44 20 7946 0000", "0044 20 7946 0000", "(650) 253-0000 x12",
                                  "+1 650 253 0000 ext. 7", "011 49 30 123456", "06 12 34 56 78", "9558162"])
def test_phone_shaped_values_are_decided_without_parsing(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _library(text, PHONE_REGIONS["en"])

    def refuse(*_: object) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(phonenumbers, "parse", refuse)
    assert v.PhoneNumberValidator(PHONE_REGIONS["en"])(text) is expected


def test_other_values_are_parsed() -> None:
    # Full-width digits, a "+" before an unknown calling code, an extension longer than the number before it.
    validator = v.PhoneNumberValidator(PHONE_REGIONS["en"])
    for text in ("０２０ ７９４６ ００００", "+020 7946 0000", "02 x12345", "+1 650 253 0000 extension 7"):
        assert validator(text) is _library(text, PHONE_REGIONS["en"])


def test_known_numbers() -> None:
    assert v.is_valid_phone_number(phonenumbers.parse("+1 650 253 0000"))
    assert v.is_valid_phone_number(phonenumbers.parse("+44 1624 756789"))  # the Isle of Man, sharing +44
    assert not v.is_valid_phone_number(phonenumbers.parse("+1 123 456 7890"))
    assert v.is_valid_phone_number(phonenumbers.parse("+800 1234 5678"))  # international freephone
    validator = v.PhoneNumberValidator(PHONE_REGIONS["en"])
    assert validator("+44 20 7946 0000") and validator("020 7946 0000") and validator("(650) 253-0000")
    assert not validator("+1 123 456 7890") and not validator("+44 20 7946 000")
