"""Validators: confirm a pattern's candidate with the identifier's own rules (checksums, number ranges, libraries).

Each takes the candidate as matched (separators included) and returns whether it is a real identifier. They are
pure and total: any string gives True or False, never an exception, so they can be fuzzed and reused.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable
from datetime import date
from operator import getitem, mul, xor

import phonenumbers
from Crypto.Hash import keccak

_SEPARATORS = b" -./"


def _digits(value: str, separators: bytes = _SEPARATORS) -> str | None:
    """``value`` without separators if only ASCII digits remain, else None. Done on bytes: deleting bytes is one
    C loop with no per-character lookup, and ``bytes.isdigit`` admits ASCII digits only."""
    stripped = value.encode("utf-8", "surrogatepass").translate(None, separators)
    return stripped.decode("ascii") if stripped.isdigit() else None


_EMAIL = re.compile(r"(?!\.)(?:\.?[A-Za-z0-9_%+-])+@(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+[A-Za-z]{2,63}")


def email_address(value: str) -> bool:
    """At most 254 characters: a local part of at most 64 without empty dot-separated parts, and a domain of two
    or more labels (1–63 letters, digits or inner hyphens) ending in an alphabetic top-level label."""
    return len(value) <= 254 and 0 < value.find("@") <= 64 and _EMAIL.fullmatch(value) is not None


# ASCII digit -> its value, and -> the digit sum of its double (what Luhn adds for every second digit).
_DIGIT_VALUE = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED_DIGIT = bytes.maketrans(b"0123456789", bytes(d * 2 - 9 if d > 4 else d * 2 for d in range(10)))


def luhn(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits: from the right, the digits in odd places plus the
    digit sums of those in even places doubled, by table over byte slices (no per-digit Python work)."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    data = digits.encode("ascii")[::-1]
    return (sum(data[0::2].translate(_DIGIT_VALUE)) + sum(data[1::2].translate(_DOUBLED_DIGIT))) % 10 == 0


# Issuer prefixes (inclusive ranges over the first digits) and the lengths each brand issues.
CARD_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("visa", ((4, 4),), frozenset({13, 16, 19})),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("american_express", ((34, 34), (37, 37)), frozenset({15})),
    ("diners_club", ((300, 305), (3095, 3095), (36, 36), (38, 39)), frozenset({14, 15, 16, 17, 18, 19})),
    ("jcb", ((3528, 3589),), frozenset({16, 17, 18, 19})),
    ("discover", ((6011, 6011), (644, 649), (65, 65), (622126, 622925)), frozenset({16, 17, 18, 19})),
    ("unionpay", ((62, 62), (81, 81)), frozenset({16, 17, 18, 19})),
    ("mir", ((2200, 2204),), frozenset({16, 17, 18, 19})),
    ("maestro", ((50, 50), (56, 69)), frozenset(range(12, 20))),
    ("uatp", ((1, 1),), frozenset({15})),
)


# Every issuer prefix is at most six digits: a range of w-digit prefixes is a range of six-digit ones.
_PREFIX_DIGITS = 6


def _brand_segments(length: int) -> tuple[list[int], list[str | None]]:
    """For card numbers of ``length`` digits, the six-digit prefix space cut into segments (their starts,
    ascending) and the brand of each: the first in :data:`CARD_BRANDS` whose ranges cover it, or None."""
    covering: list[tuple[int, int, str]] = []
    bounds = {0, 10 ** _PREFIX_DIGITS}
    for brand, ranges, lengths in CARD_BRANDS:
        if length in lengths:
            for low, high in ranges:
                scale = 10 ** (_PREFIX_DIGITS - len(str(low)))
                covering.append((low * scale, (high + 1) * scale, brand))
                bounds.update((low * scale, (high + 1) * scale))
    starts = sorted(bounds)[:-1]
    brands = [next((brand for low, high, brand in covering if low <= start < high), None) for start in starts]
    return starts, brands


_BRAND_SEGMENTS = {length: _brand_segments(length) for _, _, lengths in CARD_BRANDS for length in lengths}


def card_brand(digits: str) -> str | None:
    """The brand whose issuer prefix and length fit ``digits`` (first match in :data:`CARD_BRANDS`): one bisect
    of the six-digit prefix in the segments precomputed for its length."""
    segments = _BRAND_SEGMENTS.get(len(digits))
    if segments is None:
        return None
    starts, brands = segments
    return brands[bisect.bisect_right(starts, int(digits[:_PREFIX_DIGITS])) - 1]


_CARD_SEPARATORS = b" -"


def credit_card(value: str) -> bool:
    """12–19 digits (spaces or dashes allowed) with a known issuer prefix and length, passing Luhn."""
    digits = _digits(value, _CARD_SEPARATORS)
    return digits is not None and 12 <= len(digits) <= 19 and card_brand(digits) is not None and luhn(digits)

# IBAN length per country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


# A-Z -> 10-35, as ISO 13616 reads letters (digits stay).
_IBAN_NUMBERS = str.maketrans({chr(ord("A") + offset): str(10 + offset) for offset in range(26)})


def iban(value: str) -> bool:
    """The country's IBAN length and the ISO 7064 mod-97 check (spaces allowed, upper case)."""
    compact = value.replace(" ", "")
    if not (compact.isascii() and compact.isalnum() and compact.isupper()):
        return False
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    return int((compact[4:] + compact[:4]).translate(_IBAN_NUMBERS)) % 97 == 1


