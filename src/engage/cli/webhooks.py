"""`engage webhooks problems`: provider events that engage kept but could not use."""

from __future__ import annotations

import click

from ..webhooks.store import Problem, problems
from .common import printable, store

SHOWN = 300  # characters of an unreadable event shown without --full


@click.group()
def webhooks() -> None:
    """What the email providers told engage through its webhooks."""


@webhooks.command("problems")
@click.option("--full", is_flag=True, help="Show each unreadable event whole, not the start.")
@click.pass_context
def problems_(ctx: click.Context, full: bool) -> None:
    """List the provider events engage kept but could not use.

    Two kinds. Events engage could not read: each is kept as it came, with the reason, and
    changed nothing; the provider was told it arrived, so it does not send it again. And
    events whose ids named an email that went to someone else: engage changed only the
    event's own recipient, and did not link it to that email.

    docs/webhooks.md says what to do about each.
    """
    with store(ctx).connect() as connection:
        found = problems(connection)
    if not found:
        click.echo("No problems: engage read every event and matched each to its own person.")
        return
    for problem in found:
        click.echo(_describe(problem, full))


def _describe(problem: Problem, full: bool) -> str:
    at = problem.received_at.strftime("%Y-%m-%d %H:%M UTC")
    who = f" for {problem.recipient}" if problem.recipient else ""
    if problem.kind == "someone-else":
        head = f"{at}  {problem.provider} {problem.event_type} event{who}: {problem.what}"
        return printable(head)
    head = printable(f"{at}  {problem.provider} event{who} could not be read: {problem.what}")
    raw = problem.raw if full or len(problem.raw) <= SHOWN else problem.raw[:SHOWN] + " ..."
    return f"{head}\n  {printable(raw)}"


def register(cli: click.Group) -> None:
    cli.add_command(webhooks)
