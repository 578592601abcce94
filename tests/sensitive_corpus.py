"""Labelled evaluation corpus for the sensitive-data engine: realistic documents with exact entity spans.

``generate(n_docs, seed)`` returns support tickets, HR notes, payment logs, config snippets, chat messages and
operations logs in which every personal value and secret is labelled with its entity type and exact offsets, and
in which look-alikes that must *not* be reported (checksum-failing card, SSN, IBAN, NHS, SIN and CPF numbers,
order and invoice numbers, timestamps, hashes, UUIDs) stand unlabelled next to them.

The identifiers are built here from their published rules (Luhn, ISO 13616 mod 97, NHS mod 11, CPF/CNPJ check
digits, base58check, bech32/bech32m, EIP-55, GitHub's CRC32 token checksum) and never with the engine's own
validators: a mistake in a validator must show up as a miss, not hide in the labels. Faker supplies the realism
around them (names, addresses, companies, e-mail, IP and MAC addresses, birth dates) where its output is valid by
construction; its UK NINOs (prefix ZZ) and random phone numbers are not, so those are built here too.

Template fields in UPPER case are labelled entities (a format spec picks a variant: ``{US_SSN:compact}``);
lower-case fields are unlabelled filler. Deterministic for a given seed (and Faker version).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import random
import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from Crypto.Hash import keccak
from faker import Faker

ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN", "UK_NINO", "UK_NHS", "CA_SIN",
    "BR_CPF", "BR_CNPJ", "IP_ADDRESS", "MAC_ADDRESS", "URL_CREDENTIALS", "DATE_OF_BIRTH", "CRYPTO",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "SLACK_TOKEN", "STRIPE_KEY",
    "GOOGLE_API_KEY", "OPENAI_API_KEY", "JWT", "PRIVATE_KEY", "CONNECTION_STRING_PASSWORD", "GENERIC_SECRET",
)
"""Entity types a pattern engine is expected to find. PERSON, LOCATION and ORGANIZATION are labelled too, for
an NER recogniser; the engine ships none, so they are not in this tuple."""
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "ORGANIZATION")

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    entity: str


@dataclass(frozen=True, slots=True)
class Doc:
    kind: str
    text: str
    spans: tuple[Span, ...]


# --- check digits, from the published rules ------------------------------------------------------------------

def luhn_digit(payload: str) -> str:
    """The Luhn check digit to append to ``payload``."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str(-total % 10)


def iban(country: str, bban: str) -> str:
    """ISO 13616: check digits make the rearranged number congruent to 1 mod 97."""
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def nhs_digit(payload: str) -> int:
    """NHS mod 11 over nine digits weighted 10..2; 10 means the payload cannot be issued."""
    check = 11 - sum(int(d) * w for d, w in zip(payload, range(10, 1, -1), strict=True)) % 11
    return 0 if check == 11 else check


def cpf_digits(payload: str) -> str:
    """The two CPF check digits for nine digits."""
    digits = [int(d) for d in payload]
    for _ in range(2):
        r = sum(d * w for d, w in zip(digits, range(len(digits) + 1, 1, -1), strict=True)) * 10 % 11
        digits.append(0 if r == 10 else r)
    return "".join(map(str, digits[-2:]))


def cnpj_digits(payload: str) -> str:
    """The two CNPJ check digits for twelve digits."""
    digits = [int(d) for d in payload]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        r = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        digits.append(0 if r < 2 else 11 - r)
    return "".join(map(str, digits[-2:]))


def base58check(version: int, payload: bytes) -> str:
    raw = bytes([version]) + payload
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    n, out = int.from_bytes(raw, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = BASE58[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def segwit_address(version: int, program: bytes, hrp: str = "bc") -> str:
    """BIP-173 (bech32, version 0) or BIP-350 (bech32m, version 1+) address for a witness program."""
    acc, bits, data = 0, 0, [version]
    for byte in program:
        acc, bits = acc << 8 | byte, bits + 8
        while bits >= 5:
            bits -= 5
            data.append(acc >> bits & 31)
    if bits:
        data.append(acc << (5 - bits) & 31)
    const = 1 if version == 0 else 0x2BC830A3
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    mod = _bech32_polymod(expanded + data + [0] * 6) ^ const
    return hrp + "1" + "".join(BECH32[d] for d in data + [mod >> 5 * (5 - i) & 31 for i in range(6)])


def eip55(address_hex: str) -> str:
    """EIP-55 mixed-case checksum: a letter is upper-case where the keccak-256 nibble of the address is ≥ 8."""
    lower = address_hex.lower()
    digest = keccak.new(digest_bits=256, data=lower.encode()).hexdigest()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h, 16) >= 8 else c for c, h in zip(lower, digest,
                                                                                                strict=False))


