"""Identifier recognisers through the analyzer: generated valid identifiers embedded in text are found at their
exact offsets with the right entity; checksum-invalid look-alikes and context-free ambiguous numbers are not."""

from __future__ import annotations

from datetime import date

import phonenumbers
import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive.analyzer import Analyzer
from aicoe.engines.sensitive.model import Finding, Reason
from aicoe.engines.sensitive.recognizers import DEFAULT_RECOGNIZERS, identifiers, secrets
from tests.test_sensitive_validators import (
    bitcoin_legacy,
    bitcoin_segwit,
    cards,
    cnpjs,
    cpfs,
    emails,
    ethereum,
    format_cnpj,
    format_cpf,
    group_card,
    group_iban,
    ibans,
    ipv4s,
    ipv6s,
    itins,
    macs,
    mutate_last_digit,
    nhs_numbers,
    ninos,
    sins,
    ssns,
)

ANALYZER = Analyzer(identifiers.RECOGNIZERS)
FILLER = st.lists(st.sampled_from(["lorem", "ipsum", "dolor", "amet", "quis", "velit", "tempor"]),
                  max_size=6).map(" ".join)
BEFORE = st.sampled_from([" ", "\n", ": ", " (", "\t"])
AFTER = st.sampled_from([" ", "\n", ". ", ") ", ", ", ""])  # "" ends the text


def dashed(d: str) -> str:
    return f"{d[:3]}-{d[3:5]}-{d[5:]}"


def spaced(*sizes: int):  # noqa: ANN201 - returns a formatter
    def fmt(d: str) -> str:
        parts, at = [], 0
        for size in sizes:
            parts.append(d[at:at + size])
            at += size
        return " ".join(parts)
    return fmt


dates = st.dates(min_value=date(1920, 1, 1), max_value=date(2015, 12, 31))
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d %B %Y", "%B %d, %Y", "%b %d %Y")
credentials = st.builds(lambda user, password, host: (f"https://{user}:{password}@{host}.example.com/path",
                                                      f"{user}:{password}"),
                        st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
                        st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$*", min_size=1,
                                max_size=20),
                        st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10))

# name: (values, entity, context word placed before the value or "")
CASES = {
    "email": (emails, "EMAIL_ADDRESS", ""),
    "card grouped": (cards().map(group_card), "CREDIT_CARD", ""),
    "card dashed": (cards().map(lambda d: group_card(d).replace(" ", "-")), "CREDIT_CARD", ""),
    "card 13-19 digits": (cards(tuple(range(13, 20))), "CREDIT_CARD", ""),
    "card 12 digits": (cards((12,)), "CREDIT_CARD", "card"),
    "iban": (ibans(), "IBAN_CODE", ""),
    "iban grouped": (ibans().map(group_iban), "IBAN_CODE", ""),
    "ssn dashed": (ssns().map(dashed), "US_SSN", ""),
    "ssn bare": (ssns(), "US_SSN", "ssn"),
    "itin dashed": (itins().map(dashed), "US_ITIN", ""),
    "itin bare": (itins(), "US_ITIN", "itin"),
    "nino": (ninos(), "UK_NINO", ""),
    "nino spaced": (ninos().map(spaced(2, 2, 2, 2, 1)), "UK_NINO", ""),
    "nhs spaced": (nhs_numbers().map(spaced(3, 3, 4)), "UK_NHS", "nhs"),
    "nhs bare": (nhs_numbers(), "UK_NHS", "nhs"),
    "sin spaced": (sins().map(spaced(3, 3, 3)), "CA_SIN", "sin"),
    "sin bare": (sins(), "CA_SIN", "sin"),
    "cpf": (cpfs().map(format_cpf), "BR_CPF", ""),
    "cpf bare": (cpfs(), "BR_CPF", "cpf"),
    "cnpj": (cnpjs().map(format_cnpj), "BR_CNPJ", ""),
    "cnpj bare": (cnpjs(), "BR_CNPJ", "cnpj"),
    "ipv4": (ipv4s, "IP_ADDRESS", ""),
    "ipv6": (ipv6s, "IP_ADDRESS", ""),
    "mac": (macs, "MAC_ADDRESS", ""),
    "date of birth": (st.builds(lambda d, f: d.strftime(f), dates, st.sampled_from(DATE_FORMATS)),
                      "DATE_OF_BIRTH", "born"),
    "bitcoin legacy": (bitcoin_legacy(), "CRYPTO", ""),
    "bitcoin segwit": (bitcoin_segwit(), "CRYPTO", ""),
    "ethereum": (ethereum(), "CRYPTO", ""),
}


def embed(left: str, before: str, context: str, value: str, after: str, right: str) -> tuple[str, int]:
    prefix = left + before + (context + " " if context else "")
    return prefix + value + after + right, len(prefix)


