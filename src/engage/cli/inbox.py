"""`engage replies import/list/show/assign/done/answer`: working the replies inbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..mailparts import size_text
from ..replies import attachments
from ..replies import listing as inbox_listing
from ..replies.inbox import for_workspace
from ..replies.mime import NotAMail
from ..store.schema import REPLY_KINDS, REPLY_STATUSES
from ..team.audit import command_line
from ..workflow.inbound import take_file
from ..workflow.replies import answer_reply
from ..workflow.stories import keep_contributors_informed
from .common import format_option, printable, report_told, store, table, when, workspace


@click.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.pass_context
def import_(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Add saved or forwarded mails (.eml files) to the replies inbox.

    Each file is matched, cleaned and sorted like any other reply; a file already imported is
    not added twice. Files that are not mails are reported and skipped; the rest still go in.
    """
    inbox = for_workspace(workspace(ctx))
    counts = {"new": 0, "seen": 0, "refused": 0}
    for path in files:
        shown = printable(str(path))
        try:
            raw = path.read_bytes()
        except OSError as exc:
            click.echo(f"Problem: {shown}: could not be read ({exc.strerror}).", err=True)
            counts["refused"] += 1
            continue
        try:
            taken = take_file(store(ctx), inbox, raw)
        except NotAMail as exc:
            click.echo(f"Problem: {shown} is not a mail. {exc}", err=True)
            counts["refused"] += 1
            continue
        if not taken.new:
            click.echo(f"{shown}: already here as reply {taken.id}.")
            counts["seen"] += 1
            continue
        counts["new"] += 1
        click.echo(f"{shown}: reply {taken.id}, {taken.kind} ({_matched(taken.matched_by)}).")
        for note in taken.notes:
            click.echo(f"  Note: {printable(note)}")
    click.echo(
        f"{counts['new']} new, {counts['seen']} already here"
        + (f", {counts['refused']} not imported." if counts["refused"] else ".")
    )
    told = keep_contributors_informed(store(ctx), workspace(ctx))
    if report_told(told) or counts["refused"]:
        ctx.exit(1)


_MATCHED = {
    "reply-token": "matched by the reply address",
    "unsubscribe-token": "matched by the unsubscribe address",
    "in-reply-to": "matched by the mail it answers",
    "sender": "matched by the sender's address",
    "new-contact": "a new person, added as pending",
    "mail-system": "from a mail system",
    "bounce-recipient": "matched by the address that failed",
    "returned-message": "matched by the mail it returned",
    "handle": "matched by their handle",
    "unknown-handle": "from a handle we do not know yet",
    "": "not matched to anybody",
}


def _matched(how: str) -> str:
    return _MATCHED.get(how, how)


def _line(text: str, width: int = 50) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@click.command("list")
@click.option("--kind", type=click.Choice(REPLY_KINDS), help="Only replies of this kind.")
@click.option("--status", type=click.Choice(REPLY_STATUSES), help="Only replies with this status.")
@click.option("--campaign", metavar="SLUG", help="Only replies to this campaign.")
@format_option("table", "json")
@click.pass_context
def list_(
    ctx: click.Context, kind: str | None, status: str | None, campaign: str | None, fmt: str
) -> None:
    """List replies, oldest first."""
    with store(ctx).connect() as connection:
        found = inbox_listing.listing(connection, kind, status, campaign)
    if fmt == "json":
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("No replies match.")
        return
    rows = [
        {
            "id": r["id"],
            "received": (r["received_at"] or "")[:10],
            "kind": r["kind"],
            "status": r["status"],
            "owner": r["owner_name"] or "-",
            "from": r["contact"] or r["from"],
            "campaign": r["campaign"] or "-",
            "says": _line(r["text"] or r["subject"]),
        }
        for r in found
    ]
    click.echo(table(list(rows[0]), rows))


@click.command()
@click.argument("reply_id", metavar="ID", type=int)
@click.option("--original", is_flag=True, help="Show the whole original message too.")
@format_option("text", "json")
@click.pass_context
def show(ctx: click.Context, reply_id: int, original: bool, fmt: str) -> None:
    """Show one reply: its words, who and what it answers, and the person's other replies."""
    with store(ctx).connect() as connection:
        reply = inbox_listing.show(connection, reply_id)
    folder = attachments.for_workspace(workspace(ctx)).shown
    for item in reply["attachments"]:
        path = item.pop("path")
        item["file"] = f"{folder}/{path}" if path else None
    if fmt == "json":
        if not original:
            reply.pop("original")
        click.echo(json.dumps(reply, indent=2, ensure_ascii=False))
        return
    click.echo(printable("\n".join(show_lines(reply, original)), keep_newlines=True))


