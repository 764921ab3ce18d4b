"""The parts of a mail that are its attachments, one rule for every way mail comes in: IMAP and
.eml files (replies/mime.py) and SendGrid's raw inbound mail (providers/sendgrid/events.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser, Parser
from email.policy import Policy
from typing import BinaryIO

from .models import Attachment

# Attachments bigger than this are left out of the stored original mail: their bytes are kept
# once, as files (replies/attachments.py). Smaller ones stay, so a small mail is kept as it came.
BIG_PART = 256 * 1024
# Parts inside parts (multipart, or a mail carried in a mail) deeper than this are left out:
# real mail goes a few levels deep; thousands of levels would overflow Python's stack.
MAX_DEPTH = 30
LEFT_OUT = "[Parts nested more than {depth} levels deep were left out here.]\n"
# Not text/plain: the words left in their place are not the sender's.
LEFT_OUT_TYPE = "text/x-engage-left-out"


def parse_mail(source: bytes | str | BinaryIO, policy: Policy) -> tuple[Message, str]:
    """A whole mail, parsed with its parts no deeper than MAX_DEPTH, and a note saying what
    was left out ("" for nothing). The mail as it came is the caller's to keep."""
    try:
        message = _parse(source, policy, headersonly=False)
    except RecursionError:  # nested far too deep even to parse: read its headers only
        if not isinstance(source, bytes | str):
            source.seek(0)
        message = _parse(source, policy, headersonly=True)
        _leave_out(message)
        return message, (
            f"The mail has parts nested more than {MAX_DEPTH} levels deep, too deep to read, "
            "so its words could not be read here. The mail as it came is kept."
        )
    if _prune(message):
        return message, (
            f"The mail has parts nested more than {MAX_DEPTH} levels deep; those parts were "
            "left out here. The mail as it came is kept."
        )
    return message, ""


def _parse(source: bytes | str | BinaryIO, policy: Policy, headersonly: bool) -> Message:
    if isinstance(source, str):
        return Parser(policy=policy).parsestr(source, headersonly=headersonly)
    if isinstance(source, bytes):
        return BytesParser(policy=policy).parsebytes(source, headersonly=headersonly)
    return BytesParser(policy=policy).parse(source, headersonly=headersonly)


def _prune(message: Message) -> bool:
    """Leave out the parts deeper than MAX_DEPTH, without recursion. True if any were."""
    stack, pruned = [(message, 0)], False
    while stack:
        part, depth = stack.pop()
        if not part.is_multipart():
            continue
        if depth >= MAX_DEPTH:
            _leave_out(part)
            pruned = True
            continue
        stack.extend((inner, depth + 1) for inner in inner_parts(part))
    return pruned


def inner_parts(part: Message) -> list[Message]:
    """The parts directly inside a multipart part (or the mail a message/rfc822 part carries);
    none for a part that holds text or bytes."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [inner for inner in payload if isinstance(inner, Message)]


def payload_bytes(part: Message) -> bytes:
    """A leaf part's content, its transfer encoding undone; b"" for a multipart part."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _leave_out(part: Message) -> None:
    for header in ("Content-Transfer-Encoding", "Content-Type"):
        del part[header]
    part["Content-Type"] = f"{LEFT_OUT_TYPE}; charset=utf-8"
    part.set_payload(LEFT_OUT.format(depth=MAX_DEPTH))


def is_attachment(part: Message) -> bool:
    return (part.get("Content-Disposition") or "").lower().startswith("attachment") or bool(
        part.get_filename()
    )


def own_parts(part: Message) -> Iterator[Message]:
    """The parts of a mail, not looking inside a mail it carries: the returned message in a
    failure notice, or one forwarded as an attachment, are not the words of the reply."""
    yield part
    if part.is_multipart() and part.get_content_maintype() != "message":
        for inner in inner_parts(part):
            yield from own_parts(inner)


def attachment_parts(message: Message) -> Iterator[Message]:
    for part in own_parts(message):
        if not part.is_multipart() and is_attachment(part):
            yield part


def filename(part: Message) -> str:
    """The part's file name as a person reads it (encoded words decoded); "" for none."""
    raw = str(part.get_filename() or "")
    try:
        text = str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError, MessageError):
        text = raw
    return " ".join(text.split())


def attachments_of(message: Message) -> list[Attachment]:
    """The files attached to a mail (not those inside a mail it carries), with their bytes."""
    return [
        Attachment(
            name=filename(part),
            content_type=part.get_content_type(),
            data=payload_bytes(part),
            content_id=str(part.get("Content-ID") or ""),
        )
        for part in attachment_parts(message)
    ]


def without_big_attachments(message: Message) -> bytes:
    """The mail with each big attachment's bytes replaced by a line naming it: the bytes are
    kept as files (replies/attachments.py), not twice in the database."""
    for part in list(attachment_parts(message)):
        payload = payload_bytes(part)
        if len(payload) <= BIG_PART:
            continue
        name = filename(part) or "an attachment"
        for header in ("Content-Transfer-Encoding", "Content-Type"):
            del part[header]
        part["Content-Type"] = "text/plain; charset=utf-8"
        part.set_payload(f"[{name}, {size_text(len(payload))}: see the reply's attachments]\n")
    return message.as_bytes()


def size_text(n: int) -> str:
    """A size as people say it: "512 KB", "20.0 MB"."""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024)) if n else 0} KB"
    return f"{n / (1024 * 1024):.1f} MB"
