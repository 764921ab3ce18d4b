"""Commands for contacts: import, add, list, show, unsubscribe, export, erase."""

from __future__ import annotations

from pathlib import Path

import click

from .. import erasure, langs, subscriptions
from ..contacts import audiences, core, life, records
from ..contacts.importer import Options, Report, import_file, problems, write_rejects
from ..errors import sentence
from ..store.schema import BASES, FORMATS, STATUSES
from ..team import audit
from .common import (
    format_option,
    json_pieces,
    people_csv_pieces,
    printable,
    store,
    table,
    when,
    workspace,
)

basis_option = click.option(
    "--basis",
    type=click.Choice(BASES),
    default="consent",
    show_default=True,
    help="The lawful basis: consent, or the charity soft opt-in (registered charities only).",
)
tag_option = click.option("--tag", "tags", multiple=True, help="A tag to give. Repeat for more.")


@click.group()
def contacts() -> None:
    """The people engage writes to, and the consent they gave."""


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@tag_option
@click.option("--source", default="", help="Where these people came from. Default: the file name.")
@click.option(
    "--consent", "wording", default="", help="The words people agreed to, as they saw them."
)
@basis_option
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write rows that could not be imported to this CSV file, with the reason.",
)
@click.option("--dry-run", is_flag=True, help="Check the file and report, but save nothing.")
@click.pass_context
def import_(
    ctx: click.Context,
    file: Path,
    tags: tuple[str, ...],
    source: str,
    wording: str,
    basis: str,
    rejects: Path | None,
    dry_run: bool,
) -> None:
    """Import people from a CSV FILE (columns: email, name, first_name, tags, format, ...).

    Exits 0 when every row went in, 3 when some rows were rejected, 1 when nothing could be
    imported. Addresses on the suppression list are never subscribed again.
    """
    _check_basis(ctx, basis)
    options = Options(
        basis=basis,
        source=source,
        wording=wording,
        actor=core.actor(),
        tags=frozenset(t.strip().lower() for t in tags if t.strip()),
        dry_run=dry_run,
    )
    report = import_file(store(ctx), file, options, shown=str(file))
    for line in describe(report):
        click.echo(line)
    if rejects and report.rejected:
        write_rejects(report, rejects)
        click.echo(f"Wrote the rejected rows to {rejects}. Fix them there, then import that file.")
    if not wording and report.consents:
        people = "1 person" if report.consents == 1 else f"{report.consents} people"
        click.echo(
            f"Note: no --consent wording was given, so the consent records for {people} "
            "have no wording."
        )
    ctx.exit(report.exit_code)


def describe(report: Report) -> list[str]:
    verb = ("Would add", "would update") if report.dry_run else ("Added", "updated")
    lines = [
        f"{verb[0]} {_n(report.added, 'new contact')}, {verb[1]} {report.updated}, "
        f"{report.unchanged} already up to date ({report.file})."
    ]
    if report.dry_run:
        lines.append("Dry run: nothing was saved.")
    if report.skipped:
        lines.append(f"Skipped {_n(len(report.skipped), 'address')} on the suppression list:")
        lines += [f"  line {n}: {printable(sentence(reason))}" for n, reason in report.skipped]
    if report.duplicates:
        lines.append(f"Left out {_n(len(report.duplicates), 'repeated row')}:")
        lines += [
            f"  line {line}: {printable(email)} is already on line {first}."
            for line, first, email in report.duplicates
        ]
    if report.rejected:
        lines.append(f"Rejected {_n(len(report.rejected), 'row')}:")
        lines += [f"  {printable(sentence(problems(row)))}" for row in report.rejected]
    return lines


def _n(count: int, word: str) -> str:
    plural = word + ("es" if word.endswith("ss") else "s")
    return f"{count} {word if count == 1 else plural}"


def _check_basis(ctx: click.Context, basis: str) -> None:
    if basis == "charity-soft-opt-in" and not workspace(ctx).config.organisation.charity_number:
        raise click.UsageError(
            "The charity soft opt-in is only for registered charities: set charity_number in "
            "[organisation] of engage.toml, or use --basis consent."
        )