def base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = BASE62[r] + out
    return out.rjust(width, "0")


def github_classic(prefix: str, body: str) -> str:
    """A classic GitHub token: 30 random base62 characters and the base62 CRC32 of them, six wide."""
    return f"{prefix}_{body}{base62(zlib.crc32(body.encode()), 6)}"


# --- values ----------------------------------------------------------------------------------------------------

CARD_BRANDS: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...] = (
    (("4",), (13, 16, 19)),                                  # Visa
    (("51", "52", "53", "54", "55", "2221", "2500", "2720"), (16,)),  # Mastercard
    (("34", "37"), (15,)),                                   # American Express
    (("36", "38", "300", "305"), (14,)),                     # Diners Club
    (("6011", "644", "65"), (16, 19)),                       # Discover
    (("3528", "3589"), (16, 17, 18, 19)),                    # JCB
    (("62",), (16, 17, 18, 19)),                             # UnionPay
    (("5018", "5020", "5038", "6304", "6759", "6761"), (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
)
# Printed groups as card-formatting code lays them out (Braintree's credit-card-type: gaps after digits 4, 8 and
# 12; American Express and Diners 4-6-5 and 4-6-4); 19 digits as embossed, 4-4-4-4-3.
CARD_GROUPS = {12: (4, 4, 4), 13: (4, 4, 4, 1), 14: (4, 6, 4), 15: (4, 6, 5), 16: (4, 4, 4, 4), 17: (4, 4, 4, 5),
               18: (4, 4, 4, 6), 19: (4, 4, 4, 4, 3)}
IBAN_FORMATS = {  # country: BBAN as (kind, count) runs, from the SWIFT IBAN registry
    "DE": (("n", 18),), "GB": (("a", 4), ("n", 14)), "FR": (("n", 10), ("c", 11), ("n", 2)), "ES": (("n", 20),),
    "IT": (("a", 1), ("n", 10), ("c", 12)), "NL": (("a", 4), ("n", 10)), "BE": (("n", 12),),
    "CH": (("n", 5), ("c", 12)), "PL": (("n", 24),), "IE": (("a", 4), ("n", 14)), "AT": (("n", 16),),
    "BR": (("n", 23), ("a", 1), ("c", 1)),
}
NINO_FIRST, NINO_SECOND = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
NINO_BANNED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
US_AREAS = ("201", "202", "206", "212", "213", "214", "215", "303", "305", "310", "312", "404", "415", "503",
            "512", "602", "617", "646", "702", "713", "718", "801", "917", "919")
CA_AREAS = ("204", "306", "403", "416", "438", "514", "604", "613", "647", "780", "819", "905")
BR_AREAS = ("11", "21", "31", "41", "51", "61", "71", "81")
DE_AREAS = (("30", 8), ("40", 8), ("69", 8), ("89", 8), ("221", 7))
FR_PREFIX = ("12", "14", "21", "23", "31", "38", "42", "47", "51", "55", "61", "62", "64", "66", "67", "75", "76", "78",
             "95", "98")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _group(value: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(value[i:i + size])
        i += size
    return sep.join(parts)


def card_number(rng: random.Random) -> str:
    prefixes, lengths = rng.choice(CARD_BRANDS)
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    payload = prefix + _digits(rng, length - len(prefix) - 1)
    return payload + luhn_digit(payload)


def format_card(rng: random.Random, number: str) -> str:
    sep = rng.choice(("", " ", "-"))
    return _group(number, CARD_GROUPS[len(number)], sep) if sep else number


def iban_value(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_FORMATS))
    chars = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}
    bban = "".join(rng.choice(chars[kind]) for kind, count in IBAN_FORMATS[country] for _ in range(count))
    return iban(country, bban)


def format_iban(rng: random.Random, value: str) -> str:
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.5 else value


def ssn_value(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        value = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if area != 666 and value not in {"078051120", "219099999"}:
            return value


def itin_value(rng: random.Random) -> str:
    group = rng.choice([*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)])
    return f"9{rng.randint(0, 99):02d}{group:02d}{rng.randint(1, 9999):04d}"


def nino_value(rng: random.Random) -> str:
    while (prefix := rng.choice(NINO_FIRST) + rng.choice(NINO_SECOND)) in NINO_BANNED:
        continue
    return prefix + _digits(rng, 6) + rng.choice("ABCD")


def nhs_value(rng: random.Random) -> str:
    while (check := nhs_digit(payload := str(rng.randint(4, 9)) + _digits(rng, 8))) == 10:
        continue
    return payload + str(check)


def sin_value(rng: random.Random) -> str:
    payload = str(rng.randint(1, 7)) + _digits(rng, 7)
    return payload + luhn_digit(payload)


def cpf_value(rng: random.Random) -> str:
    while len(set(payload := _digits(rng, 9))) == 1:
        continue
    return payload + cpf_digits(payload)


def cnpj_value(rng: random.Random) -> str:
    payload = _digits(rng, 8) + "0001"
    return payload + cnpj_digits(payload)


def phone_value(rng: random.Random) -> str:
    """A dialable number in a national or international format of one of eight countries."""
    country = rng.choice(("US", "US", "CA", "GB", "GB", "DE", "FR", "BR", "IN", "AU"))
    line = _digits(rng, 4)
    if country in ("US", "CA"):
        area = rng.choice(US_AREAS if country == "US" else CA_AREAS)
        exchange = str(rng.randint(2, 9)) + rng.choice(("23", "34", "45", "67", "78", "89", "20", "48"))
        return rng.choice((f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"{area}.{exchange}.{line}",
                           f"+1 {area} {exchange} {line}", f"+1-{area}-{exchange}-{line}"))
    if country == "GB":
        if rng.random() < 0.5:
            rest = "7" + _digits(rng, 3)
            return rng.choice((f"020 {rest} {line}", f"+44 20 {rest} {line}"))
        mobile = "74" + str(rng.randint(0, 7)) + _digits(rng, 1)
        return rng.choice((f"0{mobile} {_digits(rng, 6)}", f"+44 {mobile} {_digits(rng, 6)}"))
    if country == "DE":
        if rng.random() < 0.5:
            area, width = rng.choice(DE_AREAS)
            number = str(rng.randint(2, 9)) + _digits(rng, width - 1)
            return rng.choice((f"0{area} {number}", f"+49 {area} {number}"))
        mobile = rng.choice(("151", "160", "170", "171", "176"))
        return rng.choice((f"0{mobile} {_digits(rng, 8)}", f"+49 {mobile} {_digits(rng, 8)}"))
    if country == "FR":
        first = rng.choice(FR_PREFIX)
        number = first + _digits(rng, 9 - len(first))
        pairs = " ".join(number[i:i + 2] for i in range(1, 9, 2))
        return rng.choice((f"0{number[0]} {pairs}", f"+33 {number[0]} {pairs}"))
    if country == "BR":
        area = rng.choice(BR_AREAS)
        if rng.random() < 0.5:
            return rng.choice((f"({area}) 9{_digits(rng, 4)}-{line}", f"+55 {area} 9{_digits(rng, 4)}-{line}"))
        return rng.choice((f"({area}) {rng.randint(2, 5)}{_digits(rng, 3)}-{line}",
                           f"+55 {area} {rng.randint(2, 5)}{_digits(rng, 3)}-{line}"))
    if country == "IN":
        return f"+91 {rng.randint(7, 9)}{_digits(rng, 4)} {_digits(rng, 5)}"
    return f"+61 4{rng.randint(0, 3)}{_digits(rng, 1)} {_digits(rng, 3)} {_digits(rng, 3)}"


def crypto_value(rng: random.Random, variant: str) -> str:
    payload = rng.randbytes(32)
    if variant == "p2pkh":
        return base58check(0, payload[:20])
    if variant == "p2sh":
        return base58check(5, payload[:20])
    if variant == "p2wpkh":
        return segwit_address(0, payload[:20])
    if variant == "p2tr":
        return segwit_address(1, payload)
    return eip55(payload[:20].hex())


def _token(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_value(rng: random.Random, fake: Faker) -> str:
    header = {"alg": rng.choice(("HS256", "RS256", "ES256")), "typ": "JWT"}
    claims = {"sub": str(rng.randint(10**5, 10**9)), "name": fake.name(),
              "iat": rng.randint(1_600_000_000, 1_750_000_000)}
    return ".".join((_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()),
                     _b64url(rng.randbytes(32))))


def secret_value(rng: random.Random, entity: str, variant: str) -> str:
    """Tokens in each provider's documented shape; only the GitHub classic checksum is verifiable offline."""
    if entity == "AWS_ACCESS_KEY_ID":
        return rng.choice(("AKIA", "ASIA")) + _token(rng, 16, string.ascii_uppercase + "234567")
    if entity == "AWS_SECRET_ACCESS_KEY":
        return _token(rng, 40, ALNUM + "/+")
    if entity == "GITHUB_TOKEN":
        if variant == "fine":
            return f"github_pat_{_token(rng, 22)}_{_token(rng, 59)}"
        return github_classic(rng.choice(("ghp", "gho", "ghu", "ghs", "ghr")), _token(rng, 30))
    if entity == "GITLAB_TOKEN":
        return "glpat-" + _token(rng, 20, ALNUM + "_-")
    if entity == "SLACK_TOKEN":
        if rng.random() < 0.5:  # bot token; user tokens carry three ids and 32 hex characters
            return f"xoxb-{_digits(rng, 12)}-{_digits(rng, 13)}-{_token(rng, 24)}"
        return f"xoxp-{_digits(rng, 12)}-{_digits(rng, 12)}-{_digits(rng, 12)}-{rng.randbytes(16).hex()}"
    if entity == "STRIPE_KEY":
        return rng.choice(("sk_live_", "rk_live_", "sk_test_")) + _token(rng, rng.choice((24, 34, 99)))
    if entity == "GOOGLE_API_KEY":
        return "AIza" + _token(rng, 35, ALNUM + "_-")
    if entity == "OPENAI_API_KEY":
        if variant == "legacy":
            return "sk-" + _token(rng, 20) + "T3BlbkFJ" + _token(rng, 20)
        return rng.choice(("sk-proj-", "sk-svcacct-")) + _token(rng, 74, ALNUM + "_-") + "T3BlbkFJ" + \
            _token(rng, 74, ALNUM + "_-")
    if entity == "CONNECTION_STRING_PASSWORD":
        return _token(rng, rng.randint(10, 18)) + rng.choice("!*_-.~")
    if entity == "GENERIC_SECRET":
        return _token(rng, 32, "0123456789abcdef") if variant == "hex" else _token(rng, rng.randint(24, 36))
    raise ValueError(entity)


PEM_KINDS = {"rsa": "RSA ", "ec": "EC ", "openssh": "OPENSSH ", "pkcs8": "", "encrypted": "ENCRYPTED "}


def pem_body(rng: random.Random, kind: str) -> str:
    lines = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(rng.randint(2, 4))]
    return "\n".join(lines) + f"\n-----END {PEM_KINDS[kind]}PRIVATE KEY-----"


