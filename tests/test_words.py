"""Messages a media team reads: a placeholder that does not exist, a TOML file that cannot be
read, each said in plain words with the file, the line and how to fix it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from engage import own_emails
from engage.errors import sentence
from engage.own_emails import StoryMailError
from tests.live_site import free_port

SEE = "Check the spelling; docs/templates.md (Story emails) lists each email's placeholders."
UPDATE = {
    "first_name": "Sam",
    "story": {"id": 7, "title": "Rugby changed my week", "status": "in-progress"},
    "link": "http://127.0.0.1:8025/story/tok3n",
    "next_update_by": "Tuesday 15 December",
    "status_words": "Your story is with our editor.",
}
UPDATE_NAMES = "first_name, link, next_update_by, note, organisation, status_words, story"
ORGANISATION = (
    "organisation.address, organisation.charity_number, organisation.lang, organisation.name, "
    "organisation.website"
)


def story_error(project, template: str = "update") -> str:
    with pytest.raises(StoryMailError) as caught:
        own_emails.render_story(project.workspace, template, UPDATE)
    return str(caught.value)


# --- Placeholders in the story emails ------------------------------------------------------


def test_a_misspelt_part_of_a_placeholder_in_a_story_email(project) -> None:
    project.replace(
        "templates/emails/update.txt.j2", "{{ status_words }}", "{{ organisation.nmae }}"
    )
    assert story_error(project) == (
        "templates/emails/update.txt.j2:6: there is no placeholder {{ organisation.nmae }}. "
        f"The placeholders under organisation are: {ORGANISATION}. {SEE}"
    )


def test_a_misspelt_placeholder_in_a_story_email(project) -> None:
    project.replace("templates/emails/update.html.j2", "{{ status_words }}", "{{ status_wrods }}")
    line = next(
        n
        for n, text in enumerate(project.read("templates/emails/update.html.j2").splitlines(), 1)
        if "status_wrods" in text
    )
    assert story_error(project) == (
        f"templates/emails/update.html.j2:{line}: there is no placeholder {{{{ status_wrods }}}}. "
        f"The placeholders you can use here are: {UPDATE_NAMES}. {SEE}"
    )


def test_a_misspelt_placeholder_in_a_story_email_layout(project) -> None:
    project.replace(
        "templates/emails/_layout.txt.j2", "{{ organisation.name }}", "{{ organistion.name }}"
    )
    message = story_error(project)
    assert message.startswith("templates/emails/_layout.txt.j2:")
    assert message.endswith(
        f": there is no placeholder {{{{ organistion }}}}. The placeholders you can use here "
        f"are: {UPDATE_NAMES}. {SEE}"
    )


def test_a_misspelt_placeholder_in_a_subject_line(project) -> None:
    project.replace(
        "templates/emails/subjects.toml",
        'update = "News about your story"',
        'update = "News about {{ story.titel }}"',
    )
    assert story_error(project) == (
        "templates/emails/subjects.toml:5: there is no placeholder {{ story.titel }}. The "
        f"placeholders under story are: story.id, story.status, story.title. {SEE}"
    )


def test_a_subject_line_with_a_broken_placeholder(project) -> None:
    project.replace(
        "templates/emails/subjects.toml",
        'update = "News about your story"',
        'update = "News about {{ story.title }"',
    )
    assert story_error(project) == (
        "templates/emails/subjects.toml:5: in the update subject line, a placeholder is not "
        "written right: it needs {{ at the start and }} at the end, like {{ organisation.name }}."
    )


def test_subjects_toml_that_cannot_be_read(project) -> None:
    project.replace(
        "templates/emails/subjects.toml",
        'update = "News about your story"',
        "update = News about your story",
    )
    assert story_error(project) == (
        "templates/emails/subjects.toml:5: subjects.toml cannot be read: text must be in double "
        'quotes. Write update = "News about your story".'
    )


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "{% if campaign.preheader %}{{ campaign.preheader }}",
            "the template ends before {% endif %}: every {% if %} needs one",
        ),
        (
            "{% if campaign.preheader %}{{ campaign.preheader }}{% endfor %}",
            "{% endfor %} does not belong here: the {% if %} above needs {% endif %}",
        ),
        ("{% iff campaign.preheader %}", "there is no {% iff %}: check the spelling"),
        (
            "{{ campaign.subject | }}",
            "a {{ }} or {% %} is not written the way templates need it (expected token 'name', "
            "got 'end of print statement')",
        ),
    ],
)
def test_template_syntax_mistakes_in_plain_words(project, written: str, said: str) -> None:
    project.replace("templates/newsletter.txt.j2", "{{ content }}", written)
    result = project.run("build", "doing-with-not-doing-to")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: templates/newsletter.txt.j2:")
    assert result.stderr.endswith(f": {said}.\n")


# --- TOML that cannot be read, in plain words ----------------------------------------------

TOML_CASES = [
    (
        'audience = "Our "big" news"',
        "there is more on the line after the closing quote. To put a double quote inside text, "
        'write \\" (like "Our \\"big\\" day"), or put single quotes around the text.',
    ),
    (
        'subject = "Our news',
        'the text has no closing quote. End it on the same line, or use three quotes (""") '
        "around text that runs over several lines.",
    ),
    (
        "subject = “Our news”",
        'the text is in curly quotes; TOML needs straight ones. Write subject = "Our news".',
    ),
    (
        "send_at = 10/12/2026",
        "this date and time is not written the way TOML needs it. Write it like "
        "2026-12-10T10:00:00Z (Z means UTC, the same as UK winter time), or with the offset "
        "from UTC, like 2026-06-10T10:00:00+01:00.",
    ),
    (
        "send_at = 2026-02-30T10:00:00Z",
        "this date or time does not exist. Check the month (1 to 12), the day, and the hour "
        "(0 to 23), like 2026-12-10T10:00:00Z.",
    ),
    (
        'reading level = "general"',
        'a setting needs = between its name and its value, like subject = "Our news". Names '
        "have no spaces: use _ instead, like reading_level.",
    ),
    (
        'audience = "newsletter"\naudience = "everyone"',
        "this setting or [section] is already given earlier in the file. Keep only one.",
    ),
    (
        "stories = [1 2]",
        "a list is not closed, or a comma is missing between its items. Write lists like "
        'tags = ["news", "events"].',
    ),
    ("kind = TRUE", "write true or false in small letters."),
    ("template =", 'there is no value after the =. Give one, like template = "Our news".'),
]