_INVALID_SSNS = frozenset({"078051120", "219099999"})


def us_ssn(value: str) -> bool:
    """Area not 000, 666 or 900–999; group not 00; serial not 0000; not a number published in advertising."""
    digits = _digits(value)
    if digits is None or len(digits) != 9 or digits in _INVALID_SSNS:
        return False
    area = digits[:3]
    return area != "000" and area != "666" and area[0] != "9" and digits[3:5] != "00" and digits[5:] != "0000"


_ITIN_GROUPS = frozenset([*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)])


def us_itin(value: str) -> bool:
    """Nine digits starting with 9 whose group (digits 4–5) is in 50–65, 70–88, 90–92 or 94–99."""
    digits = _digits(value)
    return digits is not None and len(digits) == 9 and digits[0] == "9" and int(digits[3:5]) in _ITIN_GROUPS


_NINO_FIRST = frozenset("ABCEGHJKLMNOPRSTWXYZ")
_NINO_SECOND = frozenset("ABCEGHJKLMNPRSTWXYZ")
_NINO_PREFIXES_NOT_ISSUED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def uk_nino(value: str) -> bool:
    """Two prefix letters (not D, F, I, Q, U, V; O not second; BG, GB, KN, NK, NT, TN, ZZ never issued),
    six digits and a suffix A–D."""
    compact = value.replace(" ", "")
    return (len(compact) == 9 and compact.isascii() and compact[0] in _NINO_FIRST and compact[1] in _NINO_SECOND
            and compact[:2] not in _NINO_PREFIXES_NOT_ISSUED and compact[2:8].isdigit() and compact[8] in "ABCD")


_NHS_WEIGHTS = range(10, 1, -1)


def _digit_values(digits: str) -> bytes:
    """The values of a string of ASCII digits, one byte each (one table lookup in C, no ``int`` per digit)."""
    return digits.encode("ascii").translate(_DIGIT_VALUE)


def uk_nhs(value: str) -> bool:
    """Ten digits with the NHS modulus-11 check digit (weights 10..2; a remainder giving 10 is never issued)."""
    digits = _digits(value)
    if digits is None or len(digits) != 10:
        return False
    values = _digit_values(digits)
    check = 11 - sum(map(mul, values, _NHS_WEIGHTS)) % 11
    return check != 10 and check % 11 == values[9]


def ca_sin(value: str) -> bool:
    """Nine digits passing Luhn, not starting with 0 (unassigned) or 8 (business numbers)."""
    digits = _digits(value)
    return digits is not None and len(digits) == 9 and digits[0] not in "08" and luhn(digits)


def _mod11_digit(values: bytes, weights: Iterable[int]) -> int:
    """The check digit of digit values ``values`` under ``weights`` (one weight per value)."""
    remainder = sum(map(mul, values, weights)) % 11
    return 0 if remainder < 2 else 11 - remainder


_CPF_FIRST = range(10, 1, -1)
_CPF_SECOND = range(11, 1, -1)