def birth_date(rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 65))
    return rng.choice((born.isoformat(), born.strftime("%m/%d/%Y"), born.strftime("%d/%m/%Y"),
                       born.strftime("%B %d, %Y").replace(" 0", " "), born.strftime("%d %B %Y").lstrip("0")))


def mac_value(rng: random.Random, fake: Faker) -> str:
    mac = fake.mac_address()
    return mac.upper().replace(":", "-") if rng.random() < 0.4 else mac


def ip_value(rng: random.Random, fake: Faker) -> str:
    if rng.random() < 0.6:
        return fake.ipv4_public()
    return str(ipaddress.IPv6Address(fake.ipv6())) if rng.random() < 0.5 else fake.ipv6()


def url_credentials(rng: random.Random, fake: Faker) -> str:
    """The ``user:password`` of a web URL (the part a redaction must remove; the engine reports just that)."""
    return f"{fake.user_name()}:{secret_value(rng, 'CONNECTION_STRING_PASSWORD', '')}"


# --- negatives: look-alikes that must not be reported ----------------------------------------------------------

def _break_last(rng: random.Random, value: str) -> str:
    return value[:-1] + rng.choice([d for d in string.digits if d != value[-1]])


def negative_value(rng: random.Random, kind: str) -> str:
    if kind == "bad_card":
        return format_card(rng, _break_last(rng, card_number(rng)))
    if kind == "bad_ssn":
        area, group, serial = rng.choice((("000", "12", None), ("666", None, None), (None, "00", None),
                                          (None, None, "0000"), ("078", "05", "1120")))
        return (f"{area or rng.randint(100, 665)}-{group or rng.randint(10, 99)}-"
                f"{serial or rng.randint(1000, 9999)}")
    if kind == "bad_iban":
        good = iban_value(rng)
        wrong = rng.choice([c for c in range(2, 99) if c != int(good[2:4])])
        return f"{good[:2]}{wrong:02d}{good[4:]}"
    if kind == "bad_nhs":
        good = nhs_value(rng)
        return _group(_break_last(rng, good), (3, 3, 4), " ")
    if kind == "bad_sin":
        return _group(_break_last(rng, sin_value(rng)), (3, 3, 3), " ")
    if kind == "bad_cpf":
        bad = _break_last(rng, cpf_value(rng))
        return f"{bad[:3]}.{bad[3:6]}.{bad[6:9]}-{bad[9:]}"
    if kind == "order":
        return rng.choice((f"ORD-{_digits(rng, 8)}", f"PO-2024-{_digits(rng, 5)}", f"#{_digits(rng, 7)}"))
    if kind == "invoice":
        return f"INV/{rng.randint(2019, 2025)}/{_digits(rng, 5)}"
    if kind == "ts":
        moment = datetime(2024, 1, 1) + timedelta(seconds=rng.randint(0, 86400 * 365))
        return rng.choice((moment.isoformat(sep=" "), moment.isoformat() + "Z", moment.strftime("%d/%b/%Y:%H:%M:%S")))
    if kind == "epoch":
        return str(rng.randint(1_600_000_000, 1_760_000_000))
    if kind == "epoch_ms":
        return str(rng.randint(1_600_000_000_000, 1_760_000_000_000))
    if kind == "sha":
        return rng.randbytes(20).hex()
    if kind == "digest":
        return rng.randbytes(32).hex()
    if kind == "uuid":
        h = rng.randbytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
    if kind == "version":
        return f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
    if kind == "amount":
        return rng.choice(("$", "€", "£")) + f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}"
    if kind in ("qty", "ms", "ticket", "node"):
        return str(rng.randint(1, 99_999))
    if kind == "clock":
        return f"{rng.randint(8, 18)}:{rng.choice(('00', '15', '30', '45'))}"
    if kind == "date":
        return (date(2018, 1, 1) + timedelta(days=rng.randint(0, 2500))).isoformat()
    if kind == "isbn":
        return f"978-{rng.randint(0, 1)}-{_digits(rng, 3)}-{_digits(rng, 5)}-{rng.randint(0, 9)}"
    raise ValueError(kind)


