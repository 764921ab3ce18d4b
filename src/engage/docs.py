"""Reference pages made from the code itself, so they never drift: the CLI's --help text and
the lint rules. `scripts/gen_docs` writes them to docs/; a test checks they are up to date."""

from __future__ import annotations

import click

from .render.findings import RULES

GENERATED = "<!-- Made by scripts/gen_docs from the code. Do not edit by hand. -->\n\n"


def cli_reference(cli: click.Group) -> str:
    parts = [GENERATED, "# engage command reference\n"]
    for path, command in _commands(cli, ["engage"]):
        with click.Context(command, info_name=" ".join(path), terminal_width=80) as ctx:
            help_text = command.get_help(ctx)
        parts.append(f"\n## {' '.join(path)}\n\n```\n{help_text}\n```\n")
    return "".join(parts)


def _commands(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    """Every command under `command`, asked through click, so commands loaded lazily come too."""
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None:
                found += _commands(sub, [*path, name])
    return found


def lint_rules() -> str:
    lines = [
        GENERATED,
        "# Lint rules\n\n",
        "`engage lint CAMPAIGN` checks each campaign against these rules before it can be sent.\n",
        "An error stops the send; a warning is worth fixing; information is for you to know.\n\n",
        "| rule | severity | what it checks |\n|---|---|---|\n",
    ]
    lines += [f"| `{rule}` | {severity} | {text} |\n" for rule, (severity, text) in RULES.items()]
    return "".join(lines) + NOTES


NOTES = """
## Easy Read, and campaigns in more than one language

The `easy-read-*` rules check an Easy Read version (`campaigns/<slug>.easy-read.md`). Most
other rules check it too; the reading level is scored for the whole version, for beginner
readers, and `easy-read-capitals` takes the place of `capitals`.
[easy-read.md](easy-read.md) says why.

Each version beside a campaign (a translation like `news.cy.md`, an Easy Read version) is
checked as the campaign is, and a send is refused while any of them has an error. The
`translation-missing` and `easy-read-missing` warnings say how many people in the audience
will not get what they asked for, and what they get instead. The reading level is measured
for English only: its formula counts English syllables. See [languages.md](languages.md).

## Links and pictures that work for everyone

`base-url` is about the links engage puts in every email: unsubscribe, preferences and the
web version. They go to `[web] base_url`. When a real provider sends the email (smtp, mailgun,
postmark or sendgrid; not the outbox, which only writes files), that address must be https,
because one-click unsubscribe (`List-Unsubscribe-Post`, RFC 8058) needs https. It must also be
a place everyone can reach: not `localhost` or a `.localhost` name, not 127.x.x.x or `::1`, not
a private network (10.x.x.x, 172.16.x.x to 172.31.x.x, 192.168.x.x, 169.254.x.x, fc00::/7,
fe80::/10), and not a `.local`, `.internal`, `.lan` or `.home.arpa` name or a name with no dot.
Otherwise people get links that do nothing, and cannot stop your emails.

To try engage with a real mail server on one computer, `allow_local_links = true` in `[web]`
lets the send go; lint still warns (`base-url-local-allowed`). Remove it before you send to
anyone else.

Pictures must be full https web addresses too (`image-data`, `image-path`, `image-local`,
`image-not-https`). An email has no folder, so `images/walk.jpg` shows nothing. Many mail
programs, like Gmail and Outlook, never show a picture written into the email as data
(`data:image/png;base64,...`), and engage leaves such a picture out. Put the picture on your
website and use its address, like `![Two people playing boccia](https://www.example.org/images/boccia.jpg)`.

`engage send` runs lint first and refuses every error, in the same words. A subject with a line
break (`subject-line-break`) is refused even for a test copy with `--force`, because a line
break in a header could add headers of its own.

## Reading level

`reading-level` looks at each heading, paragraph and list item, and says in plain words what
makes it hard: the reading age it needs, many long words, or long sentences, with what to
change. The reading age is the Flesch-Kincaid grade plus 5, the usual way to turn a US school
grade into an age; "many long words" means a Flesch reading ease under the level's floor (70,
60 or 50). The campaign's `reading_level` sets the aim:

| reading_level | reading age | longest sentence | average sentence |
|---|---|---|---|
| `beginner` (the default) | 11 or under | 20 words | 15 words |
| `intermediate` | 14 or under | 25 words | 20 words |
| `general` | 17 or under | 30 words | 25 words |

Blocks of fewer than 5 words (a heading, a sign-off) are only checked for sentence length.

## Personal fields

`personal-field` is an error for any filter, test or slice on a `recipient` field in a
layout, such as `{{ recipient.first_name | upper }}` or `{% if recipient.first_name %}`.
engage puts in each person's details after the email is built, so the filter would print a
code into the email, or the test would come out the same for everyone. Print the field as it
is, or use `{{ recipient.greeting }}` ("Hello Sam," or "Hello,"). engage refuses every such
filter, not only some: see [templates.md](templates.md#personal-fields-are-printed-as-they-are).
"""
