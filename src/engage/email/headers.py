"""How a header is written into a message, so that every mail server takes it.

One owner for the rules (RFC 5322 and RFC 2047):

- every line ends in CRLF, and no header value ever has a line break of its own (runs of
  white space, line breaks included, become one space);
- a long header is folded at a space, so lines stay within 78 characters where a space
  allows it, and never go over 998 (`HeaderTooLong` otherwise);
- text beyond ASCII in a subject or a display name is written as RFC 2047 encoded words of
  at most 75 characters each, on lines of at most 76, never splitting a character.

Written directly rather than through email.policy, which is slower and (in Python 3.11)
turns a long unbreakable value such as a List-Unsubscribe URL into encoded words.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import functools
import re

from ..errors import EngageError

MAX_LINE = 78  # RFC 5322: lines SHOULD be no longer than 78 characters
ENCODED_LINE = 76  # RFC 2047: a line with an encoded word is at most 76 characters
HARD_LIMIT = 998  # RFC 5322: lines MUST be no longer than 998 characters
ENCODED_WORD = 75  # RFC 2047: an encoded word is at most 75 characters
_START, _END = "=?utf-8?", "?="
_CHROME = len(_START) + 2 + len(_END)  # "=?utf-8?q?" and "?="

# Headers whose value is one address with an optional display name (or, for List-Id, a
# phrase and an id in angle brackets).
ADDRESS_HEADERS = frozenset({"from", "to", "reply-to", "sender", "list-id"})
# Headers whose value is free text, where words beyond ASCII are encoded.
TEXT_HEADERS = frozenset({"subject"})

_PLAIN = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")  # printable ASCII words, single spaces
_ATOM_TEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")  # a phrase needing no quotes
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


class HeaderTooLong(EngageError, ValueError):
    """A header with a part too long for one line (over 998 characters) and no space to fold
    it at."""


def header(name: str, value: str) -> str:
    """`Name: value` ready for a message, folded with CRLF, without the final CRLF."""
    if len(name) + 2 + len(value) <= MAX_LINE and _PLAIN.fullmatch(value) and "=?" not in value:
        return f"{name}: {value}"  # short, plain ASCII: as it stands (nearly every header)
    return _header(name, value)


@functools.lru_cache(maxsize=256)  # a campaign's From, Subject and List-Id repeat
def _header(name: str, value: str) -> str:
    value = " ".join(value.split())
    kind = name.lower()
    if kind in ADDRESS_HEADERS:
        tokens = _address_tokens(value)
    elif kind in TEXT_HEADERS:
        tokens = _text_tokens(value)
    else:
        tokens = [(False, word) for word in value.split(" ") if word]
    return _fold(name, tokens)


def date(when: dt.datetime) -> str:
    """The Date header's value in the current form, `Tue, 01 Dec 2026 09:00:00 +0000` (RFC 5322
    section 3.3; `GMT` is the obsolete form)."""
    return email.utils.format_datetime(when.astimezone(dt.UTC))


def display_address(name: str, address: str) -> str:
    """`Name <address>` as people read it (a name with , ; " and the like in quotes), for the
    HTTP providers' fields and for `header`, which encodes the name when it has to."""
    name = " ".join(name.split())  # a name never adds a line to a header
    if not name:
        return address
    if not _ATOM_TEXT.fullmatch(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


# --- tokens: (encode?, text); the text of an encoded token may be split at any character ---


def _needs_encoding(word: str) -> bool:
    return not word.isascii() or "=?" in word


def _text_tokens(value: str) -> list[tuple[bool, str]]:
    """Words of free text; each run of words that need encoding is one token, so the spaces
    inside it are encoded too (a decoder drops the space between two encoded words)."""
    tokens: list[tuple[bool, str]] = []
    for word in value.split(" "):
        if not word:
            continue
        encode = _needs_encoding(word)
        if encode and tokens and tokens[-1][0]:
            tokens[-1] = (True, f"{tokens[-1][1]} {word}")
        else:
            tokens.append((encode, word))
    return tokens


def _address_tokens(value: str) -> list[tuple[bool, str]]:
    name, address = email.utils.parseaddr(value)
    if not address or "<" not in value and name:
        return _text_tokens(value)  # not one address: written as text rather than lost
    if not name:
        return [(False, address if "<" not in value else f"<{address}>")]
    angle = (False, f"<{address}>")
    if _needs_encoding(name):
        return [(True, name), angle]  # the whole name, so its quotes and commas are encoded
    shown = display_address(name, address).rpartition(" <")[0]
    return [(False, word) for word in shown.split(" ")] + [angle]


# --- folding -----------------------------------------------------------------------------


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _fold(name: str, tokens: list[tuple[bool, str]]) -> str:
    lines = [f"{name}:"]
    encoded = [False]  # whether each line has an encoded word (it then keeps to 76)
    for encode, text in tokens:
        if not encode:
            limit = ENCODED_LINE if encoded[-1] else MAX_LINE
            if lines == [f"{name}:"] or _size(lines[-1]) + 1 + _size(text) <= limit:
                lines[-1] += " " + text  # the first word always goes beside the name
            else:
                lines.append(" " + text)
                encoded.append(False)
            continue
        pieces, use_q = _pieces(text)
        start = 0
        while start < len(pieces):
            room = min(ENCODED_WORD, ENCODED_LINE - _size(lines[-1]) - 1) - _CHROME
            if room < 16:  # too little room for a useful word: carry on on a new line
                lines.append("")
                encoded.append(False)
                room = ENCODED_WORD - _CHROME
            end = _fill(pieces, start, room, use_q)
            if end < len(pieces):  # it goes on in another word: end this one after a space
                spaces = [i for i in range(start, end) if pieces[i] in ("_", b" ")]
                if spaces:
                    end = spaces[-1] + 1
                elif lines[-1] not in ("", f"{name}:"):  # a whole line may hold the word
                    lines.append("")
                    encoded.append(False)
                    continue
            lines[-1] += f" {_START}{'q' if use_q else 'b'}?{_payload(pieces[start:end])}{_END}"
            start = end
            encoded[-1] = True
    for line in lines:
        if _size(line) > HARD_LIMIT:
            raise HeaderTooLong(
                f"The {name} header has a part of {_size(line)} characters with no space in it; "
                f"a mail line may have {HARD_LIMIT} at most."
            )
    return "\r\n".join(lines)


def _pieces(text: str) -> tuple[list, bool]:
    """The characters of `text` ready to encode, in Q form (str), which a person can still
    read, unless base64 is much shorter; else as UTF-8 bytes for base64. And whether it is Q."""
    q = _q_pieces(text)
    if sum(map(len, q)) * 2 <= 3 * 4 * -(-len(text.encode("utf-8")) // 3):  # Q to 1.5 x base64
        return q, True
    return [char.encode("utf-8") for char in text], False


def _fill(pieces: list, start: int, room: int, use_q: bool) -> int:
    """Where the pieces from `start` that fit in `room` characters once encoded end."""
    end, used = start, 0
    while end < len(pieces):
        used += len(pieces[end])
        if (used if use_q else 4 * -(-used // 3)) > room:
            break
        end += 1
    return end


def _payload(pieces: list) -> str:
    if pieces and isinstance(pieces[0], bytes):
        return base64.b64encode(b"".join(pieces)).decode("ascii")
    return "".join(pieces)


def _q_pieces(text: str) -> list[str]:
    """Each character of `text` in RFC 2047 Q form, safe in a phrase as in free text."""
    pieces = []
    for char in text:
        if char == " ":
            pieces.append("_")
            continue
        data = char.encode("utf-8")
        if len(data) == 1 and data[0] in _Q_SAFE:
            pieces.append(char)
        else:
            pieces.append("".join(f"={byte:02X}" for byte in data))
    return pieces