# --- templates -------------------------------------------------------------------------------------------------

TEMPLATES: dict[str, tuple[str, ...]] = {
    "support_ticket": (
        "Ticket #{ticket} opened {ts} by {PERSON} <{EMAIL_ADDRESS}>.",
        "Customer {PERSON} reports that card {CREDIT_CARD} was charged twice for order {order}.",
        "Please call the customer back on {PHONE_NUMBER} before {clock}.",
        "Alternate contact: {PHONE_NUMBER} (mobile).",
        "Shipping address on file: {LOCATION}.",
        "Customer verified identity with SSN {US_SSN}.",
        "Refund of {amount} requested to IBAN {IBAN_CODE}.",
        "Declined card {bad_card} (checksum failed); asked the customer for another card.",
        "Login attempts from {IP_ADDRESS} were blocked at {ts}.",
        "Router MAC {MAC_ADDRESS} was registered to the account.",
        "Order {order} shipped with invoice {invoice}.",
        "Customer's date of birth: {DATE_OF_BIRTH}.",
        "Escalated to {PERSON} at {ORGANIZATION}.",
        "Customer pasted a download link with a login in it: https://{URL_CREDENTIALS}@{host}/{path}",
        "The amount of {amount} for order {order} was refunded on {date}.",
    ),
    "hr_note": (
        "Employee {PERSON} joined {ORGANIZATION} on {date}.",
        "{PERSON} was born on {DATE_OF_BIRTH} in {LOCATION}.",
        "DOB: {DATE_OF_BIRTH}",
        "National Insurance number: {UK_NINO}.",
        "NI number {UK_NINO:spaced} confirmed by payroll.",
        "NHS number {UK_NHS} recorded for occupational health.",
        "Payroll needs the SIN {CA_SIN} for the Toronto office.",
        "Contractor ITIN {US_ITIN} is on file with the tax team.",
        "Social security number: {US_SSN}",
        "SSN {US_SSN:compact} (no dashes) was typed into the form.",
        "CPF {BR_CPF} and company CNPJ {BR_CNPJ} for the São Paulo subsidiary.",
        "Home phone {PHONE_NUMBER}, personal e-mail {EMAIL_ADDRESS}.",
        "Home address: {LOCATION}.",
        "Salary is paid into {IBAN_CODE}.",
        "Rejected SSN {bad_ssn} from the form (invalid number).",
        "NHS number {bad_nhs} failed the check digit; a corrected one was requested.",
        "SIN {bad_sin} does not validate, asked {PERSON} to check it.",
        "CPF {bad_cpf} was rejected by the registry.",
        "Reviewed on {date} by {PERSON}, badge {qty}.",
    ),
    "payment_log": (
        "{ts} INFO payment.authorised card={CREDIT_CARD} amount={amount} order={order}",
        "{ts} WARN payment.declined card={bad_card} reason=invalid_number",
        "{ts} INFO sepa.transfer iban={IBAN_CODE} amount={amount} ref={invoice}",
        "{ts} ERROR sepa.transfer iban={bad_iban} reason=checksum",
        "{ts} INFO wallet.deposit address={CRYPTO:p2pkh} confirmations={qty}",
        "{ts} INFO wallet.deposit address={CRYPTO:p2sh} confirmations={qty}",
        "{ts} INFO wallet.deposit address={CRYPTO:p2wpkh} confirmations={qty}",
        "{ts} INFO wallet.deposit address={CRYPTO:p2tr} confirmations={qty}",
        "{ts} INFO wallet.withdraw to={CRYPTO:eth} gas={qty}",
        "{ts} DEBUG client ip={IP_ADDRESS} session={uuid}",
        "{epoch_ms} payment.settled batch={qty} total={amount}",
        "{ts} INFO pix.transfer cpf={BR_CPF} amount={amount}",
        "{ts} INFO payout cnpj={BR_CNPJ} amount={amount}",
        "{ts} INFO receipt sent to {EMAIL_ADDRESS} for order {order}",
        "{epoch} INFO cron.reconcile processed={qty} duration_ms={ms}",
    ),
    "config": (
        "aws_access_key_id = {AWS_ACCESS_KEY_ID}",
        "aws_secret_access_key = {AWS_SECRET_ACCESS_KEY}",
        "GITHUB_TOKEN={GITHUB_TOKEN}",
        "github_token: {GITHUB_TOKEN:fine}",
        "gitlab_token: {GITLAB_TOKEN}",
        "SLACK_BOT_TOKEN={SLACK_TOKEN}",
        "STRIPE_SECRET_KEY={STRIPE_KEY}",
        "GOOGLE_MAPS_API_KEY={GOOGLE_API_KEY}",
        "OPENAI_API_KEY={OPENAI_API_KEY}",
        "OPENAI_API_KEY={OPENAI_API_KEY:legacy}",
        "Authorization: Bearer {JWT}",
        "{PRIVATE_KEY:rsa}\n{pem_body:rsa}",
        "{PRIVATE_KEY:ec}\n{pem_body:ec}",
        "{PRIVATE_KEY:openssh}\n{pem_body:openssh}",
        "{PRIVATE_KEY:pkcs8}\n{pem_body:pkcs8}",
        "{PRIVATE_KEY:encrypted}\n{pem_body:encrypted}",
        "DATABASE_URL=postgresql://{user}:{CONNECTION_STRING_PASSWORD}@{host}:5432/{db}",
        "MONGO_URI=mongodb+srv://{user}:{CONNECTION_STRING_PASSWORD}@{host}/{db}?retryWrites=true",
        "Server=tcp:{host},1433;Database={db};User ID={user};Password={CONNECTION_STRING_PASSWORD};Encrypt=True;",
        "REDIS_URL=redis://:{CONNECTION_STRING_PASSWORD}@{host}:6379/0",
        "backup_target = ftp://{user}:{CONNECTION_STRING_PASSWORD}@{host}/backups",
        "PIP_INDEX_URL=https://{URL_CREDENTIALS}@{host}/simple",
        "api_token: {GENERIC_SECRET}",
        "secret = {GENERIC_SECRET:hex}",
        "commit = {sha}",
        "image_digest = sha256:{digest}",
        "request_id = {uuid}",
        "version = {version}",
        "admin_email = {EMAIL_ADDRESS}",
        "bind_address = {IP_ADDRESS}",
    ),
    "chat": (
        "{PERSON}: hey, my new number is {PHONE_NUMBER}",
        "{PERSON}: sure, send it to {EMAIL_ADDRESS} 👍",
        "{PERSON}: use this card {CREDIT_CARD} for the hotel",
        "{PERSON}: the printer is {MAC_ADDRESS} on {IP_ADDRESS}",
        "{PERSON}: my ETH wallet is {CRYPTO:eth}",
        "{PERSON}: tip me at {CRYPTO:p2wpkh} 😂",
        "{PERSON}: here's my token {GITHUB_TOKEN}, rotate it after the demo",
        "{PERSON}: meet at {LOCATION}?",
        "{PERSON}: order {order} arrives on {date}",
        "{PERSON}: see you at {clock} ☕",
        "{PERSON}: the book is ISBN {isbn}",
        "{PERSON}: call me on {PHONE_NUMBER} after {clock}",
    ),
    "ops_log": (
        "{ts} job={uuid} finished in {ms} ms",
        "{epoch} metrics.flush count={qty}",
        "{epoch_ms} heartbeat node-{node}",
        "deployed {version} ({sha}) at {ts}",
        "invoice {invoice} total {amount}",
        "orders {order}, {order}, {order} queued",
        "{ts} WARN retry {qty} for request {uuid}",
        "{ts} INFO user {EMAIL_ADDRESS} logged in from {IP_ADDRESS}",
        "{ts} card check failed for {bad_card}",
    ),
}
KIND_WEIGHTS = {"support_ticket": 3, "hr_note": 3, "payment_log": 2, "config": 5, "chat": 2, "ops_log": 1}


