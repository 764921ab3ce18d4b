"""The emails a story's contributor gets: what they say, how they read, and how they are sent."""

from __future__ import annotations

import email
import email.policy
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engage import own_emails
from engage.email.base import Outcome
from engage.errors import EngageError, TryLater
from engage.own_emails import StoryMailError
from engage.providers.outbox import Outbox
from engage.render import readability
from engage.stories import messages

from .browser import axe, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401

LINK = "http://127.0.0.1:8025/story/tok3n?from=email&v=1"
PUBLISHED = "https://www.example.org/stories/sam-rugby"
PLACES = [
    {"words": "in our newsletter “December news”", "url": "https://www.example.org/archive/dec"},
    {"words": "on Mastodon", "url": "https://mastodon.example/@gya/112233"},
    {"words": "on our social media", "url": ""},
]
FULL = {
    "first_name": "Sam",
    "story": {"id": 7, "title": "Rugby changed my week", "status": "in-progress"},
    "link": LINK,
    "published_link": PUBLISHED,
    "day": "Tuesday 1 December",
    "places": PLACES,
    "next_update_by": "Tuesday 15 December",
    "note": "We are picking a photo with you in mind.",
    "status_words": "Your story is with our editor. She will read it this week.",
}
BARE = {key: value for key, value in FULL.items() if key not in ("first_name", "note")}

SUBJECTS = {
    "acknowledgement": "Thank you for your story",
    "draft": "Your story is ready for you to check",
    "update": "News about your story",
    "published": "We have published your story",
    "declined": "We are not able to use your story this time",
    "went-out": "Your story went out on Tuesday 1 December",
}

EVERY = pytest.mark.parametrize("template", own_emails.TEMPLATES)


def outbox(project, kind: str) -> list[email.message.EmailMessage]:
    folder = project.root / "outbox" / "system" / kind
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


