"""engage's own emails, queued in the store and sent outside the web request.

A web page that sets off an email (a sign-up's confirmation link, the story emails a
contributor's page sends) only adds a row to `outgoing`; a worker in `engage serve` and every
`engage run` send the rows. So a page answers alike whatever happens to the email: a sign-up
does the same work for a new, pending, subscribed or suppressed address (two throttle counts
and one row), and how long it takes tells nobody which it was. The sign-up itself (the pending
contact and its link) is made when its row is sent (see subscriptions.sign_up).

Sending keeps the promises campaign sends keep (sending.py), row by row:
- a row is claimed in one statement (skipping rows another process has locked on
  PostgreSQL; SQLite takes its write lock first), so several drainers send each row once;
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2
import sqlalchemy as sa

from . import journal, subscriptions
from .addresses import identity
from .config import Workspace
from .contacts import core
from .email import provider_for
from .email.base import (
    AuthFailed,
    LostAnswer,
    Provider,
    ProviderError,
    SystemMessage,
    TryLater,
    Unsendable,
    system_message_id,
)
from .errors import EngageError, sentence
from .store import Store
from .store.schema import outgoing
from .store.schema import stories as story_rows
from .tokens import Signer
from .tokens import signer as make_signer

log = logging.getLogger("engage.outgoing")

ATTEMPTS = 5  # tries for an email the provider proved it did not take
BACKOFF = (30, 120, 600, 1800)  # seconds before each next try (Retry-After when longer)
CONFIRM_SUBJECT = "Please confirm your email address"


# --- adding rows -----------------------------------------------------------------------------


def _add(
    connection: sa.Connection, kind: str, address: str, payload: dict[str, Any], **ids: Any
) -> None:
    at = core.now()
    connection.execute(
        outgoing.insert().values(
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
    )


def _key(address: str) -> str:
    try:
        return identity(address)
    except core.InvalidEmail:
        return address.strip().lower()


def ask_to_confirm(
    connection: sa.Connection, address: str, name: str, fmt: str, topics: Iterable[str]
) -> None:
    """A sign-up from the form: its row, whatever the address's state. When the row is sent, a
    new, pending or suppressed address gets a confirmation link and a subscribed one nothing
    (subscriptions.sign_up decides)."""
    payload = {"name": name, "format": fmt, "topics": sorted(topics)}
    _add(connection, "signup", core.normalise_email(address), payload)


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
        "template": template,
        "status": status,
        "to_team": to_team,
    }
    _add(connection, "story", message.to, payload, story_id=story_id)


# The worker in this process waits on this; wake() after committing a row sends it at once.
_added = threading.Event()


def wake() -> None:
    """Tell the worker in this process (if any) that a row is waiting."""
    _added.set()


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
    store: Store, workspace: Workspace, signer: Signer | None = None, limit: int = 200
) -> Drained:
    """Send the rows that are due, up to `limit`, each once. Problems are in the result (and
    logged); a stopped provider (its key refused, say) leaves the rest waiting. The signer
    (for confirmation links) is the workspace's unless given."""
    done = Drained()
    owner = journal.owner_name()
    settle_left(store)
    provider: Provider | None = None
    try:
        for _ in range(limit):
            row = claim(store, owner)
            if row is None:
                break
            if row is _NOT_THIS_ONE:
                continue
            if provider is None:  # what sending needs, checked before any row is handed over
                signer = signer or make_signer(workspace)
                chosen = provider_for(workspace)
                chosen.check()
                chosen.open()
                provider = chosen
            if not _send_row(store, workspace, signer, provider, row, done):
                break
    except EngageError as exc:  # the provider could not even start (a missing key, say)
        done.problems.append(f"engage's own emails: {exc}")
        log.error("engage's own emails wait: %s", exc)
    finally:
        release(store, owner)
        if provider is not None:
            provider.close()
    return done


_NOT_THIS_ONE: Any = object()


