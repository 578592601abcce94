"""Secret recognisers and the entropy check: generated tokens of every kind are found at their exact offsets,
look-alikes (wrong prefix or length, bad checksum, undecodable JWT header, low-entropy or word-like values,
placeholders) are not, and no pattern crosses a line."""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import string
import zlib
from itertools import zip_longest

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive.analyzer import Analyzer, scan_text
from aicoe.engines.sensitive.entropy import (
    ENTROPY_THRESHOLD,
    MIN_HEX_LENGTH,
    TOKEN_CLASSES,
    _reads_as_words,
    is_random_token,
    shannon_entropy,
    token_class,
)
from aicoe.engines.sensitive.model import Reason
from aicoe.engines.sensitive.recognizers.secrets import (
    AWS_KEY_ID_PREFIXES,
    CONNECTION_SCHEMES,
    EXAMPLE_WORDS,
    GENERIC_MAX_LENGTH,
    GITHUB_CLASSIC_PREFIXES,
    PLACEHOLDER_PASSWORDS,
    RECOGNIZERS,
    SECRET_KEYWORDS,
    github_checksum_ok,
    jwt_ok,
    password_ok,
)

ANALYZER = Analyzer(recognizers=RECOGNIZERS)
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
URLSAFE = string.ascii_letters + string.digits + "_-"
BASE32 = string.ascii_uppercase + "234567"
# Neither vowels nor the letters of "pwd", "jwt", "ssh", "dsn": the noise around a token never spells a context word.
QUIET = st.text(alphabet="bcfgklmnqrvxz .,;", max_size=30)
# Password characters valid in URLs and key=value strings that cannot form a template such as "%(x)s" or "$X".
PASSWORD_CHARS = string.ascii_letters + string.digits + "!^*()-_+=.,:~"
PROPERTY = settings(max_examples=60, deadline=None)


def spans(text: str, **options: object) -> set[tuple[str, int, int]]:
    return {(f.entity, f.start, f.end) for f in ANALYZER.scan_text(text, **options)}  # type: ignore[arg-type]


def fixed(chars: str, size: int, max_size: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet=chars, min_size=size, max_size=size if max_size is None else max_size)


@st.composite
def embedded(draw: st.DrawFn, token: str, lead: str = "") -> tuple[str, int, int]:
    """``token`` inside quiet noise, after ``lead`` (a context phrase): (text, start, end)."""
    left = draw(QUIET) + " " + lead
    text = left + token + " " + draw(QUIET)
    return text, len(left), len(left) + len(token)