class Structure(HTMLParser):
    """What a basic accessibility check needs from an HTML email."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.title = ""
        self.h1: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.images = 0
        self._open: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""
        if tag == "img":
            self.images += 1
        if tag in ("title", "h1", "a"):
            self._open.append(tag)
            self._text = []
            self._href = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == self._open[-1]:
            self._open.pop()
            text = " ".join("".join(self._text).split())
            if tag == "title":
                self.title = text
            elif tag == "h1":
                self.h1.append(text)
            else:
                self.links.append((self._href, text))

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def structure(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    return parser


def test_the_six_story_emails() -> None:
    assert own_emails.TEMPLATES == (
        "acknowledgement",
        "draft",
        "update",
        "published",
        "declined",
        "went-out",
    )
    assert set(SUBJECTS) == set(own_emails.TEMPLATES)


@EVERY
def test_subject_lines(project, template: str) -> None:
    assert own_emails.render_story(project.workspace, template, FULL).subject == SUBJECTS[template]


@EVERY
def test_full_context_greets_by_name_and_shows_the_note(project, template: str) -> None:
    rendered = own_emails.render_story(project.workspace, template, FULL)

    assert rendered.text.startswith("Hello Sam,\n\n")
    assert "We are picking a photo with you in mind.\n" in rendered.text
    assert "<p>Hello Sam,</p>" in rendered.html
    assert "<p>We are picking a photo with you in mind.</p>" in rendered.html


@EVERY
def test_no_name_and_no_note(project, template: str) -> None:
    rendered = own_emails.render_story(project.workspace, template, BARE)

    assert rendered.text.startswith("Hello,\n\n")
    assert "<p>Hello,</p>" in rendered.html
    assert "photo with you" not in rendered.text + rendered.html
    assert "\n\n\n" not in rendered.text
    assert rendered.text.endswith("Leeds LS1 1AA.\nhttps://www.example.org\n")
    assert all(line == line.rstrip() for line in rendered.text.splitlines())


def test_an_empty_name_and_note_are_the_same_as_none(project) -> None:
    given = {**BARE, "first_name": "", "note": None}
    assert own_emails.render_story(project.workspace, "update", given) == own_emails.render_story(
        project.workspace, "update", BARE
    )


@EVERY
def test_every_email_has_the_private_link_and_says_reply(project, template: str) -> None:
    text = own_emails.render_story(project.workspace, template, BARE).text

    assert f"\n{LINK}\nThis link is just for you, so please do not share it.\n" in text
    assert "Just reply to this email." in text
    assert "The team at Get Yourself Active\n" in text


def test_acknowledgement_says_what_happens_next_and_when(project) -> None:
    text = own_emails.render_story(project.workspace, "acknowledgement", BARE).text

    assert "Thank you for sharing your story with us." in text
    assert "Here is what happens next:\n- We will read your story with care.\n" in text
    assert "Nothing goes out until you say yes." in text
    assert (
        "We will write to you again by Tuesday 15 December. "
        "We will do this even if we have no news yet.\n"
    ) in text


def test_draft_asks_for_approval_and_where_it_may_appear(project) -> None:
    text = own_emails.render_story(project.workspace, "draft", BARE).text

    assert f"Open this link to read your story:\n{LINK}\n" in text
    assert "- say yes, it is ready to share\n- ask us to change something\n" in text
    assert "- choose if we use your name and photo\n" in text
    assert "We will check in with you by Tuesday 15 December." in text


def test_update_says_where_things_stand(project) -> None:
    text = own_emails.render_story(project.workspace, "update", BARE).text

    assert (
        "Here is some news about your story.\n\n"
        "Your story is with our editor. She will read it this week.\n\n"
        "Sometimes there is not much to tell."
    ) in text
    assert "We will write to you again by Tuesday 15 December.\n" in text


def test_update_after_a_withdrawal_says_goodbye(project) -> None:
    given = {
        **BARE,
        "story": {"id": 7, "title": "Rugby", "status": "withdrawn"},
        "status_words": "You took your story back. We will not use it.",
    }
    rendered = own_emails.render_story(project.workspace, "update", given)

    assert rendered.text.startswith(
        "Hello,\n\nHere is some news about your story.\n\n"
        "You took your story back. We will not use it.\n\n"
        "We will not write to you about this story again. Thank you for being part of it.\n\n"
        "Got a question? Just reply to this email.\n\nThank you,\n"
    )
    assert LINK not in rendered.text
    assert "Tuesday 15 December" not in rendered.text + rendered.html
    assert "write to you again" not in rendered.html


def test_published_gives_the_link_and_thanks(project) -> None:
    rendered = own_emails.render_story(project.workspace, "published", BARE)

    assert f"You can read it here:\n{PUBLISHED}\n" in rendered.text
    assert "Thank you so much for sharing it with us." in rendered.text
    assert "Disabled people" in rendered.text
    assert (PUBLISHED, "Read your story") in structure(rendered.html).links


def test_declined_is_kind_and_thanks_them(project) -> None:
    given = {**BARE, "note": "We had many stories about rugby this year."}
    text = own_emails.render_story(project.workspace, "declined", given).text

    assert text.startswith(
        "Hello,\n\nThank you for sharing your story with us. "
        "We know it takes time and care to do that.\n\n"
        "We are sorry, but we are not able to use your story this time.\n\n"
        "We had many stories about rugby this year.\n\n"
        "We will not share your story anywhere.\n"
    )
    assert "want to stop taking part" not in text


def test_went_out_lists_each_place_in_plain_words(project) -> None:
    rendered = own_emails.render_story(project.workspace, "went-out", BARE)

    assert (
        "Your story went out on Tuesday 1 December. Thank you for letting us share it.\n\n"
        "Here is where it went out:\n"
        "- in our newsletter “December news”: https://www.example.org/archive/dec\n"
        "- on Mastodon: https://mastodon.example/@gya/112233\n"
        "- on our social media\n\n"
    ) in rendered.text
    links = structure(rendered.html).links
    assert ("https://www.example.org/archive/dec", "in our newsletter “December news”") in links
    assert ("https://mastodon.example/@gya/112233", "on Mastodon") in links
    assert "<li>on our social media</li>" in rendered.html


@EVERY
def test_html_structure(project, template: str) -> None:
    rendered = own_emails.render_story(project.workspace, template, FULL)
    found = structure(rendered.html)

    assert found.lang == "en-GB"
    assert found.title == SUBJECTS[template]
    assert found.h1 == [SUBJECTS[template]]
    assert found.images == 0
    assert found.links, "no links at all"
    for href, text in found.links:
        assert href.startswith(("http://", "https://")), href
        assert len(text.split()) >= 1, f"link to {href} has no text"
    # Both parts say the same thing: every address in the text is a link in the HTML.
    text_urls = set(re.findall(r"https?://\S+", rendered.text))
    assert text_urls == {href for href, _ in found.links}


def test_html_is_escaped_and_text_is_not(project) -> None:
    given = {**BARE, "first_name": "Sam <b>", "note": "Tom & Jo say hi."}
    rendered = own_emails.render_story(project.workspace, "update", given)

    assert "Hello Sam <b>,\n" in rendered.text
    assert "Tom & Jo say hi." in rendered.text
    assert "<p>Hello Sam &lt;b&gt;,</p>" in rendered.html
    assert "<p>Tom &amp; Jo say hi.</p>" in rendered.html
    assert 'href="http://127.0.0.1:8025/story/tok3n?from=email&amp;v=1"' in rendered.html


def body_blocks(text: str) -> list[str]:
    """Each line as lint's `blocks` gives a paragraph or list item, less the postal address."""
    found = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line or line == "Get Yourself Active, 12 Example Street, Leeds LS1 1AA.":
            continue
        found.append(line if line.endswith((".", "!", "?", "…", ":")) else line + ".")
    return found


