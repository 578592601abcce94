"""The table-driven hot validators (Luhn, card brand, US SSN, separator stripping, mod-97 and mod-11 checks, MAC
and ISO-date shapes, Base58Check, bech32, EIP-55) against plain reference implementations written here from their
definitions, and the IP check against Python's ``ipaddress``, on generated inputs of every relevant length, at
every issuer range's edges and with single-character changes."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import date

import pytest
from Crypto.Hash import keccak
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


# --- IP addresses: Python's ipaddress is the reference ------------------------------------------------------------

def reference_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_OCTETS = st.sampled_from(["0", "00", "01", "1", "9", "10", "99", "100", "199", "249", "255", "256", "300", "999",
                           "1000", "", "a", "\u0663", "1 "])
_HEXTETS = st.sampled_from(["0", "1", "a", "ffff", "FFFF", "0db8", "12345", "", "g", "fff\u0663", " 1"])
ipv4_like = st.lists(_OCTETS, min_size=1, max_size=6).map(".".join)


@st.composite
def ipv6_like(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_HEXTETS, min_size=1, max_size=10))
    text = ":".join(parts)
    if draw(st.booleans()):
        text = text.replace("::", ":", 1) if "::" in text else text + "::" + draw(_HEXTETS)
    if draw(st.integers(0, 3)) == 0:
        text += ":" + draw(ipv4_like)
    if draw(st.integers(0, 4)) == 0:
        text += draw(st.sampled_from(["%", "%eth0", "%%1", "/64"]))
    return text


@settings(max_examples=600)
@given(ipv4_like | ipv6_like() | st.text(alphabet="0123456789abcdefABCDEF:.%/ g", max_size=45))
@example("12:30:45")
@example("1:2:3:4:5:6:7:8")
@example("1:2:3:4:5:6:7::")
@example("::ffff:192.0.2.1")
@example("fe80::1%eth0")
@example("1:2:3:4:5:6:7:8%1")
@example("1.2.3.4/32")
def test_ip_address_matches_the_ipaddress_module(value: str) -> None:
    assert v.ip_address(value) is reference_ip(value)


@settings(max_examples=500)
@given(st.ip_addresses().map(str))
def test_every_address_the_module_prints_is_accepted(value: str) -> None:
    assert v.ip_address(value) and v.ip_address(value.upper())


# --- MAC addresses --------------------------------------------------------------------------------------------------

def reference_mac(value: str) -> bool:
    """Six groups of two hex digits joined by one of ":" or "-", or three groups of four joined by "."."""
    def groups_ok(parts: list[str], width: int, count: int) -> bool:
        return len(parts) == count and all(len(p) == width and all(c in "0123456789abcdefABCDEF" for c in p)
                                           for p in parts)
    return any(groups_ok(value.split(sep), width, count) for sep, width, count in ((":", 2, 6), ("-", 2, 6),
                                                                                    (".", 4, 3)))


@settings(max_examples=600)
@given(st.text(alphabet="0aF9g:-.\u0663 ", min_size=12, max_size=18) | st.text(max_size=20))
@example("00:1a:2b:3c:4d:5e")
@example("00-1A-2B-3C-4D-5E")
@example("001a.2b3c.4d5e")
@example("00:1a:2b-3c:4d:5e")
def test_mac_address_matches_the_definition(value: str) -> None:
    assert v.mac_address(value) is reference_mac(value)


# --- mod-97 and mod-11 check digits -------------------------------------------------------------------------------

def reference_iban(value: str) -> bool:
    compact = value.replace(" ", "")
    if not compact or any(c not in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in compact):
        return False
    if not any(c.isalpha() for c in compact) or v.IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    if not all(c in "0123456789" for c in compact[2:4]):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(c)) for c in rearranged)) % 97 == 1


@st.composite
def iban_like(draw: st.DrawFn) -> str:
    country, length = draw(st.sampled_from(sorted(v.IBAN_LENGTHS.items())))
    body = draw(st.text(alphabet="0123456789ABCXZ", min_size=length - 4, max_size=length - 4))
    # Half the time, set the check digits so that the mod-97 check holds.
    number = int("".join(str(int(c, 36)) for c in body + country + "00"))
    check = draw(st.sampled_from([f"{98 - number % 97:02d}", draw(st.text("0123456789", min_size=2, max_size=2))]))
    text = country + check + body
    return draw(st.sampled_from([text, " ".join(text[i:i + 4] for i in range(0, len(text), 4)), text.lower(),
                                 text[:-1], text + "1"]))


@settings(max_examples=600)
@given(iban_like() | st.text(alphabet="0123456789ABDEGRZ a\u0663", max_size=34))
def test_iban_matches_the_mod97_definition(value: str) -> None:
    assert v.iban(value) is reference_iban(value)


def reference_mod11(digits: str, weights: range | tuple[int, ...]) -> int:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def reference_cpf(value: str) -> bool:
    digits = reference_digits(value, " -./")
    if digits is None or len(digits) != 11 or len(set(digits)) == 1:
        return False
    return (reference_mod11(digits[:9], range(10, 1, -1)) == int(digits[9])
            and reference_mod11(digits[:10], range(11, 1, -1)) == int(digits[10]))


def reference_cnpj(value: str) -> bool:
    digits = reference_digits(value, " -./")
    first = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    if digits is None or len(digits) != 14 or len(set(digits)) == 1:
        return False
    return (reference_mod11(digits[:12], first) == int(digits[12])
            and reference_mod11(digits[:13], (6, *first)) == int(digits[13]))


def reference_nhs(value: str) -> bool:
    digits = reference_digits(value, " -./")
    if digits is None or len(digits) != 10:
        return False
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits[:9])) % 11
    return check != 10 and check % 11 == int(digits[9])


@st.composite
def completed(draw: st.DrawFn, length: int) -> str:
    """``length`` digits of which the last one or two are often right for some mod-11 scheme (each digit tried)."""
    digits = draw(st.text(alphabet="0123456789", min_size=length, max_size=length))
    return draw(st.sampled_from([digits] + [digits[:-1] + d for d in "0123456789"]))


@settings(max_examples=600)
@given(completed(10) | completed(11) | completed(14) | st.text(alphabet="0123456789 -./1", max_size=19)
       | st.sampled_from(["111.111.111-11", "00.000.000/0000-00", "943 476 5919"]))
def test_mod11_validators_match_their_definitions(value: str) -> None:
    assert v.br_cpf(value) is reference_cpf(value)
    assert v.br_cnpj(value) is reference_cnpj(value)
    assert v.uk_nhs(value) is reference_nhs(value)


def test_mod11_validators_accept_completed_numbers() -> None:
    for stem in ("12345678", "98765432", "30303030"):
        cpf = stem + "9"
        cpf += str(reference_mod11(cpf, range(10, 1, -1)))
        cpf += str(reference_mod11(cpf, range(11, 1, -1)))
        assert v.br_cpf(f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}") and reference_cpf(cpf)
        cnpj = stem + "0001"
        cnpj += str(reference_mod11(cnpj, (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)))
        cnpj += str(reference_mod11(cnpj, (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)))
        assert v.br_cnpj(f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}") and reference_cnpj(cnpj)


# --- ISO birth dates --------------------------------------------------------------------------------------------

def reference_iso_birth_date(value: str, today: date) -> bool:
    try:
        parsed = date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return False
    return parsed.year >= 1900 and parsed <= today


@settings(max_examples=600)
@given(st.integers(1000, 2999), st.integers(0, 13), st.integers(0, 32), st.sampled_from("-./"),
       st.sampled_from("-./"))
def test_iso_birth_dates_match_the_calendar(year: int, month: int, day: int, first: str, second: str) -> None:
    value = f"{year:04d}{first}{month:02d}{second}{day:02d}"
    today = date(2024, 6, 30)
    assert v.birth_date(value, today=lambda: today) is reference_iso_birth_date(value, today)


@pytest.mark.parametrize(("value", "valid"), [
    ("1990-05-13", True), ("1990/05/13", True), ("1990.5.13", True), ("13-05-1990", True), ("1899-12-31", False),
    ("1990-02-30", False), ("1990-0a-13", False), ("1990-\u0665-13", False), ("1990--05-13", True),
    ("1990-05-13 ", True), ("\u0661\u0669\u0669\u0660-05-13", False), ("2999-01-01", False)])
def test_birth_date_shapes(value: str, valid: bool) -> None:
    assert v.birth_date(value, today=lambda: date(2024, 6, 30)) is valid


# --- crypto addresses: BIP-173/350 and Base58Check as specified, EIP-55 with keccak ---------------------------------

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def reference_polymod(values: list[int]) -> int:
    """BIP-173's reference ``bech32_polymod``."""
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def reference_segwit(value: str) -> bool:
    """BIP-173/350 reference decoding for the "bc" prefix: one case, charset, checksum constant per version,
    8-bit regrouping without non-zero padding, program lengths."""
    if any(ord(c) < 33 or ord(c) > 126 for c in value) or (value.lower() != value and value.upper() != value):
        return False
    value = value.lower()
    pos = value.rfind("1")
    if pos < 1 or pos + 7 > len(value) or len(value) > 90 or value[:pos] != "bc":
        return False
    if any(c not in BECH32 for c in value[pos + 1:]):
        return False
    data = [BECH32.find(c) for c in value[pos + 1:]]
    hrp = value[:pos]
    constant = reference_polymod([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data)
    version = data[0]
    if version > 16 or constant != (1 if version == 0 else 0x2BC830A3):
        return False
    acc = bits = 0
    program = []
    for item in data[1:-6]:
        acc = (acc << 5) | item
        bits += 5
        while bits >= 8:
            bits -= 8
            program.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc << (8 - bits)) & 0xFF:
        return False
    return 2 <= len(program) <= 40 and (version != 0 or len(program) in (20, 32))


