"""What every provider shares: the batch it is given, the outcome it returns, its errors.

A provider declares a `name` and a `batch_size`, and implements `send_batch`. The sender
gives it batches of one variant (standard, large print or plain text) and records what comes
back. Providers raise `AuthFailed` to stop a send at once, `TryLater` when they have proof the
rest of a batch did not go (a refused connection, a 429 or 5xx, an SMTP 4xx), and `LostAnswer`
when messages went out but the answer was lost (those are *unknown*, never resent blindly).
"""

from __future__ import annotations

import binascii
import datetime as dt
import email
import email.policy
import secrets
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from .. import clock
from ..addresses import InvalidEmail, ascii_address
from ..config import Workspace
from ..errors import CannotReconcile, EngageError
from ..render.build import Built, Message
from ..render.personal import Recipient
from .headers import date, display_address, header


class HeaderInjection(EngageError):
    """A header value with a line break in it."""


def clean_header(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"The {what} has a line break in it: {value!r}. Put it on one line.")
    return value


@dataclass(frozen=True)
class Item:
    """One person in a batch."""

    delivery_id: int
    email: str
    name: str
    recipient: Recipient
    message_id: str
    unsubscribe_mailto: str

    @property
    def to(self) -> str:
        return display_address(self.name, self.email)


@dataclass
class Batch:
    """People who get the same variant of one campaign, handed to a provider together."""

    built: Built
    variant: str  # standard | large-print | easy-read | plain
    items: list[Item]
    sender: str  # the From header
    subject: str
    list_id: str
    campaign: str
    send_id: int | None = None  # None for a test copy
    tags: list[str] = field(default_factory=list)
    # Each Message-ID is these two around the delivery id (sending/messages.py: message_ids)
    message_ids: tuple[str, str] = ("<", "@localhost>")
    lang: str = ""  # the email's language (two tags for one in both), for Content-Language

    def headers(self, item: Item) -> dict[str, str]:
        headers = {
            "Message-ID": item.message_id,
            "List-Unsubscribe": f"<{item.recipient.unsubscribe_url}>, <{item.unsubscribe_mailto}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": self.list_id,
        }
        if self.lang:
            headers["Content-Language"] = ", ".join(self.lang.split())
        if item.recipient.reply_to:
            headers["Reply-To"] = item.recipient.reply_to
        return headers

    def metadata(self, item: Item) -> dict[str, Any]:
        """Opaque ids that come back with the provider's webhooks."""
        return {
            "engage_campaign": self.campaign,
            "engage_send": str(self.send_id or 0),
            "engage_delivery": str(item.delivery_id),
        }

    def rendered(self, item: Item) -> Message:
        if self.variant == "plain":  # no HTML part at all, so none is made
            return Message(html="", text=self.built.text.render(item.recipient))
        return self.built.personalise(item.recipient, self.variant)

    def raw(self, item: Item) -> bytes:
        """The whole message as bytes, ready for SMTP or an .eml file (CRLF line ends).

        Written directly rather than through email.message, which takes about 4 ms a message;
        this takes a few hundred microseconds. `mime()` reads it back as an object.
        """
        body = self.rendered(item)
        return compose(self.sender, item.to, self.subject, self.headers(item), body.text, body.html)

    def mime(self, item: Item) -> EmailMessage:
        """The whole message, as `raw` writes it, read back as an email.message object."""
        return email.message_from_bytes(self.raw(item), policy=email.policy.SMTP)


