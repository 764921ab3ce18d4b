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
    return "".join(lines)
