"""Each reader gets the version of a campaign for them: their language first (one email in both
for someone who asked for both), then their format (Easy Read when there is one, else large
print). Lint warns about who will miss out, the report counts who got what, and a version is
never sent on its own. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re

import pytest
import sqlalchemy as sa

from engage.config import load_workspace
from engage.render.findings import RULES
from engage.sending.editions import Editions
from engage.store import open_store
from engage.store.schema import contacts, deliveries
from engage.web import create_app

KEY = "versions-test-key"
AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

PEOPLE = """email,name,first_name,tags,format,lang
ann@example.org,Ann Ash,Ann,newsletter,html,
bryn@example.org,Bryn Bell,Bryn,newsletter,html,cy
cai@example.org,Cai Cole,Cai,newsletter,easy-read,
dee@example.org,Dee Dale,Dee,newsletter,easy-read,cy-GB
efa@example.org,Efa Ellis,Efa,newsletter,html,cy en-GB
fay@example.org,Fay Fox,Fay,newsletter,plain,cy
gwen@example.org,Gwen Gray,Gwen,newsletter,large-print,pl
"""

ENGLISH = "# Our news\n\nWe walked by the river on Saturday. It was a lovely day.\n"
WELSH = "# Ein newyddion\n\nCerddon ni ar hyd yr afon ddydd Sadwrn. Roedd hi'n ddiwrnod hyfryd.\n"
EASY = (
    "# Our news\n\n"
    "![A group of people walking by a river.](https://www.example.org/images/walk.png)\n"
    "We went for a walk by the river.\n"
    "It was a lovely day.\n"
)


@pytest.fixture
def team(project, monkeypatch, clock, db_url):
    """A campaign `news` with a Welsh translation and an Easy Read version, and seven people
    who asked for different things; one email in both languages for those who ask for both."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    clock.set(AT)
    project.replace(
        "engage.toml",
        '[languages]\noffered = ["cy"]',
        '[languages]\noffered = ["cy", "pl"]\nbilingual = ["cy", "en-GB"]',
    )
    project.campaign("news", ENGLISH, subject="Our news", audience="newsletter")
    project.write(
        "campaigns/news.cy.md",
        '+++\nsubject = "Ein newyddion"\npreheader = "Beth wnaethon ni y mis hwn."\n+++\n' + WELSH,
    )
    project.write(
        "campaigns/news.easy-read.md",
        '+++\nsubject = "Our news in Easy Read"\npreheader = "What we did this month."\n+++\n'
        + EASY,
    )
    path = project.write("people.csv", PEOPLE)
    result = project.run("contacts", "import", str(path), "--consent", "Yes please")
    assert result.exit_code == 0, result.output
    return project


def outbox(project, slug: str = "news") -> dict[str, email.message.EmailMessage]:
    found = {}
    for path in sorted((project.root / "outbox" / slug).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[str(message["To"]).split("<")[-1].rstrip(">")] = message
    return found


def html_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("html",))
    return part.get_content() if part is not None else ""