TEAM = {
    "story": {"id": 7, "title": "Rugby changed my week", "status": "withdrawn"},
    "contributor": "sam@example.org",
    "how": "They did this on their story page.",
    "reason": "",
    "take_down": [
        {"campaign": "december", "channel": "newsletter", "link": PLACES[0]["url"], "at": ""},
        {"campaign": "december", "channel": "mastodon", "link": "", "at": ""},
    ],
    "version": 2,
    "comment": "Please say I play for Leeds.",
    "choices": [
        {"words": "In our email newsletter", "answer": "yes", "changed": False},
        {"words": "On our website", "answer": "yes", "changed": True},
        {"words": "Using their photo", "answer": "no", "changed": False},
    ],
}


WITHDRAWN = {**BARE, "story": {"id": 7, "title": "", "status": "withdrawn"}}
READ = [(t, BARE) for t in own_emails.TEMPLATES] + [("update", WITHDRAWN)]
READ += [(t, TEAM) for t in own_emails.TEAM_TEMPLATES]


@pytest.mark.parametrize(
    ("template", "context"), READ, ids=[f"{t}-{i}" for i, (t, _) in enumerate(READ)]
)
def test_every_text_email_reads_at_beginner_level(project, template: str, context: dict) -> None:
    """The same check lint's reading-level rule makes of a campaign, block by block."""
    level = readability.LEVELS["beginner"]
    blocks = body_blocks(own_emails.render_story(project.workspace, template, context).text)
    if template in own_emails.TEAM_TEMPLATES + ("went-out",):  # lists of names, not sentences
        blocks = [block for block in blocks if not block.startswith("- ")]

    hard = {
        block: reasons
        for block in blocks
        if (reasons := readability.problems(readability.score_text(block), level))
    }
    whole = readability.score_text(" ".join(blocks))

    assert hard == {}
    assert readability.problems(whole, level) == []


def test_missing_and_empty_variables_are_named(project) -> None:
    ws = project.workspace
    with pytest.raises(StoryMailError) as missing:
        own_emails.render_story(ws, "draft", {"link": LINK})
    with pytest.raises(StoryMailError) as empty:
        own_emails.render_story(ws, "went-out", {**BARE, "places": [], "link": ""})

    assert str(missing.value) == (
        "templates/emails/draft.txt.j2:16: there is no placeholder {{ next_update_by }}. The "
        "placeholders you can use here are: first_name, link, note, organisation. Check the "
        "spelling; docs/templates.md (Story emails) lists each email's placeholders."
    )
    assert str(empty.value) == (
        "The went-out story email needs link and places, and they were empty. "
        "See docs/templates.md, Story emails."
    )


def test_each_email_asks_only_for_its_own_variables(project) -> None:
    common = {"first_name", "note", "organisation", "link", "subject", "language"}
    asks = {t: own_emails.placeholders(project.workspace, t) - common for t in own_emails.TEMPLATES}

    assert asks == {
        "acknowledgement": {"next_update_by"},
        "draft": {"next_update_by"},
        "update": {"next_update_by", "status_words", "story"},
        "published": {"published_link"},
        "declined": set(),
        "went-out": {"day", "places"},
    }


TEAM_END = (
    "They did this on their story page.\n\n"
    "To see the whole story, run: engage stories show 7\n\n"
    "Sent by engage for Get Yourself Active.\n"
)


