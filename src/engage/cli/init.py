"""`engage init`: a new workspace, and what to do next."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from .. import starter


@click.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--organisation", "name", metavar="NAME", help="Your organisation's name.")
@click.option("--address", metavar="TEXT", help="Its postal address, shown in every email.")
@click.option(
    "--from",
    "sender",
    metavar="ADDRESS",
    help='Who your emails come from, like "Our news <news@example.org>".',
)
def init(folder: Path, name: str | None, address: str | None, sender: str | None) -> None:
    """Make a new workspace in FOLDER (default: this folder).

    It writes engage.toml (your settings, with notes), templates/ (the email layouts, web pages
    and emails engage sends), an example campaign and an example audience. It never changes a
    folder that has a workspace in it already.
    """
    made = starter.create(folder, name or "", address or "", sender or "")
    for line in next_steps(made, folder):
        click.echo(line)


def next_steps(made: starter.Made, folder: Path) -> list[str]:
    slug = starter.CAMPAIGN
    lines = [
        f"Made a new engage workspace in {made.root}:",
        "  engage.toml   your settings, with a note on each one",
        "  templates/    the email layouts, web pages and emails engage sends",
        f"  campaigns/    an example email: {slug}.md",
        "  audiences/    who gets it: newsletter.toml",
        "",
        "What to do next:",
    ]
    steps = []
    if folder.resolve() != Path.cwd().resolve():
        steps.append(f"Go to the new folder: cd {shlex.quote(str(folder))}")
    if made.placeholders:
        steps.append(
            "Open engage.toml. Put in your organisation's name and postal address, and the "
            "address your emails come from."
        )
    steps += [
        "Add yourself, to see what your readers will get: engage contacts add "
        'you@example.org --first-name Sam --tag newsletter --consent "I asked for the news"',
        f"Check the example email: engage lint {slug}",
        f"See it in your web browser: engage preview {slug}",
        "Make the secret key that signs the links in your emails. Keep a copy somewhere safe: "
        "links only work with the key they were made with.\n"
        f"     export ENGAGE_SECRET_KEY={KEY_COMMAND}",
        f"Try sending it, without sending anything: engage send {slug} --dry-run",
    ]
    lines += [f"  {number}. {step}" for number, step in enumerate(steps, 1)]
    lines += [
        "",
        "Before you send for real, choose how your email goes ([email] provider) and where "
        "your web app is ([web] base_url) in engage.toml. docs/configuration.md says how.",
    ]
    return lines


KEY_COMMAND = "\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\""


def register(cli: click.Group) -> None:
    cli.add_command(init)
