"""A layout that filters or tests a personal field: lint names the file and line and says what
to write instead; build and every send refuse to go on, so no code reaches a reader."""

from __future__ import annotations

import re

import pytest

from engage import campaigns
from engage.errors import LintFailed
from engage.render.build import build, sample_recipient
from engage.workflow.lint import lint, require_clean

SLUG = "doing-with-not-doing-to"
LAYOUT = "templates/_layout.mjml.j2"
GREETING = "{{ recipient.greeting }}"
AFTER = "engage puts in each person's details after the email is built"
USE_GREETING = (
    'Write {{ recipient.greeting }}: it says "Hello Sam," or just "Hello," when we do not know '
    "a name."
)


@pytest.fixture(autouse=True)
def _people(project) -> None:
    """Someone in the newsletter audience, so lint has only the layout to talk about."""
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0


def greeting_line(project) -> int:
    return project.read(LAYOUT).splitlines().index("          <p>{{ recipient.greeting }}</p>") + 1


def findings_for(project, written: str) -> list[tuple[str, str, str, str]]:
    project.replace(LAYOUT, GREETING, written)
    ws = project.workspace
    found = lint(ws, campaigns.load(ws, SLUG))
    return [(f.rule, f.where, f.message, f.fix) for f in found if f.severity != "info"]


REFUSED = [
    (
        "{{ recipient.first_name | upper }}",
        f'The filter "upper" cannot work on recipient.first_name: {AFTER}, so the filter would '
        "print a code into the email.",
        "Write {{ recipient.first_name }}: names and addresses are shown the way each person "
        "gave them.",
    ),
    (
        "{{ recipient.name | title }}",
        f'The filter "title" cannot work on recipient.name: {AFTER}, so the filter would print '
        "a code into the email.",
        "Write {{ recipient.name }}: names and addresses are shown the way each person gave them.",
    ),
    (
        '{{ recipient.first_name | default("friend") }}',
        f'The filter "default" cannot work on recipient.first_name: {AFTER}, so the default '
        "would never be used.",
        USE_GREETING,
    ),
    (
        "{{ recipient.email | truncate(5) }}",
        f'The filter "truncate" cannot work on recipient.email: {AFTER}, so the filter would '
        "print a code into the email.",
        "Write {{ recipient.email }} on its own.",
    ),
    (
        "{{ recipient.name | e }}",
        f'The filter "e" cannot work on recipient.name: {AFTER}, so the filter has nothing to do.',
        "Write {{ recipient.name }}: engage makes each person's details safe in HTML by itself.",
    ),
    (
        "{% if recipient.first_name %}Hello {{ recipient.first_name }}{% endif %}",
        f"A test on recipient.first_name comes out the same for everyone: {AFTER}.",
        USE_GREETING,
    ),
    (
        '{{ "Hi" if recipient.email == "sam@example.org" else "Hello" }}',
        f"A test on recipient.email comes out the same for everyone: {AFTER}.",
        "Print {{ recipient.email }} without a test.",
    ),
    (
        "{{ recipient.first_name[0] }}",
        f"recipient.first_name cannot be cut up or changed in a template: {AFTER}.",
        "Write {{ recipient.first_name }} on its own.",
    ),
    (
        "{{ recipient.name.split()[0] }}",
        f"recipient.name cannot be cut up or changed in a template: {AFTER}.",
        "Write {{ recipient.name }} on its own.",
    ),
    (
        "{% set who = recipient.first_name %}{{ who | capitalize }}",
        f'The filter "capitalize" cannot work on recipient.first_name: {AFTER}, so the filter '
        "would print a code into the email.",
        "Write {{ recipient.first_name }}: names and addresses are shown the way each person "
        "gave them.",
    ),
    (
        "{% filter upper %}Hello {{ recipient.first_name }}{% endfilter %}",
        f'The filter "upper" cannot work on recipient.first_name: {AFTER}, so the filter would '
        "print a code into the email.",
        "Write {{ recipient.first_name }}: names and addresses are shown the way each person "
        "gave them.",
    ),
]


@pytest.mark.parametrize(("written", "message", "fix"), REFUSED)
def test_lint_refuses_work_on_a_personal_field(project, written, message, fix) -> None:
    line = greeting_line(project)
    assert findings_for(project, f"<p>{written}</p>") == [
        ("personal-field", f"{LAYOUT}:{line}", message, fix)
    ]