def segwit_encode(version: int, program: bytes, bech32m: bool) -> str:
    acc = bits = 0
    data = [version]
    for byte in program:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    expanded = [3, 3, 0, 2, 3]  # "bc" expanded
    mod = reference_polymod(expanded + data + [0] * 6) ^ (0x2BC830A3 if bech32m else 1)
    return "bc1" + "".join(BECH32[d] for d in data + [(mod >> 5 * (5 - i)) & 31 for i in range(6)])


@st.composite
def segwit_like(draw: st.DrawFn) -> str:
    version = draw(st.integers(0, 17))
    program = draw(st.binary(min_size=0, max_size=42) | st.sampled_from([bytes(20), bytes(range(32))]))
    address = segwit_encode(version % 32, program, draw(st.booleans()))
    change = draw(st.integers(0, 5))
    if change == 1:
        position = draw(st.integers(3, len(address) - 1))
        address = address[:position] + draw(st.sampled_from(BECH32 + "bio1B")) + address[position + 1:]
    elif change == 2:
        address = address.upper()
    elif change == 3:
        address = address[:-1]
    return address


@settings(max_examples=600)
@given(st.lists(st.integers(0, 31), max_size=95))
def test_bech32_polymod_matches_the_bip173_reference(values: list[int]) -> None:
    assert v.bech32_polymod(values) == reference_polymod(values)


