"""Signed tokens for the links and addresses in each email.

A token names a few numbers (a contact, a send, a delivery) and carries an HMAC-SHA256
signature made with the secret key from the environment variable that `[web] secret_key_env`
names. Tokens use only lower-case letters, digits and dots, so they survive in URLs and in the
part of an email address before the @ even when a mail system changes its case.

Keys can be changed without breaking the links already sent: `[web] old_secret_keys_env` names
the variables that hold earlier keys. New tokens are signed with the current key; a token made
with the current key or any old one is accepted. Every check of a token (links, reply and
unsubscribe addresses, form tokens) goes through `Signer.verify`, so all of them accept old keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from .config import Workspace, secret
from .errors import EngageError

SIGNATURE_BYTES = 10  # 80 bits, written as 16 base32 characters
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# The shape of every token we make: numbers in base 36, then the signature, joined by dots.
# A confirmation link carries a number for each topic chosen; 1,000 characters is room for
# hundreds of them, and still a size whose signature is quick to check.
SHAPE = re.compile(r"(?:[0-9a-z]{1,30}\.)+[a-z2-7]{16}")
MAX_LENGTH = 1000


class BadToken(EngageError):
    """A token that was not made by us, or was changed."""


class BadSignature(BadToken):
    """A token of the right shape whose signature matches none of our keys: changed, or made
    with a key we no longer have (see KEY_HINT). Text that is not shaped like a token at all
    (cut short in its signature, typed in, sent by a robot) is a plain BadToken."""


class ExpiredToken(BadToken):
    """A token we made, but too long ago for what it does."""


# Three tokens go into every email, so they are made from tables, two characters at a time:
# this halved what a send of 100,000 spent on them (base64.b32encode is plain Python).
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648's alphabet, lower case
_BASE32_PAIRS = [a + b for a in _BASE32 for b in _BASE32]  # 10 bits each
_BASE36_PAIRS = [a + b for a in DIGITS for b in DIGITS]  # 00 to zz
_BASE36_SHORT = [p.lstrip("0") or "0" for p in _BASE36_PAIRS]  # the same without leading 0s


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("tokens carry only numbers from 0 up")
    low = ""
    while number >= len(_BASE36_PAIRS):
        number, pair = divmod(number, len(_BASE36_PAIRS))
        low = _BASE36_PAIRS[pair] + low
    return _BASE36_SHORT[number] + low


def _base32(ten: bytes) -> str:
    """`ten` bytes (80 bits) as 16 base32 characters: base64.b32encode's, in lower case."""
    n, pairs = int.from_bytes(ten, "big"), _BASE32_PAIRS
    return (
        pairs[n >> 70]
        + pairs[(n >> 60) & 1023]
        + pairs[(n >> 50) & 1023]
        + pairs[(n >> 40) & 1023]
        + pairs[(n >> 30) & 1023]
        + pairs[(n >> 20) & 1023]
        + pairs[(n >> 10) & 1023]
        + pairs[n & 1023]
    )


class _Keyed:
    """HMAC-SHA256 with one key (RFC 2104, as the hmac module makes it), its two padded key
    blocks hashed once: hmac.digest sets the key up again for each message, and that was
    two thirds of the time of a token (three in every email)."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def digest(self, message: bytes) -> bytes:
        inner, outer = self._inner.copy(), self._outer.copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.digest()


_BLOCK = 64  # SHA-256's block, in bytes
_INNER_PAD = bytes(x ^ 0x36 for x in range(256))
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))


class Signer:
    """Signs with `key`; checks with `key` and each of `old_keys` (keys used before it)."""

    def __init__(self, key: str, *old_keys: str) -> None:
        keys = [k.encode("utf-8") for k in (key, *old_keys)]
        self._keys = [_Keyed(k) for k in dict.fromkeys(keys)]  # the current key first, each once

    def _signature(self, key: _Keyed, kind: str, body: str) -> str:
        return _base32(key.digest(f"{kind}:{body}".encode())[:SIGNATURE_BYTES])

    def sign(self, kind: str, *numbers: int) -> str:
        body = ".".join([_base36(n) for n in numbers])
        return f"{body}.{self._signature(self._keys[0], kind, body)}"

    def verify(self, kind: str, token: object) -> tuple[int, ...]:
        """The numbers in `token`, or BadToken for anything we did not sign: any text of any
        length, with any characters (non-ASCII, NUL, lone surrogates), and non-text too.
        BadSignature when it has our tokens' shape but none of our keys made it."""
        token = _shaped(token)
        body, _, signature = token.rpartition(".")
        if not any(
            hmac.compare_digest(signature, self._signature(key, kind, body)) for key in self._keys
        ):
            raise BadSignature(NOT_OURS)
        return tuple(int(part, 36) for part in body.split("."))


def _shaped(token: object) -> str:
    """The token in lower case, if it has the shape of one of ours; BadToken if not. Checked
    before any signature is worked out, so what reaches the HMAC is always short ASCII."""
    if not isinstance(token, str) or len(token) > MAX_LENGTH:
        raise BadToken(NOT_OURS)
    token = token.strip().lower()  # after the length check: lower() can make text longer
    if not SHAPE.fullmatch(token):  # ASCII letters and digits only: no NUL, no é, no ５
        raise BadToken(NOT_OURS)
    return token


NOT_OURS = "This link is not valid. It may have been cut short or changed."
# For the team, in the web app's log and on replies: why a token we did sign may fail.
KEY_HINT = (
    "If the secret key was changed, links and reply addresses made with the old key stop "
    "working: put the old key in an environment variable and name it in [web] "
    "old_secret_keys_env (see docs/configuration.md)."
)


def signer(workspace: Workspace) -> Signer:
    """The signer for this workspace: the key in `[web] secret_key_env`, and the old keys in
    the variables `[web] old_secret_keys_env` names (each must be set)."""
    web = workspace.config.web
    old = [secret(name, "web.old_secret_keys_env") for name in web.old_secret_keys_env]
    return Signer(secret(web.secret_key_env, "web.secret_key_env"), *old)
