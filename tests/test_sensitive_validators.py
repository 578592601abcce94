"""Validators: published vectors, every rule at its edge, and generated identifiers with real checksums.

The generators below compute check digits with their own code (not the engine's), so a validator is checked
against the specification, not against itself. The recogniser tests reuse them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import date

import pytest
from Crypto.Hash import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import validators as v

# --------------------------------------------------------------------------------------------------------------
# Generators of valid identifiers, written from the specifications.


def luhn_complete(partial: str) -> str:
    """``partial`` plus the digit that makes it pass Luhn."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return partial + str((10 - total % 10) % 10)


CARD_PREFIXES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "visa": (("4",), (13, 16, 19)),
    "mastercard": (("51", "55", "2221", "2720"), (16,)),
    "american_express": (("34", "37"), (15,)),
    "diners_club": (("300", "305", "36", "38"), (14, 16, 19)),
    "jcb": (("3528", "3589"), (16, 19)),
    "discover": (("6011", "644", "65", "622126"), (16, 19)),
    "unionpay": (("62", "81"), (16, 17, 18, 19)),
    "mir": (("2200", "2204"), (16,)),
    "maestro": (("50", "56", "69"), (12, 13, 14, 15, 16, 17, 18, 19)),
    "uatp": (("1",), (15,)),
}


@st.composite
def cards(draw: st.DrawFn, lengths: tuple[int, ...] = tuple(range(12, 20))) -> str:
    options = [(prefix, length) for prefixes, brand_lengths in CARD_PREFIXES.values() for prefix in prefixes
               for length in brand_lengths if length in lengths]
    prefix, length = draw(st.sampled_from(options))
    body = draw(st.text("0123456789", min_size=length - 1 - len(prefix), max_size=length - 1 - len(prefix)))
    return luhn_complete(prefix + body)


def group_card(digits: str) -> str:
    """The usual printed grouping: 4-6-5 for 15 digits, 4-6-4 for 14, otherwise fours."""
    sizes = {15: (4, 6, 5), 14: (4, 6, 4)}.get(len(digits))
    if sizes is None:
        return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))
    first, second = sizes[0], sizes[0] + sizes[1]
    return f"{digits[:first]} {digits[first:second]} {digits[second:]}"


IBAN_SAMPLE_COUNTRIES = ("DE", "GB", "FR", "NL", "ES", "IT", "BE", "NO", "MT", "BR", "SA", "CH")


def iban_for(country: str, bban: str) -> str:
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(IBAN_SAMPLE_COUNTRIES))
    size = v.IBAN_LENGTHS[country] - 4
    letters = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4)) if country == "GB" else ""
    digits = draw(st.text("0123456789", min_size=size - len(letters), max_size=size - len(letters)))
    return iban_for(country, letters + digits)


def group_iban(value: str) -> str:
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4))


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    value = f"{area:03d}{draw(st.integers(1, 99)):02d}{draw(st.integers(1, 9999)):04d}"
    return value if value not in ("078051120", "219099999") else "123456789"


ITIN_GROUPS = (*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100))


@st.composite
def itins(draw: st.DrawFn) -> str:
    return f"9{draw(st.integers(0, 99)):02d}{draw(st.sampled_from(ITIN_GROUPS)):02d}{draw(st.integers(0, 9999)):04d}"


@st.composite
def ninos(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from("ABCEGHJKLMNOPRSTWXYZ")) + draw(st.sampled_from("ABCEGHJKLMNPRSTWXYZ"))
    if prefix in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        prefix = "AB"
    return prefix + draw(st.text("0123456789", min_size=6, max_size=6)) + draw(st.sampled_from("ABCD"))


def nhs_check(first_nine: str) -> int:
    return (11 - sum(int(d) * (10 - i) for i, d in enumerate(first_nine)) % 11) % 11


@st.composite
def nhs_numbers(draw: st.DrawFn) -> str:
    first_nine = draw(st.text("0123456789", min_size=9, max_size=9).filter(lambda d: nhs_check(d) != 10))
    return first_nine + str(nhs_check(first_nine))