@contacts.command()
@click.argument("email")
@click.option("--name", default="", help="Their full name.")
@click.option("--first-name", default="", help="The name to greet them by.")
@tag_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="html",
    show_default=True,
    help="How they want their emails.",
)
@click.option(
    "--lang",
    default="",
    help='The language they read, like cy or en-GB; two for both ("cy en-GB"). '
    "Default: [organisation] lang.",
)
@click.option("--consent", "wording", default="", help="The words they agreed to.")
@click.option("--source", default="manual", show_default=True, help="How they asked to join.")
@basis_option
@click.pass_context
def add(
    ctx: click.Context,
    email: str,
    name: str,
    first_name: str,
    tags: tuple[str, ...],
    fmt: str,
    lang: str,
    wording: str,
    source: str,
    basis: str,
) -> None:
    """Add one person who has agreed to hear from you."""
    _check_basis(ctx, basis)
    try:
        lang = langs.choice(lang)
    except langs.BadLanguage as exc:
        raise click.BadParameter(str(exc), ctx, param_hint="'--lang'") from None
    consent = core.ConsentGiven(basis=basis, method="manual", source=source, wording=wording)
    with store(ctx).begin() as connection:
        contact = life.add(
            connection,
            email,
            consent,
            name=name,
            first_name=first_name,
            format=fmt,
            lang=lang,
            tag_names={t.strip().lower() for t in tags if t.strip()},
        )
    click.echo(f"Added {printable(contact.email)} ({contact.status}).")


@contacts.command("list")
@click.option("--audience", help="Only the people in this audience (audiences/NAME.toml).")
@click.option("--tag", help="Only people with this tag.")
@click.option("--status", type=click.Choice(STATUSES), help="Only people with this status.")
@click.option(
    "--search",
    default="",
    help="Only people whose email address or name has this in it (any case).",
)
@format_option("table", "csv", "json")
@click.pass_context
def list_(
    ctx: click.Context,
    audience: str | None,
    tag: str | None,
    status: str | None,
    search: str,
    fmt: str,
) -> None:
    """List contacts, with their status, format and tags."""
    within = None
    if audience:
        within = audiences.member_ids(audiences.load(workspace(ctx), audience))
    text = core.clean_search(search)
    with store(ctx).connect() as connection:
        each = core.each_contact(connection, status=status, tag=tag, within=within, search=text)
        if fmt in ("json", "csv"):  # streamed: a million contacts in constant memory
            pieces = json_pieces if fmt == "json" else people_csv_pieces
            for piece in pieces(c.as_dict() for c in each):
                click.echo(piece, nl=False)
            return
        found = list(each)  # a table is sized to its widest cell: it needs every row first
    if not found:
        click.echo("No contacts match.")
    else:
        rows = [{**c.as_dict(), "tags": ", ".join(c.tags)} for c in found]
        click.echo(table(["email", "name", "status", "format", "tags"], rows))


@contacts.command()
@click.argument("email")
@click.pass_context
def show(ctx: click.Context, email: str) -> None:
    """Show one person: details, tags and consent history."""
    with store(ctx).connect() as connection:
        data = records.export(connection, email)
    click.echo(printable("\n".join(show_lines(data)), keep_newlines=True))


ORGANISATIONS = "the organisation's"  # a contact with no language of their own


def show_lines(data: dict) -> list[str]:
    contact = data["contact"]
    name = contact["name"] or contact["first_name"]
    attributes = ", ".join(f"{k}={v}" for k, v in sorted(contact["attributes"].items()))
    lines = [
        f"{name} <{contact['email']}>" if name else contact["email"],
        f"Status:     {contact['status']}",
        f"Format:     {contact['format']}",
        f"Language:   {contact.get('lang') or ORGANISATIONS}",
        f"Tags:       {', '.join(contact['tags']) or 'none'}",
        "Handles:    "
        + (", ".join(f"{h['handle']} ({h['network']})" for h in data["handles"]) or "none"),
        f"Attributes: {attributes or 'none'}",
        f"Added:      {when(contact['created_at'])}",
        "Consent history:",
    ]
    for record in data["consents"]:
        wording = f': "{record["wording"]}"' if record["wording"] else ""
        lines.append(
            f"  {when(record['recorded_at'])}  {record['action']} ({record['basis']}), "
            f"{record['method']}, source {record['source'] or 'not given'}, "
            f"by {record['actor'] or 'unknown'}{wording}"
        )
    if not data["consents"]:
        lines.append("  none")
    blocked = data["suppression"]
    lines.append(
        f"Suppressed: {blocked['reason']} since {when(blocked['since'])}"
        if blocked
        else "Suppressed: no"
    )
    lines.append("Timeline:")
    lines += [
        f"  {when(entry['at'])}  {entry['what']}"
        + (f": {entry['detail']}" if entry["detail"] else "")
        for entry in data["timeline"]
    ]
    return lines


