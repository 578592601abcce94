"""Password hashing (argon2id) and the password rules: length, a blocklist and no reuse of the account name."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aicoe.core.errors import FieldError, ValidationFailed

MAX_LENGTH = 256
COMMON = frozenset(
    """password password1 password123 passw0rd 123456789012 qwertyuiopas letmeinplease administrator
    welcome12345 iloveyou1234 changeme1234 aicoe-admin1 trustno1trustno1 correcthorsebatterystaple
    abcdefghijkl 1q2w3e4r5t6y qwerty123456 summer2026!! winter2026!! password2026 admin1234567""".split()
)


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if not stored:
            return False
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def check_password_rules(password: str, *, email: str, min_length: int, field: str = "password") -> None:
    """Raise a field error naming the first rule the password breaks (NIST SP 800-63B style: length, no blocklist)."""
    problem = None
    local = email.split("@", 1)[0].lower()
    if len(password) < min_length:
        problem = f"must be at least {min_length} characters"
    elif len(password) > MAX_LENGTH:
        problem = f"must be at most {MAX_LENGTH} characters"
    elif password.lower() in COMMON:
        problem = "is too common; choose another"
    elif len(set(password)) < 5:
        problem = "must use at least 5 different characters"
    elif len(local) >= 3 and local in password.lower():
        problem = "must not contain your account name"
    if problem:
        raise ValidationFailed(f"password {problem}", errors=[FieldError(field, f"Password {problem}.")])