@st.composite
def sins(draw: st.DrawFn) -> str:
    return luhn_complete(draw(st.sampled_from("1234567 9".replace(" ", ""))) + draw(
        st.text("0123456789", min_size=7, max_size=7)))


def mod11(digits: str, weights: list[int]) -> int:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


@st.composite
def cpfs(draw: st.DrawFn) -> str:
    base = draw(st.text("0123456789", min_size=9, max_size=9).filter(lambda d: len(set(d)) > 1))
    first = mod11(base, list(range(10, 1, -1)))
    return base + str(first) + str(mod11(base + str(first), list(range(11, 1, -1))))


@st.composite
def cnpjs(draw: st.DrawFn) -> str:
    base = draw(st.text("0123456789", min_size=12, max_size=12).filter(lambda d: len(set(d)) > 1))
    first = mod11(base, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return base + str(first) + str(mod11(base + str(first), [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]))


def format_cpf(d: str) -> str:
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def format_cnpj(d: str) -> str:
    return f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}"


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(payload: bytes) -> str:
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number, out = int.from_bytes(raw, "big"), ""
    while number:
        number, rest = divmod(number, 58)
        out = B58[rest] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


@st.composite
def bitcoin_legacy(draw: st.DrawFn) -> str:
    return base58check(bytes([draw(st.sampled_from((0, 5)))]) + draw(st.binary(min_size=20, max_size=20)))


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            chk ^= gen if (top >> i) & 1 else 0
    return chk


def segwit_address(version: int, program: bytes) -> str:
    acc, bits, data = 0, 0, [version]
    for byte in program:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    const = 1 if version == 0 else 0x2BC830A3
    expanded = [ord(c) >> 5 for c in "bc"] + [0] + [ord(c) & 31 for c in "bc"]
    mod = _polymod(expanded + data + [0] * 6) ^ const
    return "bc1" + "".join(BECH32[d] for d in data + [(mod >> 5 * (5 - i)) & 31 for i in range(6)])


@st.composite
def bitcoin_segwit(draw: st.DrawFn) -> str:
    version, size = draw(st.sampled_from(((0, 20), (0, 32), (1, 32))))
    return segwit_address(version, draw(st.binary(min_size=size, max_size=size)))


def eip55(hex40: str) -> str:
    digest = keccak.new(digest_bits=256, data=hex40.lower().encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(h, 16) > 7 else c for c, h in zip(hex40.lower(), digest[:40], strict=True))


@st.composite
def ethereum(draw: st.DrawFn) -> str:
    return eip55(draw(st.binary(min_size=20, max_size=20)).hex())


_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
emails = st.builds(lambda user, sub, domain, tld: f"{user}.{sub}@{domain}.{tld}", _label, _label, _label,
                   st.sampled_from(("com", "org", "co.uk", "io", "de")))
ipv4s = st.builds(lambda n: str(ipaddress.IPv4Address(n)), st.integers(0, 2**32 - 1))
ipv6s = st.builds(lambda n, full: (ipaddress.IPv6Address(n).exploded if full else str(ipaddress.IPv6Address(n))),
                  st.integers(2**112, 2**128 - 1), st.booleans())
macs = st.builds(lambda raw, sep: sep.join(f"{b:02x}" for b in raw) if sep != "." else
                 ".".join(raw.hex()[i:i + 4] for i in (0, 4, 8)),
                 st.binary(min_size=6, max_size=6), st.sampled_from((":", "-", ".")))


# --------------------------------------------------------------------------------------------------------------
# Tests


def mutate_last_digit(value: str) -> str:
    """The same string with its last digit replaced by the next one (mod 10)."""
    index = max(i for i, c in enumerate(value) if c.isdigit())
    return value[:index] + str((int(value[index]) + 1) % 10) + value[index + 1:]


def test_luhn_known_values() -> None:
    assert v.luhn("79927398713") is True
    assert v.luhn("79927398710") is False
    assert v.luhn("") is False
    assert v.luhn("12a4") is False