def br_cpf(value: str) -> bool:
    """Eleven digits, not all the same, with both CPF check digits."""
    digits = _digits(value)
    if digits is None or len(digits) != 11 or digits == digits[0] * 11:
        return False
    values = _digit_values(digits)
    return _mod11_digit(values[:9], _CPF_FIRST) == values[9] and _mod11_digit(values[:10], _CPF_SECOND) == values[10]


_CNPJ_SEPARATORS = b" -./"
_CNPJ_FIRST = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_SECOND = (6, *_CNPJ_FIRST)


def br_cnpj(value: str) -> bool:
    """Fourteen digits, not all the same, with both CNPJ check digits."""
    digits = _digits(value, _CNPJ_SEPARATORS)
    if digits is None or len(digits) != 14 or digits == digits[0] * 14:
        return False
    values = _digit_values(digits)
    return (_mod11_digit(values[:12], _CNPJ_FIRST) == values[12]
            and _mod11_digit(values[:13], _CNPJ_SECOND) == values[13])


# The octets ``ipaddress`` accepts: ASCII decimal 0-255 without leading zeros, i.e. exactly these strings.
_IPV4_OCTETS = frozenset(map(str, range(256)))
# Eight full hextets: valid, and with no "::", "." (embedded IPv4) or "%" (scope) the only valid IPv6 form.
_IPV6_FULL = re.compile(r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}")


def ip_address(value: str) -> bool:
    """An IPv4 (no leading zeros) or IPv6 address, as Python's ``ipaddress`` parses it.

    Decided without the module (whose failed parses raise, the cost of most candidates) where its rules are
    simple: without ":" only IPv4 can parse (IPv6 needs two colons) and that is four octets; with ":" IPv4 cannot,
    and IPv6 without "::", "." or "%" is eight hextets. The rest (compressed, embedded IPv4, scoped) is parsed."""
    if ":" not in value:
        parts = value.split(".")
        return len(parts) == 4 and _IPV4_OCTETS.issuperset(parts)
    if _IPV6_FULL.fullmatch(value) is not None:
        return True
    if "::" not in value and "." not in value and "%" not in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


_HEX = frozenset("0123456789abcdefABCDEF")


def mac_address(value: str) -> bool:
    """Six hex octets split by one consistent separator (":" or "-"), or Cisco's three dotted groups of four.
    By length and slices: the separators at every third (fifth) place, hex everywhere else."""
    if len(value) == 17:
        separator = value[2]
        return (separator in (":", "-") and value[2::3] == separator * 5
                and _HEX.issuperset(value[0::3]) and _HEX.issuperset(value[1::3]))
    return (len(value) == 14 and value[4::5] == ".." and _HEX.issuperset(value[:4]) and _HEX.issuperset(value[5:9])
            and _HEX.issuperset(value[10:]))


_BASE58 = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_VALUES = bytes.maketrans(_BASE58, bytes(range(58)))
# 58 ** k, highest first: a number's digits times these, summed in C (an address has at most 35 digits).
_POWERS_58 = tuple(58 ** k for k in range(63, -1, -1))
_BITCOIN_VERSIONS = (0x00, 0x05)  # P2PKH, P2SH on mainnet


def base58check_decode(value: str) -> bytes | None:
    """The payload of a Base58Check string (version byte included) if its double-SHA-256 checksum holds."""
    if not value.isascii():
        return None
    encoded = value.encode("ascii")
    if encoded.translate(None, _BASE58):
        return None
    digits = encoded.translate(_BASE58_VALUES)
    count = len(digits)
    powers = _POWERS_58[len(_POWERS_58) - count:] if count <= len(_POWERS_58) else [58 ** k for k in
                                                                                    range(count - 1, -1, -1)]
    number = sum(map(mul, digits, powers))
    zeros = len(value) - len(value.lstrip("1"))
    raw = b"\x00" * zeros + (number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b"")
    if len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    return payload if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum else None


def bitcoin_base58(value: str) -> bool:
    """A legacy P2PKH ("1…") or P2SH ("3…") address: Base58Check, version 0 or 5, a 20-byte hash."""
    payload = base58check_decode(value)
    return payload is not None and len(payload) == 21 and payload[0] in _BITCOIN_VERSIONS


