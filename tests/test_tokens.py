"""Tokens are made from tables (tokens.py), not base64.b32encode and a loop of divmod: a token
made now must be the very token made before, or every link already in people's inboxes would
stop working."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random

from engage.tokens import Signer

KEY = "a key of our own"


def made_before(kind: str, *numbers: int) -> str:
    """A token as tokens.py made it until the tables came in."""

    def base36(number: int) -> str:
        out = ""
        while True:
            number, digit = divmod(number, 36)
            out = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + out
            if number == 0:
                return out

    body = ".".join(base36(n) for n in numbers)
    digest = hmac.digest(KEY.encode(), f"{kind}:{body}".encode(), "sha256")
    return f"{body}.{base64.b32encode(digest[:10]).decode('ascii').lower()}"


def test_tokens_made_before_the_tables_are_made_the_same() -> None:
    sign = Signer(KEY)
    assert sign.sign("u", 7, 1) == "7.1.7xqagyqbrhclavcb"
    assert sign.sign("r", 123456789) == "21i3v9.etzjrrcpoy7gvkl6"
    assert sign.sign("p", 0) == "0.6cswadazctmkikim"
    edges = (35, 36, 1295, 1296, 46655, 46656, 2**40)
    assert sign.sign("c", *edges) == "z.10.zz.100.zzz.1000.e13wu1og.wewjszdue5g4cqa6"


def test_every_kind_of_number_gives_the_token_it_gave_before() -> None:
    sign, pick = Signer(KEY), random.Random(17)
    numbers = [*range(3000), *(pick.randrange(10**12) for _ in range(3000))]
    for n in numbers:
        kind = hashlib.sha256(str(n).encode()).hexdigest()[:1]  # a kind of its own for each
        assert sign.sign(kind, n, n // 7) == made_before(kind, n, n // 7), n
        assert sign.verify(kind, made_before(kind, n, n // 7)) == (n, n // 7)


def test_the_signatures_are_hmac_sha256_for_keys_of_every_length() -> None:
    """tokens.py works HMAC-SHA256 out itself, its key blocks hashed once: the same bytes as
    the hmac module's, for short keys, a key of one block, longer keys (hashed first) and
    keys that are not ASCII."""
    from engage.tokens import _Keyed

    pick = random.Random(5)
    keys = ["", "k", "a" * 63, "b" * 64, "c" * 65, "d" * 200, "clé secrète ☂", KEY]
    for key in keys:
        keyed = _Keyed(key.encode())
        for size in (0, 1, 55, 56, 64, 200):
            message = bytes(pick.randrange(256) for _ in range(size))
            assert keyed.digest(message) == hmac.digest(key.encode(), message, "sha256")
