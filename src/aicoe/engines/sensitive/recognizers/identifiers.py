"""Personal, financial, government and network identifiers, each a candidate pattern confirmed by a validator.

Patterns are deliberately loose where a validator is strict (a checksum decides) and strict where there is none.
Numbers without their usual punctuation (a bare nine-digit SSN, a bare ten-digit NHS number…) are ambiguous, so
they have their own recogniser that reports only with a context word nearby (in the text or the column name).
"""

from __future__ import annotations

from aicoe.engines.sensitive import validators as v
from aicoe.engines.sensitive.model import Pattern, PatternRecognizer

# Phone numbers without a country code are read in these regions, in order, for each scanning language.
PHONE_REGIONS: dict[str, tuple[str, ...]] = {
    # English text carries numbers from everywhere; DE, FR and BR national formats are common in it too.
    "en": ("US", "GB", "CA", "IN", "AU", "IE", "DE", "FR", "BR"),
    "de": ("DE", "AT", "CH"),
    "fr": ("FR", "BE", "CH", "CA"),
    "es": ("ES", "MX", "AR", "CO"),
    "it": ("IT", "CH"),
    "nl": ("NL", "BE"),
    "pt": ("BR", "PT"),
}
LANGUAGES: tuple[str, ...] = tuple(PHONE_REGIONS)

_MONTH = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-zA-Z]{0,6}\.?"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUMBER = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d{2}"


def _iban_regex() -> str:
    """One alternative per country with its exact length, in groups of four that may be space-separated."""
    branches = []
    for country, length in sorted(v.IBAN_LENGTHS.items()):
        groups, rest = divmod(length - 4, 4)
        tail = f" ?[A-Z0-9]{{{rest}}}" if rest else ""
        branches.append(f"{country}\\d{{2}}(?: ?[A-Z0-9]{{4}}){{{groups}}}{tail}")
    return r"\b(?:" + "|".join(branches) + r")\b"


def _bare(base: PatternRecognizer, digits: int) -> PatternRecognizer:
    """The unpunctuated form of ``base``'s identifier: ``digits`` digits, reported only with context."""
    return PatternRecognizer(
        name=f"{base.name}_unformatted", entity=base.entity,
        patterns=(Pattern(f"{digits} digits", rf"\b\d{{{digits}}}\b", 0.6),),
        category=base.category, severity=base.severity, validator=base.validator, validator_name=base.validator_name,
        context=base.context, negative_context=base.negative_context, requires_context=True, languages=LANGUAGES)


EMAIL = PatternRecognizer(
    name="email", entity="EMAIL_ADDRESS", category="contact", severity="medium",
    # A URL's "scheme://user:password@" is tried first and swallowed (group 1 unset): "password@host" there is a
    # credential (URL_CREDENTIALS, CONNECTION_STRING_PASSWORD), not an address.
    patterns=(Pattern("email", r"\b[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s/?#@:]*:[^\s/?#@]*@|"
                               r"(\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
                               r"[A-Za-z]{2,24}\b)", 0.9, group=1),),
    validator=v.email_address, validator_name="email_address",
    context=("email", "e-mail", "mail", "contact"), languages=LANGUAGES)

# An optional extension ("x123", "ext. 45"), which phonenumbers parses; every pattern ends at a word boundary.
_EXT = r"(?:[ ]?(?:x|ext\.?)[ ]?\d{1,6})?\b"
# A decimal number ("38.123456789012345") tried before a card or phone candidate at the same position: RE2 takes
# the leftmost match, so digits right after or right before a decimal point are swallowed by it and never become
# a candidate (the value is the pattern's group 1, unset for this branch). Only a decimal with a run of digits
# long enough for a candidate (``digits``) needs swallowing, so amounts ("95736.84") stay cheap; a point needs a
# digit on both sides and the number must not run into another ".", so "555.123.4567" and a sentence's final
# "." are left alone.
def _not_decimal(regex: str, digits: int = 7, *, before: str = "", after: str = "") -> str:
    decimal = rf"(?:\d*\.\d{{{digits},}}|\d{{{digits},}}\.\d+)(?:[^.\d\n]|$)"
    return rf"(?m){decimal}|{before}({regex}){after}"


