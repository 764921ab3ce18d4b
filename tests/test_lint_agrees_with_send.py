"""What `engage send` refuses about a campaign, `engage lint` reports first, in the same words:
one check, called by both. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from engage.render.findings import RULES
from engage.render.rules_links import local_reason

from .test_sending import KEY, PEOPLE, SLUG, outbox, smtp_config

PATH = f"campaigns/{SLUG}.md"
PICTURE = "(https://www.example.org/images/walking-group.jpg)"
PICTURE_FIX = (
    "Put the picture on your website (or another public place) and use its full https "
    "address, like ![Two people playing boccia](https://www.example.org/images/boccia.jpg)."
)
BASE_FIX = (
    "Set base_url in [web] of engage.toml to your web app's public https address, like "
    '"https://news.example.org". See docs/configuration.md.'
)


@pytest.fixture
def team(project, db_url, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    return project


def _errors(project) -> tuple[int, list[str]]:
    result = project.run("lint", SLUG)
    lines = result.output.splitlines()
    found = [line for i, line in enumerate(lines) if " error [" in line]
    return result.exit_code, found


def _agree(project, where: str, rule: str, message: str, fix: str) -> None:
    """lint: exit 1 with this error; send (dry run, asked, and --yes): exit 1, the same words,
    nothing sent."""
    code, errors = _errors(project)
    assert (code, errors) == (1, [f"{where}: error [{rule}] {message}"])
    refusal = (
        f"Error: {SLUG} has 1 lint error, so nothing was sent. {where}: {message} Fix: {fix}\n"
    )
    for args in (["--dry-run"], [], ["--yes", "--now"]):
        sent = project.run("send", SLUG, *args, input="y\n")
        assert (sent.exit_code, sent.stderr) == (1, refusal), args
        assert "Send it now?" not in sent.output  # refused before the question
    assert outbox(project) == {}


def test_an_unknown_audience(team) -> None:
    team.replace(PATH, 'audience = "newsletter"', 'audience = "newsletters"')
    _agree(
        team,
        f"{PATH}:4",
        "audience-unknown",
        f"No audience 'newsletters': looked for audiences/newsletters.toml in {team.root}. "
        "Did you mean 'newsletter'? Audiences here: contributors, newsletter.",
        "Change audience in the front matter to one of those, or add the audience file. "
        "See docs/audiences.md.",
    )


def test_an_audience_written_with_spaces_is_the_same_audience_for_both(team) -> None:
    team.replace(PATH, 'audience = "newsletter"', 'audience = " newsletter "')
    assert _errors(team) == (0, [])
    sent = team.run("send", SLUG, "--yes", "--now")
    assert sent.exit_code == 0, sent.output
    assert sorted(outbox(team)) == ["ann@example.org", "bo@example.org", "cy@example.org"]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("Line\\nbreak", "'Line\\nbreak'"),
        ("Line\\r\\nBcc: evil@example.org", "'Line\\r\\nBcc: evil@example.org'"),
        ("Line\\u2028break", "'Line\\u2028break'"),
    ],
)
def test_a_subject_with_a_line_break(team, written, shown) -> None:
    team.replace(PATH, 'subject = "Doing with', f'subject = "{written}. Doing with')
    _agree(
        team,
        f"{PATH}:2",
        "subject-line-break",
        f"The subject has a line break or control character in it: {shown[:-1]}. Doing with, "
        "not doing to: our winter news'.",
        "Put the subject on one line, with no \\n or \\r in it.",
    )


def test_a_test_copy_with_a_line_break_in_the_subject_is_refused_even_with_force(team) -> None:
    team.replace(PATH, 'subject = "Doing with', 'subject = "Line\\nbreak. Doing with')
    sent = team.run("send", SLUG, "--test-to", "me@example.org", "--force")
    assert sent.exit_code == 1
    assert sent.stderr.endswith(
        f"Error: {SLUG} has 1 lint error, so nothing was sent. {PATH}:2: The subject has a line "
        "break or control character in it: 'Line\\nbreak. Doing with, not doing to: our winter "
        "news'. Fix: Put the subject on one line, with no \\n or \\r in it.\n"
    )


def test_a_data_picture(team) -> None:
    team.replace(PATH, PICTURE, "(data:image/png;base64,iVBORw0KGgo=)")
    _agree(
        team,
        f"{PATH}:24",
        "image-data",
        "A picture is written into the email as data (a data: address). Many mail programs, "
        "like Gmail and Outlook, never show such pictures, and engage leaves it out.",
        PICTURE_FIX,
    )


@pytest.mark.parametrize("path", ["images/walking-group.jpg", "campaigns/walking-group.jpg"])
def test_a_picture_given_as_a_file_path(team, path) -> None:
    """Whether or not the file is there: an email has no folder to load it from."""
    if path.startswith("campaigns/"):
        team.write(path, "not really a picture")
    team.replace(PATH, PICTURE, f"({path})")
    _agree(
        team,
        f"{PATH}:24",
        "image-path",
        f"The picture {path} is a file path, not a web address. An email cannot load pictures "
        "from a folder, so nobody would see it.",
        PICTURE_FIX,
    )


def test_a_picture_over_http_or_on_this_computer(team) -> None:
    team.replace(PATH, PICTURE, "(http://www.example.org/walk.jpg)")
    _agree(
        team,
        f"{PATH}:24",
        "image-not-https",
        "The picture walk.jpg is at http://www.example.org/walk.jpg, which is not https. The "
        "web version blocks it, and anyone on the reader's network can see it being fetched.",
        "Use the picture's https:// address.",
    )
    team.replace(PATH, "(http://www.example.org/walk.jpg)", "(https://192.168.1.20/walk.jpg)")
    code, errors = _errors(team)
    assert (code, errors) == (
        1,
        [
            f"{PATH}:24: error [image-local] The picture walk.jpg is at "
            "https://192.168.1.20/walk.jpg, and 192.168.1.20 is a private network address: "
            "nobody who gets the email can see it."
        ],
    )


def test_a_picture_in_a_template_is_checked_too(team) -> None:
    team.replace(
        "templates/_layout.mjml.j2",
        "</mj-body>",
        '<mj-section><mj-column><mj-image src="images/logo.png" alt="Our logo" />'
        "</mj-column></mj-section></mj-body>",
    )
    lines = team.read("templates/_layout.mjml.j2").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "images/logo.png" in text)
    _agree(
        team,
        f"templates/_layout.mjml.j2:{line}",
        "image-path",
        "The picture images/logo.png is a file path, not a web address. An email cannot load "
        "pictures from a folder, so nobody would see it.",
        PICTURE_FIX,
    )


# --- where the links point ---------------------------------------------------------------------


def test_links_on_this_computer_are_refused_for_a_real_provider(team) -> None:
    smtp_config(team, 2525)  # points base_url at https://news.example.org
    team.replace(
        "engage.toml", 'base_url = "https://news.example.org"', 'base_url = "http://127.0.0.1:8025"'
    )
    line = team.read("engage.toml").splitlines().index('base_url = "http://127.0.0.1:8025"') + 1
    _agree(
        team,
        f"engage.toml:{line}",
        "base-url",
        "[web] base_url is http://127.0.0.1:8025, and 127.0.0.1 is this computer: nobody who "
        "gets the email can reach it, so the unsubscribe, preferences and web version links in "
        "every email would not work.",
        BASE_FIX,
    )


def test_plain_http_links_are_refused_for_a_real_provider(team) -> None:
    smtp_config(team, 2525)
    team.replace(
        "engage.toml",
        'base_url = "https://news.example.org"',
        'base_url = "http://news.example.org"',
    )
    line = team.read("engage.toml").splitlines().index('base_url = "http://news.example.org"') + 1
    _agree(
        team,
        f"engage.toml:{line}",
        "base-url",
        "[web] base_url is http://news.example.org, which is not https: one-click unsubscribe "
        "needs an https address (RFC 8058), and the links would not be private.",
        BASE_FIX,
    )


def test_allow_local_links_lets_a_send_on_one_computer_go_with_a_warning(team, monkeypatch) -> None:
    from .smtp_sink import SmtpSink

    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
    sink = SmtpSink(password="pw").start()
    try:
        smtp_config(team, sink.port)
        team.replace(
            "engage.toml",
            'base_url = "https://news.example.org"',
            'base_url = "http://localhost:8025"\nallow_local_links = true',
        )
        linted = team.run("lint", SLUG)
        assert linted.exit_code == 0
        assert (
            "engage.toml:21: warning [base-url-local-allowed] [web] base_url is "
            "http://localhost:8025, and localhost is a name for this computer or a private "
            "network: nobody who gets the email can reach it, so the unsubscribe, preferences "
            "and web version links in every email would not work.\n"
            "    Fix: allow_local_links = true in [web] lets this through, for trying engage on "
            "one computer. Before you send to other people, remove it and set base_url to your "
            'web app\'s public https address, like "https://news.example.org".\n'
        ) in linted.output
        sent = team.run("send", SLUG, "--yes", "--now")
        assert sent.exit_code == 0, sent.output
        assert len(sink.messages()) == 3
    finally:
        sink.stop()


def test_the_outbox_may_keep_links_on_this_computer(team) -> None:
    assert 'base_url = "http://127.0.0.1:8025"' in team.read("engage.toml")
    assert _errors(team) == (0, [])
    assert team.run("send", SLUG, "--yes", "--now").exit_code == 0
    assert len(outbox(team)) == 3


def test_a_send_on_one_computer_is_only_warned_and_a_picture_nobody_can_see_is_refused() -> None:
    severity = {
        rule: RULES[rule][0] for rule in ("image-local", "base-url-local-allowed", "base-url")
    }
    assert severity == {
        "image-local": "error",
        "base-url-local-allowed": "warning",
        "base-url": "error",
    }


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("localhost", "localhost is a name for this computer or a private network"),
        ("news.localhost", "news.localhost is a name for this computer or a private network"),
        ("printer.local", "printer.local is a name for this computer or a private network"),
        ("web.corp.internal", "web.corp.internal is a name for this computer or a private network"),
        ("intranet", "intranet is a name with no dot, which only a private network knows"),
        ("127.0.0.1", "127.0.0.1 is this computer"),
        ("127.8.9.10", "127.8.9.10 is this computer"),
        ("[::1]", "::1 is this computer"),
        ("0.0.0.0", "0.0.0.0 is this computer"),
        ("10.1.2.3", "10.1.2.3 is a private network address"),
        ("172.16.0.1", "172.16.0.1 is a private network address"),
        ("172.31.255.1", "172.31.255.1 is a private network address"),
        ("192.168.0.10", "192.168.0.10 is a private network address"),
        ("169.254.1.1", "169.254.1.1 is a private network address"),
        ("fd12::1", "fd12::1 is a private network address"),
        ("fe80::1", "fe80::1 is a private network address"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1 is this computer"),
        ("172.32.0.1", ""),
        ("news.example.org", ""),
        ("8.8.8.8", ""),
        ("2a00:1450::1", ""),
    ],
)
def test_which_hosts_nobody_else_can_reach(host, reason) -> None:
    assert local_reason(host) == reason