_BECH32_CHARSET = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_VALUES = bytes.maketrans(_BECH32_CHARSET, bytes(range(32)))
_BECH32_CONST, _BECH32M_CONST = 1, 0x2BC830A3


_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# For each value of the five bits shifted out, the XOR of the generator terms they select.
_BECH32_TOP = tuple(functools.reduce(xor, (g for bit, g in enumerate(_BECH32_GENERATOR) if top >> bit & 1), 0)
                    for top in range(32))


def bech32_polymod(values: Iterable[int]) -> int:
    """BIP-173's checksum polynomial over 5-bit values."""
    checksum = 1
    for value in values:
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value ^ _BECH32_TOP[checksum >> 25 & 31]
    return checksum


def bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _bech32_shift(checksum: int) -> int:
    """One polymod step with a zero value: the map every later value passes its contribution through."""
    return (checksum & 0x1FFFFFF) << 5 ^ _BECH32_TOP[checksum >> 25 & 31]


def _bech32_shifted(checksum: int, steps: int) -> int:
    for _ in range(steps):
        checksum = _bech32_shift(checksum)
    return checksum


# The polymod step is linear over GF(2): after m values, the checksum is the start state shifted m times XOR each
# value shifted by its distance from the end. Tables of both let a checksum be one XOR-reduce in C.
_SEGWIT_MAX_DATA = 84
_BECH32_BY_DISTANCE = tuple(tuple(_bech32_shifted(value, distance) for value in range(32))
                            for distance in range(_SEGWIT_MAX_DATA - 1, -1, -1))
_BC_STATE = bech32_polymod(bech32_hrp_expand("bc"))
_BC_SHIFTED = tuple(_bech32_shifted(_BC_STATE, steps) for steps in range(_SEGWIT_MAX_DATA + 1))


def bitcoin_segwit(value: str) -> bool:
    """A mainnet segwit address ("bc1…"): bech32 for witness version 0 (20- or 32-byte program), bech32m for
    versions 1–16 (2–40 bytes), one case throughout (BIP-173, BIP-350)."""
    if value.lower() != value and value.upper() != value:
        return False
    lowered = value.lower()
    hrp, _, data_part = lowered.rpartition("1")
    if hrp != "bc" or not 6 < len(data_part) <= _SEGWIT_MAX_DATA or len(lowered) > 90 or not data_part.isascii():
        return False
    encoded = data_part.encode("ascii")
    if encoded.translate(None, _BECH32_CHARSET):
        return False
    data = encoded.translate(_BECH32_VALUES)
    version = data[0]
    count = len(data)
    constant = functools.reduce(xor, map(getitem, _BECH32_BY_DISTANCE[_SEGWIT_MAX_DATA - count:], data),
                                _BC_SHIFTED[count])
    if version > 16 or constant != (_BECH32_CONST if version == 0 else _BECH32M_CONST):
        return False
    # The witness program is the 5-bit groups between the version and the checksum regrouped into bytes: its
    # length is their bits // 8, and the bits left over must be fewer than 5 and zero (BIP-173 padding).
    groups = count - 7
    leftover = groups * 5 % 8
    if leftover >= 5 or (groups and data[-7] & ((1 << leftover) - 1)):
        return False
    length = groups * 5 // 8
    if not 2 <= length <= 40:
        return False
    return version != 0 or length in (20, 32)


def bitcoin_address(value: str) -> bool:
    """A mainnet Bitcoin address in either encoding (:func:`bitcoin_base58` or :func:`bitcoin_segwit`)."""
    return bitcoin_segwit(value) if value[:3].lower() == "bc1" else bitcoin_base58(value)


# A hex digit of the digest -> 0xFF where it is 8 or more (that character is upper case), else 0.
_HIGH_NIBBLE = bytes.maketrans(b"0123456789abcdef", b"\x00" * 8 + b"\xff" * 8)