def test_the_team_hears_where_to_take_a_withdrawn_story_down(project) -> None:
    given = {**TEAM, "reason": "I changed my mind."}
    rendered = own_emails.render_story(project.workspace, "team-withdrawn", given)

    assert rendered.subject == "Story 7 was taken back: please stop using it"
    assert rendered.text == (
        "Hello,\n\n"
        'This is about story 7, "Rugby changed my week", from sam@example.org.\n\n'
        "They have taken their story back. Please stop using it.\n\n"
        "They said why: I changed my mind.\n\n"
        "Please take it down from each place it went out:\n"
        "- newsletter, in december: https://www.example.org/archive/dec (to take this "
        'web page down, run: engage archive remove december --note "story 7 withdrawn")\n'
        "- mastodon, in december: we have no link\n\n"
        "We cannot take back emails that we have already sent.\n\n" + TEAM_END
    )
    found = structure(rendered.html)
    assert found.h1 == [rendered.subject]
    assert found.links == [(PLACES[0]["url"], "Open it on newsletter")]


def test_the_team_hears_even_when_there_is_nothing_to_take_down(project) -> None:
    outcome = messages.send(
        project.workspace, "news@example.org", "team-withdrawn", {**TEAM, "take_down": []}
    )

    [sent] = outbox(project, "story-team-withdrawn")
    text = sent.get_body(("plain",)).get_content()
    assert outcome.sent
    assert sent["Subject"] == "Story 7 was taken back: please stop using it"
    assert "It has not gone out anywhere yet, so there is nothing to take down." in text
    assert "They said why" not in text


def test_the_team_hears_when_a_contributor_approves(project) -> None:
    rendered = own_emails.render_story(project.workspace, "team-approved", TEAM)

    assert rendered.subject == "Story 7 is approved by its contributor"
    assert rendered.text == (
        "Hello,\n\n"
        'This is about story 7, "Rugby changed my week", from sam@example.org.\n\n'
        "Good news: they said yes to draft 2.\n\n"
        "They said: Please say I play for Leeds.\n\n"
        "Where they said it may appear:\n"
        "- In our email newsletter: yes\n"
        "- On our website: yes\n"
        "- Using their photo: no\n\n"
        "Once it is out, tell them with: engage stories set 7 published --link URL\n\n" + TEAM_END
    )
    assert structure(rendered.html).h1 == [rendered.subject]


def test_the_team_hears_when_a_contributor_asks_for_changes(project) -> None:
    given = {**TEAM, "comment": "Please say I play for Leeds.\nAnd that I love it."}
    rendered = own_emails.render_story(project.workspace, "team-changes", given)

    assert rendered.subject == "Story 7: the contributor asks for changes"
    assert rendered.text == (
        "Hello,\n\n"
        'This is about story 7, "Rugby changed my week", from sam@example.org.\n\n'
        "They read draft 2 and asked for changes:\n\n"
        "Please say I play for Leeds.\nAnd that I love it.\n\n"
        "When the new draft is ready, send it with: engage stories draft 7 FILE.md\n\n" + TEAM_END
    )
    assert "<p>Please say I play for Leeds.</p>\n<p>And that I love it.</p>" in rendered.html


def test_the_team_hears_when_a_contributor_changes_their_choices(project) -> None:
    rendered = own_emails.render_story(project.workspace, "team-choices", TEAM)

    assert rendered.subject == "Story 7: the contributor changed where it may appear"
    assert rendered.text == (
        "Hello,\n\n"
        'This is about story 7, "Rugby changed my week", from sam@example.org.\n\n'
        "They changed where their story may appear.\n\n"
        "What they changed:\n"
        "- On our website: now yes\n\n"
        "Where it may appear now:\n"
        "- In our email newsletter: yes\n"
        "- On our website: yes\n"
        "- Using their photo: no\n\n"
        "engage lint checks each campaign against these answers.\n\n" + TEAM_END
    )


def test_the_team_hears_when_a_contributor_asks_us_to_stop_writing(project) -> None:
    given = {**TEAM, "story": {**TEAM["story"], "status": "in-progress"}}
    given["how"] = "They said it in a reply to us (see it with: engage replies show 4)."
    rendered = own_emails.render_story(project.workspace, "team-stopped", given)

    assert rendered.subject == "Story 7: the contributor asked us to stop writing"
    assert rendered.text == (
        "Hello,\n\n"
        'This is about story 7, "Rugby changed my week", from sam@example.org.\n\n'
        "They replied asking us to stop writing to them, so engage took them off our "
        "newsletter. Their story is still in-progress.\n\n"
        "They wrote: Please say I play for Leeds.\n\n"
        "Did they mean their story too? If so, take it back for them: engage stories set 7 "
        "withdrawn\n\n"
        "They said it in a reply to us (see it with: engage replies show 4).\n\n"
        "To see the whole story, run: engage stories show 7\n\n"
        "Sent by engage for Get Yourself Active.\n"
    )


