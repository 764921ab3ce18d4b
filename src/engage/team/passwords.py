"""Passwords for the console, kept only as argon2id hashes (argon2-cffi's defaults, which follow
RFC 9106's advice). A check against no account still costs one hash, so how long a wrong
sign-in takes says nothing about whether the address is on the team."""

from __future__ import annotations

import functools

from ..errors import EngageError

SHORTEST = 12  # characters: long enough to be hard to guess, short enough to remember


class WeakPassword(EngageError):
    """A password that is too short or too plain; the message says why."""


@functools.cache
def _hasher():  # noqa: ANN202 - argon2's PasswordHasher, imported only when a password is used
    from argon2 import PasswordHasher

    return PasswordHasher()


@functools.cache
def _nobody() -> str:
    return _hasher().hash("no account has this password")


def check_strength(password: str, email: str = "") -> None:
    """Raise WeakPassword unless `password` is at least SHORTEST characters and not the email."""
    if len(password) < SHORTEST:
        raise WeakPassword(
            f"That password is {len(password)} characters long. Use at least {SHORTEST}: three or "
            "four words you will remember are a good choice."
        )
    if email and password.strip().lower() == email.strip().lower():
        raise WeakPassword("A password must not be your email address.")
    if len(set(password)) < 4:
        raise WeakPassword("That password repeats too few characters. Choose a less simple one.")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def matches(stored: str, password: str) -> bool:
    """Whether `password` is the one `stored` was made from. An empty `stored` (no password
    set, or no such account) never matches, after the same work as a real check."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored or _nobody(), password) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False
