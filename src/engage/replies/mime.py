"""Reading a whole mail (from IMAP, a saved .eml file) into the parts the inbox keeps.

Never raises for a mail that is merely odd: a wrong or unknown character set, a missing text
part, a truncated body or a huge attachment each become a note on the reply, in words the team
can act on. Only bytes that are not a mail at all are refused (`NotAMail`).
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from email import policy
from email.errors import CloseBoundaryNotFoundDefect, MessageError, StartBoundaryNotFoundDefect
from email.header import decode_header, make_header
from email.message import Message

from ..errors import EngageError
from ..mailparts import (
    BIG_PART,
    attachments_of,
    inner_parts,
    is_attachment,
    own_parts,
    parse_mail,
    payload_bytes,
    without_big_attachments,
)
from ..models import InboundMessage
from .charsets import decode

_TAGGED = ("reply+", "unsubscribe+")
_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "to", "cc")
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


class NotAMail(EngageError):
    """Bytes that are not a mail: no headers we can read."""


@dataclass(frozen=True)
class Failed:
    """One address a delivery failure notice says could not be reached."""

    recipient: str
    hard: bool
    status: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Bounce:
    """What a delivery failure notice (RFC 3464, or a plain-text one) tells us."""

    failed: list[Failed]
    message_ids: list[str]  # the Message-IDs of our mail it returns, when it quotes them


@dataclass(frozen=True)
class Parsed:
    message: InboundMessage
    original: bytes  # the mail as it came, each attachment's bytes left out (kept as files)
    notes: list[str] = field(default_factory=list)
    bounce: Bounce | None = None


def header_text(value: object) -> str:
    """A header as text: encoded words decoded, folding undone; never raises."""
    raw = str(value or "")
    if any("\udc80" <= c <= "\udcff" for c in raw):
        # Bytes beyond ASCII, not encoded: UTF-8 as RFC 6532 allows, or an old mail
        # program's own character set. The parser kept them as surrogates.
        raw, _ = decode(raw.encode("utf-8", "surrogateescape"), None)
    try:
        text = str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError, MessageError):  # a charset name in bytes
        text = raw
    return " ".join(text.split())


def parse(raw: bytes, provider: str) -> Parsed:
    if not raw.strip():
        raise NotAMail("It is empty.")
    message, deep = parse_mail(raw, policy.compat32)
    # raw_items: items() would turn bytes beyond ASCII into "\ufffd" before we see them.
    headers = [(name, header_text(value)) for name, value in message.raw_items()]
    names = {name.lower() for name, _ in headers}
    if not names & {"from", "message-id", "date", "subject"}:
        raise NotAMail(
            "It has no From, Date, Subject or Message-ID header, so it does not look like a "
            "mail. Save the message from your mail program as an .eml file and try again."
        )
    notes: list[str] = [deep] if deep else []
    if any(
        isinstance(d, StartBoundaryNotFoundDefect | CloseBoundaryNotFoundDefect)
        for part in message.walk()
        for d in part.defects
    ):
        notes.append("The mail seems cut short (a part has no end marker); what arrived is kept.")
    text, html = _bodies(message, notes)
    if not text and not html and not deep:  # too deep to read: that note says so
        notes.append("The mail has no text in it (only attachments, or nothing).")
    name, sender = email.utils.parseaddr(_header(headers, "from"))
    found = attachments_of(message)
    inbound = InboundMessage(
        provider=provider,
        sender=sender,
        sender_name=name,
        recipient=_recipient(headers),
        subject=_header(headers, "subject"),
        text=text,
        html=html,
        message_id=_header(headers, "message-id"),
        in_reply_to=_header(headers, "in-reply-to"),
        references=_header(headers, "references"),
        headers=headers,
        attachments=tuple(found),
    )
    bounce = _bounce(message, inbound)
    big = any(len(a.data or b"") > BIG_PART for a in found)
    return Parsed(inbound, without_big_attachments(message) if big else raw, notes, bounce)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in headers if key.lower() == name), "")


def _recipient(headers: list[tuple[str, str]]) -> str:
    found = [
        address
        for key in _RECIPIENT_HEADERS
        for _, address in email.utils.getaddresses([v for k, v in headers if k.lower() == key])
        if address
    ]
    tagged = [a for a in found if a.split("@", 1)[0].lower().startswith(_TAGGED)]
    if tagged:
        return tagged[0]
    to = [a for _, a in email.utils.getaddresses([v for k, v in headers if k.lower() == "to"]) if a]
    return (to or found or [""])[0]


def _param(part: Message, name: str) -> str:
    """A Content-Type parameter in lower case; "" when missing."""
    return email.utils.collapse_rfc2231_value(part.get_param(name) or "").strip().lower()


def _bodies(message: Message, notes: list[str]) -> tuple[str, str]:
    text = html = ""
    for part in own_parts(message):
        if part.is_multipart() or is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        if kind == "text/plain" and text or kind == "text/html" and html:
            continue
        decoded, warning = decode(payload_bytes(part), part.get_content_charset())
        if warning and warning not in notes:
            notes.append(warning)
        if kind == "text/html":
            html = decoded
        elif _param(part, "format") == "flowed":
            text = unflow(decoded, delsp=_param(part, "delsp") == "yes")
        else:
            text = decoded
    return text, html


def unflow(text: str, delsp: bool = False) -> str:
    """Plain text sent as format=flowed (RFC 3676; Thunderbird, Windows Live Mail) as the
    person wrote it: a line ending in a space goes on with the next line of the same quote
    depth, and the space added before a line starting with a space, ">" or "From " is removed.
    """
    out: list[str] = []
    joined: tuple[int, str] | None = None  # quote depth, and the words so far
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        words = line[depth:].removeprefix(" ")
        goes_on = words.endswith(" ") and words != "-- "
        if goes_on and delsp:
            words = words[:-1]
        if joined is not None and joined[0] == depth:
            words = joined[1] + words
        elif joined is not None:  # the quote depth changed: that line ends where it is
            out.append(_quoted(*joined))
        joined = (depth, words) if goes_on else None
        if not goes_on:
            out.append(_quoted(depth, words))
    if joined is not None:
        out.append(_quoted(*joined))
    return "\n".join(out)


def _quoted(depth: int, words: str) -> str:
    return ">" * depth + (" " if depth and words else "") + words


def _bounce(message: Message, inbound: InboundMessage) -> Bounce | None:
    """A delivery failure notice: the standard report, or a mail system's plain words."""
    report = (
        message.get_content_type() == "multipart/report"
        and _param(message, "report-type") == "delivery-status"
    )
    failed: list[Failed] = []
    returned: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            failed.extend(_status_fields(part))
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            returned.extend(_returned_ids(part))
    if report:
        return Bounce(failed, returned)
    local = inbound.sender.split("@", 1)[0].lower()
    subject = inbound.subject.lower()
    if local not in ("mailer-daemon", "postmaster") or not any(
        words in subject
        for words in (
            "undeliver",
            "delivery status notification",
            "mail delivery failed",
            "returned mail",
            "failure notice",
            "delivery failure",
        )
    ):
        return None
    body = inbound.text or inbound.html
    code = _STATUS.search(body)
    hard = bool(code and code.group(1) == "5") or bool(
        re.search(r"permanent|does not exist|user unknown|no such user", body, re.I)
    )
    addresses = [
        a
        for a in dict.fromkeys(re.findall(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", body))
        if a.split("@", 1)[0].lower() not in ("mailer-daemon", "postmaster")
    ]
    ids = returned or re.findall(r"<[^<>\s@]+@[^<>\s]+>", body)
    return Bounce(
        [Failed(a, hard, code.group(0) if code else "") for a in addresses[:1]],
        list(dict.fromkeys(ids)),
    )


def _status_fields(part: Message) -> list[Failed]:
    blocks = inner_parts(part)
    found = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        address = recipient.split(";", 1)[-1].strip()
        action = str(block.get("Action") or "").strip().lower()
        status = str(block.get("Status") or "").strip()
        if not address or action not in ("failed", "delayed"):
            continue
        found.append(
            Failed(
                address,
                hard=action == "failed" and status.startswith("5"),
                status=status,
                reason=header_text(block.get("Diagnostic-Code") or ""),
            )
        )
    return found


def _returned_ids(part: Message) -> list[str]:
    carried = inner_parts(part)
    if carried:
        value = carried[0].get("Message-ID")
        return [str(value).strip()] if value else []
    inner = part.get_payload()
    text = inner if isinstance(inner, str) else ""
    return re.findall(r"(?im)^message-id:\s*(<[^<>\s]+>)", text)
