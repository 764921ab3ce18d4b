"""One strict check for every message the test suite sees leave engage.

`problems(data)` lists what a strict mail server, or RFC 5322 / RFC 2047, would object to in a
whole message as bytes:

- a line that does not end in CRLF (a bare LF or a bare CR);
- a line over 998 octets;
- an encoded word over 75 characters, or a header line with one that is over 76;
- a header line over 78 characters that had a space it could have been folded at;
- a continuation line that is empty or only white space, or a first line that is no header;
- text beyond ASCII in a header outside an address (it must be an encoded word).

`field_problems(name, value)` is the check for a header given as one field to an HTTP API
(Mailgun, Postmark, SendGrid): no line break in it, and no more than 998 characters.

The SMTP sink, the fake providers and the outbox fixture in conftest.py `note` what they see;
conftest.py fails the test that produced a message with a problem, naming the message and the
line.
"""

from __future__ import annotations

import re
import threading

ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
ADDRESS_HEADERS = {b"from", b"to", b"cc", b"reply-to", b"sender"}

_lock = threading.Lock()
_found: list[str] = []


def problems(data: bytes) -> list[str]:
    """Every problem in one whole message, each as `line N: what (the line)`."""
    found: list[str] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        found.append(_say(len(lines), "the message does not end in CRLF", lines[-1]))
    in_headers = True
    for number, line in enumerate(lines, 1):
        if not line.endswith(b"\r") and (number < len(lines) or data.endswith(b"\n")):
            found.append(_say(number, "ends in a bare LF, not CRLF", line))
        line = line.removesuffix(b"\r")
        if b"\r" in line:
            found.append(_say(number, "has a bare CR in it", line))
        if len(line) > 998:
            found.append(_say(number, f"is {len(line)} octets long (998 at most)", line))
        if in_headers:
            if line == b"":
                in_headers = False
                continue
            found += [_say(number, what, line) for what in _header_line(line, number == 1)]
    if in_headers:
        found.append("the message has no empty line after its headers")
    found += _raw_text_in_headers(data)
    return found


def _header_line(line: bytes, first: bool) -> list[str]:
    wrong = []
    continuation = line[:1] in (b" ", b"\t")
    if continuation and not line.strip():
        wrong.append("is a folded line with nothing on it")
    if not continuation and not FIELD_NAME.match(line):
        wrong.append("is neither a header nor the folded part of one")
    if first and continuation:
        wrong.append("the message starts with a folded line")
    words = ENCODED_WORD.findall(line)
    wrong += [
        f"has an encoded word of {len(word)} characters (75 at most)"
        for word in words
        if len(word) > 75
    ]
    if words and len(line) > 76:
        wrong.append(f"has an encoded word on a line of {len(line)} characters (76 at most)")
    if len(line) > 78:
        content = line.strip() if continuation else line.partition(b":")[2].strip()
        if b" " in content or b"\t" in content:
            wrong.append(f"is {len(line)} characters long, not folded at a space near 78")
    return wrong


def _raw_text_in_headers(data: bytes) -> list[str]:
    """Text beyond ASCII is allowed in a header only in an address (RFC 6532, for a server
    offering SMTPUTF8); anywhere else it must be an encoded word."""
    head = data.split(b"\r\n\r\n", 1)[0]
    found = []
    for field in re.split(rb"\r\n(?![ \t])", head):
        name, _, value = field.partition(b":")
        value = re.sub(rb"<[^<>]*>", b"", value)
        if name.strip().lower() in ADDRESS_HEADERS:
            value = re.sub(rb"\S*@\S*", b"", value)
        if not value.isascii():
            found.append(
                f"header {name.decode('ascii', 'replace')}: text beyond ASCII outside an "
                f"address, not an encoded word ({_show(field)})"
            )
    return found


def field_problems(name: str, value: str) -> list[str]:
    """What is wrong with one header handed to an HTTP API as a field of its own."""
    wrong = []
    if "\r" in value or "\n" in value:
        wrong.append(f"field {name} has a line break in it: {value[:120]!r}")
    if len(value.encode("utf-8")) > 998:
        wrong.append(f"field {name} is {len(value.encode('utf-8'))} octets long (998 at most)")
    return wrong


def note(data: bytes, where: str) -> None:
    """Check a whole message that left engage; keep its problems for the test to fail on."""
    with _lock:
        _found.extend(f"{where}: {problem}" for problem in problems(data))


def note_fields(fields: dict[str, str], where: str) -> None:
    """Check headers that left engage as an HTTP API's fields."""
    with _lock:
        for name, value in fields.items():
            _found.extend(f"{where}: {problem}" for problem in field_problems(name, value))


def take() -> list[str]:
    """The problems noted since the last call, and forget them."""
    with _lock:
        found = list(_found)
        _found.clear()
    return found


def _say(number: int, what: str, line: bytes) -> str:
    return f"line {number} {what}: {_show(line)}"


def _show(line: bytes) -> str:
    text = repr(line[:120])
    return text + ("..." if len(line) > 120 else "")