@pytest.mark.parametrize(("digits", "brand"), [
    ("4111111111111111", "visa"), ("4222222222222", "visa"), ("5555555555554444", "mastercard"),
    ("2221000000000009", "mastercard"), ("378282246310005", "american_express"),
    ("30569309025904", "diners_club"), ("3530111333300000", "jcb"), ("6011111111111117", "discover"),
    ("6200000000000005", "unionpay"), ("2200000000000004", "mir"), ("501800000009", "maestro"),
    ("122000000000003", "uatp"), ("7000000000000000", None), ("411111111111", None)])
def test_card_brand(digits: str, brand: str | None) -> None:
    assert v.card_brand(digits) == brand


@given(cards())
def test_generated_cards_are_valid_and_a_changed_digit_is_not(digits: str) -> None:
    assert v.credit_card(digits)
    assert v.credit_card(group_card(digits))
    assert v.credit_card("-".join(group_card(digits).split()))
    assert not v.credit_card(mutate_last_digit(digits))


def test_credit_card_rejects_wrong_shapes() -> None:
    assert v.credit_card("4111111111111111")
    assert not v.credit_card("4111 1111 1111 111x")
    assert not v.credit_card("41111111111111111111")  # 20 digits
    assert not v.credit_card("4111.1111.1111.1111")


@given(ibans())
def test_generated_ibans_are_valid_and_a_changed_digit_is_not(value: str) -> None:
    assert v.iban(value)
    assert v.iban(group_iban(value))
    assert not v.iban(mutate_last_digit(value))
    assert not v.iban(value + "0")
    assert not v.iban(value.lower())


def test_iban_known_values() -> None:
    assert v.iban("DE89 3704 0044 0532 0130 00")
    assert v.iban("GB82WEST12345698765432")
    assert not v.iban("GB82WEST12345698765431")
    assert not v.iban("XX82WEST12345698765432")
    assert not v.iban("GBXXWEST12345698765432")


@given(ssns())
def test_generated_ssns_are_valid(value: str) -> None:
    assert v.us_ssn(value)
    assert v.us_ssn(f"{value[:3]}-{value[3:5]}-{value[5:]}")


@pytest.mark.parametrize("value", ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567",
                                   "123-45-0000", "078-05-1120", "219-09-9999", "123-45-678", "123-45-67890"])
def test_ssn_rules(value: str) -> None:
    assert not v.us_ssn(value)
    assert v.us_ssn("899-99-9999") and v.us_ssn("001-01-0001") and v.us_ssn("665-12-3456")


def test_itin_groups_exactly() -> None:
    valid = {group for group in range(100) if v.us_itin(f"912{group:02d}3456")}
    assert valid == set(ITIN_GROUPS)
    assert not v.us_itin("812-70-3456")
    assert v.us_itin("912-70-3456")


@given(itins())
def test_generated_itins_are_valid(value: str) -> None:
    assert v.us_itin(value)


@given(ninos())
def test_generated_ninos_are_valid(value: str) -> None:
    assert v.uk_nino(value)
    assert v.uk_nino(f"{value[:2]} {value[2:4]} {value[4:6]} {value[6:8]} {value[8]}")


@pytest.mark.parametrize(("value", "valid"), [
    ("AB123456C", True), ("DA123456C", False), ("FA123456C", False), ("IA123456C", False), ("QA123456C", False),
    ("UA123456C", False), ("VA123456C", False), ("AO123456C", False), ("OA123456C", True), ("BG123456C", False),
    ("GB123456C", False), ("NK123456C", False), ("KN123456C", False), ("NT123456C", False), ("TN123456C", False),
    ("ZZ123456C", False), ("AB123456E", False), ("AB12345C", False)])
def test_nino_prefix_rules(value: str, valid: bool) -> None:
    assert v.uk_nino(value) is valid


@given(nhs_numbers())
def test_generated_nhs_numbers_are_valid_and_a_changed_check_digit_is_not(value: str) -> None:
    assert v.uk_nhs(value)
    assert v.uk_nhs(f"{value[:3]} {value[3:6]} {value[6:]}")
    assert not v.uk_nhs(mutate_last_digit(value))


