"""Decoding a mail part's bytes to text whatever charset it claims, never raising: a mislabelled
or unknown charset is read the way mail programs read it, with a note for the team.
"""

from __future__ import annotations

import codecs

_EIGHT_BIT = {"ascii", "latin_1", "iso8859_1", "iso8859_15", "cp1252"}


def _fallback(payload: bytes) -> tuple[str, str]:
    try:
        return payload.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return payload.decode("cp1252"), "Windows Latin-1"
    except UnicodeDecodeError:
        return payload.decode("latin-1"), "Latin-1"


def decode(payload: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode a message part; never raises. Returns the text and a warning, or None."""
    if isinstance(payload, str):
        return payload, None
    payload = bytes(payload or b"")
    name = (charset or "").strip().strip("\"'").strip()
    if not name:
        text, used = _fallback(payload)
        if used == "UTF-8":
            return text, None
        return text, f"No character set was declared and the text is not UTF-8; read as {used}."
    try:
        codec = codecs.lookup(name).name
        text = payload.decode("utf-8-sig" if codec == "utf-8" else codec)
    except (LookupError, ValueError, TypeError) as exc:
        text, used = _fallback(payload)
        if isinstance(exc, UnicodeDecodeError):
            problem = f"said it was in {name!r} but it is not"
        else:
            problem = f"said it was in {name!r}, which is not a character set we know"
        doubt = "" if used == "UTF-8" else ", so some letters may be wrong"
        return text, f"The message {problem}; it was read as {used}{doubt}."
    if codec.replace("-", "_") in _EIGHT_BIT and not payload.isascii():
        try:
            utf8 = payload.decode("utf-8")
        except UnicodeDecodeError:
            return _windows(payload, text) if codec == "iso8859-1" else text, None
        return utf8, f"The message said it was in {name!r} but it is UTF-8; it was read as UTF-8."
    return text, None


def _windows(payload: bytes, latin1: str) -> str:
    """Text labelled ISO-8859-1 read as Windows Latin-1, as browsers do: mail programs on
    Windows label their curly quotes and dashes (bytes 0x80-0x9F) as ISO-8859-1, where those
    bytes are invisible control codes."""
    try:
        return payload.decode("cp1252")
    except UnicodeDecodeError:  # one of the five bytes Windows Latin-1 leaves unused
        return latin1