@pytest.mark.parametrize(("line", "said"), TOML_CASES)
def test_front_matter_toml_mistakes_in_plain_words(project, line: str, said: str) -> None:
    project.write(
        "campaigns/bad.md", f'+++\nsubject = "Hi"\npreheader = "Hello"\n{line}\n+++\n# Hi\n'
    )
    result = project.run("lint", "bad")
    assert result.exit_code == 1
    where = 4 + line.count("\n")
    assert result.stderr == (
        f"Error: campaigns/bad.md:{where}: the front matter cannot be read: {said}\n"
    )
    assert "column" not in result.stderr and "Invalid" not in result.stderr


def test_engage_toml_mistake_names_the_line(project) -> None:
    project.replace("engage.toml", 'provider = "outbox"', "provider = outbox")
    result = project.run("campaigns", "list")
    assert result.exit_code == 1
    line = project.read("engage.toml").splitlines().index("provider = outbox") + 1
    assert result.stderr == (
        f"Error: {project.root.resolve() / 'engage.toml'}:{line}: engage.toml cannot be read: "
        'text must be in double quotes. Write provider = "outbox".\n'
    )


def test_a_setting_of_the_wrong_kind_names_its_line(project) -> None:
    project.replace(
        "engage.toml", 'provider = "outbox"', 'provider = "outbox"\nrate_per_second = "10"'
    )
    result = project.run("campaigns", "list")
    assert result.exit_code == 1
    line = project.read("engage.toml").splitlines().index('rate_per_second = "10"') + 1
    assert result.stderr == (
        f'Error: engage.toml:{line}: email.rate_per_second must be a number, not the text "10"\n'
    )


def test_an_audience_file_mistake_in_plain_words(project) -> None:
    project.write("audiences/bad.toml", 'description = "Our news"\ntags_any = [newsletter]\n')
    result = project.run("audiences", "show", "bad")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: audiences/bad.toml:2: the audience file cannot be read: text must be in double "
        'quotes. Write "newsletter".\n'
    )


# --- engage serve says what matters, not Alembic's log lines -------------------------------