def eip55_checksum(address: str) -> str:
    """``0x`` + the 40 hex digits with EIP-55 capitalisation: a letter is upper case where the matching nibble
    of keccak-256(lower-case hex) is 8 or more. The choice is made for all characters at once, as big-integer
    masks over the lower- and upper-case bytes."""
    lower = address[2:].lower().encode("ascii")
    digest = keccak.new(digest_bits=256, data=lower).digest().hex().encode("ascii")
    lower = lower[:len(digest)]
    size = len(lower)
    upper_mask = int.from_bytes(digest[:size].translate(_HIGH_NIBBLE), "big")
    mixed = int.from_bytes(lower.upper(), "big") & upper_mask | int.from_bytes(lower, "big") & ~upper_mask
    return "0x" + mixed.to_bytes(size, "big").decode("ascii")


def ethereum_address(value: str) -> bool:
    """``0x`` and 40 hex digits; mixed case must carry a valid EIP-55 checksum (one case carries none)."""
    body = value[2:]
    if value[:2] != "0x" or len(body) != 40 or not _HEX.issuperset(body):
        return False
    if body == body.lower() or body == body.upper():
        return True
    return eip55_checksum(value) == value


def crypto_address(value: str) -> bool:
    """A Bitcoin or Ethereum address with a valid checksum; "0x" picks Ethereum."""
    return ethereum_address(value) if value.startswith("0x") else bitcoin_address(value)


