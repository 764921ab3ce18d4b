"""Whose mailbox an address is: the identity that makes two spellings one person, and the
hashes the suppression list keeps of it.

Every way a contact is found or written (import, `contacts add`, sign-up, replies, webhooks,
the suppression list) compares addresses through these, so two spellings of one mailbox are
always one contact. The identity itself is `Mailbox.key` (engage/addresses.py): the store
makes `contacts.email_key` from it on every insert, below this package.
"""

from __future__ import annotations

import hashlib

from ..addresses import InvalidEmail, Mailbox, mailbox


def identity(raw: str) -> str:
    """Whose mailbox this is: every spelling of one mailbox gives the same identity (stored
    in contacts.email_key). Raises InvalidEmail for an address that cannot be one."""
    return mailbox(raw).key


def same_mailbox(one: str, other: str) -> bool:
    """True if both are one mailbox, however each is spelled. Something that cannot be an
    address is compared as written, without case or surrounding space."""

    def key(raw: str) -> str:
        try:
            return identity(raw)
        except InvalidEmail:
            return raw.strip().lower()

    return bool(one.strip()) and key(one) == key(other)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_hash(email: str) -> str:
    """What the suppression list keeps: enough to recognise a mailbox, not to read it. The hash
    of its identity, so every spelling of the mailbox gives the same hash."""
    try:
        return key_hash(identity(email))
    except InvalidEmail:  # a provider may tell us of an address we could never send to
        return _sha256(email.strip().lower())


def key_hash(key: str) -> str:
    """`email_hash` of a mailbox whose identity is known already (contacts.email_key), without
    reading its address again."""
    return _sha256(key)


def email_hashes(email: str) -> list[str]:
    """Every hash the suppression list may hold for this mailbox: its identity's first, then
    the ones engage made before it had identities (sha256 of the lower-cased address)."""
    try:
        address = mailbox(email)
    except InvalidEmail:  # a provider may tell us of an address we could never send to
        return [_sha256(email.strip().lower())]
    return address_hashes(address, email)


def address_hashes(address: Mailbox, written: str = "") -> list[str]:
    """`email_hashes` of an address already read (`written` as it was given, if that was not
    `address.email`), so an import of many rows reads each address once."""
    lowered = (written or address.email).strip().lower()
    local, _, domain = address.key.rpartition("@")
    if (
        lowered == address.key == address.email.lower()
        and address.local.lower() == local
        and address.unicode_domain == domain
    ):  # nearly every address: each of its spellings is its key
        return [_sha256(lowered)]
    texts = [address.key, lowered, *sorted(address.spellings)]
    return [_sha256(text) for text in dict.fromkeys(texts)]