@pytest.mark.parametrize(
    "written",
    [
        "{{ recipient.first_name }}",
        '{{ "Hello " ~ recipient.first_name ~ "," }}',
        "{% set who = recipient.first_name %}{{ who }}",
        '{{ "Hello NAME," | replace("NAME", recipient.first_name) }}',
        "{{ campaign.subject | upper }}",
    ],
)
def test_printing_and_joining_a_personal_field_is_fine(project, written) -> None:
    assert findings_for(project, f"<p>{written}</p>") == []


def test_lint_in_the_cli_names_file_line_and_fix(project) -> None:
    line = greeting_line(project)
    project.replace(LAYOUT, GREETING, "Hello {{ recipient.first_name | upper }},")
    result = project.run("lint", SLUG)
    assert result.exit_code == 1
    assert result.output == (
        f'{LAYOUT}:{line}: error [personal-field] The filter "upper" cannot work on '
        f"recipient.first_name: {AFTER}, so the filter would print a code into the email.\n"
        "    Fix: Write {{ recipient.first_name }}: names and addresses are shown the way each "
        "person gave them.\n"
        # its Easy Read version has a layout of its own, without the filter
        f"campaigns/{SLUG}.easy-read.md: info [reading-time] About 2 minutes to read (220 "
        "words). As a whole, it is easy enough for beginner readers.\n"
        "1 error, 0 warnings. Fix the errors before this campaign can be sent.\n"
    )


def test_build_refuses_and_writes_nothing(project) -> None:
    line = greeting_line(project)
    project.replace("templates/newsletter.txt.j2", GREETING, "{{ recipient.first_name | upper }}")
    project.replace(LAYOUT, GREETING, "{{ recipient.first_name | lower }}")
    result = project.run("build", SLUG)
    assert result.exit_code == 1
    assert result.stderr == (
        f'Error: {LAYOUT}:{line}: The filter "lower" cannot work on recipient.first_name: '
        f"{AFTER}, so the filter would print a code into the email. Write "
        "{{ recipient.first_name }}: names and addresses are shown the way each person gave "
        "them.\n"
    )
    assert not (project.root / "build").exists()


def test_the_plain_text_layout_is_checked_too(project) -> None:
    project.replace("templates/newsletter.txt.j2", GREETING, "{{ recipient.first_name | upper }}")
    ws = project.workspace
    found = lint(ws, campaigns.load(ws, SLUG))
    assert [(f.rule, f.where) for f in found] == [
        ("personal-field", "templates/newsletter.txt.j2:1")
    ]


def test_a_send_is_refused(project) -> None:
    project.replace(LAYOUT, GREETING, "{{ recipient.first_name | upper }}")
    ws = project.workspace
    with pytest.raises(LintFailed) as caught:
        require_clean(ws, campaigns.load(ws, SLUG))
    assert str(caught.value) == (
        f'{SLUG} has 1 lint error, so nothing was sent. {LAYOUT}:56: The filter "upper" '
        f"cannot work on recipient.first_name: {AFTER}, so the filter would print a code into "
        "the email. Fix: Write {{ recipient.first_name }}: names and addresses are shown the "
        "way each person gave them."
    )


def test_a_change_lint_cannot_see_still_stops_the_build(project) -> None:
    """A macro hides the filter from lint; the build finds the changed code and stops."""
    project.replace(
        LAYOUT,
        GREETING,
        "{% macro shout(words) %}{{ words | upper }}{% endmacro %}{{ shout(recipient.first_name) }}",
    )
    result = project.run("build", SLUG)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: templates/newsletter.mjml.j2 changes a personal field (recipient...) on the "
        "way, so engage could not put each person's details in. Print each recipient field as "
        "it is, with no filter: see docs/templates.md.\n"
    )
    assert not (project.root / "build").exists()


def test_the_examples_print_the_readers_own_details(project) -> None:
    ws = project.workspace
    campaign = campaigns.load(ws, SLUG)
    built = build(ws, campaign)
    message = built.personalise(sample_recipient(ws, campaign))
    assert "Hello Sam," in message.html and "Hello Sam," in message.text
    code = re.compile(r"engage[0-9a-f]{8}f\d+x", re.IGNORECASE)
    assert not code.search(message.html) and not code.search(message.text)