# A phone number is a whole run of digit groups, never a piece of a longer one (a card's last groups, a French
# number's tail, an ISBN's or a UUID's middle): the character before it is not a digit, nor a separator (space,
# "-", ".") that follows a digit, and likewise after it. RE2 has no look-around, so these neighbours are consumed
# outside the value's group; "\B" (a separator beside punctuation) checks one without consuming it, so that
# two numbers apart by ", " or " / " are both found.
_RUN_START = r"(?:^|[^\d .\-\n]|\B[ .-]|[^\W\d][ .-])"
_RUN_END = r"(?:$|[^\d .\-\n]|[ .-](?:\B|[^\d\n]))"


def _whole_run(regex: str) -> str:
    """``regex`` (the value, group 1) standing on its own as a run of digit groups, outside decimal numbers."""
    return _not_decimal(regex, before=_RUN_START, after=_RUN_END)


_PHONE_PATTERNS = (
    Pattern("international", _whole_run(r"\+[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,6})){1,6}" + _EXT), 0.7,
            group=1),
    Pattern("international 00", _whole_run(r"\b00[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,6})){1,6}" + _EXT),
            0.6, group=1),
    Pattern("north american",
            _whole_run(r"(?:\(\b[2-9]\d{2}\) ?|\b[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}" + _EXT), 0.6, group=1),
    Pattern("trunk prefix", _whole_run(r"(?:\(0\d{1,5}\) ?|\b0\d{1,5}[ .-])\d{2,10}(?:[ .-]\d{2,8}){0,3}" + _EXT),
            0.6, group=1),
    Pattern("area code in parentheses", _whole_run(r"\(\d{1,4}\) ?\d{2,5}[ -]?\d{3,5}" + _EXT), 0.6, group=1),
    Pattern("indian mobile", _whole_run(r"\b[6-9]\d{4}[ -]\d{5}" + _EXT), 0.6, group=1),
    # Space-grouped national numbers without a trunk prefix (Spain, Portugal, Mexico…): weaker on their own.
    Pattern("space-grouped", _whole_run(r"\b[1-9]\d{1,3}(?: \d{2,8}){1,4}" + _EXT), 0.5, group=1),
)
_PHONE_CONTEXT = ("phone", "telephone", "tel", "mobile", "cell", "call", "fax", "contact", "whatsapp", "telefon",
                  "telefone", "téléphone", "teléfono", "telefono", "handy", "portable", "celular")
# Words that name another identifier: a number beside them is that identifier (perhaps one failing its check),
# not a phone number, even when its digits happen to be dialable.
_PHONE_NEGATIVE_CONTEXT = ("nhs", "sin", "ssn", "itin", "nino", "cpf", "cnpj", "iban", "card", "account", "order",
                           "invoice", "isbn", "serial", "tracking", "uuid")


def _phone(language: str, regions: tuple[str, ...]) -> tuple[PatternRecognizer, PatternRecognizer]:
    validator = v.PhoneNumberValidator(regions)
    formatted = PatternRecognizer(
        name=f"phone_{language}", entity="PHONE_NUMBER", patterns=_PHONE_PATTERNS, category="contact",
        severity="medium", validator=validator, validator_name=f"phonenumbers({','.join(regions)})",
        context=_PHONE_CONTEXT, negative_context=_PHONE_NEGATIVE_CONTEXT, languages=(language,))
    bare = PatternRecognizer(
        name=f"phone_{language}_unformatted", entity="PHONE_NUMBER",
        patterns=(Pattern("7 to 15 digits", _whole_run(r"\b\d{7,15}\b"), 0.6, group=1),), category="contact",
        severity="medium",
        validator=validator, validator_name=formatted.validator_name, context=_PHONE_CONTEXT,
        negative_context=_PHONE_NEGATIVE_CONTEXT, requires_context=True, languages=(language,))
    return formatted, bare