def test_nhs_known_values() -> None:
    assert v.uk_nhs("943 476 5919")
    assert not v.uk_nhs("943 476 5918")
    assert v.uk_nhs("0000000000")  # remainder 0: check digit 0 (11 becomes 0)
    assert nhs_check("000000006") == 10
    assert [v.uk_nhs(f"000000006{d}") for d in range(10)] == [False] * 10  # a check of 10 is never issued


@given(sins())
def test_generated_sins_are_valid_and_a_changed_digit_is_not(value: str) -> None:
    assert v.ca_sin(value)
    assert v.ca_sin(f"{value[:3]}-{value[3:6]}-{value[6:]}")
    assert not v.ca_sin(mutate_last_digit(value))


def test_sin_first_digit() -> None:
    assert not v.ca_sin("046454286")  # Luhn-valid but 0 is never assigned
    assert not v.ca_sin(luhn_complete("80000000"))  # 8: business numbers
    assert v.ca_sin(luhn_complete("13000000"))


@given(cpfs())
def test_generated_cpfs_are_valid_and_a_changed_check_digit_is_not(value: str) -> None:
    assert v.br_cpf(value)
    assert v.br_cpf(format_cpf(value))
    assert not v.br_cpf(mutate_last_digit(value))


@given(cnpjs())
def test_generated_cnpjs_are_valid_and_a_changed_check_digit_is_not(value: str) -> None:
    assert v.br_cnpj(value)
    assert v.br_cnpj(format_cnpj(value))
    assert not v.br_cnpj(mutate_last_digit(value))


def test_cpf_cnpj_known_values_and_repeated_digits() -> None:
    assert v.br_cpf("111.444.777-35")
    assert not v.br_cpf("111.111.111-11")  # its check digits fit, but all-same numbers are not issued
    assert v.br_cnpj("11.222.333/0001-81")
    assert not v.br_cnpj("00.000.000/0000-00")


@given(ipv4s)
def test_ipv4(value: str) -> None:
    assert v.ip_address(value)


@given(ipv6s)
def test_ipv6(value: str) -> None:
    assert v.ip_address(value)


@pytest.mark.parametrize("value", ["256.1.1.1", "01.2.3.4", "1.2.3", "12:30:45", "2001:db8:::1", "::g"])
def test_ip_rejects(value: str) -> None:
    assert not v.ip_address(value)


@given(macs)
def test_mac(value: str) -> None:
    assert v.mac_address(value)


@pytest.mark.parametrize("value", ["00:1a:2b-3c:4d:5e", "00:1a:2b:3c:4d", "0g:1a:2b:3c:4d:5e", "001a.2b3c.4d5"])
def test_mac_rejects(value: str) -> None:
    assert not v.mac_address(value)


@given(emails)
def test_generated_emails_are_valid(value: str) -> None:
    assert v.email_address(value)


@pytest.mark.parametrize(("value", "valid"), [
    ("a@b.co", True), ("a.b+c@x.y.com", True), ("a..b@x.com", False), (".a@x.com", False), ("a.@x.com", False),
    ("a@-x.com", False), ("a@x-.com", False), ("a@x.c0m", False), ("a@x", False), ("a@b.c", False),
    ("x" * 65 + "@a.com", False), ("a@" + "b" * 64 + ".com", False)])
def test_email_rules(value: str, valid: bool) -> None:
    assert v.email_address(value) is valid


@given(bitcoin_legacy())
def test_generated_base58_addresses_are_valid_and_a_changed_character_is_not(value: str) -> None:
    assert v.bitcoin_base58(value) and v.crypto_address(value)
    changed = value[:-1] + ("2" if value[-1] != "2" else "3")
    assert not v.bitcoin_base58(changed)