@contacts.command()
@click.argument("email")
@click.argument("network", type=click.Choice(("mastodon", "bluesky", "x")))
@click.argument("handle")
@click.option("--remove", is_flag=True, help="Forget this handle instead.")
@click.pass_context
def handle(ctx: click.Context, email: str, network: str, handle: str, remove: bool) -> None:
    """Note a person's handle on a social network, so their replies there find them.

    HANDLE as the network shows it: sam@example.social (Mastodon), sam.bsky.social (Bluesky),
    sam (X). Replies already collected from that handle are matched to them too.
    """
    with store(ctx).begin() as connection:
        if remove:
            if not life.remove_handle(connection, email, network, handle):
                raise click.ClickException(f"{email} has no {network} handle {handle}.")
            click.echo(f"Removed the {network} handle {handle} from {email}.")
            return
        earlier = life.add_handle(connection, email, network, handle)
    shown = handle.strip().lstrip("@").lower()
    click.echo(
        f"{email} is {shown} on {network}."
        + (
            f" {earlier} earlier {'reply is' if earlier == 1 else 'replies are'} now theirs."
            if earlier
            else ""
        )
    )


@contacts.command()
@click.argument("email")
@click.pass_context
def unsubscribe(ctx: click.Context, email: str) -> None:
    """Unsubscribe a person who asked you to: they get no more emails.

    Their consent record and the audit log (`engage team log`) say you did it."""
    with store(ctx).begin() as connection:
        contact, changed = life.unsubscribe_for_them(
            connection, email, actor=audit.command_line(), source="engage contacts"
        )
    if not changed:
        click.echo(f"{printable(contact.email)} is {contact.status} already: nothing changed.")
        return
    click.echo(f"Unsubscribed {printable(contact.email)}. They will not get any more emails.")


@contacts.command("tag-signups")
@click.option("--dry-run", is_flag=True, help="Only list the people who would get the tags.")
@click.pass_context
def tag_signups(ctx: click.Context, dry_run: bool) -> None:
    """Give the sign-up tags to people who confirmed on the web form before engage gave them.

    Since this version, a sign-up gets the sign-up tags when they confirm ([web] signup_tags;
    when it is not set, the tags the newsletter audience needs). People who confirmed earlier
    have none, so they are not in the newsletter audience. This gives them the tags, once:
    running it again changes nothing. Nobody who chose their own topics is changed.
    """
    offer = subscriptions.offer(workspace(ctx))
    if not offer.tags:
        click.echo(
            "Sign-ups get no tags in this workspace, so there is nothing to give. See "
            "[web] signup_tags in docs/configuration.md."
        )
        return
    with store(ctx).begin() as connection:
        if dry_run:
            found = [email for _, email in subscriptions.earlier_signups(connection, offer)]
        else:
            found = subscriptions.tag_earlier_signups(connection, offer, core.actor())
    tags = ", ".join(offer.tags)
    if not found:
        click.echo(f"Everyone who signed up on the web form has the sign-up tags ({tags}).")
        return
    verb = "Would give" if dry_run else "Gave"
    people = "1 person" if len(found) == 1 else f"{len(found)} people"
    click.echo(f"{verb} the sign-up tags ({tags}) to {people}:")
    click.echo("\n".join(f"  {printable(email)}" for email in found))
    if dry_run:
        click.echo("Dry run: nothing was saved.")


@contacts.command()
@click.argument("email")
@click.pass_context
def export(ctx: click.Context, email: str) -> None:
    """Print everything held about a person, as JSON (for a subject access request).

    The audit log (`engage team log`) notes that you exported it."""
    with store(ctx).begin() as connection:
        data = records.subject_access(connection, email, actor=audit.command_line())
    click.echo(records.as_json(data), nl=False)


@contacts.command()
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask: erase at once.")
@click.pass_context
def erase(ctx: click.Context, email: str, yes: bool) -> None:
    """Erase a person and everything about them, keeping only a hash so they are never mailed.

    Their records, their replies' files and their emails in the outbox go, and the database is
    cleared of old copies of their rows (see docs/erasure.md)."""
    if not yes:
        click.confirm(f"Erase {email} and all their records? This cannot be undone", abort=True)
    erased = erasure.erase(store(ctx), workspace(ctx), email, actor=audit.command_line())
    click.echo(
        f"Erased {printable(email.strip())}. Only a hash is kept, so they are never mailed again."
    )
    if erased.emails:
        emails = "1 email" if erased.emails == 1 else f"{erased.emails} emails"
        click.echo(f"Removed {emails} to or about them from the outbox.")
    if erased.problem:
        click.echo(f"Problem: {erased.problem}", err=True)
        ctx.exit(1)
    click.echo("No old copy of their records is left in the database's files.")


def register(cli: click.Group) -> None:
    cli.add_command(contacts)
