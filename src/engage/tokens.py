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

import base64
import hmac

from .config import Workspace, secret
from .errors import EngageError

SIGNATURE_BYTES = 10  # 80 bits, written as 16 base32 characters
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class BadToken(EngageError):
    """A token that was not made by us, or was changed."""


class BadSignature(BadToken):
    """A token whose signature matches none of our keys: cut short, changed, or made with a key
    we no longer have (see KEY_HINT)."""


class ExpiredToken(BadToken):
    """A token we made, but too long ago for what it does."""


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("tokens carry only numbers from 0 up")
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = DIGITS[digit] + out
        if number == 0:
            return out


class Signer:
    """Signs with `key`; checks with `key` and each of `old_keys` (keys used before it)."""

    def __init__(self, key: str, *old_keys: str) -> None:
        keys = [k.encode("utf-8") for k in (key, *old_keys)]
        self._keys = list(dict.fromkeys(keys))  # the current key first, each once

    def _signature(self, key: bytes, kind: str, body: str) -> str:
        digest = hmac.digest(key, f"{kind}:{body}".encode(), "sha256")
        return base64.b32encode(digest[:SIGNATURE_BYTES]).decode("ascii").lower()

    def sign(self, kind: str, *numbers: int) -> str:
        body = ".".join(_base36(n) for n in numbers)
        return f"{body}.{self._signature(self._keys[0], kind, body)}"

    def verify(self, kind: str, token: str) -> tuple[int, ...]:
        body, _, signature = token.strip().lower().rpartition(".")
        if not body or not any(
            hmac.compare_digest(signature, self._signature(key, kind, body)) for key in self._keys
        ):
            raise BadSignature(NOT_OURS)
        return tuple(int(part, 36) for part in body.split("."))


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
