"""Secret recognisers: cloud and SaaS credentials, JWTs, private keys, connection-string passwords and generated
tokens near a secret-like keyword.

Vendor tokens are found by their fixed prefixes and lengths and confirmed where the format allows it (GitHub's
CRC32 checksum, a JWT header that decodes to JSON with "alg"). Formats without a prefix (an AWS secret access
key, a generic token) are reported only with evidence beside them: a context word, the access key id on the same
line, and a value that passes the entropy and token-class check of :mod:`..entropy`.

Boundaries without look-around: a token that starts with a word character is anchored with ``\\b``; a run whose
alphabet has "/", "+" or "-" (an AWS secret, a generic token) consumes one preceding non-run character, reports
its value through a group and takes the whole run greedily, so its validator refuses a run of the wrong length;
a fixed-length token whose alphabet includes "-" consumes one following non-token character (or the end of the
line). Every class excludes "\\n", so no match crosses a line.
"""

from __future__ import annotations

import base64
import json
import string
import zlib

import re2

from aicoe.engines.sensitive.entropy import is_random_token
from aicoe.engines.sensitive.model import Pattern, PatternRecognizer
from aicoe.engines.sensitive.recognizers.identifiers import LANGUAGES

# Words that make a nearby random-looking value a credential (the generic recogniser requires one).
SECRET_KEYWORDS: tuple[str, ...] = ("secret", "token", "api_key", "apikey", "password", "passwd", "pwd", "auth",
                                    "authorization", "bearer", "private", "credential", "passphrase")
# Words that say a nearby value is only an illustration.
EXAMPLE_WORDS: tuple[str, ...] = ("example", "sample", "dummy", "placeholder", "redacted")

AWS_KEY_ID_PREFIXES: tuple[str, ...] = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")
GITHUB_CLASSIC_PREFIXES: tuple[str, ...] = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
AWS_SECRET_LENGTH = 40
GENERIC_MIN_LENGTH = 20
# Longer runs are data (base64 payloads, certificates), not tokens; refusing them first keeps a 1 MB run cheap.
GENERIC_MAX_LENGTH = 256
# Connection-string schemes whose "user:password@" part is a credential (web URLs are URL_CREDENTIALS).
CONNECTION_SCHEMES: tuple[str, ...] = (
    "postgres", "postgresql", "mysql", "mariadb", "mssql", "sqlserver", "oracle", "db2", "snowflake", "clickhouse",
    "cockroachdb", "redshift", "mongodb", "couchbase", "couchdb", "neo4j", "bolt", "cassandra", "redis", "rediss",
    "amqp", "amqps", "kafka", "nats", "mqtt", "mqtts", "ldap", "ldaps", "ftp", "ftps", "sftp", "smtp", "smtps",
    "imap", "imaps", "pop3", "pop3s", "elasticsearch", "opensearch", "influxdb")

# Connection-string passwords that are documentation, not credentials.
PLACEHOLDER_PASSWORDS: frozenset[str] = frozenset({"password", "passwd", "pass", "pwd", "secret", "changeme",
                                                   "yourpassword", "your_password", "mypassword"})

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/")
# ${VAR}, $VAR, {{var}}, <password>, %(password)s, [password]: templates, not values.
_TEMPLATE = re2.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|<[^>]*>|%\([^)]*\)s|\[[^\]]*\]")

# Regex fragments. A token's own alphabet, the characters that may stand before it, and a terminator.
_B64_RUN = r"[A-Za-z0-9/+_-]"  # base64 plus "_" and "-" so that "my-key-<40 chars>" stays one run
_NOT_B64_RUN = r"(?:^|[^A-Za-z0-9/+_\-\n])"
_END_URLSAFE = r"(?:[^A-Za-z0-9_\-\n]|$)"
_KV_KEY = r"(?:password|passwd|pwd)"
_KV_VALUE = r"[ \t]*=[ \t]*([^;&\s\"'{][^;&\s\"']*)"
_CONN_KEYS = (r"(?:server|host|hostname|data ?source|address|addr|database|initial ?catalog|dbname|uid|user ?id|"
              r"user(?:name)?|driver|dsn|provider|port)")


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, digit = divmod(number, 62)
        digits = _BASE62[digit] + digits
    return digits.rjust(width, "0")


