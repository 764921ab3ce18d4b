"""What a send is asked to do (Options) and what it tells its caller (Report), with the words
the report uses when a send stopped or left messages in doubt."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import EngageError

MAX_TRIES = 5


class SendError(EngageError):
    """The send cannot start, or had to stop; the message says why and what to do."""


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    limit: int | None = None
    resend_unknown: bool = False
    resume: bool = False  # carry on a send a person stopped
    # Share the send with the senders already working on it (`engage send`): each claims its
    # own batches. False (`engage run`): leave it to them (Busy).
    join: bool = False
    max_tries: int = MAX_TRIES
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_wait: float = 60.0


@dataclass
class Report:
    """How a send went. `finished`: everyone in it has been dealt with (never for a dry run);
    the caller acts on it (its contributors hear it went out: stories.usage.record_sent)."""

    campaign: str
    stopped: str = ""  # SIGINT, SIGTERM or "asked" (--stop), when the send was stopped
    total: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0  # skipped: see skipped_because
    skipped_because: dict[str | None, int] = field(default_factory=dict)
    unknown: int = 0
    pending: int = 0
    this_run: int = 0
    problems: list[str] = field(default_factory=list)
    stop_note: str = ""  # a person stopped it (or --limit was reached): what went, what next
    others: list[str] = field(default_factory=list)  # senders still on it as this one ended
    finished: bool = False


@dataclass
class Handed:
    """What the sending thread did with one batch: messages answered (or lost) and recorded,
    lost answers to report, and why the send must stop, when it must."""

    count: int = 0
    lost: list[str] = field(default_factory=list)
    stop: str = ""


def stop_note(slug: str, report: Report, reason: str, by: str, limit: int | None) -> str:
    """A person stopped the send (Ctrl-C, --stop, or --limit reached): what went, what next."""
    how = {"SIGINT": "by Ctrl-C", "asked": f"as {by} asked"}.get(
        reason, f"as --limit {limit} asked"
    )
    more = " (add --limit again to send only a few more)" if not reason else ""
    return (
        f"{slug} is stopped, {how}: {report.sent} of {report.total} went and "
        f"{report.pending} {'is' if report.pending == 1 else 'are'} still to send. Every "
        "answer that came was recorded, so nobody will get it twice. To send the rest, run "
        f"`engage send {slug} --resume`{more}. `engage run` leaves it alone until then."
    )


def sigterm_note(slug: str) -> str:
    return (
        "Stopped by SIGTERM: every answer that came was recorded. The next `engage run` "
        f"carries on from here, or run `engage send {slug}` to carry on now."
    )


def unknown_advice(slug: str, provider: str, count: int, asks: bool, cannot: str) -> str:
    """What to do about `count` messages in doubt: `asks` when the provider keeps records
    engage can ask; `cannot` says why this account cannot, when it cannot."""
    said = (
        f"{count} message(s) may or may not have gone: engage handed them over and never "
        "learned the answer."
    )
    if asks and cannot:  # a provider that can, an account that cannot
        return f"{said} {cannot}"
    if asks:
        return (
            f"{said} engage asks {provider}'s records about them each time the "
            f"send starts; once those records are complete, `engage send {slug} "
            "--reconcile` settles them."
        )
    return (
        f"{said} {provider} keeps no records engage can ask: check them by hand "
        f"(the mail server's log), then `engage send {slug} --resend-unknown` sends them "
        "again, a second copy to anyone who did get one."
    )