def claim(store: Store, owner: str) -> sa.Row | None:
    """Take the oldest row that is due, for `owner`, or None when none is (or _NOT_THIS_ONE
    when another process took the row this one picked)."""
    with store.begin() as connection:
        pick = (
            sa.select(outgoing.c.id)
            .where(outgoing.c.state == "waiting", outgoing.c.not_before <= core.now())
            .order_by(outgoing.c.id)
            .limit(1)
        )
        if connection.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        row_id = connection.execute(pick).scalar()
        if row_id is None:
            return None
        taken = connection.execute(
            outgoing.update()
            .where(outgoing.c.id == row_id, outgoing.c.state == "waiting")
            .values(state="claimed", owner=owner, claimed_at=core.now())
        ).rowcount
        if taken != 1:  # another drainer was first: the caller's next claim takes the next row
            return _NOT_THIS_ONE
        return connection.execute(sa.select(outgoing).where(outgoing.c.id == row_id)).first()


def release(store: Store, owner: str) -> None:
    """Rows `owner` claimed and never handed over wait again."""
    with store.begin() as connection:
        connection.execute(
            outgoing.update()
            .where(outgoing.c.owner == owner, outgoing.c.state == "claimed")
            .values(state="waiting", owner=None, claimed_at=None)
        )


def settle_left(store: Store) -> None:
    """Rows left by a process that ended: claimed ones wait again; sending ones are unknown
    (they may have reached the provider)."""
    with store.begin() as connection:
        left = connection.execute(
            sa.select(outgoing.c.id, outgoing.c.state, outgoing.c.owner, outgoing.c.claimed_at)
            .where(outgoing.c.state.in_(("claimed", "sending")))
            .with_for_update()
        ).all()
        for row in left:
            if journal.working(row.owner or "", row.claimed_at + journal.LEASE):
                continue
            if row.state == "claimed":
                values: dict[str, Any] = {"state": "waiting", "owner": None, "claimed_at": None}
            else:
                values = {
                    "state": "unknown",
                    "error": "engage stopped while handing it to the provider, so it may "
                    "or may not have gone. It is not sent again by itself.",
                    "done_at": core.now(),
                }
            connection.execute(
                outgoing.update()
                .where(outgoing.c.id == row.id, outgoing.c.state == row.state)
                .values(**values)
            )


def _send_row(
    store: Store,
    workspace: Workspace,
    signer: Signer | None,
    provider: Provider,
    row: sa.Row,
    done: Drained,
) -> bool:
    """Make and send one claimed row; False when the provider cannot send anything now."""
    try:
        message = _prepare(store, workspace, signer, row)
    except (EngageError, jinja2.TemplateError, core.InvalidEmail) as exc:
        _finish(store, row, "failed", done, f"could not be made: {exc}")
        return True
    if message is None:
        done.skipped += 1
        return True
    try:
        outcome = provider.send_system(message)
    except LostAnswer as exc:
        said = f"{sentence(str(exc))} engage does not send it again by itself."
        _finish(store, row, "unknown", done, said)
        return True
    except AuthFailed as exc:
        _again(store, row, done, str(exc), None)
        return False
    except TryLater as exc:
        _again(store, row, done, str(exc), exc.retry_after)
        return True
    except (ProviderError, Unsendable) as exc:
        _finish(store, row, "failed", done, str(exc))
        return True
    except EngageError as exc:  # a setting or secret it needs, missing before anything went
        _again(store, row, done, str(exc), None)
        return False
    if not outcome.sent:
        _finish(store, row, "failed", done, outcome.error or "refused, with no reason given")
        return True
    _finish(store, row, "sent", done, "", provider_id=outcome.provider_id)
    return True


def _prepare(
    store: Store, workspace: Workspace, signer: Signer | None, row: sa.Row
) -> SystemMessage | None:
    """The message for a claimed row, marked `sending` before the provider sees it; None for
    a sign-up that needs no email (marked skipped)."""
    with store.begin() as connection:
        if row.kind == "signup":
            message, contact_id = _signup(connection, workspace, signer, row)
        else:
            message, contact_id = _story_message(row), None
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
        connection, signer, row.address, form["name"], form["format"], form["topics"]
    )
    contact = core.find(connection, row.address)
    contact_id = contact.id if contact is not None else None
    if not (found.confirm_to and found.token):
        return None, contact_id
    return confirmation(workspace, found.confirm_to, form["name"], found.token), contact_id


