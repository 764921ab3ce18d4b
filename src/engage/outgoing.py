"""engage's own emails, queued in the store and sent outside the web request.

A web page that sets off an email (a sign-up's confirmation link, the story emails a
contributor's page sends, the team's answer to a reply) only adds a row to `outgoing`; the
worker of `engage serve` (workflow/worker.py) and every `engage run` send the rows. The emails
themselves are made by own_emails.py. So a page answers alike whatever happens to the email: a
sign-up does the same work for a new, pending, subscribed or suppressed address (two throttle counts
and one row), and how long it takes tells nobody which it was. The sign-up itself (the pending
contact and its link) is made when its row is sent (see subscriptions.sign_up).

Sending keeps the promises campaign sends keep (the sending package), row by row:
- a row is claimed in one statement, so several drainers send each row once
  (outgoing_claims.py);
- it is marked `sending` before the provider sees it; a lost answer (a read time-out, a
  dropped connection) leaves it `unknown`, never sent again by itself;
- only an error that proves nothing was sent (a refused connection, a 429 or 5xx, an SMTP
  4xx) puts it back to wait, a few times, with backoff;
- a row left `claimed` by a process that ended waits again; one left `sending` is unknown.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2
import sqlalchemy as sa

from . import journal, own_emails, subscriptions
from . import outgoing_claims as claims
from .config import Workspace
from .contacts import core
from .contacts.identity import identity
from .email.base import Provider, SystemMessage, Unsendable
from .errors import AuthFailed, EngageError, LostAnswer, ProviderError, TryLater, sentence
from .providers import provider_for
from .store import Store
from .store.schema import outgoing
from .team import members, sessions
from .tokens import Signer
from .tokens import signer as make_signer

log = logging.getLogger("engage.outgoing")

ATTEMPTS = 5  # tries for an email the provider proved it did not take
BACKOFF = (30, 120, 600, 1800)  # seconds before each next try (Retry-After when longer)


# --- adding rows -----------------------------------------------------------------------------


def _add(
    connection: sa.Connection, kind: str, address: str, payload: dict[str, Any], **ids: Any
) -> int:
    at = core.now()
    return connection.execute(
        outgoing.insert()
        .values(
            kind=kind,
            address=address,
            address_key=_key(address),
            payload=payload,
            state="waiting",
            attempts=0,
            not_before=at,
            error="",
            created_at=at,
            **ids,
        )
        .returning(outgoing.c.id)
    ).scalar_one()


def _key(address: str) -> str:
    try:
        return identity(address)
    except core.InvalidEmail:
        return address.strip().lower()


def ask_to_confirm(
    connection: sa.Connection,
    address: str,
    name: str,
    fmt: str,
    topics: Iterable[str],
    lang: str = "",
) -> None:
    """A sign-up from the form: its row, whatever the address's state. When the row is sent, a
    new, pending or suppressed address gets a confirmation link and a subscribed one nothing
    (subscriptions.sign_up decides). `lang`: the language they chose ("" for the
    organisation's)."""
    payload = {"name": name, "format": fmt, "topics": sorted(topics), "lang": lang}
    _add(connection, "signup", core.normalise_email(address), payload)


def ask_for_sign_in(connection: sa.Connection, member_id: int, address: str) -> None:
    """A team member's sign-in link, asked for on the console's sign-in page. The link itself
    is made when the row is sent, so its secret is never kept in the queue."""
    _add(connection, "team-signin", address, {"member": member_id})


def add_story_email(
    connection: sa.Connection,
    message: SystemMessage,
    story_id: int,
    template: str,
    status: str,
    *,
    to_team: bool,
) -> None:
    """A story email, made already. Once it is sent, a contributor's email starts the story's
    follow-up clock again (as stories.core.told); one that does not go is noted in the story's
    history."""
    payload = {
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "sender": message.sender,
        "message_id": message.message_id,
        "kind": message.kind,
        "reply_to": getattr(message, "reply_to", ""),
        "lang": getattr(message, "lang", ""),  # its Content-Language
        "template": template,
        "status": status,
        "to_team": to_team,
    }
    _add(connection, "story", message.to, payload, story_id=story_id)


def add_answer(
    connection: sa.Connection,
    address: str,
    contact_id: int | None,
    message: own_emails.AnswerMessage,
    reply_id: int,
    by: str,
) -> int:
    """The team's answer to reply `reply_id`, made already (replies/answers.py). Once done, its
    row keeps what was written and by whom (not the HTML), so the person's timeline shows it;
    erasing the person deletes it. Returns the row's id."""
    payload = {
        "reply": reply_id,
        "by": by,
        "subject": message.subject,
        "text": message.text,
        "sender": message.sender,
        "to": message.to,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "references": message.references,
    }
    return _add(connection, "answer", address, payload, contact_id=contact_id)


def unwanted(connection: sa.Connection, address: str, contact_id: int | None) -> str:
    """Why engage must not write to this person (an answer to their reply): they unsubscribed,
    bounced, complained or were erased, or the address is on the suppression list; "" when it
    may. Checked when the answer is written and again just before it is sent."""
    contact = core.by_id(connection, contact_id) if contact_id is not None else None
    if contact is not None and contact.status in core.SUPPRESSED_STATUSES:
        return (
            f"{contact.email} has {_STOPPED.get(contact.status, contact.status)}, so engage "
            "does not email them."
        )
    for email in {address, contact.email if contact else address}:
        found = core.suppression(connection, email)
        if found is not None:
            return (
                f"{email} is on the suppression list ({found.reason} on "
                f"{(core.iso(found.created_at) or '')[:10]}), so engage does not email it."
            )
    return ""


_STOPPED = {
    "unsubscribed": "unsubscribed",
    "bounced": "bounced (their mail server said the address does not work)",
    "complained": "marked our email as spam",
    "erased": "been erased",
}


class _Stopped(EngageError):
    """An answer whose person asked us to stop (or whose address stopped working) since it was
    written: never sent."""


# What to do, in its transaction, when a row is done: (connection, row, state, error).
Finished = Callable[[sa.Connection, sa.Row, str, str], None]

# The worker in this process waits on this; wake() after committing a row sends it at once.
_added = threading.Event()


def wake() -> None:
    """Tell the worker in this process (if any) that a row (or other work) is waiting."""
    _added.set()


def wait_for_work(seconds: float) -> None:
    """The worker's pause: until something wakes it, or `seconds` pass."""
    _added.wait(seconds)


def heard() -> None:
    """The worker is about to look for work: wakes until now are answered."""
    _added.clear()


# --- sending ---------------------------------------------------------------------------------


@dataclass
class Drained:
    """What one pass over the queue did."""

    sent: int = 0
    skipped: int = 0  # sign-ups that needed no email (already subscribed)
    retrying: int = 0
    failed: int = 0
    unknown: int = 0
    problems: list[str] = field(default_factory=list)


def drain(
    store: Store,
    workspace: Workspace,
    signer: Signer | None = None,
    limit: int = 200,
    *,
    after: Finished | None = None,
) -> Drained:
    """Send the rows that are due, up to `limit`, each once. Problems are in the result (and
    logged); a stopped provider (its key refused, say) leaves the rest waiting. The signer
    (for confirmation links) is the workspace's unless given. `after` is called for each row
    that is done (sent, failed or unknown), in the transaction that records it: the story
    emails' news in their story's history is the workflow's (workflow/own_emails.py)."""
    done = Drained()
    owner = journal.owner_name()
    claims.settle_left(store)
    provider: Provider | None = None
    try:
        for _ in range(limit):
            row = claims.claim(store, owner)
            if row is None:
                break
            if row is claims.NOT_THIS_ONE:
                continue
            if provider is None:  # what sending needs, checked before any row is handed over
                signer = signer or make_signer(workspace)
                chosen = provider_for(workspace)
                chosen.check()
                chosen.open()
                provider = chosen
            if not _send_row(store, workspace, signer, provider, row, done, after):
                break
    except EngageError as exc:  # the provider could not even start (a missing key, say)
        done.problems.append(f"engage's own emails: {exc}")
        log.error("engage's own emails wait: %s", exc)
    finally:
        claims.release(store, owner)
        if provider is not None:
            provider.close()
    return done


def _send_row(
    store: Store,
    workspace: Workspace,
    signer: Signer | None,
    provider: Provider,
    row: sa.Row,
    done: Drained,
    after: Finished | None,
) -> bool:
    """Make and send one claimed row; False when the provider cannot send anything now."""
    try:
        message = _prepare(store, workspace, signer, row)
    except _Stopped as exc:
        _finish(store, row, "failed", done, f"not sent: {exc}", after)
        return True
    except (EngageError, jinja2.TemplateError, core.InvalidEmail) as exc:
        _finish(store, row, "failed", done, f"could not be made: {exc}", after)
        return True
    if message is None:
        done.skipped += 1
        return True
    try:
        outcome = provider.send_system(message)
    except LostAnswer as exc:
        said = f"{sentence(str(exc))} engage does not send it again by itself."
        _finish(store, row, "unknown", done, said, after)
        return True
    except AuthFailed as exc:
        _again(store, row, done, str(exc), None, after)
        return False
    except TryLater as exc:
        _again(store, row, done, str(exc), exc.retry_after, after)
        return True
    except (ProviderError, Unsendable) as exc:
        _finish(store, row, "failed", done, str(exc), after)
        return True
    except EngageError as exc:  # a setting or secret it needs, missing before anything went
        _again(store, row, done, str(exc), None, after)
        return False
    if not outcome.sent:
        _finish(store, row, "failed", done, outcome.error or "refused, with no reason given", after)
        return True
    _finish(store, row, "sent", done, "", after, provider_id=outcome.provider_id)
    return True


def _prepare(
    store: Store, workspace: Workspace, signer: Signer | None, row: sa.Row
) -> SystemMessage | None:
    """The message for a claimed row, marked `sending` before the provider sees it; None for
    a sign-up that needs no email (marked skipped)."""
    with store.begin() as connection:
        if row.kind == "signup":
            message, contact_id = _signup(connection, workspace, signer, row)
        elif row.kind == "team-signin":
            message, contact_id = _team_sign_in(connection, workspace, row), None
        elif row.kind == "answer":
            stopped = unwanted(connection, row.address, row.contact_id)
            if stopped:
                raise _Stopped(stopped)
            message, contact_id = own_emails.queued_answer(row.payload), row.contact_id
        else:
            message, contact_id = own_emails.queued_story_email(row.address, row.payload), None
        values: dict[str, Any] = {"contact_id": contact_id}
        if message is None:
            values.update(state="skipped", done_at=core.now(), payload=_kept(row))
        else:
            values.update(state="sending", message_id=message.message_id, claimed_at=core.now())
        connection.execute(
            outgoing.update()
            .where(outgoing.c.id == row.id)
            .values(attempts=outgoing.c.attempts + int(message is not None), **values)
        )
    return message


def _signup(
    connection: sa.Connection, workspace: Workspace, signer: Signer | None, row: sa.Row
) -> tuple[SystemMessage | None, int | None]:
    form = row.payload
    signer = signer or make_signer(workspace)
    found = subscriptions.sign_up(
        connection,
        signer,
        row.address,
        form["name"],
        form["format"],
        form["topics"],
        form.get("lang", ""),  # rows queued before languages have none
    )
    contact = core.find(connection, row.address)
    contact_id = contact.id if contact is not None else None
    if not (found.confirm_to and found.token):
        return None, contact_id
    message = own_emails.confirmation(
        workspace, found.confirm_to, form["name"], found.token, form.get("lang", "")
    )
    return message, contact_id


def _team_sign_in(
    connection: sa.Connection, workspace: Workspace, row: sa.Row
) -> SystemMessage | None:
    """The sign-in email with a new single-use link; None when the member has been removed
    since they asked."""
    member = members.by_id(connection, int(row.payload["member"]))
    if member is None:
        return None
    secret = sessions.new_link(connection, member)
    return own_emails.team_sign_in(workspace, member.email, member.name, secret)


def _again(
    store: Store,
    row: sa.Row,
    done: Drained,
    error: str,
    retry_after: float | None,
    after: Finished | None,
) -> None:
    """Not sent, with proof: wait and try again, or give up after ATTEMPTS tries."""
    tries = row.attempts + 1
    if tries >= ATTEMPTS:
        _finish(store, row, "failed", done, f"{error} (tried {tries} times)", after)
        return
    wait = max(BACKOFF[min(tries, len(BACKOFF)) - 1], retry_after or 0)
    with store.begin() as connection:
        connection.execute(
            outgoing.update()
            .where(outgoing.c.id == row.id)
            .values(
                state="waiting",
                owner=None,
                claimed_at=None,
                error=error,
                not_before=core.now() + dt.timedelta(seconds=wait),
            )
        )
    done.retrying += 1
    log.warning("%s to %s waits to be tried again: %s", _what(row), row.address, error)


def _finish(
    store: Store,
    row: sa.Row,
    state: str,
    done: Drained,
    error: str,
    after: Finished | None,
    provider_id: str = "",
) -> None:
    with store.begin() as connection:
        connection.execute(
            outgoing.update()
            .where(outgoing.c.id == row.id)
            .values(
                state=state,
                error=error,
                provider_id=provider_id,
                done_at=core.now(),
                payload=_kept(row),
            )
        )
        if after is not None:
            after(connection, row, state, error)
    if state == "sent":
        done.sent += 1
        return
    setattr(done, state, getattr(done, state) + 1)
    problem = f"{_what(row)} to {row.address} {_WORDS[state]}: {error}"
    done.problems.append(problem)
    log.error("%s", problem)


def _kept(row: sa.Row) -> dict[str, Any]:
    """What a row keeps once it is done: which email it was, never the person's name, choices
    or the words of the email; but an answer to a reply keeps what the team wrote, and who, for
    the person's timeline."""
    keep = _KEEP_ANSWER if row.kind == "answer" else _KEEP
    return {key: value for key, value in row.payload.items() if key in keep}


_KEEP = ("template", "status", "to_team")
_KEEP_ANSWER = ("reply", "by", "subject", "text")
_WORDS = {"failed": "was not sent", "unknown": "may or may not have gone"}


def _what(row: sa.Row) -> str:
    if row.kind == "signup":
        return "The confirmation email"
    if row.kind == "team-signin":
        return "The console sign-in email"
    if row.kind == "answer":
        return f"The answer to reply {row.payload['reply']}"
    return f"The {row.payload['template']} story email"
