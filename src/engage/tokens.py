"""Signed tokens for the links and addresses in each email.

A token names a few numbers (a contact, a send, a delivery) and carries an HMAC-SHA256
signature made with the secret key from the environment variable that `[web] secret_key_env`
names. Tokens use only lower-case letters, digits and dots, so they survive in URLs and in the
part of an email address before the @ even when a mail system changes its case.
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
    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")

    def _signature(self, kind: str, body: str) -> str:
        digest = hmac.digest(self._key, f"{kind}:{body}".encode(), "sha256")
        return base64.b32encode(digest[:SIGNATURE_BYTES]).decode("ascii").lower()

    def sign(self, kind: str, *numbers: int) -> str:
        body = ".".join(_base36(n) for n in numbers)
        return f"{body}.{self._signature(kind, body)}"

    def verify(self, kind: str, token: str) -> tuple[int, ...]:
        body, _, signature = token.strip().lower().rpartition(".")
        if not body or not hmac.compare_digest(signature, self._signature(kind, body)):
            raise BadToken("This link is not valid. It may have been cut short or changed.")
        return tuple(int(part, 36) for part in body.split("."))


def signer(workspace: Workspace) -> Signer:
    env = workspace.config.web.secret_key_env
    return Signer(secret(env, "web.secret_key_env"))