def test_each_person_gets_their_language_and_format(team) -> None:
    result = team.run("send", "news", "--yes", "--now")
    assert result.exit_code == 0, result.output + result.stderr
    mail = outbox(team)
    got = {
        who: (str(m["Subject"]), str(m["Content-Language"]), bool(html_of(m)))
        for who, m in mail.items()
    }
    assert got == {
        "ann@example.org": ("Our news", "en-GB", True),
        "bryn@example.org": ("Ein newyddion", "cy", True),
        "cai@example.org": ("Our news in Easy Read", "en-GB", True),
        "dee@example.org": ("Ein newyddion", "cy", True),  # no Welsh Easy Read: large print
        "efa@example.org": ("Ein newyddion / Our news", "cy, en-GB", True),
        "fay@example.org": ("Ein newyddion", "cy", False),  # plain text: no HTML part
        "gwen@example.org": ("Our news", "en-GB", True),  # not in Polish: English
    }
    assert '<html lang="cy"' in html_of(mail["bryn@example.org"])
    assert "Cerddon ni ar hyd yr afon" in html_of(mail["bryn@example.org"])
    assert "/archive/news.cy" in html_of(mail["bryn@example.org"])
    fay = mail["fay@example.org"].get_body(("plain",)).get_content()
    assert fay.startswith("Helo Fay,") and "Cerddon ni ar hyd yr afon" in fay
    assert "Dad-danysgrifio o'n negeseuon e-bost:\n" in fay.replace("\r\n", "\n")
    ann = mail["ann@example.org"].get_body(("plain",)).get_content()
    assert ann.startswith("Hello Ann,") and "Unsubscribe from our emails:" in ann
    both = html_of(mail["efa@example.org"])
    welsh, english = both.index('<div lang="cy">'), both.index('<div lang="en-GB">')
    assert welsh < both.index("Cerddon ni") < english < both.index("We walked by the river")
    assert "[Picture: A group of people walking by a river.]" in (
        mail["cai@example.org"].get_body(("plain",)).get_content()
    )
    assert "font-size:24px" in html_of(mail["dee@example.org"]).replace(" ", "")

    store = open_store(team.workspace)
    try:
        with store.connect() as connection:
            rows = connection.execute(
                sa.select(contacts.c.email, deliveries.c.variant, deliveries.c.lang)
                .join(contacts, contacts.c.id == deliveries.c.contact_id)
                .order_by(contacts.c.email)
            ).all()
    finally:
        store.engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("ann@example.org", "standard", "en-GB"),
        ("bryn@example.org", "standard", "cy"),
        ("cai@example.org", "easy-read", "en-GB"),
        ("dee@example.org", "large-print", "cy"),
        ("efa@example.org", "standard", "cy en-GB"),
        ("fay@example.org", "plain", "cy"),
        ("gwen@example.org", "large-print", "en-GB"),
    ]

    report = team.run("report", "news").output
    assert (
        "Formats: how many got each\n"
        "WHAT                                            NUMBER\n"
        "Email                                           3\n"
        "Large print                                     1\n"
        "Easy Read                                       1\n"
        "Large print, as there was no Easy Read version  1\n"
        "Plain text                                      1\n"
        "\n"
        "Languages: how many got each\n"
        "WHAT                           NUMBER\n"
        "Welsh (cy)                     3\n"
        "English (en-GB)                3\n"
        "Welsh and English (cy, en-GB)  1\n"
    ) in report


def test_the_archive_keeps_each_translation(team) -> None:
    assert team.run("send", "news", "--yes", "--now").exit_code == 0
    app = create_app(team.workspace, TESTING=True)
    try:
        client = app.test_client()
        welsh = client.get("/archive/news.cy")
        english = client.get("/archive/news")
        assert welsh.status_code == 200 and english.status_code == 200
        assert "Cerddon ni ar hyd yr afon" in welsh.get_data(as_text=True)
        assert "We walked by the river" in english.get_data(as_text=True)
        assert client.get("/archive/news.pl").status_code == 404  # no Polish version
        assert client.get("/archive/nothing.cy").status_code == 404
        team.write(  # written after the send: copied from its file when first asked for
            "campaigns/news.pl.md",
            '+++\nsubject = "Nasze wiadomości"\n+++\n# Nasze wiadomości\n\nSpacer nad rzeką.\n',
        )
        polish = client.get("/archive/news.pl")
        assert polish.status_code == 200
        assert "Spacer nad rzeką." in polish.get_data(as_text=True)
        assert team.run("archive", "remove", "news", "--yes").exit_code == 0
        assert client.get("/archive/news.cy").status_code == 410  # taken down with its campaign
    finally:
        app.extensions["engage"]["store"].engine.dispose()


def test_a_version_is_never_sent_on_its_own(team) -> None:
    result = team.run("send", "news.cy", "--yes", "--now")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: campaigns/news.cy.md is the Welsh version of news. Send news itself: each person "
        "gets the version that suits them.\n"
    )
    assert not (team.root / "outbox" / "news").exists()


def test_lint_says_who_misses_out_and_what_they_get(team) -> None:
    (team.root / "campaigns" / "news.easy-read.md").unlink()
    result = team.run("lint", "news")
    assert result.exit_code == 0, result.output
    assert (
        "campaigns/news.md: warning [easy-read-missing] 2 people in the audience asked for "
        "Easy Read, and this campaign has no Easy Read version for them, so they will get large "
        "print.\n    Fix: Write campaigns/news.easy-read.md: see docs/easy-read.md.\n"
    ) in result.output
    assert (
        "campaigns/news.md: warning [translation-missing] 1 person in the audience asked for "
        "Polish (pl), and this campaign is not in Polish, so they will get it in English.\n"
        "    Fix: Write campaigns/news.pl.md, the campaign in their language: see "
        "docs/languages.md.\n"
    ) in result.output