@st.composite
def random_tokens(draw: st.DrawFn, length: int, symbols: str = "") -> str:
    """A generated-looking token: upper case, digit, lower case in turn (a digit before a lower-case letter never
    reads as a word), letters distinct so the entropy stays high; optionally one symbol in the middle."""
    counts = ((length + 2) // 3, (length + 1) // 3, length // 3)
    uppers = draw(st.lists(st.sampled_from(string.ascii_uppercase), min_size=counts[0], max_size=counts[0],
                           unique=True))
    digits = draw(fixed(string.digits, counts[1]))
    lowers = draw(st.lists(st.sampled_from(string.ascii_lowercase), min_size=counts[2], max_size=counts[2],
                           unique=True))
    chars = [c for triple in zip_longest(uppers, digits, lowers) for c in triple if c]
    if symbols and draw(st.booleans()):
        chars[draw(st.integers(3, length - 4)) // 3 * 3] = draw(st.sampled_from(symbols))
    return "".join(chars)


def github_token(prefix: str, body: str) -> str:
    crc, tail = zlib.crc32(body.encode()), ""
    for _ in range(6):
        crc, digit = divmod(crc, 62)
        tail = B62[digit] + tail
    return prefix + body + tail


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@st.composite
def jwts(draw: st.DrawFn, header_keys: st.SearchStrategy[str] | None = None) -> str:
    if header_keys is None:
        header = {"alg": draw(st.sampled_from(["HS256", "RS256", "ES384", "EdDSA", "none"])), "typ": "JWT"}
    else:
        header = draw(st.dictionaries(header_keys, st.text(max_size=8), min_size=1, max_size=3))
    claims = draw(st.dictionaries(fixed(string.ascii_lowercase, 1, 6), st.integers() | st.text(max_size=12),
                                  max_size=4))
    return ".".join((b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                     draw(fixed(URLSAFE, 0, 86))))


passwords = st.lists(st.sampled_from(PASSWORD_CHARS), min_size=2, max_size=16, unique=True).map("".join).filter(
    lambda value: value.lower() not in PLACEHOLDER_PASSWORDS)


# --- the declarations ------------------------------------------------------------------------------------------

def test_recognizers_cover_the_secret_entities_as_high_or_critical_credentials() -> None:
    assert {r.entity for r in RECOGNIZERS} == {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "SLACK_TOKEN", "STRIPE_KEY",
        "GOOGLE_API_KEY", "OPENAI_API_KEY", "JWT", "PRIVATE_KEY", "CONNECTION_STRING_PASSWORD", "GENERIC_SECRET"}
    assert {r.category for r in RECOGNIZERS} == {"credential"}
    assert {r.severity for r in RECOGNIZERS} == {"high", "critical"}
    assert len({r.name for r in RECOGNIZERS}) == len(RECOGNIZERS)
    assert all(r.context for r in RECOGNIZERS)


def test_secrets_are_found_in_every_scanning_language() -> None:
    text = "key: " + "AKIA" + "Q" * 16
    assert ANALYZER.languages == Analyzer().languages
    assert [ANALYZER.scan_text(text, language=language)[0].entity for language in ANALYZER.languages] == (
        ["AWS_ACCESS_KEY_ID"] * len(ANALYZER.languages))


# --- AWS -------------------------------------------------------------------------------------------------------

@PROPERTY
@given(st.data())
def test_aws_access_key_ids_are_found(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(AWS_KEY_ID_PREFIXES)) + data.draw(fixed(BASE32, 16))
    text, start, end = data.draw(embedded(key))
    assert ("AWS_ACCESS_KEY_ID", start, end) in spans(text)


@pytest.mark.parametrize("lookalike", ["AKIB" + "Q" * 16, "AKIA" + "Q" * 15, "AKIA" + "Q" * 17, "AKIA" + "Q" * 15 + "1",
                                       "xAKIA" + "Q" * 16, "akia" + "q" * 16])
def test_aws_access_key_id_lookalikes_are_not_found(lookalike: str) -> None:
    assert spans(f"id {lookalike} here") == set()


@PROPERTY
@given(st.data())
def test_aws_secret_keys_next_to_their_name_are_found(data: st.DataObject) -> None:
    secret = data.draw(random_tokens(40, "/+"))
    lead = data.draw(st.sampled_from(["aws_secret_access_key=", "AWS_SECRET_ACCESS_KEY: ", "SecretAccessKey \"",
                                      "aws secret ", "secret key = '"]))
    text, start, end = data.draw(embedded(secret, lead))
    finding = next(f for f in ANALYZER.scan_text(text) if f.start == start)
    assert (finding.entity, finding.end, finding.score, finding.severity) == (
        "AWS_SECRET_ACCESS_KEY", end, 0.85, "critical")


@PROPERTY
@given(st.data())
def test_aws_secret_keys_after_a_key_id_on_the_same_line_are_found(data: st.DataObject) -> None:
    key_id = "AKIA" + data.draw(fixed(BASE32, 16))
    secret = data.draw(random_tokens(40, "/+"))
    separator = data.draw(st.sampled_from([",", " ", "\t", " | ", ":"]))
    text, start, end = data.draw(embedded(key_id + separator + secret))
    assert {("AWS_ACCESS_KEY_ID", start, start + 20),
            ("AWS_SECRET_ACCESS_KEY", end - 40, end)} <= spans(text)
    split = text[:start + 20] + "\n" + text[start + 20 + len(separator):]
    assert spans(split) == {("AWS_ACCESS_KEY_ID", start, start + 20)}


@pytest.mark.parametrize(("text", "generic"), [
    ("value: {secret}", False),                          # no context
    ("aws_secret_access_key = {secret}X", True),         # 41 characters: only a generic secret
    ("aws_secret_access_key = x-{secret}", True),        # inside a longer run
    ("aws_secret_access_key = " + "Ab1+" * 10, False),   # repetitive: entropy 2 bits per character
    ("aws_secret_access_key =\n{secret}", False),        # context on another line
])
def test_aws_secret_lookalikes_are_not_found(text: str, generic: bool) -> None:
    found = {entity for entity, _, _ in spans(text.format(secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))}
    assert found == ({"GENERIC_SECRET"} if generic else set())


# --- GitHub ----------------------------------------------------------------------------------------------------

def test_github_checksum_matches_a_published_token() -> None:
    # A GitHub-format token quoted in public secret-scanning material (not produced by this code), split so that
    # this file never holds it whole.
    assert github_checksum_ok("ghp" + "_wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO" + "0pINUx")
    assert not github_checksum_ok("ghp" + "_wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO" + "0pINUy")
    assert github_token("ghp_", "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO").endswith("0pINUx")


@PROPERTY
@given(st.data())
def test_github_classic_tokens_with_valid_checksums_are_found(data: st.DataObject) -> None:
    token = github_token(data.draw(st.sampled_from(GITHUB_CLASSIC_PREFIXES)), data.draw(fixed(B62, 30)))
    text, start, end = data.draw(embedded(token))
    finding = ANALYZER.scan_text(text)[0]
    assert (finding.entity, finding.start, finding.end, finding.reason.validator) == (
        "GITHUB_TOKEN", start, end, "github_crc32")


@PROPERTY
@given(st.data())
def test_github_tokens_with_a_bad_checksum_or_prefix_are_not_found(data: st.DataObject) -> None:
    token = github_token("ghp_", data.draw(fixed(B62, 30)))
    wrong_digit = data.draw(st.sampled_from(B62).filter(lambda c: c != token[-1]))
    wrong_prefix = data.draw(st.sampled_from(["gha_", "ghx_", "GHP_", "gh_p"]))
    for lookalike in (token[:-1] + wrong_digit, wrong_prefix + token[4:], token[:-1], token + "A"):
        text, _, _ = data.draw(embedded(lookalike))
        assert spans(text) == set()


@PROPERTY
@given(fixed(B62, 22), fixed(B62, 59), QUIET)
def test_github_fine_grained_tokens_are_found(first: str, second: str, noise: str) -> None:
    token = f"github_pat_{first}_{second}"
    assert spans(f"{noise} {token}.") == {("GITHUB_TOKEN", len(noise) + 1, len(noise) + 1 + len(token))}
    assert spans(f"{noise} {token[:-1]}.") == set()


# --- GitLab, Slack, Stripe, Google, OpenAI ---------------------------------------------------------------------

@PROPERTY
@given(st.data())
def test_gitlab_tokens_are_found(data: st.DataObject) -> None:
    classic = "glpat-" + data.draw(fixed(URLSAFE, 20))
    routable = "glpat-" + data.draw(fixed(URLSAFE, 27, 80)) + "." + data.draw(fixed(string.digits + "abcxyz", 9))
    for token in (classic, routable):
        text, start, end = data.draw(embedded(token))
        assert ("GITLAB_TOKEN", start, end) in spans(text)
    text, _, _ = data.draw(embedded(classic + data.draw(st.sampled_from(URLSAFE))))
    assert spans(text) == set()


@st.composite
def slack_tokens(draw: st.DrawFn) -> str:
    def digits() -> str:
        return draw(fixed(string.digits, 10, 13))

    kind = draw(st.sampled_from(["bot", "user", "legacy", "webhook"]))
    if kind == "bot":
        return f"xoxb-{digits()}-{digits()}-{draw(fixed(B62, 24, 34))}"
    if kind == "user":
        return f"xox{draw(st.sampled_from('pe'))}-{digits()}-{digits()}-{digits()}-{draw(fixed(B62, 28, 34))}"
    if kind == "legacy":
        return f"xox{draw(st.sampled_from('aors'))}-{draw(fixed(string.digits, 1, 4))}-{draw(fixed(B62, 10, 48))}"
    upper = string.ascii_uppercase + string.digits
    return (f"https://hooks.slack.com/services/T{draw(fixed(upper, 8, 10))}/B{draw(fixed(upper, 8, 10))}/"
            f"{draw(fixed(B62, 24))}")


@PROPERTY
@given(st.data())
def test_slack_tokens_and_webhooks_are_found(data: st.DataObject) -> None:
    token = data.draw(slack_tokens())
    text, start, end = data.draw(embedded(token))
    assert ("SLACK_TOKEN", start, end) in spans(text)


@pytest.mark.parametrize("lookalike", ["xoxz-1234567890-1234567890-abcdefghijklmnopqrstuvwx",
                                       "xoxb-123-1234567890-abcdefghijklmnopqrstuvwx",
                                       "https://hooks.slack.com/services/not-a-hook"])
def test_slack_lookalikes_are_not_found(lookalike: str) -> None:
    assert spans(f"see {lookalike} now") == set()


@PROPERTY
@given(st.data())
def test_stripe_keys_are_found_and_test_keys_are_less_severe(data: st.DataObject) -> None:
    mode = data.draw(st.sampled_from(["live", "test"]))
    prefix = data.draw(st.sampled_from(["sk", "rk"])) + f"_{mode}_"
    text, start, end = data.draw(embedded(prefix + data.draw(fixed(B62, 24, 99))))
    finding = ANALYZER.scan_text(text)[0]
    assert (finding.entity, finding.start, finding.end, finding.severity) == (
        "STRIPE_KEY", start, end, {"live": "critical", "test": "high"}[mode])
    assert spans(text[:start] + "pk" + text[start + 2:]) == set()  # publishable keys are public
    assert spans(f"{prefix}{'Ab1' * 7}xy") == set()  # 23 characters


@PROPERTY
@given(st.data())
def test_google_api_keys_are_found(data: st.DataObject) -> None:
    key = "AIza" + data.draw(fixed(URLSAFE, 35))
    text, start, end = data.draw(embedded(key))
    assert ("GOOGLE_API_KEY", start, end) in spans(text)
    for lookalike in (key + data.draw(st.sampled_from(URLSAFE)), key[:-1], "AIzb" + key[4:]):
        assert spans(text.replace(key, lookalike)) == set()


@st.composite
def openai_keys(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["", "proj-", "svcacct-", "admin-"]))
    if not kind:
        return f"sk-{draw(fixed(B62, 20))}T3BlbkFJ{draw(fixed(B62, 20))}"
    return f"sk-{kind}{draw(fixed(URLSAFE, 20, 80))}T3BlbkFJ{draw(fixed(URLSAFE, 20, 80))}"


@PROPERTY
@given(st.data())
def test_openai_keys_are_found(data: st.DataObject) -> None:
    key = data.draw(openai_keys())
    text, start, end = data.draw(embedded(key))
    finding = ANALYZER.scan_text(text)[0]
    assert (finding.entity, finding.start, finding.end, finding.score, finding.reason.pattern) == (
        "OPENAI_API_KEY", start, end, 0.95, "openai_key")


def test_openai_keys_without_the_marker_need_a_project_prefix() -> None:
    body = "Ab3Cd5Ef7Gh9" * 4
    assert [(f.start, f.end, f.score, f.reason.pattern) for f in ANALYZER.scan_text(f"k sk-proj-{body} .")] == [
        (2, 2 + 8 + len(body), 0.8, "openai_project_key")]
    assert spans(f"k sk-{body} .") == set()
    assert spans(f"k sk-ant-{body} .") == set()


# --- JWT and private keys --------------------------------------------------------------------------------------

@PROPERTY
@given(st.data())
def test_jwts_with_a_json_header_carrying_alg_are_found(data: st.DataObject) -> None:
    token = data.draw(jwts())
    text, start, end = data.draw(embedded(token, "Authorization: Bearer "))
    finding = ANALYZER.scan_text(text)[0]
    assert (finding.entity, finding.start, finding.end, finding.score, finding.reason) == (
        "JWT", start, end, 1.0, Reason("jwt", "jwt", "jwt_header", ("bearer", "authorization")))


@PROPERTY
@given(jwts(header_keys=fixed(string.ascii_lowercase, 1, 5).filter(lambda key: key != "alg")), QUIET)
def test_jwts_whose_header_lacks_alg_are_not_found(token: str, noise: str) -> None:
    assert not jwt_ok(token)
    assert spans(f"{noise} {token} {noise}") == set()


def one_over_a_multiple_of_4(segment: str) -> str:
    """``segment`` padded with "A" to a length no base64 decoder accepts."""
    return segment + "A" * ((1 - len(segment)) % 4)


HEADER, PAYLOAD = b64url(b'{"alg": "HS256"}'), b64url(b'{"sub": "1"}')


@pytest.mark.parametrize("header", [
    b64url(b'{"alg": "HS256"'),                                 # JSON cut short
    b64url(b'{"alg": "\xff\xfe"}'),                             # not UTF-8
    b64url(b'{"alg": 256}'),                                    # alg not a string
    b64url(b'{"alg": "HS256"}[1]'),                             # trailing data after the JSON
    one_over_a_multiple_of_4(HEADER),                           # not base64url
    b64url(b'{"alg": "HS256", "x": ' + b"[" * 100_000 + b"}"),  # nested too deep for json
])
def test_jwts_with_an_undecodable_header_are_not_found(header: str) -> None:
    token = f"{header}.{PAYLOAD}.c2ln"
    assert not jwt_ok(token)
    assert spans(f"see {token} end") == set()


def test_jwts_with_an_undecodable_payload_are_not_found() -> None:
    assert jwt_ok(f"{HEADER}.{PAYLOAD}.c2ln")
    assert spans(f"see {HEADER}.{one_over_a_multiple_of_4(PAYLOAD)}.c2ln end") == set()


@PROPERTY
@given(st.sampled_from(["", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "]), fixed(B62 + "+/", 64), QUIET)
def test_private_key_headers_are_reported_as_the_header_line(kind: str, body: str, noise: str) -> None:
    header = f"-----BEGIN {kind}PRIVATE KEY-----"
    text = f"{noise}\n{header}\n{body}\n-----END {kind}PRIVATE KEY-----\n"
    start = len(noise) + 1
    assert spans(text) == {("PRIVATE_KEY", start, start + len(header))}
    assert spans(text.replace("PRIVATE", "PUBLIC")) == set()


def test_pgp_private_key_blocks_are_found() -> None:
    header = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
    assert spans(f"key:\n{header}\n") == {("PRIVATE_KEY", 5, 5 + len(header))}
    assert spans("-----BEGIN PGP PUBLIC KEY BLOCK-----") == set()


# --- connection strings ----------------------------------------------------------------------------------------

@PROPERTY
@given(st.sampled_from(CONNECTION_SCHEMES), st.sampled_from(["", "+psycopg2", "+srv"]), st.sampled_from(["", "jdbc:"]),
       fixed(string.ascii_lowercase + string.digits, 0, 10), passwords, QUIET)
def test_passwords_in_connection_urls_are_reported_alone(scheme: str, driver: str, jdbc: str, user: str,
                                                        password: str, noise: str) -> None:
    head = f"{noise} {jdbc}{scheme}{driver}://{user}:"
    text = f"{head}{password}@db-1.internal:5432/app?sslmode=require"
    assert spans(text) == {("CONNECTION_STRING_PASSWORD", len(head), len(head) + len(password))}


@st.composite
def key_value_strings(draw: st.DrawFn) -> tuple[str, str, str]:
    """A connection string in ODBC, ADO.NET or JDBC shape, as (text before the password, password, text after)."""
    password = draw(passwords)
    key = draw(st.sampled_from(["Password", "PWD", "pwd", "passwd", "password"]))
    host = draw(fixed(string.ascii_lowercase, 1, 12))
    shape = draw(st.sampled_from(["ado", "odbc", "first", "jdbc", "query", "oracle"]))
    if shape == "ado":
        return f"Data Source={host};Initial Catalog=app;User ID=svc;{key}=", password, ";"
    if shape == "odbc":
        braced = draw(st.lists(st.sampled_from(PASSWORD_CHARS + "; "), min_size=2, max_size=16, unique=True)
                      .map("".join).filter(password_ok))
        return f"Driver={{ODBC Driver 18}};Server={host};UID=svc;{key}={{", braced, "};"
    if shape == "first":
        return f"{key}=", password, f";Server={host};Database=app"
    if shape == "jdbc":
        return f"jdbc:sqlserver://{host}:1433;databaseName=app;user=svc;{key}=", password, ";"
    if shape == "query":
        return f"jdbc:mysql://{host}:3306/app?user=svc&{key}=", password, "&useSSL=true"
    return "jdbc:oracle:thin:svc/", password, f"@{host}:1521:orcl"


@PROPERTY
@given(key_value_strings(), QUIET)
def test_passwords_in_key_value_connection_strings_are_reported_alone(case: tuple[str, str, str],
                                                                      noise: str) -> None:
    before, password, after = case
    head = f"{noise} \"{before}"
    text = f"{head}{password}{after}\" {noise}"
    assert spans(text) == {("CONNECTION_STRING_PASSWORD", len(head), len(head) + len(password))}


@pytest.mark.parametrize("text", [
    "postgres://user:${DB_PASSWORD}@db:5432/app",
    "postgres://user:password@localhost/app",
    "mysql://root:$MYSQL_ROOT_PASSWORD@db/app",
    "redis://:{{ redis_password }}@cache:6379",
    "Server=db;Database=app;Password=****;",
    "Server=db;Password=<password>;",
    "Server=db;Password=%(password)s;",
    "password=Zx81-qq-42",                         # a lone key=value, not a connection string
    "https://user:Zx81qq42@example.com/",          # a web URL (URL_CREDENTIALS), not a connection string
    "Server=db;\nPassword=Zx81qq42;",              # across a line
])
def test_connection_string_placeholders_and_lookalikes_are_not_found(text: str) -> None:
    assert spans(text) == set()


def test_password_ok_refuses_placeholders() -> None:
    assert [password_ok(v) for v in ("Zx81qq42", "****", "xxxxxx", "PASSWORD", "${PW}", "$PW", "<pw>", "[pw]",
                                     "{{ pw }}", "%(pw)s", "$ecret!")] == [
        True, False, False, False, False, False, False, False, False, False, True]


# --- generic high-entropy tokens -------------------------------------------------------------------------------

@PROPERTY
@given(st.data())
def test_random_tokens_near_a_secret_keyword_are_found(data: st.DataObject) -> None:
    token = data.draw(random_tokens(data.draw(st.integers(20, 64)), "_-+/"))
    keyword = data.draw(st.sampled_from(SECRET_KEYWORDS))
    lead = keyword + data.draw(st.sampled_from([": ", " = ", "='", '": "', " "]))
    text, start, end = data.draw(embedded(token, lead))
    finding = ANALYZER.scan_text(text)[0]
    assert (finding.entity, finding.start, finding.end, finding.score, finding.reason.validator) == (
        "GENERIC_SECRET", start, end, 0.7, "entropy")
    assert spans(text.replace(lead, "value: ")) == set()


@PROPERTY
@given(st.lists(st.permutations("0123456789abcdef"), min_size=1, max_size=3), st.booleans(), QUIET)
def test_hex_tokens_count_only_from_32_characters(orders: list[list[str]], upper: bool, noise: str) -> None:
    token = "".join("".join(order) for order in orders)
    token = token.upper() if upper else token
    expected = {("GENERIC_SECRET", len(noise) + 7, len(noise) + 7 + len(token))} if len(token) >= 32 else set()
    assert spans(f"{noise} token {token}") == expected
    assert spans(f"{noise} token {token[:31]}") == set()


WORDS = ["prod", "db", "backup", "Service", "main", "USER", "v2", "2024", "Config", "api", "HTTP", "Server"]
# camelCase parts are read as words from three letters on ("Db" could as well be random).
CAMEL_WORDS = ["Prod", "Backup", "Service", "Main", "User", "2024", "Config", "Api", "HTTP", "Server"]


@PROPERTY
@given(st.sampled_from(["_", "-", ""]).flatmap(
    lambda sep: st.lists(st.sampled_from(WORDS if sep else CAMEL_WORDS), min_size=7, max_size=10).map(sep.join)),
    st.sampled_from(SECRET_KEYWORDS))
def test_identifiers_near_a_secret_keyword_are_not_found(identifier: str, keyword: str) -> None:
    assert ANALYZER.candidate_count(f"{keyword}: {identifier}") >= 1  # a generic candidate, refused by the check
    assert spans(f"{keyword}: {identifier}") == set()


@pytest.mark.parametrize("value", [
    "aaaaaaaaaaaaaaaaaaaaaaaa", "abc123abc123abc123abc123", "correcthorsebatterystaple", "CORRECTHORSEBATTERYSTAPLE",
    "MySuperSecretPassword", "ProductionDatabasePassword2024", "12345678901234567890123",
    "0123456789abcdef0123456789abcde"])
def test_low_entropy_and_word_like_values_near_password_are_not_found(value: str) -> None:
    assert spans(f"password: {value}") == set()


@PROPERTY
@given(random_tokens(24), st.sampled_from(EXAMPLE_WORDS))
def test_example_words_lower_the_score_below_the_default(token: str, word: str) -> None:
    text = f"{word} token: {token}"
    assert spans(text) == set()
    assert [f.score for f in ANALYZER.scan_text(text, min_score=0.0)] == [0.45]


def test_generic_and_specific_recognisers_agree_the_specific_one_wins() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    finding = ANALYZER.scan_text(f"aws_secret_access_key: {secret}")[0]
    assert (finding.entity, finding.score, finding.reason.context) == (
        "AWS_SECRET_ACCESS_KEY", 0.85, ("aws", "secret access key", "aws secret"))


def test_column_names_give_context_to_cells() -> None:
    token = "Zq8vN3xR7tY2wK5mP9sL4bH6"
    cells = ANALYZER.scan_texts([token, "plain"], extra_context=["clientSecret"])
    assert [[(f.entity, f.start, f.end, f.score, f.reason.context) for f in found] for found in cells] == [
        [("GENERIC_SECRET", 0, 24, 0.7, ("secret",))], []]
    assert ANALYZER.scan_texts([token, "plain"]) == [[], []]


# --- context scores and reasons --------------------------------------------------------------------------------

def test_context_words_raise_scores_exactly() -> None:
    token = github_token("ghp_", "Ab3Cd5Ef7Gh9Jk2Lm4Np6Qr8St0Uv1")
    assert [(f.score, f.reason) for f in ANALYZER.scan_text(f"use {token} now")] == [
        (0.95, Reason("github_classic_token", "github_classic_token", "github_crc32", ()))]
    assert [(f.score, f.reason) for f in ANALYZER.scan_text(f"GITHUB_TOKEN={token}")] == [
        (1.0, Reason("github_classic_token", "github_classic_token", "github_crc32", ("github", "token")))]


# --- robustness ------------------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\n=:;@/+-_.T3BlbkFJ"), max_size=300))
def test_arbitrary_text_never_raises_and_findings_stay_on_one_line(text: str) -> None:
    for finding in ANALYZER.scan_text(text, min_score=0.0):
        assert 0 <= finding.start < finding.end <= len(text)
        assert "\n" not in text[finding.start:finding.end]


@pytest.mark.parametrize(("text", "candidates"), [
    ("a" * 1_000_000, 2),                  # one run: an AWS-secret and a generic candidate, both refused at once
    ("token " + "Ab1/" * 250_000, 2),
    ("AKIA" * 250_000, 2),
    ("glpat-" * 200_000, 2),
    ("sk-proj-" + "a" * 999_992, 2),
    ("Server=x;" + "Password=;" * 100_000, 0),
    ("postgres://u:" * 80_000, 0),
    ("eyJ." * 250_000, 0),
    ("-----BEGIN " * 100_000, 0),
])
def test_adversarial_megabyte_inputs_yield_bounded_candidates(text: str, candidates: int) -> None:
    assert ANALYZER.candidate_count(text) == candidates
    assert ANALYZER.scan_text(text, min_score=0.0) == []


@pytest.mark.parametrize(("unit", "repeat", "candidates"), [
    ("AKIA" + "Q" * 16 + " ", 5_000, 10_000),     # each id, and its 20-character run as a generic candidate
    ("eyJhbGciOiJIUzI1NiJ9.eyJ9.", 4_000, 6_667),  # a JWT per three segments, a generic run per header
    ("token=Ab1Cd2Ef3Gh4Jk5Lm6Np7 ", 4_000, 4_000),
    ("Server=x;Password=y;", 5_000, 9_999),        # password after a key, and password before the next key
])
def test_dense_inputs_yield_candidates_in_proportion_to_their_length(unit: str, repeat: int,
                                                                     candidates: int) -> None:
    assert ANALYZER.candidate_count(unit * repeat) == candidates


@pytest.mark.parametrize("name", ["aws_secret_access_key", "MY_SERVICE_API_TOKEN_VALUE", "client-secret-for-prod-2024"])
def test_generic_tokens_after_a_long_setting_name_are_found(name: str) -> None:
    token = "Zq8vN3xR7tY2wK5mP9sL4bH6=="
    assert spans(f"{name}={token}") == {("GENERIC_SECRET", len(name) + 1, len(name) + 25)}


def test_generic_tokens_longer_than_the_maximum_are_data() -> None:
    token = "Ab1Cd2Ef3Gh4Jk5Lm6Np7Qr8St9Uv0Wx" * 8
    assert spans(f"token: {token}") == {("GENERIC_SECRET", 7, 7 + GENERIC_MAX_LENGTH)}
    assert spans(f"token: {token}Z") == set()


# --- with the default recognisers ------------------------------------------------------------------------------

def test_default_analyzer_reports_secrets_among_identifiers() -> None:
    github = github_token("gho_", "Ab3Cd5Ef7Gh9Jk2Lm4Np6Qr8St0Uv1")
    text = (f"deploy with GITHUB_TOKEN={github} and AKIA{'Q' * 16} "
            f"-- DSN postgres://svc:Zx81qq42@db/app -- mail ops@example.com")
    assert [(f.entity, text[f.start:f.end]) for f in scan_text(text)] == [
        ("GITHUB_TOKEN", github), ("AWS_ACCESS_KEY_ID", "AKIA" + "Q" * 16),
        ("CONNECTION_STRING_PASSWORD", "Zx81qq42"), ("EMAIL_ADDRESS", "ops@example.com")]


# --- entropy ---------------------------------------------------------------------------------------------------

def test_shannon_entropy_exact_values() -> None:
    assert [shannon_entropy(v) for v in ("", "aaaa", "ab", "aabb", "abcd", "abcdefgh")] == [
        0.0, 0.0, 1.0, 1.0, 2.0, 3.0]


@given(st.text(max_size=200))
def test_shannon_entropy_is_bounded_by_the_length(value: str) -> None:
    assert 0.0 <= shannon_entropy(value) <= math.log2(max(1, len(value))) + 1e-9


def test_token_classes() -> None:
    assert TOKEN_CLASSES == ("no_letters", "letters", "hex", "words", "random")
    assert [token_class(v) for v in ("1234-5678", "correcthorse", "HORSE", "deadbeef42", "DEADBEEF42",
                                     "prod_db_2024", "myAppKey2024", "MyHTTPServer", "v2.api.Config",
                                     "aB3dE5fG7h", "ThisIsNotASecret", "123e4567-e89b-12d3-a456-426614174000")] == [
        "no_letters", "letters", "letters", "hex", "hex", "words", "words", "words", "words", "random", "random",
        "random"]


def test_random_token_thresholds() -> None:
    assert (ENTROPY_THRESHOLD, MIN_HEX_LENGTH) == (3.0, 32)
    assert is_random_token("0123456789abcdef0123456789abcdef")
    assert not is_random_token("0123456789abcdef0123456789abcde")
    assert not is_random_token("ab12" * 8)  # hex of 32 but 2 bits per character
    assert not is_random_token("Ab1Cd2" * 5)  # 2.58 bits per character
    assert is_random_token("Ab1Cd2Ef3Gh4Jk5Lm6Np")


@PROPERTY
@given(st.integers(20, 64).flatmap(lambda n: random_tokens(n, "_-+/")))
def test_generated_tokens_pass_the_random_check(token: str) -> None:
    assert is_random_token(token)


# Today's answers, pinned: (token, class, entropy bits, random?). The fast paths must give exactly these.
PINNED_TOKENS: list[tuple[str, str, float, bool]] = [
    ('0123456789abcdef0123456789abcdef', 'hex', 4.0, True),
    ('9c283f4b9d4672434dfe0980863ed2ffde673181', 'hex', 3.696439344671015, True),
    ('DEADBEEFCAFEBABE0123456789ABCDEF', 'hex', 3.6556390622295662, True),
    ('deadbeefdeadbeefdeadbeefdeadbeef', 'letters', 2.1556390622295662, False),
    ('abcdefabcdefabcdefabcdefabcdefab', 'letters', 2.579434002924965, False),
    ('K82kV0qUjv6s8mQfB3nszzYx9YFQXg93an6LZ5+g', 'random', 4.8219280948873635, True),
    ('7+o76wMyJ7qyoGml0SrtT/1twKB1vz1/qKDrh3lcyJAap0xEqDgWFKeN3mUliPCo', 'random', 5.198684179450871, True),
    ('eyJhbGciOiAiRVMyNTYiLCAidHlwIjogIkpXVCJ9', 'random', 4.731687083026443, True),
    ('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', 'random', 5.010181469210373, True),
    ('4fabb688-30a9-4514-acd8-26064d4e92f3', 'random', 3.8400832519721115, True),
    ('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', 'random', 4.853055907333276, True),
    ('correcthorsebatterystaple', 'letters', 3.363856189774724, False),
    ('CORRECTHORSEBATTERYSTAPLE', 'letters', 3.363856189774724, False),
    ('xxxxxxxxxxxxxxxxxxxx', 'letters', -0.0, False),
    ('Xx1Xx1Xx1Xx1Xx1Xx1Xx', 'random', 1.5812908992306927, False),
    ('prod_db_backup_2024', 'words', 3.576617644908665, False),
    ('my-app-secret-key-v2', 'words', 3.484183719779189, False),
    ('config.Prod.DB2.url', 'words', 3.7871439606981383, False),
    ('myAppSecretKey2024', 'words', 3.572431251322119, False),
    ('MyHTTPServerKey', 'words', 3.1898980954642875, False),
    ('getUserAccountSettingsV2', 'random', 3.7201755214643453, True),
    ('ABCdefGHIjklMNOpqrSTU', 'words', 4.39231742277876, False),
    ('ThisIsNotASecretValue', 'random', 3.9754180179138325, True),
    ('aB3dE5fG7hJ9kL1mN3pQ', 'random', 4.221928094887362, True),
    ('abcdefgh', 'letters', 3.0, False),
    ('Ab1Cd2Ef3Gh4Jk5Lm6Np', 'random', 4.321928094887363, True),
    ('Ab1Cd2Ab1Cd2Ab1Cd2Ab1Cd2Ab1Cd2', 'hex', 2.584962500721156, False),
    ('ab12ab12ab12ab12ab12ab12ab12ab12', 'hex', 2.0, False),
    ('abc123abc123abc123ab', 'hex', 2.5709505944546684, False),
    ('12345678901234567890', 'no_letters', 3.321928094887362, False),
    ('____----____----____', 'no_letters', 0.9709505944546686, False),
    ('AAAAAAAAAAAAAAAAAAAAAAAAb', 'hex', 0.24229218908241482, False),
    ('aaaaaaaaaaaaaaaaaaaaA1', 'hex', 0.5304060778306042, False),
    ('-leadingSeparatorToken', 'random', 3.7544418457133446, True),
    ('trailing_Token_', 'words', 3.5068905956085183, False),
    ('a', 'letters', -0.0, False),
    ('', 'no_letters', 0.0, False),
    ('ñandúSeguro2024Clave', 'random', 4.021928094887362, True),
    ('пароль123Секрет', 'random', 3.640223928941852, True),
    ('Zx81qq42', 'random', 2.75, False),
    ('AbCdEfGhIjKlMnOpQrSt', 'random', 4.321928094887363, True),
    ('v1.2.3-beta+build.2024', 'words', 3.9362600275315254, False),
    ('HTTP2Server3Config', 'words', 3.8365916681089787, False),
    ('ABcdef', 'hex', 2.584962500721156, False),
    ('ABCdef', 'hex', 2.584962500721156, False),
    ('aBCdef', 'hex', 2.584962500721156, False),
    ('AbcDEF', 'hex', 2.584962500721156, False),
    ('A1b2C3d4E5f6G7h8I9j0', 'random', 4.321928094887363, True),
    ('XYwords', 'words', 2.807354922057604, False),
    ('ABCwords', 'words', 3.0, False),
    ('xyZwords', 'words', 3.0, False),
    ('Xwords1', 'words', 2.807354922057604, False),
    ('getHTTPResponse', 'words', 3.323231428797621, False),
    ('getHTTPResponseXY', 'words', 3.572469458770136, False),
    ('aXyzQ1', 'random', 2.584962500721156, False),
    ('my-ABwords', 'words', 3.321928094887362, False),
    ('aéb-Écd', 'random', 2.807354922057604, False),
    ('Pass_Word_Ok', 'words', 3.2516291673878226, False),
    ('Ab-Cd', 'words', 2.321928094887362, False),
    ('git-sha-1a2b3c', 'random', 3.521640636343319, True),
    ("x" * 300 + "A1", 'random', 0.0640815368457271, False),
    ('ǅab1Cd', 'random', 2.584962500721156, False),
    ('abcdef01' * 4, 'hex', 3.0, True),
    ('aB1cD2gH' * 3, 'random', 3.0, True),
    ('aB1cD2gH' * 3 + 'a', 'random', 2.992487689168954, False),
]


@pytest.mark.parametrize(("token", "kind", "bits", "random"), PINNED_TOKENS)
def test_pinned_token_answers(token: str, kind: str, bits: float, random: bool) -> None:
    assert token_class(token) == kind
    assert shannon_entropy(token) == bits  # the same float: same terms, same order
    assert is_random_token(token) is random


# The camelCase and plain-word rules as first written, run by RE2 (linear time, so no rewrite was needed there):
# the reference for the backtracking-safe forms the module runs.
_SPEC_CAMEL = re2.compile(r"[A-Z]?[a-z]*(?:[A-Z][a-z]{2,}|[A-Z]{2,}|[0-9]+)+")
_SPEC_PLAIN = re2.compile(r"[A-Za-z][a-z]*[0-9]*|[A-Z]+[0-9]*|[0-9]+")


def spec_reads_as_words(value: str) -> bool:
    parts = [part for part in re.split(r"[-_./+=]+", value) if part]
    if len(parts) > 1:
        return all(_SPEC_PLAIN.fullmatch(part) or _SPEC_CAMEL.fullmatch(part) for part in parts)
    mixed_case = any(char.isupper() for char in value) and any(char.islower() for char in value)
    return mixed_case and _SPEC_CAMEL.fullmatch(value) is not None


def test_reads_as_words_matches_the_spec_on_every_short_string() -> None:
    for size in range(7):
        for chars in itertools.product("Aab1-", repeat=size):
            value = "".join(chars)
            assert _reads_as_words(value) is spec_reads_as_words(value), value


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ABXabz019-_./+=%\u00e9", max_size=40) | st.text(alphabet="ABab1", max_size=60))
def test_reads_as_words_matches_the_spec(value: str) -> None:
    assert _reads_as_words(value) is spec_reads_as_words(value)


def test_camel_case_rule_stays_linear_on_a_failing_run() -> None:
    assert not _reads_as_words("A" * 5000 + "b1c")
    assert not _reads_as_words("-".join(["ABCDEFGHab"] * 2000) + "-a1b")