CREDIT_CARD = PatternRecognizer(
    name="credit_card", entity="CREDIT_CARD", category="financial", severity="high",
    patterns=(Pattern("grouped digits", _not_decimal(r"\b\d{4}(?:(?:[ -]\d{4}){2,3}(?:[ -]\d{1,6})?|"
                                                   r"[ -]\d{6}[ -]\d{4,5})\b", 12), 0.8, group=1),
              Pattern("13 to 19 digits", _not_decimal(r"\b\d{13,19}\b", 12), 0.6, group=1),
              # Twelve-digit cards (Maestro) exist but so do twelve-digit numbers of every other kind.
              Pattern("12 digits", _not_decimal(r"\b\d{12}\b", 12), 0.4, group=1)),
    validator=v.credit_card, validator_name="luhn+iin",
    context=("card", "credit", "debit", "visa", "mastercard", "amex", "cc", "pan", "payment", "kreditkarte",
             "carte", "tarjeta", "cartão"),
    negative_context=("order", "invoice", "tracking", "isbn", "serial"), languages=LANGUAGES)

IBAN = PatternRecognizer(
    name="iban", entity="IBAN_CODE", category="financial", severity="high",
    patterns=(Pattern("iban", _iban_regex(), 0.9),), validator=v.iban, validator_name="iban_mod97",
    context=("iban", "account", "bank", "transfer", "sepa", "konto", "compte", "cuenta", "conta"),
    languages=LANGUAGES)

US_SSN = PatternRecognizer(
    name="us_ssn", entity="US_SSN", category="government_id", severity="high",
    patterns=(Pattern("ddd-dd-dddd", r"\b\d{3}-\d{2}-\d{4}\b", 0.65),
              Pattern("ddd dd dddd", r"\b\d{3} \d{2} \d{4}\b", 0.55)),
    validator=v.us_ssn, validator_name="ssn_ranges", context=("ssn", "social security", "ss number"),
    languages=LANGUAGES)

US_ITIN = PatternRecognizer(
    name="us_itin", entity="US_ITIN", category="government_id", severity="high",
    patterns=(Pattern("9dd-dd-dddd", r"\b9\d{2}-\d{2}-\d{4}\b", 0.65),
              Pattern("9dd dd dddd", r"\b9\d{2} \d{2} \d{4}\b", 0.5)),
    validator=v.us_itin, validator_name="itin_ranges", context=("itin", "taxpayer", "tax id", "tin"),
    languages=LANGUAGES)