def _serve_output(project, port: int) -> str:
    """Start `engage serve`, wait until it says it is serving, stop it, and give its output."""
    env = {**os.environ, "ENGAGE_SECRET_KEY": "k" * 32, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "engage", "--workspace", str(project.root), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("engage is serving"):
                break
    finally:
        process.terminate()
        process.wait(timeout=20)
    return "".join(lines)


def test_serve_on_a_new_database_says_so_and_nothing_else(project) -> None:
    port = free_port()
    said = _serve_output(project, port)
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(
        f"{stamp} \\| Set up a new database in {re.escape(str(project.root / 'engage.db'))}\n"
        f"engage is serving http://127.0.0.1:{port}/ \\(links in emails use "
        "http://127.0.0.1:8025\\). Press Ctrl\\+C to stop.\n",
        said,
    ), said
    again = _serve_output(project, port)
    assert again == (
        f"engage is serving http://127.0.0.1:{port}/ (links in emails use "
        "http://127.0.0.1:8025). Press Ctrl+C to stop.\n"
    )
    assert "alembic" not in said + again and "Context impl" not in said + again


# --- No doubled full stops -----------------------------------------------------------------

# Two stops (not an ellipsis), or a stop after ? ! , : ; — the mark of a message built by
# adding "." to words that already ended a sentence. Paths like ../x are not sentences.
DOUBLED = re.compile(r"(?<![.])[.?!,:;]\.(?![./\w])|[.?!]\s+\.(?!\.)")


def _break_the_example(project) -> None:
    """The example newsletter's picture loses its alt text: a lint error."""
    path = "campaigns/doing-with-not-doing-to.md"
    project.write(path, re.sub(r"!\[[^\]]+\]", "![]", project.read(path), count=1))


FAILING = {
    "run with a campaign that has lint errors": (_break_the_example, ["run"]),
    "send with lint errors": (_break_the_example, ["send", "doing-with-not-doing-to", "--yes"]),
    "a test copy to no address": (None, ["send", "doing-with-not-doing-to", "--test-to", "sam@"]),
    "a contacts file with bad rows": (
        lambda p: p.write("bad.csv", "email,format\nnot-an-email,html\nsam@example.org,braille\n"),
        ["contacts", "import", "bad.csv"],
    ),
    "a contacts file that is missing": (None, ["contacts", "import", "missing.csv"]),
    "front matter that is not TOML": (
        lambda p: p.write("campaigns/bad.md", '+++\nsubject = "Hi?"\nkind = newsletter\n+++\n'),
        ["lint", "bad"],
    ),
    "a placeholder that does not exist": (
        lambda p: p.replace("templates/_layout.mjml.j2", "{{ lang }}", "{{ langauge }}"),
        ["build", "doing-with-not-doing-to"],
    ),
    "a filter on a personal field": (
        lambda p: p.replace(
            "templates/newsletter.txt.j2", GREETING, "{{ recipient.name | upper }}"
        ),
        ["lint", "doing-with-not-doing-to"],
    ),
    "an audience that cannot be read": (
        lambda p: p.write("audiences/bad.toml", "tags_any = newsletter\n"),
        ["audiences", "show", "bad"],
    ),
    "a setting of the wrong kind": (
        lambda p: p.replace("engage.toml", 'provider = "outbox"', "provider = 3"),
        ["campaigns", "list"],
    ),
    "no such story": (None, ["stories", "show", "99"]),
    "no such reply": (None, ["replies", "show", "99"]),
    "no such campaign": (None, ["report", "spring-news"]),
    "a workspace that is there already": (None, ["init", "."]),
}
GREETING = "{{ recipient.greeting }}"


@pytest.mark.parametrize("case", list(FAILING))
def test_messages_never_end_a_sentence_twice(project, clock, monkeypatch, case: str) -> None:
    prepare, args = FAILING[case]
    if prepare:
        prepare(project)
    clock.advance(days=3)  # the example newsletter is due
    monkeypatch.setenv("ENGAGE_SECRET_KEY", "k" * 32)
    monkeypatch.chdir(project.root)
    result = project.run(*args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert DOUBLED.findall(result.output) == [], result.output


def test_run_says_its_problems_with_one_full_stop(project, clock, monkeypatch) -> None:
    _break_the_example(project)
    clock.advance(days=3)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", "k" * 32)
    result = project.run("run")
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "1 problem(s): doing-with-not-doing-to: doing-with-not-doing-to has 1 lint error, so "
        "nothing was sent. campaigns/doing-with-not-doing-to.md:24: The image walking-group.jpg "
        "has no alt text. Fix: Describe what the picture shows: ![Two people playing "
        "boccia](https://www.example.org/boccia.jpg).\n"
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Bad key", "Bad key."),
        ("Bad key.", "Bad key."),
        ("Is the server running?", "Is the server running?"),
        ("Stop!", "Stop!"),
        ("Wait…", "Wait…"),
        ("Trailing space.  ", "Trailing space."),
    ],
)
def test_sentence_ends_once(text: str, said: str) -> None:
    assert sentence(text) == said