@given(bitcoin_segwit())
def test_generated_segwit_addresses_are_valid_and_a_changed_character_is_not(value: str) -> None:
    assert v.bitcoin_segwit(value) and v.bitcoin_segwit(value.upper()) and v.crypto_address(value)
    changed = value[:-1] + ("q" if value[-1] != "q" else "p")
    assert not v.bitcoin_segwit(changed)


@pytest.mark.parametrize(("value", "valid"), [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", True),
    ("bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", True),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", True),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", False),  # bad checksum
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", False),  # v1 with a bech32 checksum
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", True),
    ("bc1QW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", False),  # mixed case
    ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", False),  # testnet
    ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", True), ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", True),
    ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", False)])
def test_bitcoin_vectors(value: str, valid: bool) -> None:
    assert v.bitcoin_address(value) is valid


@given(ethereum())
def test_generated_ethereum_addresses_are_valid_and_a_flipped_case_is_not(value: str) -> None:
    assert v.ethereum_address(value) and v.crypto_address(value)
    letters = [i for i, c in enumerate(value) if c.isalpha() and i > 1]
    flipped = value[:letters[0]] + value[letters[0]].swapcase() + value[letters[0] + 1:] if letters else value
    body = flipped[2:]
    if body.lower() != body and body.upper() != body:  # still mixed case, so the checksum applies
        assert not v.ethereum_address(flipped)


@pytest.mark.parametrize("value", ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                                   "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                                   "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
                                   "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"])
def test_eip55_vectors(value: str) -> None:
    assert v.eip55_checksum(value.lower()) == value
    assert v.ethereum_address(value)
    assert v.ethereum_address(value.lower())  # one case: no checksum to check
    i = next(i for i, c in enumerate(value) if i > 1 and c.isalpha())
    assert not v.ethereum_address(value[:i] + value[i].swapcase() + value[i + 1:])


def test_ethereum_shape() -> None:
    assert not v.ethereum_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe")
    assert not v.ethereum_address("0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    assert not v.ethereum_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg")


@pytest.mark.parametrize(("value", "valid"), [
    ("1985-03-12", True), ("12/03/1985", True), ("31.12.1999", True), ("12/31/1999", True), ("1985/3/2", True),
    ("12 March 1985", True), ("March 12, 1985", True), ("12th Mar. 1985", True), ("Sept 1 2001", True),
    ("1985-02-30", False), ("30/02/1985", False), ("1899-12-31", False), ("2030-01-01", False),
    ("12 Mayday 1985", False), ("12 March March", False), ("1985-13-01", False), ("13.13.1985", False),
    ("12.13.1985", True)])
def test_birth_date(value: str, valid: bool) -> None:
    assert v.birth_date(value, today=lambda: date(2025, 6, 1)) is valid


def test_birth_date_up_to_today() -> None:
    assert v.birth_date("2025-06-01", today=lambda: date(2025, 6, 1))
    assert not v.birth_date("2025-06-02", today=lambda: date(2025, 6, 1))


def test_phone_number_regions() -> None:
    us_then_gb = v.PhoneNumberValidator(("US", "GB"))
    assert us_then_gb("(650) 253-0000")
    assert us_then_gb("020 7946 0018")  # a London number, read in GB
    assert not v.PhoneNumberValidator(("US",))("020 7946 0018")
    assert us_then_gb("(123) 456-7890")  # no US area code starts with 1, but 01234 567890 is a GB number
    assert not v.PhoneNumberValidator(("US", "CA"))("(123) 456-7890")
    assert us_then_gb("+49 30 901820")  # international numbers need no region
    assert not us_then_gb("12345")
    assert not us_then_gb("+1 650 253 0000 1234 5678")  # more than 15 digits


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_validators_are_total(value: str) -> None:
    for validator in (v.email_address, v.credit_card, v.iban, v.us_ssn, v.us_itin, v.uk_nino, v.uk_nhs, v.ca_sin,
                      v.br_cpf, v.br_cnpj, v.ip_address, v.mac_address, v.crypto_address, v.birth_date,
                      v.PhoneNumberValidator(("US", "GB"))):
        assert validator(value) in (True, False)
