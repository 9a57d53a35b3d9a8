"""Officers' passwords: argon2id hashes, the password policy, no user-name timing oracle."""

from __future__ import annotations

import logging
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

logger = logging.getLogger(__name__)

MIN_LENGTH = 10
_hasher = PasswordHasher()  # argon2id with argon2-cffi's current recommended parameters


class PasswordPolicyError(ValueError):
    """The password does not meet the policy (the message says what to change)."""


def check_policy(username: str, password: str) -> None:
    """Raise :class:`PasswordPolicyError` when ``password`` is not acceptable."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"password too short: use at least {MIN_LENGTH} characters")
    if password.strip().lower() == username.strip().lower():
        raise PasswordPolicyError("password must not be the user name: choose another one")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("alarmlink-dummy-password-never-valid")


def verify(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With ``password_hash`` None (unknown user) a dummy
    hash is verified instead, so an unknown user name takes as long as a wrong password."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        logger.error("a stored password hash is not a valid argon2 hash")
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