def test_lint_checks_each_version_as_the_campaign(team) -> None:
    team.write(
        "campaigns/news.cy.md",
        '+++\nsubject = "Ein newyddion"\naudience = "contributors"\n+++\n'
        "# Ein newyddion\n\n![](https://www.example.org/images/walk.png)\n",
    )
    later = (team.root / "campaigns" / "news.md").stat().st_mtime + 3600
    os.utime(team.root / "campaigns" / "news.md", (later, later))
    result = team.run("lint", "news")
    assert result.exit_code == 1
    found = re.findall(r"^(\S+): (\w+) \[([\w-]+)\]", result.output, re.M)
    assert ("campaigns/news.cy.md:7", "error", "image-alt-missing") in found
    assert ("campaigns/news.cy.md:3", "warning", "version-own-key") in found
    assert ("campaigns/news.cy.md:1", "warning", "preheader-missing") in found
    assert ("campaigns/news.cy.md", "warning", "version-older") in found
    assert ("campaigns/news.easy-read.md", "warning", "version-older") in found
    assert (
        "campaigns/news.cy.md:3: warning [version-own-key] audience is taken from "
        "campaigns/news.md, so every version goes out together; this one is not used.\n"
        "    Fix: Take audience out of campaigns/news.cy.md, and set it in campaigns/news.md."
    ) in result.output
    refused = team.run("send", "news", "--yes", "--now")
    assert refused.exit_code != 0
    assert "campaigns/news.cy.md:7" in refused.output + refused.stderr
    assert not (team.root / "outbox" / "news").exists()


def test_the_version_rules_and_what_they_stop() -> None:
    """Each is tested above; an unreadable version stops a send, the rest only warn."""
    assert {rule: RULES[rule][0] for rule in VERSION_RULES} == {
        "social-easy-read": "error",
        "version-unreadable": "error",
        "version-own-key": "warning",
        "version-older": "warning",
        "translation-missing": "warning",
        "easy-read-missing": "warning",
    }


VERSION_RULES = (
    "social-easy-read",
    "version-unreadable",
    "version-own-key",
    "version-older",
    "translation-missing",
    "easy-read-missing",
)


def test_a_version_that_cannot_be_read_stops_the_send(team) -> None:
    team.write("campaigns/news.cy.md", '+++\nsubject = "Ein newyddion\n+++\nTestun\n')
    result = team.run("lint", "news")
    assert result.exit_code == 1
    assert "[version-unreadable]" in result.output
    assert result.output.startswith("campaigns/news.cy.md:")
    assert team.run("send", "news", "--yes", "--now").exit_code != 0
    assert not (team.root / "outbox" / "news").exists()


@pytest.mark.parametrize(
    ("fmt", "lang", "expected"),
    [
        ("html", "", ("en-GB", "", "standard", False)),
        ("html", "cy", ("cy", "", "standard", False)),
        ("html", "CY-gb", ("cy", "", "standard", False)),
        ("easy-read", "", ("en-GB", "easy-read", "easy-read", False)),
        ("easy-read", "cy", ("cy", "", "large-print", True)),
        ("easy-read", "pl", ("en-GB", "easy-read", "easy-read", False)),
        ("plain", "cy en-GB", ("cy en-GB", "", "plain", False)),
        ("easy-read", "en-GB cy", ("cy en-GB", "", "large-print", True)),
        ("large-print", "pl cy", ("cy", "", "large-print", False)),
        ("html", "en", ("en-GB", "", "standard", False)),
    ],
)
def test_the_choice_for_each_reader(team, fmt, lang, expected) -> None:
    editions = Editions.of(load_workspace(team.root / "engage.toml"), _news(team))
    choice = editions.choose(fmt, lang)
    assert (*choice.key, choice.variant, choice.instead) == expected


def _news(project):
    from engage import campaigns

    return campaigns.load(load_workspace(project.root / "engage.toml"), "news")


def test_languages_in_the_import_and_contacts_add(team) -> None:
    path = team.write(
        "more.csv",
        "email,language,format\nhal@example.org,cy-gb,Easy Read\nida@example.org,klingon,html\n"
        "jo@example.org,cy en fr,html\n",
    )
    result = team.run("contacts", "import", str(path), "--consent", "Yes please")
    assert result.exit_code == 3  # some rows rejected
    assert (
        "line 3, column lang: 'klingon' is not a language tag engage knows; use a BCP 47 tag "
        "like en-GB, cy or pl"
    ) in result.output
    assert (
        "line 4, column lang: 'cy en fr' names more than two languages; choose one, or two for both"
    ) in result.output
    shown = team.run("contacts", "show", "hal@example.org").output.splitlines()
    assert shown[2:4] == ["Format:     easy-read", "Language:   cy-GB"]
    added = team.run("contacts", "add", "kit@example.org", "--lang", "cy en-GB", "--consent", "ok")
    assert added.exit_code == 0, added.output
    assert "Language:   cy en-GB" in team.run("contacts", "show", "kit@example.org").output
    bad = team.run("contacts", "add", "lu@example.org", "--lang", "zz-top")
    assert bad.exit_code == 2
    assert "Invalid value for '--lang': 'zz-top' is not a language tag engage knows" in bad.output