_MONTHS = {name: number for number, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")), start=1) for name in names}
EARLIEST_BIRTH_YEAR = 1900


def _date_readings(value: str) -> Iterable[tuple[int, int, int]]:
    """Every (year, month, day) the text could mean: numeric dates read year-first, day-first and month-first."""
    words = value.replace(",", " ").replace(".", " ").replace("/", " ").replace("-", " ").split()
    if len(words) != 3:
        return
    if all(word.isascii() and word.isdigit() for word in words):
        a, b, c = (int(word) for word in words)
        if len(words[0]) == 4:
            yield a, b, c
        elif len(words[2]) == 4:
            yield c, b, a
            yield c, a, b
        return
    months = [(i, _MONTHS.get(word.lower().rstrip("."))) for i, word in enumerate(words)]
    named = [(i, month) for i, month in months if month is not None]
    if len(named) != 1:
        return
    position, month = named[0]
    rest = [words[i].lower().removesuffix(_ordinal(words[i])) for i in range(3) if i != position]
    if all(word.isascii() and word.isdigit() for word in rest):
        day, year = (rest if len(rest[1]) == 4 else rest[::-1])
        if len(year) == 4:
            yield int(year), month, int(day)


def _ordinal(word: str) -> str:
    suffix = word[-2:].lower()
    return suffix if suffix in ("st", "nd", "rd", "th") else ""


def _iso_reading(value: str) -> tuple[tuple[int, int, int]] | None:
    """The one reading of "YYYY-MM-DD" (any of "-", ".", "/" between), the common shape, read by slicing; None
    for any other text (what :func:`_date_readings` would split the same way)."""
    if len(value) != 10 or value[4] not in "-./" or value[7] not in "-./":
        return None
    year, month, day = value[:4], value[5:7], value[8:]
    if not (year + month + day).isascii() or not (year + month + day).isdigit():
        return None
    return ((int(year), int(month), int(day)),)


def birth_date(value: str, *, today: Callable[[], date] = date.today) -> bool:
    """A real calendar date from 1900 up to today, in any reading of its format (ISO, day/month/year,
    month/day/year, or with a month name)."""
    for year, month, day in _iso_reading(value) or _date_readings(value):
        if EARLIEST_BIRTH_YEAR <= year:
            try:
                candidate = date(year, month, day)
            except ValueError:
                continue
            if candidate <= today():
                return True
    return False


# A phone value whose reading by ``phonenumbers.parse`` is computed here: ASCII digits and the separators the phone
# patterns allow, an optional leading "+", an optional extension (which parse strips and validity ignores). Anything
# else (letters, other scripts' digits) is parsed by the library.
_PHONE_SHAPE = re.compile(r"(\+?[0-9 ()./-]+?)(?: ?(?:x|ext\.?) ?[0-9]{1,6})?")
_NOT_DIGIT = re.compile(r"[^0-9]")
# ``parse``'s limits: the longest input, the shortest NSN and the longest (the validator never passes more than 15
# digits, so NSN lengths are tabulated up to this one).
_MAX_PHONE_INPUT = 250
_MIN_NSN_LENGTH = 2
_MAX_NSN_LENGTH = 17


class _ParseRules:
    """How ``phonenumbers.parse`` reads a number's digits under one region's metadata (or a calling code's main
    region's), with its patterns compiled once: ``_maybe_extract_country_code`` (international prefix, or the
    region's own calling code written without "+"), ``_maybe_strip_national_prefix_carrier_code`` and, per NSN
    length, what ``_test_number_length`` makes of it (the library's own function, so its rules are not restated).
    """

    __slots__ = ("code", "code_digits", "general", "idd", "keeps", "prefix", "too_long", "transform")

    def __init__(self, metadata: phonenumbers.PhoneMetadata) -> None:
        self.code: int = metadata.country_code
        self.code_digits = str(self.code)
        self.idd = re.compile(metadata.international_prefix) if metadata.international_prefix is not None else None
        prefix = metadata.national_prefix_for_parsing
        self.prefix = re.compile(prefix) if prefix else None
        self.transform = metadata.national_prefix_transform_rule
        self.general = _desc_pattern(metadata.general_desc)
        fates = {length: phonenumbers.phonenumberutil._test_number_length("0" * length, metadata)
                 for length in range(_MAX_NSN_LENGTH + 1)}
        result = phonenumbers.ValidationResult
        # Lengths at which parse keeps a number with its national prefix stripped.
        self.keeps = frozenset(n for n, fate in fates.items() if fate in (result.IS_POSSIBLE, result.TOO_LONG))
        self.too_long = frozenset(n for n, fate in fates.items() if fate == result.TOO_LONG)

    def national(self, digits: str) -> tuple[int, str] | None:
        """(calling code, NSN) of ``parse(number, region)`` for a number without "+" whose digits (three to 15)
        are ``digits``; None where parse raises. An international prefix not followed by "0" leads a calling
        code; the region's own code leads the NSN only where that makes it fit the region, or the whole is too
        long for it."""
        idd = self.idd.match(digits) if self.idd is not None else None
        if idd is not None and digits[idd.end():idd.end() + 1] != "0":
            rest = digits[idd.end():]
            code = _country_code(rest) if len(rest) > _MIN_NSN_LENGTH else None
            return None if code is None else _international(code, rest[len(str(code)):])
        if digits.startswith(self.code_digits):
            national = self._strip(digits[len(self.code_digits):])
            if (not self._fits(digits) and self._fits(national)) or len(digits) in self.too_long:
                return _international(self.code, national)
        return self.nsn(digits)

    def nsn(self, number: str) -> tuple[int, str] | None:
        """(calling code, NSN) of a national number under these rules: its national prefix stripped where what
        remains has a possible length (or is too long). Parse's leading-zero fields give the NSN back as is."""
        if len(number) < _MIN_NSN_LENGTH:
            return None
        stripped = self._strip(number)
        return self.code, stripped if len(stripped) in self.keeps else number

    def _strip(self, number: str) -> str:
        """``number`` without its national prefix and carrier code (or as the transform rule rewrites it), unless
        it fit the general pattern before and does not after."""
        match = self.prefix.match(number) if self.prefix is not None and number else None
        if match is None:
            return number
        if self.transform and match.groups()[-1] is not None:
            stripped = self.prefix.sub(self.transform, number, count=1)
        else:
            stripped = number[match.end():]
        return number if self._fits(number) and not self._fits(stripped) else stripped

    def _fits(self, number: str) -> bool:
        return self.general is not None and self.general.fullmatch(number) is not None


@functools.cache
def _rules_for_region(region: str) -> _ParseRules:
    return _ParseRules(phonenumbers.PhoneMetadata.metadata_for_region(region.upper()))


@functools.cache
def _rules_for_code(code: int) -> _ParseRules:
    """The rules of ``code``'s main region (or of its non-geographic entity), which parse reads it with."""
    return _ParseRules(phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code)))


def _international(code: int, national: str) -> tuple[int, str] | None:
    """(calling code, NSN) of a number read as calling code ``code`` followed by ``national``."""
    return _rules_for_code(code).nsn(national)


# The number types ``is_valid_number`` accepts, in the order the library tries them (mobile is skipped where it is
# declared the same as fixed line).
_NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
                 "fixed_line", "mobile")