def test_an_unknown_email(project) -> None:
    with pytest.raises(StoryMailError) as caught:
        own_emails.render_story(project.workspace, "thanks", FULL)
    assert str(caught.value) == (
        "There is no story email called 'thanks'. The story emails are: "
        "acknowledgement, draft, update, published, declined, went-out, team-approved, "
        "team-changes, team-choices, team-withdrawn, team-stopped."
    )


@pytest.mark.parametrize("name", ["draft.html.j2", "_layout.txt.j2"])
def test_a_missing_file_is_named(project, name: str) -> None:
    (project.root / "templates" / "emails" / name).unlink()

    with pytest.raises(StoryMailError) as caught:
        own_emails.render_story(project.workspace, "draft", FULL)

    assert str(caught.value) == (
        f"The story email file templates/emails/{name} is missing (looked in {project.root}). "
        "Copy it from templates/emails/ in engage's example workspace, or write your own: "
        "docs/templates.md says what each story email needs."
    )


def test_a_missing_subject_line(project) -> None:
    project.replace("templates/emails/subjects.toml", 'update = "News about your story"\n', "")

    with pytest.raises(StoryMailError) as caught:
        own_emails.render_story(project.workspace, "update", FULL)

    assert str(caught.value) == (
        "templates/emails/subjects.toml has no subject line for update. "
        'Add a line like update = "News about your story".'
    )


def test_a_subject_can_use_the_variables_and_stays_on_one_line(project) -> None:
    project.replace(
        "templates/emails/subjects.toml",
        'update = "News about your story"',
        'update = "News for {{ first_name }}\\nabout your story"',
    )
    assert own_emails.render_story(project.workspace, "update", FULL).subject == (
        "News for Sam about your story"
    )


def test_a_template_mistake_names_the_file_and_line(project) -> None:
    project.replace("templates/emails/update.txt.j2", "{{ status_words }}", "{{ status_words }")

    with pytest.raises(StoryMailError) as caught:
        own_emails.render_story(project.workspace, "update", FULL)

    assert str(caught.value) == (
        "templates/emails/update.txt.j2:6: a placeholder is not written right: it needs {{ at "
        "the start and }} at the end, like {{ organisation.name }}."
    )


def test_a_place_without_its_words_is_named(project) -> None:
    given = {**BARE, "places": [{"url": "https://www.example.org/archive/dec"}]}

    with pytest.raises(StoryMailError) as caught:
        own_emails.render_story(project.workspace, "went-out", given)

    assert str(caught.value) == (
        "templates/emails/went-out.txt.j2:8: there is no placeholder {{ place.words }}. The "
        "placeholders under place are: place.url. Check the spelling; docs/templates.md "
        "(Story emails) lists each email's placeholders."
    )


def test_a_mistake_in_a_layout_names_the_layout(project) -> None:
    project.replace("templates/emails/_layout.html.j2", "{% endblock %}", "{% endblok %}")

    with pytest.raises(StoryMailError) as caught:
        own_emails.render_story(project.workspace, "update", FULL)

    assert str(caught.value) == (
        "templates/emails/_layout.html.j2:13: there is no {% endblok %}: check the spelling "
        "(the {% block %} above ends with {% endblock %})."
    )


def test_send_writes_both_parts_to_the_outbox(project) -> None:
    outcome = messages.send(project.workspace, "Sam Jones <sam@example.org>", "draft", FULL)

    [sent] = outbox(project, "story-draft")
    assert outcome.sent
    assert outcome.provider_id.startswith("outbox/system/story-draft/")
    assert sent["To"] == "Sam Jones <sam@example.org>"
    assert sent["From"] == "Get Yourself Active <news@example.org>"
    assert sent["Subject"] == "Your story is ready for you to check"
    assert re.fullmatch(r"<story-draft\.[0-9a-f]{16}@example\.org>", sent["Message-ID"])
    assert "Reply-To" not in sent
    text = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = sent.get_body(("html",)).get_content()
    assert f"Open this link to read your story:\n{LINK}\n" in text
    assert structure(html).h1 == ["Your story is ready for you to check"]