def test_bilingual_needs_two_offered_languages(project) -> None:
    project.replace(
        "engage.toml",
        '[languages]\noffered = ["cy"]',
        '[languages]\noffered = ["cy"]\nbilingual = ["cy"]',
    )
    result = project.run("campaigns", "list")
    assert result.exit_code != 0
    assert "languages.bilingual names two different languages" in result.output + result.stderr
    project.replace("engage.toml", 'bilingual = ["cy"]', 'bilingual = ["cy", "fr"]')
    result = project.run("campaigns", "list")
    assert (
        "languages.bilingual has fr, which is not in languages.offered: add it there too"
        in result.output + result.stderr
    )


def test_an_easy_read_version_has_no_posts_of_its_own(team) -> None:
    team.write(
        "campaigns/news.easy-read.md",
        '+++\nsubject = "Our news in Easy Read"\npreheader = "What we did this month."\n'
        '[social.outbox]\ntext = "Our news"\n+++\n' + EASY,
    )
    result = team.run("lint", "news")
    assert result.exit_code == 1
    found = re.findall(r"^(\S+): (\w+) \[([\w-]+)\]", result.output, re.M)
    assert ("campaigns/news.easy-read.md:4", "error", "social-easy-read") in found


def test_a_stopped_send_goes_on_with_each_person_once_in_their_version(team) -> None:
    """Stopped after 3 (as a kill or a --limit leaves it), the send goes on where it was:
    nobody gets two emails, and everyone still gets their own version."""
    first = team.run("send", "news", "--yes", "--now", "--limit", "3")
    assert first.exit_code == 0, first.output + first.stderr
    assert len(outbox(team)) == 3
    rest = team.run("send", "news", "--yes", "--now", "--resume")
    assert rest.exit_code == 0, rest.output + rest.stderr
    files = list((team.root / "outbox" / "news").glob("*.eml"))
    assert len(files) == 7
    subjects = {who: str(m["Subject"]) for who, m in outbox(team).items()}
    assert subjects == {
        "ann@example.org": "Our news",
        "bryn@example.org": "Ein newyddion",
        "cai@example.org": "Our news in Easy Read",
        "dee@example.org": "Ein newyddion",
        "efa@example.org": "Ein newyddion / Our news",
        "fay@example.org": "Ein newyddion",
        "gwen@example.org": "Our news",
    }
    again = team.run("send", "news", "--yes", "--now", "--resume")
    assert len(list((team.root / "outbox" / "news").glob("*.eml"))) == 7, again.output


def test_an_easy_read_version_that_cannot_be_built_is_one_finding_among_the_rest(team) -> None:
    team.write(
        "campaigns/news.easy-read.md",
        '+++\nsubject = "Easy"\npreheader = "News."\n+++\n# News\n\n- a list, not rows\n',
    )
    result = team.run("lint", "news")
    assert result.exit_code == 1
    assert result.output.startswith(
        "campaigns/news.easy-read.md:7: error [version-unreadable] an Easy Read version is "
        "written as rows, and this is a list."
    )
    assert "campaigns/news.md: info [reading-time]" in result.output  # the rest is linted
    refused = team.run("send", "news", "--yes", "--now")
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert not (team.root / "outbox" / "news").exists()


@pytest.mark.parametrize(
    ("name", "subject", "lang", "words"),
    [
        ("news.cy", "[Test] Ein newyddion", "cy", "Cerddon ni ar hyd yr afon"),
        ("news.easy-read", "[Test] Our news in Easy Read", "en-GB", "[Picture: A group of people"),
        ("news", "[Test] Our news", "en-GB", "We walked by the river"),
    ],
)
def test_a_test_copy_of_each_version(team, name, subject, lang, words) -> None:
    result = team.run("send", name, "--test-to", "me@example.org")
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.startswith(f"Sent a test copy of {name} to me@example.org through outbox.")
    [path] = (team.root / "outbox" / "news-test").glob("*.eml")
    sent = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert (str(sent["Subject"]), str(sent["Content-Language"])) == (subject, lang)
    assert words in sent.get_body(("plain",)).get_content()
    assert not (team.root / "outbox" / "news").exists()  # a test copy records nothing