def confirmation(workspace: Workspace, address: str, name: str, token: str) -> SystemMessage:
    """The email with a sign-up's confirmation link, from templates/email/confirm.*.j2."""
    base = workspace.config.web.base_url.rstrip("/")
    context = {
        "name": name.split(" ")[0] if name else "",
        "confirm_url": f"{base}/confirm/{token}",
        "organisation": workspace.config.organisation,
    }
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(workspace.templates_dir / "email")),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
    )
    sender = workspace.config.email.from_
    return SystemMessage(
        to=address,
        subject=CONFIRM_SUBJECT,
        text=env.get_template("confirm.txt.j2").render(context),
        html=env.get_template("confirm.html.j2").render(context),
        sender=sender,
        message_id=system_message_id(sender, "confirm"),
        kind="confirm",
    )


def _story_message(row: sa.Row) -> SystemMessage:
    from .stories.messages import StoryMessage

    made = row.payload
    return StoryMessage(
        to=row.address,
        subject=made["subject"],
        text=made["text"],
        html=made["html"],
        sender=made["sender"],
        message_id=made["message_id"],
        kind=made["kind"],
        reply_to=made["reply_to"],
    )


def _again(store: Store, row: sa.Row, done: Drained, error: str, retry_after: float | None) -> None:
    """Not sent, with proof: wait and try again, or give up after ATTEMPTS tries."""
    tries = row.attempts + 1
    if tries >= ATTEMPTS:
        _finish(store, row, "failed", done, f"{error} (tried {tries} times)")
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
    store: Store, row: sa.Row, state: str, done: Drained, error: str, provider_id: str = ""
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
        if row.kind == "story":
            _story_news(connection, row, state, error)
    if state == "sent":
        done.sent += 1
        return
    setattr(done, state, getattr(done, state) + 1)
    problem = f"{_what(row)} to {row.address} {_WORDS[state]}: {error}"
    done.problems.append(problem)
    log.error("%s", problem)


def _kept(row: sa.Row) -> dict[str, Any]:
    """What a row keeps once it is done: which email it was, never the person's name, choices
    or the words of the email."""
    return {key: value for key, value in row.payload.items() if key in _KEEP}


_KEEP = ("template", "status", "to_team")
_WORDS = {"failed": "was not sent", "unknown": "may or may not have gone"}


def _what(row: sa.Row) -> str:
    if row.kind == "signup":
        return "The confirmation email"
    return f"The {row.payload['template']} story email"


def _story_news(connection: sa.Connection, row: sa.Row, state: str, error: str) -> None:
    """What the story's history says once its email is sent or has not gone."""
    from .stories import core as stories

    made = row.payload
    if (
        row.story_id is None
        or not connection.execute(
            sa.select(sa.func.count()).where(story_rows.c.id == row.story_id)
        ).scalar()
    ):
        return  # the story is gone (its contributor erased)
    if state == "sent":
        if not made["to_team"]:
            stories.told(connection, row.story_id, made["template"], made["status"])
        return
    action = "team-not-told" if made["to_team"] else "not-told"
    stories.note(connection, row.story_id, action, made["status"], f"{made['template']}: {error}")


# --- the worker in `engage serve` ------------------------------------------------------------


class Worker:
    """A thread that sends waiting rows: at once when this process adds one (wake), and every
    `every` seconds for rows other processes added or that wait to be tried again."""

    def __init__(
        self, store: Store, workspace: Workspace, signer: Signer, every: float = 5.0
    ) -> None:
        self.store, self.workspace, self.signer, self.every = store, workspace, signer, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engage-outgoing", daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the email in hand, then stop."""
        self._stop.set()
        _added.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            _added.clear()
            try:
                drain(self.store, self.workspace, self.signer)
            except Exception:  # noqa: BLE001 - a worker that dies sends nothing again
                log.exception("engage's own emails: the worker met a problem; it carries on")
            _added.wait(self.every)
