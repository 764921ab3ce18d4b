"""Email addresses: how one is read, shown and sent.

Every way into engage (import, `contacts add`, sign-up, replies, webhooks, the suppression list)
reads an address with `mailbox`. It also works out the mailbox's key (`Mailbox.key`): the domain
in its ASCII (punycode) form without case, the local part without case (casefold). The store
needs that key below every other package (contacts.email_key is made from it), so it is made
here; what the key means for a person (one contact, one suppression entry) is
engage/contacts/identity.py. The spelling the person gave is kept for display; sending uses
`ascii_address`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from .errors import EngageError


class InvalidEmail(EngageError, ValueError):
    """Not an email address; the message says why in plain words."""


class LocalPartTooLong(InvalidEmail):
    """The part before the @ is over 64 bytes: RFC 5321 (4.5.3.1.1) lets mail servers refuse
    it, and many do. Counted in bytes as sent (UTF-8), so `é` counts as 2."""


MAX_LOCAL = 64  # bytes before the @ (RFC 5321 4.5.3.1.1, kept by RFC 6531 for UTF-8)


# The plain ASCII shape nearly every address has: letters, digits and a few marks before the @
# (dots not first, last or doubled), and a domain of ordinary labels. Such an address whose
# domain email-validator has already passed needs no second look; anything else gets one.
_PLAIN = re.compile(
    r"^(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)


@functools.lru_cache(maxsize=4096)
def _domain_ok(domain: str) -> bool:
    from email_validator import EmailNotValidError, validate_email  # loads in 15 ms: when used

    try:
        validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


@dataclass(frozen=True)
class Mailbox:
    """One address, read once: how it is shown, whose mailbox it is, and how it is sent.

    Two spellings of one mailbox (Sam.Case@example.org and sam.case@EXAMPLE.org, or
    user@bücher.de and user@xn--bcher-kva.de) have the same `key`, so they are one contact."""

    email: str  # as stored and shown: the local part as written, the domain in lower case
    key: str  # the identity: local part without case, domain in lower-case ASCII (punycode)
    ascii: str  # for sending: the local part as written, the domain in ASCII (punycode)
    local: str
    unicode_domain: str

    @property
    def spellings(self) -> set[str]:
        """Every lower-cased way engage may have written this mailbox down before."""
        locals_ = {self.local.lower(), self.key.rpartition("@")[0]}
        domains = {self.key.rpartition("@")[2], self.unicode_domain}
        return {self.email.lower()} | {f"{lp}@{d}" for lp in locals_ for d in domains}


def mailbox(raw: str) -> Mailbox:
    """Read an address, or raise InvalidEmail saying in plain words why it cannot be one."""
    text = raw.strip()
    if not text:
        raise InvalidEmail("the email address is empty")
    _check_local_length(text)
    plain = _PLAIN.match(text)
    if (
        plain
        and len(plain["local"]) <= 64
        and len(text) <= 254
        and "xn--" not in plain["domain"].lower()  # punycode: email-validator decodes it below
        and _domain_ok(plain["domain"].lower())
    ):
        local, domain = plain["local"], plain["domain"].lower()
        email = f"{local}@{domain}"
        return Mailbox(email, email.lower(), email, local, domain)
    from email_validator import EmailNotValidError, validate_email

    try:
        # strict: email-validator refuses what mail servers refuse (the local part was
        # measured in bytes above)
        checked = validate_email(text, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise InvalidEmail(f"'{text}' is not a valid email address: {reason}") from None
    local, written = checked.local_part, text.rpartition("@")[2]
    shown = written.lower() if written.isascii() else checked.domain.lower()
    ascii_domain = checked.ascii_domain.lower()
    key = f"{unicodedata.normalize('NFC', local.casefold())}@{ascii_domain}"
    return Mailbox(f"{local}@{shown}", key, f"{local}@{ascii_domain}", local, checked.domain)


_NAMED = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<address>[^<>]*)>")


def named_mailbox(raw: str) -> tuple[str, Mailbox]:
    """An address written alone (`zoe@example.org`) or with a name (`Zoë Brontë
    <zoe@example.org>`, `"Brontë, Zoë" <zoe@example.org>`): the name on one line, and the
    address read by `mailbox`. Raises InvalidEmail saying how to write it."""
    text = raw.strip()
    if "<" not in text and ">" not in text:
        return "", mailbox(text)
    found = _NAMED.fullmatch(text)
    if not found:
        raise InvalidEmail(
            f"'{text}' is not an email address: write it as name@example.org, or with a name "
            "as Name <name@example.org>"
        )
    name = found["name"].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return " ".join(name.split()), mailbox(found["address"])


def _check_local_length(text: str) -> None:
    """Refuse a part before the @ longer than mail servers take, counted in bytes as sent."""
    local = text.rpartition("@")[0]
    size = len(local.encode("utf-8"))
    if size <= MAX_LOCAL:
        return
    if local.isascii():
        said = f"{size} characters long"
    else:
        said = f"{size} bytes long (letters like é take 2 bytes each)"
    raise LocalPartTooLong(
        f"'{text}' is not a valid email address: the part before the @ is {said}, and mail "
        f"servers take at most {MAX_LOCAL}"
    )


def normalise_email(raw: str) -> str:
    """The address as stored and shown: the domain in lower case, the local part as written."""
    return mailbox(raw).email


def ascii_address(raw: str) -> str:
    """The address to send to: the domain in ASCII (punycode), the local part as written. A
    local part that is not ASCII stays so; only a server that offers SMTPUTF8 takes it."""
    return mailbox(raw).ascii