class _Builder:
    """Appends literal text and labelled values, keeping exact Python string offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.pos = 0

    def add(self, text: str, entity: str | None = None) -> None:
        if entity:
            self.spans.append(Span(self.pos, self.pos + len(text), entity))
        self.parts.append(text)
        self.pos += len(text)


class CorpusGenerator:
    """Draws labelled values and documents from one seeded random stream (and one seeded Faker)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "pt_BR", "en_CA"])
        self.fake.seed_instance(seed)
        self.values: dict[str, Callable[[str], str]] = {
            "EMAIL_ADDRESS": lambda v: self.fake.email(),
            "PHONE_NUMBER": lambda v: phone_value(self.rng),
            "CREDIT_CARD": lambda v: format_card(self.rng, card_number(self.rng)),
            "IBAN_CODE": lambda v: format_iban(self.rng, iban_value(self.rng)),
            "US_SSN": lambda v: ssn_value(self.rng) if v == "compact" else _group(ssn_value(self.rng), (3, 2, 4), "-"),
            "US_ITIN": lambda v: _group(itin_value(self.rng), (3, 2, 4), "-"),
            "UK_NINO": lambda v: _group(nino_value(self.rng), (2, 2, 2, 2, 1), " ") if v else nino_value(self.rng),
            "UK_NHS": lambda v: _group(nhs_value(self.rng), (3, 3, 4), self.rng.choice((" ", "-"))),
            "CA_SIN": lambda v: _group(sin_value(self.rng), (3, 3, 3), self.rng.choice((" ", "-"))),
            "BR_CPF": lambda v: f"{(s := cpf_value(self.rng))[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}",
            "BR_CNPJ": lambda v: f"{(s := cnpj_value(self.rng))[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}",
            "IP_ADDRESS": lambda v: ip_value(self.rng, self.fake),
            "MAC_ADDRESS": lambda v: mac_value(self.rng, self.fake),
            "URL_CREDENTIALS": lambda v: url_credentials(self.rng, self.fake),
            "DATE_OF_BIRTH": lambda v: birth_date(self.rng),
            "CRYPTO": lambda v: crypto_value(self.rng, v or "p2pkh"),
            "JWT": lambda v: jwt_value(self.rng, self.fake),
            "PRIVATE_KEY": lambda v: f"-----BEGIN {PEM_KINDS[v]}PRIVATE KEY-----",
            "PERSON": lambda v: self.locale().name(),
            "LOCATION": lambda v: self.locale().address().replace("\n", ", "),
            "ORGANIZATION": lambda v: self.locale().company(),
        }

    def locale(self) -> Faker:
        return self.fake[self.rng.choice(("en_US", "en_GB", "de_DE", "fr_FR", "pt_BR", "en_CA"))]

    def value(self, field: str, variant: str) -> str:
        """A value for a template field: an entity's (upper case) or unlabelled filler (lower case)."""
        if field in self.values:
            return self.values[field](variant)
        if field.isupper():
            return secret_value(self.rng, field, variant)
        if field == "pem_body":
            return pem_body(self.rng, variant)
        if field == "user":
            return self.fake.user_name()
        if field == "host":
            return self.fake.hostname()
        if field == "path":
            return self.fake.uri_path()
        if field == "db":
            return self.fake.word()
        return negative_value(self.rng, field)

    def document(self) -> Doc:
        kind = self.rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        pool = TEMPLATES[kind]
        lines = self.rng.sample(pool, self.rng.randint(3, min(9, len(pool))))
        builder = _Builder()
        for n, line in enumerate(lines):
            if n:
                builder.add("\n")
            for literal, field, variant, _ in string.Formatter().parse(line):
                builder.add(literal)
                if field is not None:
                    builder.add(self.value(field, variant or ""), field if field.isupper() else None)
        return Doc(kind, "".join(builder.parts), tuple(builder.spans))