def show_lines(reply: dict[str, Any], original: bool) -> list[str]:
    sender = f"{reply['from_name']} <{reply['from']}>" if reply["from_name"] else reply["from"]
    if reply["from_name"] == reply["from"]:
        sender = reply["from"]
    lines = [
        f"Reply {reply['id']}: {reply['kind']}, {reply['status']}",
        f"From:     {sender} ({_matched(reply['matched_by'])})",
    ]
    if reply["contact"] and reply["contact"].lower() != reply["from"].lower():
        lines.append(f"Person:   {reply['contact']}")
    lines += [
        f"Campaign: {reply['campaign'] or 'none found'}",
        f"Received: {when(reply['received_at'])} by {reply['source']}",
    ]
    if reply["subject"]:
        lines.append(f"Subject:  {reply['subject']}")
    if reply["url"]:
        lines.append(f"Link:     {reply['url']}")
    lines.append(f"Owner:    {reply['owner_name'] or 'nobody yet'}")
    if reply["story"]:
        story = reply["story"]
        lines.append(
            f"Story:    {story['id']} ({story['status']}): engage stories show {story['id']}"
        )
    lines += ["", reply["text"] or "(no words of their own)", ""]
    set_aside = [
        what
        for what, there in (("quoted text", reply["quoted"]), ("a signature", reply["signature"]))
        if there
    ]
    if set_aside and not original:
        lines.append(f"Set aside: {' and '.join(set_aside)}. See it all with --original.")
    for note in reply["notes"]:
        lines.append(f"Note: {note}")
    if reply["attachments"]:
        lines.append("Attachments:")
        lines += [
            f"  {a['name']} ({a['type']}, {size_text(a['size'])}): "
            + (a["file"] or f"set aside, {a['set_aside']}")
            for a in reply["attachments"]
        ]
    for sent in reply["answers"]:
        lines.append(
            f"Answered: {when(sent['at'])} by {sent['by']}, {sent['went']}"
            + (f" ({sent['error']})" if sent["error"] else "")
            + f": {_line(sent['text'], 40)}"
        )
    if reply["others"]:
        lines.append("Their other replies:")
        lines += [
            f"  {o['id']}  {(o['received_at'] or '')[:10]}  {o['kind']}  {o['status']}  "
            f"{_line(o['text'] or o['subject'], 40)}"
            for o in reply["others"]
        ]
    else:
        lines.append("Their other replies: none")
    if original:
        lines += ["", "Original:", reply["original"]]
    return lines


@click.command()
@click.argument("reply_id", metavar="ID", type=int)
@click.argument("name")
@click.pass_context
def assign(ctx: click.Context, reply_id: int, name: str) -> None:
    """Give a reply to someone on the team to deal with.

    NAME is a team member's email address or whole name (`engage team list`), or any name.
    """
    with store(ctx).begin() as connection:
        reply = inbox_listing.assign(connection, reply_id, name, command_line())
    click.echo(f"Reply {reply_id} is now with {printable(reply['owner_shown'])}.")


@click.command()
@click.argument("reply_id", metavar="ID", type=int)
@click.pass_context
def done(ctx: click.Context, reply_id: int) -> None:
    """Mark a reply as dealt with."""
    with store(ctx).begin() as connection:
        inbox_listing.done(connection, reply_id, command_line())
    click.echo(f"Reply {reply_id} is done.")


_GOING = {
    "sent": "was sent",
    "waiting": "waits in engage's queue; `engage run` or `engage serve` will try again",
    "failed": "was not sent",
    "unknown": "may or may not have gone; engage does not send it again by itself",
}


@click.command()
@click.argument("reply_id", metavar="ID", type=int)
@click.option(
    "--file",
    "answer_file",
    type=click.File("r", encoding="utf-8"),
    default="-",
    show_default="standard input",
    help="The answer, as plain text.",
)
@click.option("--done", "mark_done", is_flag=True, help="Mark the reply as done too.")
@click.pass_context
def answer(ctx: click.Context, reply_id: int, answer_file: Any, mark_done: bool) -> None:
    """Answer a reply by email, from the organisation (the From of [email]).

    The answer goes to the address the reply came from, with "Re:" and its subject, threaded
    to it (In-Reply-To and References), and shows in the person's timeline (`engage contacts
    show`). It joins engage's own emails, which are then sent (each once). Nobody who has
    unsubscribed, bounced, complained or is suppressed is written to.
    """
    text = answer_file.read()
    going = answer_reply(
        store(ctx),
        workspace(ctx),
        reply_id,
        text,
        command_line(),
        mark_done=mark_done,
        send_now=True,
    )
    done = going.answered
    said = _GOING.get(going.state, going.state)
    why = f": {going.error}" if going.error and going.state != "waiting" else ""
    click.echo(
        f"The answer to reply {reply_id} ({printable(done.subject)}) to {done.to} {said}{why}."
    )
    if mark_done:
        click.echo(f"Reply {reply_id} is done.")
    if going.state != "sent":
        for problem in going.problems:
            click.echo(f"Problem: {printable(problem)}", err=True)
        ctx.exit(1)


def register(cli: click.Group) -> None:
    """Under `engage replies` (cli/replies.py registers the group first)."""
    replies = cli.commands["replies"]
    assert isinstance(replies, click.Group)
    for command in (import_, list_, show, assign, done, answer):
        replies.add_command(command)
