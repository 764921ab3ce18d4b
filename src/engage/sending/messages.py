"""Message building: what each person's message is made of (their item: address, links,
Message-ID), batches of one format each, and `send_test`'s one marked copy.

Nothing here touches the deliveries journal; the loop (loop.py) hands these batches over."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from ..addresses import InvalidEmail, named_mailbox
from ..archive import page_key
from ..campaigns import Campaign
from ..config import Workspace
from ..email.base import Batch, Item, Outcome, Provider, clean_header
from ..errors import sentence
from ..render import rules_source
from ..render.build import build
from ..render.findings import refusal
from ..render.personal import Recipient
from ..tokens import Signer, signer
from .editions import Choice, Editions
from .results import SendError

# Each format a person may choose, claimed in this order (one format to a claim).
VARIANT = {"html": "standard", "large-print": "large-print", "easy-read": "easy-read"}
VARIANT |= {"plain": "plain"}


@dataclass(frozen=True)
class Row:
    """One person to build a message for (the columns a claimed delivery row has)."""

    id: int
    contact_id: int
    email: str
    name: str
    first_name: str
    format: str
    status: str
    lang: str = ""


@dataclass(frozen=True)
class Envelope:
    """What every message of a campaign shares: who it is from, its subject and its links."""

    slug: str
    sender: str
    subject: str
    domain: str
    reply_domain: str
    base: str
    list_id: str

    @classmethod
    def of(cls, workspace: Workspace, campaign: Campaign) -> Envelope:
        email = workspace.config.email
        sender = clean_header(email.from_, "from address in [email] of engage.toml")
        if not parseaddr(sender)[1]:
            raise SendError(
                'Set from in [email] of engage.toml, like from = "Our news <news@example.org>".'
            )
        domain = parseaddr(sender)[1].rpartition("@")[2]
        return cls(
            slug=campaign.slug,
            sender=sender,
            subject=campaign.meta.subject,  # one line: lint's subject-line-break, run first
            domain=domain,
            reply_domain=email.reply_domain,
            base=workspace.config.web.base_url.rstrip("/"),
            list_id=f"{workspace.config.organisation.name} <news.{domain}>",
        )

    def message_ids(self) -> tuple[str, str]:
        """What goes before and after the delivery id in each Message-ID of one batch: the
        random part is the batch's, so the journal can write every row's id in one statement
        (journal.mark_sending) and a message sent again gets a new one."""
        return f"<{self.slug}.", f".{secrets.token_hex(4)}@{self.domain}>"

    def item(
        self, sign: Signer, send_id: int, row: Any, ids: tuple[str, str], page: str = ""
    ) -> Item:
        """One person's message: their links, reply address and Message-ID. `page`: the
        archive page of their version (the campaign's own by default)."""
        unsubscribe = sign.sign("u", row.contact_id, send_id)
        reply = f"reply+{sign.sign('r', row.id)}@{self.reply_domain}" if self.reply_domain else ""
        recipient = Recipient(
            email=row.email,
            name=row.name,
            first_name=row.first_name,
            unsubscribe_url=f"{self.base}/unsubscribe/{unsubscribe}",
            preferences_url=f"{self.base}/preferences/{sign.sign('p', row.contact_id)}",
            web_version_url=f"{self.base}/archive/{page or self.slug}",
            reply_to=reply,
        )
        mailbox = f"unsubscribe+{unsubscribe}@{self.reply_domain or self.domain}"
        return Item(
            delivery_id=row.id,
            email=row.email,
            name=row.name,
            recipient=recipient,
            message_id=f"{ids[0]}{row.id}{ids[1]}",
            unsubscribe_mailto=f"mailto:{mailbox}?subject=unsubscribe",
        )

    def batches(
        self, editions: Editions, sign: Signer, send_id: int, rows: list[Any]
    ) -> list[Batch]:
        """The rows' messages, one batch for each version and variant (one provider call
        each): each person gets their own (editions.py chooses)."""
        by_choice: dict[Choice, list[Item]] = {}
        ids = self.message_ids()
        for row in rows:
            choice = editions.choose(row.format, row.lang)
            page = editions.page(choice)
            by_choice.setdefault(choice, []).append(self.item(sign, send_id, row, ids, page))
        return [
            Batch(
                built=editions.built(choice),
                variant=choice.variant,
                items=items,
                sender=self.sender,
                subject=editions.subject(choice),
                list_id=self.list_id,
                campaign=self.slug,
                send_id=send_id,
                tags=[self.slug],
                message_ids=ids,
                lang=choice.lang,
            )
            for choice, items in by_choice.items()
        ]


def send_test(
    workspace: Workspace, campaign: Campaign, provider: Provider, address: str
) -> Outcome:
    """One marked copy to `address`, for checking; nothing is recorded. The campaign as named:
    a version (news.cy, news.easy-read) is sent as its readers get it. Even with --force, a
    subject with a line break never goes: it would add headers of its own."""
    broken = rules_source.subject_line_break(campaign, workspace.relative(campaign.path))
    if broken:
        raise SendError(refusal(campaign.slug, [broken]))
    built = build(workspace, campaign)
    sign = signer(workspace)
    envelope = Envelope.of(workspace, campaign)
    try:
        name, box = named_mailbox(address)
    except InvalidEmail as exc:
        raise SendError(f"--test-to: {sentence(str(exc))}") from None
    first = name.split(" ")[0] if name else ""
    row = Row(0, 0, box.email, name, first, "html", "subscribed")
    page = page_key(workspace, campaign)
    batch = Batch(
        built=built,
        variant=built.main_variant,  # an Easy Read version has only its own
        items=[envelope.item(sign, 0, row, envelope.message_ids(), page)],
        sender=envelope.sender,
        subject=f"[Test] {envelope.subject}",
        list_id=envelope.list_id,
        campaign=campaign.slug,
        send_id=None,
        tags=["test"],
        lang=campaign.lang or workspace.config.organisation.lang,
    )
    with provider:
        return provider.send_batch(batch)[0]