def generate(n_docs: int, seed: int = 7) -> list[Doc]:
    """``n_docs`` labelled documents, the same ones for the same seed."""
    generator = CorpusGenerator(seed)
    return [generator.document() for _ in range(n_docs)]


# --- scoring -----------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Tally:
    """Exact-span counts for one entity type: a prediction is right only with the same entity, start and end."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True, slots=True)
class Miss:
    """A false positive or false negative, with the line it stands on, for reports."""

    doc: int
    entity: str
    kind: str  # "FP" or "FN"
    value: str
    line: str


def evaluate(docs: list[Doc], predicted: list[list[tuple[str, int, int]]], entities: tuple[str, ...],
             misses: list[Miss] | None = None) -> dict[str, Tally]:
    """Per entity in ``entities``, exact-span precision and recall of ``predicted[i]`` (entity, start, end) against
    the labels of ``docs[i]``; predictions of other entity types are ignored. Errors go to ``misses`` if given."""
    tallies = {entity: Tally() for entity in entities}
    for index, (doc, found) in enumerate(zip(docs, predicted, strict=True)):
        gold = {(s.entity, s.start, s.end) for s in doc.spans if s.entity in tallies}
        guess = {item for item in found if item[0] in tallies}
        for entity, _, _ in gold & guess:
            tallies[entity].tp += 1
        for entity, _, _ in guess - gold:
            tallies[entity].fp += 1
        for entity, _, _ in gold - guess:
            tallies[entity].fn += 1
        if misses is not None:
            misses.extend(_miss(index, doc, item, "FP") for item in sorted(guess - gold))
            misses.extend(_miss(index, doc, item, "FN") for item in sorted(gold - guess))
    return tallies


def _miss(index: int, doc: Doc, item: tuple[str, int, int], kind: str) -> Miss:
    entity, start, end = item
    line_start = doc.text.rfind("\n", 0, start) + 1
    line_end = doc.text.find("\n", end)
    return Miss(index, entity, kind, doc.text[start:end], doc.text[line_start:None if line_end == -1 else line_end])
