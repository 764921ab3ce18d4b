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
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _commands(command.commands[name], [*path, name])
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