def spans(findings: list[Finding]) -> list[tuple[str, int, int]]:
    return [(f.entity, f.start, f.end) for f in findings]


@pytest.mark.parametrize("case", list(CASES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_identifier_found_at_exact_offsets(case: str, data: st.DataObject) -> None:
    values, entity, context = CASES[case]
    value, after = data.draw(values), data.draw(AFTER)
    text, start = embed(data.draw(FILLER), data.draw(BEFORE), context, value, after, data.draw(FILLER) if after else "")
    assert spans(ANALYZER.scan_text(text)) == [(entity, start, start + len(value))]


@settings(max_examples=40, deadline=None)
@given(credentials, FILLER, FILLER)
def test_url_credentials_span_is_user_and_password(url_and_userinfo: tuple[str, str], left: str, right: str) -> None:
    url, userinfo = url_and_userinfo
    text = f"{left} {url} {right}"
    start = text.index("://") + 3
    assert spans(ANALYZER.scan_text(text)) == [("URL_CREDENTIALS", start, start + len(userinfo))]


LOOK_ALIKES = {
    "card": (cards().map(group_card), "CREDIT_CARD"),
    "card 13-19 digits": (cards(tuple(range(13, 20))), "CREDIT_CARD"),
    "iban": (ibans(), "IBAN_CODE"),
    "nhs": (nhs_numbers().map(spaced(3, 3, 4)), "UK_NHS"),
    "sin": (sins().map(spaced(3, 3, 3)), "CA_SIN"),
    "cpf": (cpfs().map(format_cpf), "BR_CPF"),
    "cnpj": (cnpjs().map(format_cnpj), "BR_CNPJ"),
}


@pytest.mark.parametrize("case", list(LOOK_ALIKES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_checksum_invalid_look_alikes_are_not_reported(case: str, data: st.DataObject) -> None:
    values, entity = LOOK_ALIKES[case]
    text = f"{entity.lower()} number {mutate_last_digit(data.draw(values))} here"
    assert [f for f in ANALYZER.scan_text(text, min_score=0.0) if f.entity == entity] == []


@settings(max_examples=40, deadline=None)
@given(st.one_of(bitcoin_legacy(), bitcoin_segwit()))
def test_bitcoin_with_a_changed_character_is_not_reported(address: str) -> None:
    changed = address[:-1] + ("2" if address[-1] != "2" else "3") if address[0] in "13" else \
        address[:-1] + ("q" if address[-1] != "q" else "p")
    assert ANALYZER.scan_text(f"wallet {changed}", min_score=0.0) == []


@settings(max_examples=40, deadline=None)
@given(ethereum())
def test_ethereum_with_a_wrong_checksum_is_not_reported(address: str) -> None:
    letters = [i for i, c in enumerate(address) if i > 1 and c.isalpha()]
    uppers = [i for i in letters if address[i].isupper()]
    lowers = [i for i in letters if address[i].islower()]
    if len(uppers) >= 2 and len(lowers) >= 2:
        i = uppers[0]
        assert ANALYZER.scan_text(f"eth {address[:i] + address[i].lower() + address[i + 1:]}") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("ssn 078-05-1120", []),  # the advertised Woolworth number
    ("ssn 666-12-3456", []),
    ("ssn 123-00-4567", []),
    ("number 123456789", []),  # nine bare digits mean nothing without context
    ("nhs 9434765918", []),
    ("sin 046 454 286", []),
    ("bitcoin 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", [("CRYPTO", 8, 42)]),
    ("on 1985-03-12 we met", []),  # a date is a birth date only beside a word saying so
    ("DOB: 1985-03-12", [("DATE_OF_BIRTH", 5, 15)]),
    ("date of birth 31/02/1985", []),  # not a calendar date
    ("ip 256.1.1.1 and 1.2.3.4", [("IP_ADDRESS", 17, 24)]),
    ("time 12:30:45", []),
    ("mac 00:1a:2b:3c:4d:5e", [("MAC_ADDRESS", 4, 21)]),
    ("a.b@c.d", []),
    ("card 4111111111111112", []),
    ("x 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", [("CRYPTO", 2, 44)]),
    ("x 0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", []),
])
def test_examples(text: str, expected: list[tuple[str, int, int]]) -> None:
    assert spans(ANALYZER.scan_text(text)) == expected


def test_reasons_are_exact() -> None:
    found = ANALYZER.scan_text("Card 4111 1111 1111 1111, SSN 123-45-6789; iban DE89370400440532013000")
    assert [(f.entity, f.score, f.reason) for f in found] == [
        ("CREDIT_CARD", 1.0, Reason("credit_card", "grouped digits", "luhn+iin", ("card",))),
        ("US_SSN", 0.9, Reason("us_ssn", "ddd-dd-dddd", "ssn_ranges", ("ssn",))),
        ("IBAN_CODE", 1.0, Reason("iban", "iban", "iban_mod97", ("iban",))),
    ]
    found = ANALYZER.scan_text("wallet bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    assert found[0].reason == Reason("crypto_wallet", "bitcoin_bech32", "base58check/bech32/eip55", ("wallet",))
    assert (found[0].category, found[0].severity) == ("crypto", "medium")


def test_bare_numbers_need_context_and_the_column_name_counts() -> None:
    assert ANALYZER.scan_text("123456789") == []
    found = ANALYZER.scan_text("123456789", extra_context=["customer_ssn"])
    assert [(f.entity, f.score, f.reason.recognizer, f.reason.context) for f in found] == [
        ("US_SSN", 0.85, "us_ssn_unformatted", ("ssn",))]


PHONE_CASES = [(language, region, kind, fmt)
               for language, regions in identifiers.PHONE_REGIONS.items() for region in regions
               for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
               for fmt in (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL,
                           phonenumbers.PhoneNumberFormat.E164)]


@pytest.mark.parametrize(("language", "region", "kind", "fmt"), PHONE_CASES)
def test_phone_example_numbers_of_every_region_are_found(language: str, region: str, kind: int, fmt: int) -> None:
    number = phonenumbers.format_number(phonenumbers.example_number_for_type(region, kind), fmt)
    text = f"lorem {number} ipsum"
    assert spans(ANALYZER.scan_text(text, language=language)) == [("PHONE_NUMBER", 6, 6 + len(number))]


def test_phone_numbers_are_read_in_the_languages_regions() -> None:
    german = "Büro 030 901820 ipsum"
    assert spans(ANALYZER.scan_text(german, language="de")) == [("PHONE_NUMBER", 5, 15)]
    assert ANALYZER.scan_text(german, language="es") == []  # 030 901820 is no number in ES, MX, AR, CO
    found = ANALYZER.scan_text("call (650) 253-0000 x123")
    assert [(f.start, f.end, f.score, f.reason.pattern, f.reason.context) for f in found] == [
        (5, 24, 0.85, "north american", ("call",))]
    assert ANALYZER.scan_text("4155552671") == []
    assert spans(ANALYZER.scan_text("phone: 6502530000")) == [("PHONE_NUMBER", 7, 17)]


def test_recognizer_declarations() -> None:
    names = [r.name for r in DEFAULT_RECOGNIZERS]
    assert len(names) == len(set(names))
    assert DEFAULT_RECOGNIZERS == identifiers.RECOGNIZERS + secrets.RECOGNIZERS
    assert sorted({r.entity for r in identifiers.RECOGNIZERS}) == [
        "BR_CNPJ", "BR_CPF", "CA_SIN", "CREDIT_CARD", "CRYPTO", "DATE_OF_BIRTH", "EMAIL_ADDRESS", "IBAN_CODE",
        "IP_ADDRESS", "MAC_ADDRESS", "PHONE_NUMBER", "UK_NHS", "UK_NINO", "URL_CREDENTIALS", "US_ITIN", "US_SSN"]
    for recognizer in identifiers.RECOGNIZERS:
        assert set(recognizer.languages) <= set(identifiers.LANGUAGES)
        for pattern in recognizer.patterns:
            assert re2.compile(pattern.regex).groups >= pattern.group


def test_iban_pattern_takes_each_country_at_its_own_length() -> None:
    text = "BE68 5390 0754 7034 THEN NO93 8601 1117 947 DONE"
    assert spans(ANALYZER.scan_text(text)) == [("IBAN_CODE", 0, 19), ("IBAN_CODE", 25, 43)]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 999), st.integers(10**11, 10**19), st.sampled_from(["", "-"]))
def test_digits_of_a_decimal_number_are_neither_card_nor_phone(whole: int, fraction: int, sign: str) -> None:
    """A full-precision float ("38.123456789012345") holds long digit runs before and after its point; none is
    a card or phone candidate, alone in a cell or in a sentence."""
    for value in (f"{sign}{whole}.{fraction}", f"{sign}{fraction}.{whole}"):
        for text in (value, f"card or phone: {value}, noted"):
            assert [f for f in ANALYZER.scan_text(text) if f.entity in ("CREDIT_CARD", "PHONE_NUMBER")] == []


def test_numbers_beside_a_point_that_is_not_decimal_are_still_found() -> None:
    text = "card 4111 1111 1111 1111. call 212.555.0147 or 4111111111111111 after 12.5 today"
    assert [(f.entity, text[f.start:f.end]) for f in ANALYZER.scan_text(text)] == [
        ("CREDIT_CARD", "4111 1111 1111 1111"), ("PHONE_NUMBER", "212.555.0147"), ("CREDIT_CARD", "4111111111111111")]


@pytest.mark.parametrize(("text", "expected"), [
    ("call 0176 60238288 now", [("PHONE_NUMBER", 5, 18)]),  # German mobile
    ("call 06 11 50 58 77 before 14:30", [("PHONE_NUMBER", 5, 19)]),  # French mobile, whole and not its tail
    ("call (11) 99482-7458 today", [("PHONE_NUMBER", 5, 20)]),  # Brazilian mobile
    ("Büro 030 901820 ipsum", [("PHONE_NUMBER", 5, 15)]),  # German landline
])
def test_german_french_and_brazilian_national_numbers_are_read_in_english_text(
        text: str, expected: list[tuple[str, int, int]]) -> None:
    assert spans(ANALYZER.scan_text(text)) == expected


@pytest.mark.parametrize(("text", "phone"), [
    ("NHS number 650 413 5885 failed the check digit", (11, 23)),
    ("SIN 475 112 532 does not validate", (4, 15)),
    ("CPF 028.484.156-04 was rejected", (4, 18)),
])
def test_a_number_beside_another_identifiers_word_is_not_a_phone(text: str, phone: tuple[int, int]) -> None:
    assert spans(ANALYZER.scan_text(text)) == []
    alone = "call " + text[phone[0]:phone[1]]  # the same digits beside a phone word are dialable
    assert spans(ANALYZER.scan_text(alone)) == [("PHONE_NUMBER", 5, len(alone))]


@pytest.mark.parametrize("text", [
    "ref 6582 7418 0279 7533 ok",  # a card's last groups
    "ref 3051-047767-8087 ok",
    "code 978-1-027-61105-6",  # an ISBN's middle
    "request 05d02ee4-0953-4955-a047-9a87567eaac1",  # a UUID's groups
    "at 06 11 50 58 77-12",  # a French number followed by another group
    "pin 4.0176 60238288",
])
def test_a_phone_is_never_a_piece_of_a_longer_run_of_digit_groups(text: str) -> None:
    assert [f for f in ANALYZER.scan_text(text) if f.entity == "PHONE_NUMBER"] == []


@pytest.mark.parametrize(("text", "expected"), [
    ("call 0176 60238288 / 0151 14541269", [(5, 18), (21, 34)]),
    ("call 0176 60238288, 0151 14541269", [(5, 18), (20, 33)]),
    ("x 0176 60238288 - 0151 14541269", [(2, 15), (18, 31)]),
    ("0176 60238288\n(0151) 14541269.", [(0, 13), (14, 29)]),
    ("tel:0176 60238288;x", [(4, 17)]),
])
def test_the_run_boundary_leaves_neighbouring_numbers_found(text: str, expected: list[tuple[int, int]]) -> None:
    assert spans(ANALYZER.scan_text(text)) == [("PHONE_NUMBER", start, end) for start, end in expected]


@pytest.mark.parametrize(("text", "expected"), [
    ("use 6761-1163-7265-16764 for the hotel", [("CREDIT_CARD", 4, 24)]),  # 4-4-4-5
    ("use 6225 2003 5527 726333 for the hotel", [("CREDIT_CARD", 4, 25)]),  # 4-4-4-6
    ("use 5018 0836 7764 277236 x", [("CREDIT_CARD", 4, 25)]),  # whole, not its first twelve digits
])
def test_seventeen_and_eighteen_digit_cards_are_found_whole(text: str, expected: list[tuple[str, int, int]]) -> None:
    assert spans(ANALYZER.scan_text(text)) == expected


def test_a_password_in_url_userinfo_is_not_an_email_address() -> None:
    text = "backup_target = ftp://willfried10:UzyO9Lnt8EGno-@email-49.matthaei.org/backups, owner bob@example.com"
    assert spans(ANALYZER.scan_text(text)) == [("EMAIL_ADDRESS", 86, 101)]
    assert spans(Analyzer(DEFAULT_RECOGNIZERS).scan_text(text)) == [("CONNECTION_STRING_PASSWORD", 34, 48),
                                                                   ("EMAIL_ADDRESS", 86, 101)]
    text = "see https://ann:s3cr3tPass@example.com/x and ann@example.com"
    assert spans(ANALYZER.scan_text(text)) == [("URL_CREDENTIALS", 12, 26), ("EMAIL_ADDRESS", 45, 60)]
    text = "mail https://example.com/contact?to=ann@example.com"
    assert spans(ANALYZER.scan_text(text)) == [("EMAIL_ADDRESS", 36, 51)]