def test_send_with_a_reply_to(project) -> None:
    messages.send(
        project.workspace,
        "sam@example.org",
        "acknowledgement",
        BARE,
        reply_to="stories@example.org",
    )
    [sent] = outbox(project, "story-acknowledgement")
    assert sent["Reply-To"] == "stories@example.org"
    assert sent["Subject"] == "Thank you for your story"


def test_reply_to_is_refused_where_the_provider_would_drop_it(project) -> None:
    project.replace("engage.toml", 'provider = "outbox"', 'provider = "mailgun"')

    with pytest.raises(StoryMailError) as caught:
        messages.send(project.workspace, "sam@example.org", "update", BARE, reply_to="s@x.org")

    assert str(caught.value) == (
        "A Reply-To on story emails works with the outbox and smtp providers, not mailgun yet. "
        "Send without reply_to: replies then come to Get Yourself Active <news@example.org>."
    )


def test_a_refusal_is_an_error(project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        Outbox, "send_system", lambda self, m: Outcome(0, False, error="550 no such person")
    )
    with pytest.raises(StoryMailError) as caught:
        messages.send(project.workspace, "sam@example.org", "published", BARE)

    assert str(caught.value) == (
        "The published story email to sam@example.org was refused by the outbox provider: "
        "550 no such person"
    )
    assert caught.value.try_later is False


def test_a_failure_is_an_error_that_may_be_tried_later(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(self, message):  # noqa: ANN001, ANN202
        raise TryLater("The outbox is busy (429).")

    monkeypatch.setattr(Outbox, "send_system", busy)
    with pytest.raises(StoryMailError) as caught:
        messages.send(project.workspace, "sam@example.org", "declined", BARE)

    assert str(caught.value) == (
        "The declined story email to sam@example.org was not sent: The outbox is busy (429)."
    )
    assert caught.value.try_later is True


def test_no_from_address(project) -> None:
    project.replace("engage.toml", 'from = "Get Yourself Active <news@example.org>"\n', "")

    with pytest.raises(StoryMailError) as caught:
        messages.send(project.workspace, "sam@example.org", "update", BARE)

    assert str(caught.value) == (
        'Set from in [email] of engage.toml (like from = "Name <news@example.org>"): '
        "story emails are sent from it."
    )
    assert not (project.root / "outbox").exists()


@pytest.mark.parametrize("to", ["sam", "sam@example.org\nBcc: all@example.org"])
def test_a_bad_address_sends_nothing(project, to: str) -> None:
    with pytest.raises(Exception) as caught:
        messages.send(project.workspace, to, "update", BARE)

    assert isinstance(caught.value, EngageError)
    assert not (project.root / "outbox").exists()


@pytest.mark.parametrize("template", own_emails.TEMPLATES + own_emails.TEAM_TEMPLATES)
def test_story_email_has_no_axe_violations(project, page, tmp_path: Path, template: str) -> None:
    context = TEAM if template in own_emails.TEAM_TEMPLATES else FULL
    path = tmp_path / f"{template}.html"
    path.write_text(
        own_emails.render_story(project.workspace, template, context).html, encoding="utf-8"
    )

    page.goto(path.as_uri())
    violations = axe(page, email=True)

    assert not violations, format_violations(violations, title=template)


def test_a_story_email_whose_answer_was_lost_is_maybe_sent_not_failed(project, monkeypatch) -> None:
    """The SMTP server took the email, then the line dropped before its answer: engage says
    it may or may not have gone, and does not call it unsent."""
    from .smtp_sink import SmtpSink
    from .test_sending import smtp_config

    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
    sink = SmtpSink(password="pw").start()
    try:
        smtp_config(project, sink.port)
        sink.faults["sam@example.org"] = "drop-after-data"
        with pytest.raises(StoryMailError) as caught:
            messages.send(project.workspace, "Sam Jones <sam@example.org>", "draft", FULL)
        assert str(caught.value).startswith(
            "The draft story email to Sam Jones <sam@example.org> may or may not have gone "
            "(The SMTP connection was lost after the message to sam@example.org went and "
            "before the server answered"
        )
        assert str(caught.value).endswith(
            "engage does not send it again by itself. Check the provider's log."
        )
        assert not caught.value.try_later
        assert caught.value.maybe_sent  # so engage never sends it again by itself
        assert [to for to, _ in sink.received] == ["sam@example.org"]
    finally:
        sink.stop()