class _RegionValidity:
    """``phonenumbers``' number-type check for one region's metadata (``_number_type_helper(nsn) != UNKNOWN``),
    precompiled: the general description's lengths and pattern, then, per NSN length, one alternation of the
    patterns of every number type that admits that length. ``fullmatch`` of an alternation holds exactly when
    one branch matches whole, which is what the library asks of each type in turn."""

    __slots__ = ("_any_length", "_general", "_types", "lengths")

    def __init__(self, metadata: phonenumbers.PhoneMetadata) -> None:
        general = metadata.general_desc
        self._general = _desc_pattern(general)
        # The NSN lengths the region admits (None: any).
        self.lengths = frozenset(general.possible_length) if general and general.possible_length else None
        descs = [getattr(metadata, name) for name in _NUMBER_TYPES
                 if not (name == "mobile" and metadata.same_mobile_and_fixed_line_pattern)]
        typed = [(frozenset(desc.possible_length), desc.national_number_pattern) for desc in descs
                 if desc is not None and desc.national_number_pattern]
        self._types = {length: _alternation([pattern for admitted, pattern in typed
                                             if not admitted or length in admitted])
                       for length in {n for admitted, _ in typed for n in admitted}}
        self._any_length = _alternation([pattern for admitted, pattern in typed if not admitted])

    def __call__(self, nsn: str) -> bool:
        if self._general is None or (self.lengths is not None and len(nsn) not in self.lengths):
            return False
        if self._general.fullmatch(nsn) is None:
            return False
        return self._types.get(len(nsn), self._any_length).fullmatch(nsn) is not None


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    """One pattern that fully matches what any of ``patterns`` fully matches (nothing when there are none)."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns) if patterns else "(?!)")


def _desc_pattern(desc: phonenumbers.PhoneNumberDesc | None) -> re.Pattern[str] | None:
    """A description's national-number pattern, compiled; None where the library matches nothing against it."""
    pattern = desc.national_number_pattern if desc is not None else None
    return re.compile(pattern) if pattern else None


class _CodeValidity:
    """``phonenumbers.is_valid_number`` for the numbers of one country calling code, as the library decides it:
    the number's region is the code's only one, or the first of its regions whose leading digits start the NSN
    or (for a region without leading digits) whose number types admit it; the number is valid when that region
    belongs to the code and its number types admit the NSN.

    For a shared code (the 25 regions of +1) the regions are not tried one by one: an NSN of a length none of
    them admits is refused at once, and one alternation of the leading digits, a branch per region in order,
    finds the first region they pick (``match`` takes the first branch that matches), so only the regions
    without leading digits before it have their number types tried."""

    __slots__ = ("_leading", "_lengths", "_regions", "_single", "_unled")

    def __init__(self, code: int) -> None:
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
        self._single = len(regions) == 1
        # (leading digits, number-type check, whether the region's own code is ``code``) per region with metadata.
        self._regions: list[tuple[re.Pattern[str] | None, _RegionValidity, bool]] = []
        for region in regions:
            metadata = (phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region.upper())
                        if self._single else phonenumbers.PhoneMetadata.metadata_for_region(region.upper()))
            if metadata is None:
                continue
            leading = metadata.leading_digits
            own = region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY or _region_code(region) == code
            self._regions.append((re.compile(leading) if leading is not None and not self._single else None,
                                  _RegionValidity(metadata), own))
        lengths = [types.lengths for _, types, _ in self._regions]
        self._lengths = None if None in lengths else frozenset().union(*lengths)
        branches = [f"(?P<r{index}>{leading.pattern})" for index, (leading, _, _) in enumerate(self._regions)
                    if leading is not None]
        self._leading = re.compile("|".join(branches)) if branches else None
        self._unled = tuple((index, types, own) for index, (leading, types, own) in enumerate(self._regions)
                            if leading is None)

    def __call__(self, nsn: str) -> bool:
        if self._single:
            return bool(self._regions) and self._regions[0][2] and self._regions[0][1](nsn)
        if self._lengths is not None and len(nsn) not in self._lengths:
            return False
        match = self._leading.match(nsn) if self._leading is not None else None
        first = int(match.lastgroup[1:]) if match is not None else len(self._regions)
        for index, types, own in self._unled:
            if index > first:
                break
            if types(nsn):
                return own
        if first == len(self._regions):
            return False
        _, types, own = self._regions[first]
        return own and types(nsn)