UK_NINO = PatternRecognizer(
    name="uk_nino", entity="UK_NINO", category="government_id", severity="high",
    patterns=(Pattern("nino", r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", 0.7),),
    validator=v.uk_nino, validator_name="nino_prefix",
    context=("nino", "national insurance", "ni number", "insurance number"), languages=LANGUAGES)

UK_NHS = PatternRecognizer(
    name="uk_nhs", entity="UK_NHS", category="health", severity="high",
    patterns=(Pattern("ddd ddd dddd", r"\b\d{3}[ -]\d{3}[ -]\d{4}\b", 0.5),),
    validator=v.uk_nhs, validator_name="nhs_mod11", context=("nhs", "health service", "patient"),
    languages=LANGUAGES)

CA_SIN = PatternRecognizer(
    name="ca_sin", entity="CA_SIN", category="government_id", severity="high",
    patterns=(Pattern("ddd ddd ddd", r"\b\d{3}[ -]\d{3}[ -]\d{3}\b", 0.5),),
    validator=v.ca_sin, validator_name="luhn", context=("sin", "social insurance", "nas", "assurance sociale"),
    languages=LANGUAGES)

BR_CPF = PatternRecognizer(
    name="br_cpf", entity="BR_CPF", category="government_id", severity="high",
    patterns=(Pattern("ddd.ddd.ddd-dd", r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b", 0.8),),
    validator=v.br_cpf, validator_name="cpf_check_digits", context=("cpf", "cadastro", "contribuinte"),
    languages=LANGUAGES)

BR_CNPJ = PatternRecognizer(
    name="br_cnpj", entity="BR_CNPJ", category="government_id", severity="medium",
    patterns=(Pattern("dd.ddd.ddd/dddd-dd", r"\b\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}\b", 0.8),),
    validator=v.br_cnpj, validator_name="cnpj_check_digits", context=("cnpj", "empresa", "pessoa jurídica"),
    languages=LANGUAGES)

IP_ADDRESS = PatternRecognizer(
    name="ip_address", entity="IP_ADDRESS", category="network", severity="low",
    patterns=(Pattern("ipv4", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", 0.6),
              Pattern("ipv6", r"(?:^|[^0-9A-Za-z:.])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3})",
                      0.6, group=1)),
    validator=v.ip_address, validator_name="ipaddress",
    context=("ip", "ipv4", "ipv6", "address", "host", "server", "client"), negative_context=("version",),
    languages=LANGUAGES)

MAC_ADDRESS = PatternRecognizer(
    name="mac_address", entity="MAC_ADDRESS", category="network", severity="low",
    patterns=(Pattern("hex pairs", r"\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\b", 0.6),
              Pattern("dotted quads", r"\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b", 0.5)),
    validator=v.mac_address, validator_name="mac_address",
    context=("mac", "hardware", "ethernet", "wifi", "bssid", "device"), languages=LANGUAGES)

# Web and file-transfer style schemes; database and message-broker URLs are the secrets module's connection strings.
_WEB_SCHEMES = r"(?i:https?|wss?|git|svn|webdavs?|rtsps?|s3|gs|hdfs|socks[45]?|ssh|telnet)"
URL_CREDENTIALS = PatternRecognizer(
    name="url_credentials", entity="URL_CREDENTIALS", category="credential", severity="critical",
    patterns=(Pattern("user:password@", rf"\b{_WEB_SCHEMES}://([^\s:/?#@\"'<>]{{1,128}}:"
                                        r"[^\s/?#@\"'<>]{1,256})@[A-Za-z0-9\[._~%-]", 0.95, group=1),),
    context=("password", "credentials", "login"), languages=LANGUAGES)

DATE_OF_BIRTH = PatternRecognizer(
    name="date_of_birth", entity="DATE_OF_BIRTH", category="personal", severity="medium",
    patterns=(Pattern("year-month-day", rf"\b{_YEAR}[-/.]{_MONTH_NUMBER}[-/.]{_DAY}\b", 0.6),
              Pattern("day-month-year", rf"\b{_DAY}[-/.]{_DAY}[-/.]{_YEAR}\b", 0.6),
              Pattern("day month-name year", rf"\b{_DAY}(?:st|nd|rd|th)?\.? {_MONTH},? {_YEAR}\b", 0.6),
              Pattern("month-name day year", rf"\b{_MONTH} {_DAY}(?:st|nd|rd|th)?,? {_YEAR}\b", 0.6)),
    validator=v.birth_date, validator_name="calendar_date",
    context=("born", "birth", "dob", "d o b", "birthday", "birthdate", "geboren", "geburtsdatum", "né", "née",
             "naissance", "nacimiento", "nascimento", "nascita"),
    requires_context=True, languages=LANGUAGES)

CRYPTO = PatternRecognizer(
    name="crypto_wallet", entity="CRYPTO", category="crypto", severity="medium",
    patterns=(Pattern("bitcoin_base58", r"\b[13][1-9A-HJ-NP-Za-km-z]{25,34}\b", 0.8),
              Pattern("bitcoin_bech32", r"\b(?:bc1[02-9ac-hj-np-z]{6,87}|BC1[02-9AC-HJ-NP-Z]{6,87})\b", 0.9),
              Pattern("ethereum", r"\b0x[0-9a-fA-F]{40}\b", 0.8)),
    validator=v.crypto_address, validator_name="base58check/bech32/eip55",
    context=("bitcoin", "btc", "wallet", "ethereum", "eth", "crypto", "address"), languages=LANGUAGES)

RECOGNIZERS: tuple[PatternRecognizer, ...] = (
    EMAIL,
    *(recognizer for language, regions in PHONE_REGIONS.items() for recognizer in _phone(language, regions)),
    CREDIT_CARD,
    IBAN,
    US_SSN, _bare(US_SSN, 9),
    US_ITIN, _bare(US_ITIN, 9),
    UK_NINO,
    UK_NHS, _bare(UK_NHS, 10),
    CA_SIN, _bare(CA_SIN, 9),
    BR_CPF, _bare(BR_CPF, 11),
    BR_CNPJ, _bare(BR_CNPJ, 14),
    IP_ADDRESS,
    MAC_ADDRESS,
    URL_CREDENTIALS,
    DATE_OF_BIRTH,
    CRYPTO,
)
