"""Fetch replies, the whole job: from the shared mailbox ([replies.imap]) and the social
channels, then contributors kept informed (a story reply opens its story and is thanked).
Replies sent to a provider arrive by its webhook instead (workflow/inbound.py). And answer a
reply: queued in engage's own emails, and sent now when asked (the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import outgoing
from ..config import Workspace
from ..replies import answers, imap
from ..replies import social as social_replies
from ..store import Store
from ..stories.telling import Told
from .own_emails import send_own_emails
from .stories import keep_contributors_informed


@dataclass
class Fetched:
    mailbox: imap.Fetched | None = None  # None: the mailbox was not asked
    social: list[social_replies.Fetched] = field(default_factory=list)
    told: Told = field(default_factory=Told)

    @property
    def new(self) -> int:
        return (self.mailbox.new if self.mailbox else 0) + sum(r.new for r in self.social)

    def problems(self) -> list[str]:
        """Each source that failed, named: `imap: ...`, `mastodon: ...`."""
        found = [f"imap: {self.mailbox.problem}"] if self.mailbox and self.mailbox.problem else []
        return found + [f"{r.channel}: {r.problem}" for r in self.social if r.problem]


def fetch_replies(
    store: Store, workspace: Workspace, *, mailbox: bool, social: bool, inform: bool = True
) -> Fetched:
    """Collect what waits in each source asked for, then (`inform`) tell contributors what is
    owed. `engage run` informs once after all its work."""
    done = Fetched()
    if mailbox:
        done.mailbox = imap.fetch(store, workspace)
    if social:
        done.social = social_replies.fetch_all(store, workspace)
    if inform:
        done.told = keep_contributors_informed(store, workspace)
    return done


@dataclass(frozen=True)
class AnswerGoing:
    """An answer queued, and where it is now (`state` in engage's queue: waiting, sent, failed,
    unknown ...); `problems` from sending engage's own emails now, when asked to."""

    answered: answers.Answered
    state: str
    error: str = ""
    problems: list[str] = field(default_factory=list)


def answer_reply(
    store: Store,
    workspace: Workspace,
    reply_id: int,
    text: str,
    actor: str,
    *,
    mark_done: bool = False,
    send_now: bool = False,
) -> AnswerGoing:
    """Answer a reply (replies/answers.py): queued in one transaction with its audit entry, then
    the worker in this process woken. `send_now` (the command line, with no worker): send
    engage's queued emails now, each once (outgoing.drain), and say where the answer is."""
    with store.begin() as connection:
        answered = answers.answer(connection, workspace, reply_id, text, actor, mark_done=mark_done)
    outgoing.wake()
    if not send_now:
        return AnswerGoing(answered, "waiting")
    drained = send_own_emails(store, workspace)
    with store.connect() as connection:
        state, error = answers.state(connection, answered.outgoing_id)
    return AnswerGoing(answered, state, error, drained.problems)