def compose(
    sender: str, to: str, subject: str, headers: dict[str, str], text: str, html: str
) -> bytes:
    """A whole message as bytes (CRLF line ends): text, or text and HTML as alternatives.
    Every header is written by `headers.header`: folded, and encoded where it has to be."""
    lines = [
        header("From", sender),
        header("To", to),
        header("Subject", subject),
        header("Date", date(clock.now())),
        *(header(name, value) for name, value in headers.items()),
        "MIME-Version: 1.0",
    ]
    text_part = _qp_part("plain", text)
    if not html:
        return ("\r\n".join(lines) + "\r\n").encode("utf-8") + text_part
    boundary = f"=_engage_{secrets.token_hex(12)}"
    lines.append(header("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    mark = f"--{boundary}\r\n".encode("ascii")
    end = f"--{boundary}--\r\n".encode("ascii")
    return head + mark + text_part + b"\r\n" + mark + _qp_part("html", html) + b"\r\n" + end


def system_message_id(sender: str, kind: str) -> str:
    """A fresh Message-ID for a mail engage writes itself, on the From address's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{kind}.{secrets.token_hex(8)}@{domain}>"


@dataclass(frozen=True)
class SystemMessage:
    """One email engage writes itself (a confirmation link, an acknowledgement)."""

    to: str
    subject: str
    text: str
    html: str
    sender: str
    message_id: str
    kind: str  # e.g. "confirm": the outbox folder and the provider tag

    def headers(self) -> dict[str, str]:
        """Every header this message carries beyond From, To and Subject: each provider sends
        them all (Reply-To where its API has its own field for it)."""
        return {"Message-ID": self.message_id}

    def raw(self) -> bytes:
        return compose(self.sender, self.to, self.subject, self.headers(), self.text, self.html)


def needs_smtputf8(address: str) -> bool:
    """Whether the part before the @ has letters beyond ASCII (an EAI address, RFC 6531)."""
    return not address.rpartition("@")[0].isascii()


class Unsendable(EngageError, ValueError):
    """This one address cannot go through this provider; the message says why."""


def ascii_domain(address: str) -> str:
    """The address with an internationalised domain in its ASCII (punycode) form, as every
    mail system understands it: user@bücher.de → user@xn--bcher-kva.de."""
    if address.isascii():
        return address
    try:
        return ascii_address(address)
    except InvalidEmail as exc:
        raise Unsendable(str(exc)) from None


def _qp_part(subtype: str, content: str) -> bytes:
    """A body part in quoted-printable UTF-8, so no line is longer than SMTP allows."""
    # One kind of line end going in (a CR from a pasted name must not become a bare CR, and
    # binascii keeps CRLF as it is), so every line end coming out is CRLF.
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(content.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + encoded


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    sent: bool
    provider_id: str = ""
    error: str = ""


@dataclass(frozen=True)
class Unknown:
    """A message engage handed over without learning whether the provider took it."""

    delivery_id: int
    send_id: int
    email: str
    message_id: str  # our Message-ID header, as handed over
    handed_at: dt.datetime  # aware, UTC: when its batch was claimed, just before handing over
    campaign: str = ""  # the campaign's slug


@dataclass
class Reconciled:
    """What the provider's own records say about some unknown messages.

    `sent`: delivery id → the provider's id, for each message its records show it accepted.
    `not_sent`: delivery ids its records prove it never accepted (only when those records are
    complete for the time the message was handed over). Any other id stays unknown; `note`
    says why (records not settled yet, an API the account does not have...)."""

    sent: dict[int, str] = field(default_factory=dict)
    not_sent: set[int] = field(default_factory=set)
    note: str = ""


class Provider:
    name = "provider"
    batch_size = 100
    # How many batches the sender may have with the provider at once. One for a provider with
    # one connection (SMTP) or one folder (the outbox); HTTP APIs take a few calls at a time.
    in_flight = 1
    # Whether the provider takes addresses with letters beyond ASCII before the @ (RFC 6531).
    # Those that do also take internationalised domains as written; for the others the domain
    # is sent in its ASCII form.
    unicode_addresses = False

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.config = workspace.config.email

    def check(self) -> None:
        """Make sure the settings and secrets are there before a send starts."""

    def open(self) -> None:
        """Start what the whole send shares (an SMTP connection, an HTTP session)."""

    def close(self) -> None:
        """Finish what `open` started."""

    def address(self, address: str) -> str:
        """The address as this provider is given it; Unsendable when it cannot be."""
        if self.unicode_addresses:
            return address
        if needs_smtputf8(address):
            raise Unsendable(
                f"{address} has letters beyond ASCII before the @, and {self.name} does not "
                "take such addresses"
            )
        return ascii_domain(address)

    def send_batch(self, batch: Batch) -> list[Outcome]:
        raise NotImplementedError

    def send_system(self, message: SystemMessage) -> Outcome:
        """Send one message engage wrote itself; raises like send_batch."""
        raise NotImplementedError

    def reconcile(self, unknown: list[Unknown]) -> Reconciled:
        """Ask the provider's own records which of these messages it accepted. Providers that
        can override this; the rest raise CannotReconcile."""
        raise CannotReconcile(
            f"{self.name} keeps no records engage can ask, so messages whose answer was lost "
            "stay unknown. Check them by hand (the mail server's log), then use "
            "--resend-unknown for the ones that did not arrive."
        )

    def __enter__(self) -> Provider:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