def github_checksum_ok(token: str) -> bool:
    """A classic GitHub token (``ghp_`` + 36): the last 6 characters are the base62 CRC32 of the 30 before them."""
    body = token[4:]
    return len(body) == 36 and _base62(zlib.crc32(body[:30].encode("ascii")), 6) == body[30:]


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt_ok(token: str) -> bool:
    """Header and payload are base64url; the header is a JSON object whose "alg" is a string."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_b64url(parts[0]).decode("utf-8"))
        _b64url(parts[1])
    except (ValueError, RecursionError):  # binascii.Error, UnicodeDecodeError and JSONDecodeError are ValueErrors
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)


def aws_secret_ok(value: str) -> bool:
    """Exactly 40 base64 characters that look generated."""
    return len(value) == AWS_SECRET_LENGTH and set(value) <= _BASE64 and is_random_token(value)


def generic_secret_ok(value: str) -> bool:
    """A generated-looking token of at most :data:`GENERIC_MAX_LENGTH` characters: see
    :func:`..entropy.is_random_token`. Base64 "=" padding is left out of the match: it would swallow the "=" of
    ``a_long_setting_name=<token>``."""
    return len(value) <= GENERIC_MAX_LENGTH and is_random_token(value)


def password_ok(value: str) -> bool:
    """Not a placeholder: a template variable, a mask like "****", or a word like "password"."""
    return not (_TEMPLATE.fullmatch(value) or len(set(value)) == 1 or value.lower() in PLACEHOLDER_PASSWORDS)


def _alternation(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(re2.escape(word) for word in words) + ")"


def _credential(name: str, entity: str, severity: str, *patterns: Pattern, **options: object) -> PatternRecognizer:
    """A credential recogniser; secrets look the same in every language, so it scans in all of them."""
    return PatternRecognizer(name=name, entity=entity, patterns=patterns, category="credential", severity=severity,
                             languages=LANGUAGES, **options)  # type: ignore[arg-type]


_AWS_KEY_ID = rf"\b{_alternation(AWS_KEY_ID_PREFIXES)}[A-Z2-7]{{16}}\b"
_AWS_CONTEXT = ("aws", "secret access key", "secret key", "aws secret")

RECOGNIZERS: tuple[PatternRecognizer, ...] = (
    _credential("aws_access_key_id", "AWS_ACCESS_KEY_ID", "high",
                Pattern("aws_access_key_id", _AWS_KEY_ID, 0.9),
                context=("aws", "access key", "key id")),
    _credential("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "critical",
                Pattern("aws_secret_access_key", rf"(?m){_NOT_B64_RUN}({_B64_RUN}{{40,}})", 0.6, group=1),
                validator=aws_secret_ok, validator_name="aws_secret_shape", context=_AWS_CONTEXT,
                requires_context=True),
    _credential("aws_secret_after_key_id", "AWS_SECRET_ACCESS_KEY", "critical",
                Pattern("aws_key_id_then_secret",
                        rf"(?m){_AWS_KEY_ID}[^\n]*?[^A-Za-z0-9/+_\-\n]({_B64_RUN}{{40,}})", 0.9, group=1),
                validator=aws_secret_ok, validator_name="aws_secret_shape", context=_AWS_CONTEXT),
    _credential("github_classic_token", "GITHUB_TOKEN", "critical",
                Pattern("github_classic_token",
                        rf"\b{_alternation(GITHUB_CLASSIC_PREFIXES)}[0-9A-Za-z]{{36}}\b", 0.95),
                validator=github_checksum_ok, validator_name="github_crc32", context=("github", "token", "pat")),
    _credential("github_fine_grained_token", "GITHUB_TOKEN", "critical",
                Pattern("github_fine_grained_token", r"\bgithub_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}\b", 0.9),
                context=("github", "token", "pat")),
    _credential("gitlab_token", "GITLAB_TOKEN", "critical",
                Pattern("gitlab_pat", rf"(?m)\b(glpat-[0-9A-Za-z_-]{{20}}){_END_URLSAFE}", 0.9, group=1),
                Pattern("gitlab_pat_routable",
                        rf"(?m)\b(glpat-[0-9A-Za-z_-]{{27,300}}\.[0-9a-z]{{9}}){_END_URLSAFE}", 0.9, group=1),
                context=("gitlab", "token", "pat")),
    _credential("slack_token", "SLACK_TOKEN", "critical",
                Pattern("slack_bot_token", r"\bxoxb-[0-9]{10,13}-[0-9]{10,13}-[0-9A-Za-z]{24,34}\b", 0.9),
                Pattern("slack_user_token", r"\bxox[pe](?:-[0-9]{10,13}){3}-[0-9A-Za-z]{28,34}\b", 0.9),
                Pattern("slack_legacy_token", r"\bxox[aors]-(?:[0-9]{1,13}-){0,3}[0-9A-Za-z]{10,64}\b", 0.85),
                context=("slack", "token", "bot")),
    _credential("slack_webhook", "SLACK_TOKEN", "high",
                Pattern("slack_webhook_url", r"\b(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/"
                                             r"T[A-Z0-9]{6,12}(?:/[A-Za-z0-9]{6,64}){2,3}\b", 0.9),
                context=("slack", "webhook")),
    _credential("stripe_live_key", "STRIPE_KEY", "critical",
                Pattern("stripe_live_key", r"\b(?:sk|rk)_live_[0-9A-Za-z]{24,99}\b", 0.95),
                context=("stripe", "secret", "key")),
    _credential("stripe_test_key", "STRIPE_KEY", "high",
                Pattern("stripe_test_key", r"\b(?:sk|rk)_test_[0-9A-Za-z]{24,99}\b", 0.9),
                context=("stripe", "secret", "key")),
    _credential("google_api_key", "GOOGLE_API_KEY", "high",
                Pattern("google_api_key", rf"(?m)\b(AIza[0-9A-Za-z_-]{{35}}){_END_URLSAFE}", 0.9, group=1),
                context=("google", "api key", "gcp", "firebase", "maps")),
    _credential("openai_api_key", "OPENAI_API_KEY", "critical",
                Pattern("openai_key", rf"(?m)\b(sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{{20,250}}T3BlbkFJ"
                                      rf"[A-Za-z0-9_-]{{20,250}}){_END_URLSAFE}", 0.95, group=1),
                Pattern("openai_project_key",
                        rf"(?m)\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{40,250}}){_END_URLSAFE}", 0.8, group=1),
                context=("openai", "api key", "gpt")),
    _credential("jwt", "JWT", "high",
                Pattern("jwt", r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", 0.9),
                validator=jwt_ok, validator_name="jwt_header", context=("jwt", "token", "bearer", "authorization")),
    _credential("private_key", "PRIVATE_KEY", "critical",
                Pattern("pem_private_key",
                        r"-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----", 0.95),
                Pattern("pgp_private_key", r"-----BEGIN PGP PRIVATE KEY BLOCK-----", 0.95),
                context=("key", "private", "ssh", "tls", "pem")),
    _credential("connection_string_password", "CONNECTION_STRING_PASSWORD", "critical",
                Pattern("url_password", rf"(?i)\b(?:jdbc:)?{_alternation(CONNECTION_SCHEMES)}(?:\+[a-z0-9_]+)?://"
                                        r"[^\s:/?#@\"']*:([^\s/?#@\"']+)@", 0.9, group=1),
                Pattern("jdbc_oracle_password",
                        r"(?i)\bjdbc:oracle:(?:thin|oci[0-9]*):[^\s/@:\"']+/([^\s/@\"']+)@", 0.85, group=1),
                Pattern("kv_password",
                        rf"(?i)(?:\bjdbc:[a-z0-9]+:|\b{_CONN_KEYS}[ \t]*=)[^\n]*?[;&?][ \t]*{_KV_KEY}{_KV_VALUE}",
                        0.85, group=1),
                Pattern("kv_password_braced",
                        rf"(?i)\b{_CONN_KEYS}[ \t]*=[^\n]*?;[ \t]*{_KV_KEY}[ \t]*=[ \t]*\{{([^}}\n]+)\}}",
                        0.85, group=1),
                Pattern("kv_password_first",
                        rf"(?im)(?:^|[;&?\"' \t]){_KV_KEY}{_KV_VALUE}[ \t]*;[^\n]*?\b{_CONN_KEYS}[ \t]*=",
                        0.85, group=1),
                validator=password_ok, validator_name="not_placeholder",
                context=("connection", "connection string", "dsn", "database", "jdbc", "odbc", "url", "uri")),
    _credential("generic_secret", "GENERIC_SECRET", "high",
                Pattern("high_entropy_token",
                        rf"(?m){_NOT_B64_RUN}({_B64_RUN}{{{GENERIC_MIN_LENGTH},}})", 0.45, group=1),
                validator=generic_secret_ok, validator_name="entropy", context=SECRET_KEYWORDS,
                negative_context=EXAMPLE_WORDS, requires_context=True),
)