def _region_code(region: str) -> int | None:
    try:
        return phonenumbers.country_code_for_valid_region(region)
    except Exception:  # noqa: BLE001 - the library raises a bare Exception for a region it does not know
        return None


@functools.cache
def _validity(code: int) -> _CodeValidity:
    return _CodeValidity(code)


def is_valid_phone_number(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number(number)``, from the same metadata with each region's patterns compiled once
    (the library tries a dozen number types one by one, a third of the phone check's cost)."""
    return _validity(number.country_code)(phonenumbers.national_significant_number(number))


def _country_code(digits: str) -> int | None:
    """The calling code ``digits`` (an international number without "+") starts with: calling codes are
    prefix-free, so at most one of its first 1–3 digits is one."""
    for width in (1, 2, 3):
        code = int(digits[:width]) if len(digits) >= width else 0
        if digits[:1] != "0" and code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code
    return None


class PhoneNumberValidator:
    """Accepts numbers ``phonenumbers`` deems valid: "+"-prefixed numbers on their own (one parse, no region),
    national numbers read in ``regions`` (in order; one region per country calling code, since
    ``is_valid_number`` already covers every region sharing it).

    Parsing is the engine's most expensive check, so a value of the usual shape (:data:`_PHONE_SHAPE`) is not
    parsed: its calling code and NSN are computed as ``parse`` would (:class:`_ParseRules`, from the library's own
    metadata) and checked by the library's validity rules, precompiled (:class:`_CodeValidity`). Other values
    are parsed. Results are cached per distinct value (table columns repeat values), up to :data:`CACHE_SIZE`
    values. A class rather than a closure so recognisers pickle for worker processes.
    """

    CACHE_SIZE = 65_536

    def __init__(self, regions: Iterable[str]) -> None:
        self.regions = tuple(regions)
        by_code: dict[int, str] = {}
        for region in self.regions:
            by_code.setdefault(phonenumbers.country_code_for_region(region), region)
        self._readings = tuple(by_code.values())
        self._cache: dict[str, bool] = {}

    def __reduce__(self) -> tuple[type[PhoneNumberValidator], tuple[tuple[str, ...]]]:
        return PhoneNumberValidator, (self.regions,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhoneNumberValidator) and other.regions == self.regions

    def __hash__(self) -> int:
        return hash(self.regions)

    def __call__(self, value: str) -> bool:
        known = self._cache.get(value)
        if known is None:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            known = self._cache[value] = self._valid(value)
        return known

    def _valid(self, value: str) -> bool:
        # ``isdigit`` admits other scripts' digits; in ASCII text only 0-9 (counted in C).
        count = sum(map(value.count, "0123456789")) if value.isascii() else sum(char.isdigit() for char in value)
        if not 7 <= count <= 15:
            return False
        shape = _PHONE_SHAPE.fullmatch(value) if len(value) <= _MAX_PHONE_INPUT else None
        digits = _NOT_DIGIT.sub("", shape.group(1)) if shape is not None else ""
        # Not the shape, too long to parse, or fewer than three digits before an extension (which the library may
        # then read as part of the number): parsed.
        if len(digits) < 3:
            return self._parsed(value, self._readings[:1] if value.startswith("+") else self._readings)
        if value.startswith("+"):
            code = _country_code(digits)
            if code is None:  # the library then reads the digits as a national number of the first region
                return self._parsed(value, self._readings[:1])
            reading = _international(code, digits[len(str(code)):])
            return reading is not None and _validity(reading[0])(reading[1])
        for region in self._readings:
            reading = _rules_for_region(region).national(digits)
            if reading is not None and _validity(reading[0])(reading[1]):
                return True
        return False

    @staticmethod
    def _parsed(value: str, regions: Iterable[str | None]) -> bool:
        for region in regions:
            try:
                number = phonenumbers.parse(value, region)
            except phonenumbers.NumberParseException:
                continue
            if is_valid_phone_number(number):
                return True
        return False
