"""`engage stories` and `engage followups`: contributors' stories, and nobody left without news."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..store.schema import STORY_STATUSES
from ..stories import coproduce, core, service, steps
from ..stories.telling import Told
from ..team import audit
from ..tokens import signer
from .common import format_option, printable, store, table, when, workspace
from .common import report_problems as _report


@click.group()
def stories() -> None:
    """Contributors' stories, from their reply to publication."""


def _told(told: Told, what: str) -> str:
    return f" The contributor was sent the {what} email." if told.sent else ""


@stories.command("list")
@click.option("--status", type=click.Choice(STORY_STATUSES), help="Only stories with this status.")
@click.option("--owner", metavar="NAME", help="Only stories this person looks after.")
@format_option("table", "json")
@click.pass_context
def list_(ctx: click.Context, status: str | None, owner: str | None, fmt: str) -> None:
    """List stories, oldest first."""
    with store(ctx).connect() as connection:
        found = core.listing(connection, status, owner)
    if fmt == "json":
        click.echo(json.dumps([s.as_dict() for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("No stories match.")
        return
    rows = [
        {
            "id": s.id,
            "status": s.status,
            "contributor": s.email,
            "owner": s.owner or "-",
            "last told": when(s.as_dict()["told_at"])[:10],
            "title": s.title or "-",
        }
        for s in found
    ]
    click.echo(table(list(rows[0]), rows))


@stories.command()
@click.argument("story_id", metavar="ID", type=int)
@format_option("text", "json")
@click.pass_context
def show(ctx: click.Context, story_id: int, fmt: str) -> None:
    """Show one story: its contributor, drafts, choices, where it went out and its history."""
    with store(ctx).connect() as connection:
        story = core.get(connection, story_id)
        data = {
            **story.as_dict(),
            "next_steps": [
                {"step": step.name, "command": step.command, "note": step.note}
                for step in steps.team_steps(connection, story)
            ],
            "choices": core.story_consents(connection, story.id),
            "thread": core.thread(connection, story),
            "drafts": coproduce.drafts(connection, story.id),
            "went_out": core.uses(connection, story.id),
            "history": core.history(connection, story.id),
        }
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(printable("\n".join(show_lines(data)), keep_newlines=True))


def show_lines(data: dict[str, Any]) -> list[str]:
    person = f"{data['name']} <{data['contributor']}>" if data["name"] else data["contributor"]
    choices = data["choices"]
    lines = [
        f"Story {data['id']}: {data['status']}" + (f", {data['title']}" if data["title"] else ""),
        f"Contributor: {person}",
        f"Campaign:    {data['campaign'] or 'none (opened by hand)'}",
        f"Owner:       {data['owner'] or 'nobody yet'}",
        f"Last told:   {when(data['told_at'])}",
        *_steps_lines(data["next_steps"]),
        "May appear:  "
        + (
            ", ".join(f"{c} {'yes' if ok else 'no'}" for c, ok in choices.items())
            or "not asked yet"
        ),
    ]
    if data["link"]:
        lines.append(f"Published:   {data['link']}")
    for draft in data["drafts"]:
        answer = {"approved": "approved", "changes": "changes asked", "": "waiting"}[
            draft["decision"]
        ]
        lines.append(f"Draft {draft['version']}:     {when(draft['created_at'])}, {answer}")
        if draft["comment"]:
            lines.append(f"  They said: {draft['comment']}")
    for use in data["went_out"]:
        where = f"{use['campaign']} ({use['channel']})"
        lines.append(f"Went out:    {when(use['at'])} {where} {use['link']}".rstrip())
    if data["status"] == "withdrawn" and data["went_out"]:
        lines.append(
            "Take down:   " + ", ".join(u["link"] or u["campaign"] for u in data["went_out"])
        )
    for said in data["thread"]:
        lines += [f"Reply {said['reply']} ({said['kind']}), {when(said['at'])}:"]
        lines += [f"  {line}" for line in (said["text"] or "(no words of their own)").splitlines()]
    lines.append("History:")
    for step in data["history"]:
        extra = f": {step['note']}" if step["note"] else ""
        link = f" {step['link']}" if step["link"] else ""
        lines.append(
            f"  {when(step['at'])}  {step['action']} ({step['status']}) by {step['actor']}"
            f"{extra}{link}"
        )
    return lines


def _steps_lines(steps: list[dict[str, str]]) -> list[str]:
    if not steps:
        return ["Next steps:  none (this story is closed)"]
    lines = ["Next steps:"]
    for step in steps:
        lines.append(f"  {step['command']}" + (f"  ({step['note']})" if step["note"] else ""))
    return lines


@stories.command("open")
@click.argument("email", required=False)
@click.option(
    "--reply",
    "reply_id",
    type=int,
    metavar="ID",
    help="Open it from this reply in the inbox (one filed as something else).",
)
@click.option("--title", default="", help="A few words to know the story by.")
@click.option(
    "--quiet", "quiet_", is_flag=True, help="Do not send the thank-you email (with EMAIL only)."
)
@click.pass_context
def open_(
    ctx: click.Context, email: str | None, reply_id: int | None, title: str, quiet_: bool
) -> None:
    """Open a story: for EMAIL, when it came some other way (a phone call, a visit), or from
    a reply in the inbox with --reply ID, when the reply was not filed as a story.

    Its contributor gets the thank-you email, as for a story reply.
    """
    if (email is None) == (reply_id is None):
        raise click.UsageError(
            "Give the contributor's EMAIL, or --reply ID for a reply in the inbox (not both)."
        )
    ws = workspace(ctx)
    if reply_id is not None:
        if quiet_:
            raise click.UsageError(
                "--quiet is for stories opened by EMAIL: a story from a reply always thanks "
                "its contributor, as engage does for every story reply."
            )
        told = service.open_from_replies(store(ctx), ws, signer(ws), reply_id=reply_id, title=title)
        for line in told.done:
            click.echo(f"Reply {reply_id}: {line[0].lower()}{line[1:]}")
    elif email is not None:
        story_id, told = service.open_by_hand(store(ctx), ws, signer(ws), email, title, not quiet_)
        click.echo(f"Opened story {story_id} for {email}.{_told(told, 'thank-you')}")
    _report(told)
    if told.problems:
        ctx.exit(1)


@stories.command("title")
@click.argument("story_id", metavar="ID", type=int)
@click.argument("title")
@click.pass_context
def title_(ctx: click.Context, story_id: int, title: str) -> None:
    """Give a story its TITLE: a few words to know it by (its contributor sees them too)."""
    with store(ctx).begin() as connection:
        story = core.set_title(connection, story_id, title, audit.command_line())
    click.echo(f"Story {story.id} is now called {printable(story.title)}.")


@stories.command("set")
@click.argument("story_id", metavar="ID", type=int)
@click.argument("status")
@click.option("--note", "note_text", default="", help="Why, or what is happening (they see it).")
@click.option("--link", default="", help="Where it is published (for published).")
@click.option(
    "--without-approval",
    is_flag=True,
    help="Publish without the contributor's approval of the current draft (needs --note).",
)
@click.option("--yes", is_flag=True, help="Do not ask before declining or withdrawing.")
@click.pass_context
def set_(
    ctx: click.Context,
    story_id: int,
    status: str,
    note_text: str,
    link: str,
    without_approval: bool,
    yes: bool,
) -> None:
    """Move a story to STATUS, and tell its contributor.

    Before declining or withdrawing a story, engage shows the email its contributor will get
    and asks; --yes does not ask (for scripts).
    """
    ws = workspace(ctx)
    if status in ASK_FIRST and not yes:
        _confirm(ctx, story_id, status, note_text, without_approval)
    story, told, take_down = service.change(
        store(ctx),
        ws,
        signer(ws),
        story_id,
        status,
        note_text=note_text,
        link=link,
        without_approval=without_approval,
        actor=audit.command_line(),
    )
    click.echo(f"Story {story.id} is {story.status}.{_told(told, core.TEMPLATE_FOR[status])}")
    if take_down:
        click.echo("Please take it down from:")
        for use in take_down:
            click.echo(f"  {use['campaign']} ({use['channel']}) {use['link']}".rstrip())
    _report(told)
    if told.problems:
        ctx.exit(1)


ASK_FIRST = {"declined": "Decline", "withdrawn": "Withdraw"}


def _confirm(
    ctx: click.Context, story_id: int, status: str, note_text: str, without_approval: bool
) -> None:
    """Show the email the contributor will get, and ask; stop (exit 1) unless the answer is
    yes."""
    ws = workspace(ctx)
    story, email = service.preview(
        store(ctx), ws, signer(ws), story_id, status, note_text, without_approval=without_approval
    )
    click.echo(f"{story.email} will get this email:\n")
    click.echo(f"  Subject: {printable(email.subject)}\n")
    for line in email.text.rstrip("\n").split("\n"):
        click.echo(f"  {printable(line)}".rstrip())
    click.echo("")
    if status == "declined" and not note_text.strip():
        click.echo('To tell them why in your own words, add --note "...".')
    if status == "withdrawn":
        click.echo("The team will get an email with every place to take it down from.")
    try:
        sure = click.confirm(f"{ASK_FIRST[status]} story {story.id} and send this email?")
    except click.Abort:
        sure = False
        click.echo("")
    if not sure:
        click.echo(
            f"Nothing was sent: story {story.id} is still {story.status}. (In a script, add --yes.)"
        )
        ctx.exit(1)


@stories.command()
@click.argument("story_id", metavar="ID", type=int)
@click.option("--note", "note_text", default="", help="What to tell them (they see it).")
@click.pass_context
def reopen(ctx: click.Context, story_id: int, note_text: str) -> None:
    """Undo a decline or a publication made in the last 24 hours.

    The story goes back to the step it was at, and its contributor gets an update that says
    sorry, the last email was a mistake, and where things stand.
    """
    ws = workspace(ctx)
    story, was, told = service.reopen(
        store(ctx), ws, signer(ws), story_id, note_text, audit.command_line()
    )
    click.echo(
        f"Story {story.id} is no longer {was}: it is {story.status} again." + _told(told, "update")
    )
    _report(told)
    if told.problems:
        ctx.exit(1)


@stories.command()
@click.argument("story_id", metavar="ID", type=int)
@click.argument("name")
@click.pass_context
def assign(ctx: click.Context, story_id: int, name: str) -> None:
    """Give a story to someone on the team to look after."""
    with store(ctx).begin() as connection:
        story = core.assign(connection, story_id, name, audit.command_line())
    click.echo(f"Story {story.id} is now with {printable(story.owner)}.")


@stories.command()
@click.argument("story_id", metavar="ID", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def draft(ctx: click.Context, story_id: int, file: Path) -> None:
    """Send the contributor the edited story (Markdown FILE) to approve or change."""
    ws = workspace(ctx)
    body = service.read_draft(file)
    story, version, told = service.send_draft(
        store(ctx), ws, signer(ws), story_id, body, audit.command_line()
    )
    click.echo(
        f"Draft {version} of story {story.id} is with its contributor to read."
        + (" They were sent a private link." if told.sent else "")
    )
    _report(told)
    if told.problems:
        ctx.exit(1)


@click.group(invoke_without_command=True)
@click.option(
    "--days",
    type=click.IntRange(min=0),
    help="Owed after this many days. Default: [followups] days.",
)
@format_option("table", "json")
@click.pass_context
def followups(ctx: click.Context, days: int | None, fmt: str) -> None:
    """Contributors owed news: open stories they have not heard about for a while."""
    if ctx.invoked_subcommand is not None:
        ctx.meta["engage.followup_days"] = days
        return
    ws = workspace(ctx)
    waiting = service.owed(store(ctx), ws, days)
    limit = days if days is not None else ws.config.followups.days
    if fmt == "json":
        click.echo(
            json.dumps(
                [{**s.as_dict(), "days_waiting": d} for s, d in waiting],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if not waiting:
        click.echo(f"Nobody is owed news: every open story has had news in the last {limit} days.")
        return
    rows = [
        {
            "story": s.id,
            "contributor": s.email,
            "status": s.status,
            "last told": when(s.as_dict()["told_at"])[:10],
            "days": d,
        }
        for s, d in waiting
    ]
    click.echo(table(list(rows[0]), rows))
    click.echo(f"{len(rows)} owed news. Send the update email with: engage followups send")


@followups.command("send")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@click.pass_context
def followups_send(ctx: click.Context, yes: bool) -> None:
    """Send the update email ("where things stand") to everyone owed news."""
    ws = workspace(ctx)
    days = ctx.meta.get("engage.followup_days")
    waiting = service.owed(store(ctx), ws, days)
    if not waiting:
        click.echo("Nobody is owed news.")
        return
    if not yes:
        click.confirm(f"Send the update email to {len(waiting)} contributor(s)?", abort=True)
    told = service.send_followups(store(ctx), ws, signer(ws), days, actor=audit.command_line())
    click.echo(f"Sent {len(told.sent)} update email(s).")
    _report(told)
    if told.problems:
        ctx.exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(stories)
    cli.add_command(followups)