@settings(max_examples=600)
@given(segwit_like() | st.text(alphabet="bc1qpzry9x8gf2tvdw0s3jn54khce6mua7lBCQ\u0131", max_size=92))
@example("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")
@example("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y")
@example("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs")
@example("bc1qr508d6qejxtdg4y5r3zarvaryv98gj9p")
def test_bitcoin_segwit_matches_the_bip_reference(value: str) -> None:
    assert v.bitcoin_segwit(value) is reference_segwit(value)


def reference_base58check(value: str) -> bytes | None:
    number = 0
    for char in value:
        if char not in BASE58:
            return None
        number = number * 58 + BASE58.index(char)
    raw = b"\x00" * (len(value) - len(value.lstrip("1"))) + (
        number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b"")
    if len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    return payload if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum else None


@st.composite
def base58check_like(draw: st.DrawFn) -> str:
    payload = draw(st.sampled_from([b"\x00", b"\x05", b"\x6f", b""])) + draw(st.binary(min_size=0, max_size=24))
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number = int.from_bytes(raw, "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = BASE58[digit] + text
    text = "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + text
    if draw(st.booleans()) and text:
        position = draw(st.integers(0, len(text) - 1))
        text = text[:position] + draw(st.sampled_from(BASE58 + "0OIl\u00e9")) + text[position + 1:]
    return text


@settings(max_examples=600)
@given(base58check_like() | st.text(alphabet=BASE58[:12] + "0O", max_size=70))
def test_base58check_matches_the_reference(value: str) -> None:
    assert v.base58check_decode(value) == reference_base58check(value)
    expected = (payload := reference_base58check(value)) is not None and len(payload) == 21 and payload[0] in (0, 5)
    assert v.bitcoin_base58(value) is expected


def test_base58check_beyond_the_power_table() -> None:
    value = "1" * 3 + "z" * 100
    assert v.base58check_decode(value) == reference_base58check(value)


def reference_eip55(address: str) -> str:
    lower = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, digest, strict=False))


@settings(max_examples=600)
@given(st.text(alphabet="0123456789abcdefABCDEFxg", min_size=2, max_size=70))
def test_eip55_checksum_matches_the_definition(address: str) -> None:
    assert v.eip55_checksum(address) == reference_eip55(address)


@settings(max_examples=600)
@given(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40), st.integers(0, 2), st.integers(0, 39))
def test_ethereum_address_accepts_exactly_the_eip55_form(body: str, change: int, position: int) -> None:
    address = reference_eip55("0x" + body)
    if change == 1:
        address = address[:2 + position] + address[2 + position].swapcase() + address[3 + position:]
    expected = address == reference_eip55(address) or address[2:] in (body, body.upper())
    assert v.ethereum_address(address) is expected
    if change == 2:
        assert v.ethereum_address(address.upper().replace("0X", "0x"))
