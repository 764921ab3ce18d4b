"""Easy Read versions: the rows read from plain Markdown (and the errors for anything else),
the email built from them, its plain-text twin, and a send of an Easy Read batch."""

from __future__ import annotations

import email
import email.policy
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engage import campaigns
from engage.campaigns import Campaign
from engage.email.base import Batch, Item
from engage.email.http import merged_bodies, merger
from engage.errors import CampaignError
from engage.providers.outbox import Outbox
from engage.render.build import build, sample_recipient, write
from engage.render.personal import Recipient

ER = "campaigns/news.easy-read.md"
ROW = (
    "![Two people play boccia in a sports hall.](https://www.example.org/images/boccia.png)\n"
    "We play boccia every Tuesday.\n"
    "Everyone is welcome.\n"
)
BODY = f"""# Our news

{ROW}
## Walks

![A group of people walk in a park.](https://www.example.org/images/walk.png)
We go for a walk on Saturday. It takes 1 hour.

![A web page with a form.](https://www.example.org/images/form.png)
**Tell us** what you think on [our short form](https://www.example.org/form).
"""
HOW = (
    "Write each point as a row of its own: a picture "
    "(![What the picture shows](https://www.example.org/images/walk.png)), then one or two "
    "short sentences on the lines under it"
)


def easy_read(project, body: str, name: str = "news.easy-read", **front: object) -> Campaign:
    """An Easy Read version (campaigns/<name>.md) beside a campaign news.md. Its body starts on
    file line 5."""
    if not (project.root / "campaigns/news.md").exists():
        project.campaign("news", "# Our news\n\nWe had a good month.\n", audience="newsletter")
    front = {"subject": "Our news in Easy Read", "preheader": "What we did this month.", **front}
    lines = "".join(f'{key} = "{value}"\n' for key, value in front.items())
    path = project.write(f"campaigns/{name}.md", f"+++\n{lines}+++\n{body}")
    return campaigns.load(project.workspace, str(path))


def built_for(project, body: str, **front: object):
    ws = project.workspace
    return build(ws, easy_read(project, body, **front))


# --- Reading the rows ----------------------------------------------------------------------


def test_rows_keep_their_pictures_sentences_and_file_lines(project) -> None:
    document = built_for(project, BODY).easy_read
    assert document is not None
    shown = [
        (type(part).__name__, part.line, part.text)
        if not hasattr(part, "sentences")
        else (
            "Row",
            part.line,
            part.picture.alt if part.picture else None,
            [(s.line, s.text) for s in part.sentences],
        )
        for part in document.parts
    ]
    assert shown == [
        ("Heading", 5, "Our news"),
        (
            "Row",
            7,
            "Two people play boccia in a sports hall.",
            [(8, "We play boccia every Tuesday."), (9, "Everyone is welcome.")],
        ),
        ("Heading", 11, "Walks"),
        (
            "Row",
            13,
            "A group of people walk in a park.",
            [(14, "We go for a walk on Saturday."), (14, "It takes 1 hour.")],
        ),
        (
            "Row",
            16,
            "A web page with a form.",
            [(17, "Tell us what you think on our short form.")],
        ),
    ]


def test_a_row_may_have_no_picture_for_lint_to_report(project) -> None:
    document = built_for(project, "# Our news\n\nWe have no picture.\n").easy_read
    assert document is not None
    (row,) = document.rows
    assert (row.line, row.picture, [s.text for s in row.sentences]) == (
        7,
        None,
        ["We have no picture."],
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "# Our news\n\n- Walks\n- Boccia\n",
            f"{ER}:7: an Easy Read version is written as rows, and this is a list. {HOW}, "
            "then an empty line.",
        ),
        (
            "# Our news\n\n1. Walks\n",
            f"{ER}:7: an Easy Read version is written as rows, and this is a numbered list. "
            f"{HOW}, then an empty line.",
        ),
        (
            f"# Our news\n\n{ROW}\n> A quote.\n",
            f"{ER}:11: an Easy Read version is written as rows, and this is a quote. {HOW}, "
            "then an empty line.",
        ),
        (
            f"# Our news\n\n{ROW}\n| Day | Time |\n| --- | --- |\n| Tuesday | 10:00 |\n",
            f"{ER}:11: an Easy Read version is written as rows, and this is a table. {HOW}, "
            "then an empty line.",
        ),
        (
            f"# Our news\n\n{ROW}\n---\n",
            f"{ER}:11: an Easy Read version is written as rows, and this is a line across the "
            f"page. {HOW}, then an empty line.",
        ),
        (
            "# Our news\n\n![A walk.](https://www.example.org/images/walk.png)\n",
            f"{ER}:7: the picture has no words beside it. Write one or two short sentences on "
            "the lines under the picture, with no empty line between.",
        ),
        (
            f"# Our news\n\n{ROW}![A walk.](https://www.example.org/images/walk.png)\nWe walk.\n",
            f"{ER}:10: a picture in the middle of a row. Each row has one picture, at its "
            "start: leave an empty line, then start a new row with the picture on a line of "
            "its own.",
        ),
        (
            "# Our news\n\n[![A walk.](https://www.example.org/images/walk.png)]"
            "(https://www.example.org/walks)\nWe walk.\n",
            f"{ER}:7: the picture is a link. In Easy Read the picture is not a link: put the "
            "link on words in a sentence, like [Read Sam's story](https://...).",
        ),
        (
            "# Our news ![A walk.](https://www.example.org/images/walk.png)\n\n" + ROW,
            f"{ER}:5: a heading has a picture in it. Put the picture at the start of the row "
            "under the heading, on a line of its own.",
        ),
        (
            "# Our news\n",
            f"{ER}:5: this Easy Read version has no rows. Write each point as a row: a picture "
            "(![What the picture shows](https://www.example.org/images/walk.png)), then one or "
            "two short sentences on the lines under it.",
        ),
    ],
    ids=[
        "list",
        "numbered-list",
        "quote",
        "table",
        "rule",
        "picture-alone",
        "second-picture",
        "linked-picture",
        "heading-picture",
        "no-rows",
    ],
)
def test_what_is_not_a_row_is_an_error_with_its_line_and_fix(project, body, message) -> None:
    with pytest.raises(CampaignError) as raised:
        built_for(project, body)
    assert str(raised.value) == message


def test_the_cli_shows_a_row_error_with_no_traceback(project) -> None:
    easy_read(project, "# Our news\n\n- Walks\n")
    result = project.run("lint", str(project.root / ER))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {ER}:7: an Easy Read version is written as rows, and this is a list. {HOW}, "
        "then an empty line.\n"
    )


# --- The email -----------------------------------------------------------------------------


class _Parts(HTMLParser):
    """What a reader meets in the email body, in order: headings, pictures, sentences."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: str | None = None
        self._text: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        if tag == "img":
            self.found.append(("picture", f"{values.get('alt')} <{values.get('src')}>"))
        elif tag in ("h1", "h2") or (tag == "p" and values.get("class") == "sentence"):
            self._open, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self.found.append((tag, " ".join("".join(self._text).split())))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)


def _read(html: str) -> _Parts:
    parts = _Parts()
    parts.feed(html)
    return parts


def test_the_email_has_the_rows_in_order_and_only_an_easy_read_variant(project) -> None:
    built = built_for(project, BODY)
    assert set(built.html) == {"easy-read"}
    assert built.main_variant == "easy-read"
    html = built.personalise(sample_recipient(project.workspace, built.campaign)).html
    parts = _read(html)
    assert parts.lang == "en-GB"
    assert parts.found == [
        ("h1", "Our news"),
        (
            "picture",
            "Two people play boccia in a sports hall. <https://www.example.org/images/boccia.png>",
        ),
        ("p", "We play boccia every Tuesday."),
        ("p", "Everyone is welcome."),
        ("h2", "Walks"),
        ("picture", "A group of people walk in a park. <https://www.example.org/images/walk.png>"),
        ("p", "We go for a walk on Saturday."),
        ("p", "It takes 1 hour."),
        ("picture", "A web page with a form. <https://www.example.org/images/form.png>"),
        ("p", "Tell us what you think on our short form."),
    ]
    assert '<strong>Tell us</strong> what you think on <a href="https://www.example.org/form"' in (
        html
    )
    assert html.count('<div class="easy-read-row"') == 3


def test_a_welsh_easy_read_version_says_so_in_its_lang(project) -> None:
    campaign = easy_read(project, BODY, name="news.cy.easy-read", subject="Ein newyddion")
    assert (campaign.lang, campaign.form) == ("cy", "easy-read")
    built = build(project.workspace, campaign)
    html = built.personalise(sample_recipient(project.workspace, campaign)).html
    assert _read(html).lang == "cy"
    assert "<title>Ein newyddion</title>" in html


def test_a_picture_a_mail_program_cannot_load_is_left_out(project) -> None:
    body = "# Our news\n\n![A walk.](images/walk.png)\nWe walk.\n"
    built = built_for(project, body)
    html = built.personalise(sample_recipient(project.workspace, built.campaign)).html
    assert ("picture", "A walk. <images/walk.png>") not in _read(html).found
    assert "<img" not in html


def test_markup_in_a_sentence_is_made_safe(project) -> None:
    body = (
        "# Our news\n\n![A walk.](https://www.example.org/images/walk.png)\n"
        'We walk <script>alert(1)</script> <b onclick="x()">often</b>.\n'
    )
    built = built_for(project, body)
    html = built.personalise(sample_recipient(project.workspace, built.campaign)).html
    assert "<script" not in html and "onclick" not in html and "alert(1)" not in html
    assert ("p", "We walk often.") in _read(html).found


TEXT = """Hello Sam,

Our news
========

[Picture: Two people play boccia in a sports hall.]
We play boccia every Tuesday.
Everyone is welcome.

Walks
-----

[Picture: A group of people walk in a park.]
We go for a walk on Saturday.
It takes 1 hour.

[Picture: A web page with a form.]
Tell us what you think on our short form (https://www.example.org/form).

------------------------------------------------------------
You get this email because you asked for news from Get Yourself Active.

Read this email in your web browser:
http://127.0.0.1:8025/archive/news

Choose how you get our emails:
http://127.0.0.1:8025/preferences/sample-token

Unsubscribe from our emails:
http://127.0.0.1:8025/unsubscribe/sample-token

Get Yourself Active, 12 Example Street, Leeds LS1 1AA.
Registered charity number 1234567.
"""


def test_the_plain_text_twin_is_each_sentence_on_a_line_with_each_picture(project) -> None:
    built = built_for(project, BODY)
    text = built.personalise(sample_recipient(project.workspace, built.campaign)).text
    assert text == TEXT


def test_engage_build_writes_the_easy_read_email_and_its_text(project, tmp_path: Path) -> None:
    built = built_for(project, BODY)
    out = tmp_path / "out"
    written = write(built, sample_recipient(project.workspace, built.campaign), out)
    assert [p.name for p in written] == ["index.html", "index.txt"]
    assert (out / "index.txt").read_text(encoding="utf-8") == TEXT
    assert _read((out / "index.html").read_text(encoding="utf-8")).found[0] == ("h1", "Our news")


def test_the_example_easy_read_version_builds(project) -> None:
    ws = project.workspace
    campaign = campaigns.load(
        ws, str(project.root / "campaigns/doing-with-not-doing-to.easy-read.md")
    )
    built = build(ws, campaign)
    assert (campaign.slug, campaign.form, campaign.meta.audience) == (
        "doing-with-not-doing-to",
        "easy-read",
        "newsletter",
    )
    document = built.easy_read
    assert document is not None
    assert len(document.rows) == 15
    assert all(row.picture and row.picture.alt for row in document.rows)
    assert all(1 <= len(row.sentences) <= 2 for row in document.rows)


# --- Sending an Easy Read batch ------------------------------------------------------------


def _recipient(number: int) -> Recipient:
    return Recipient(
        email=f"person{number}@example.org",
        unsubscribe_url=f"https://news.example.org/unsubscribe/token-{number}",
        preferences_url=f"https://news.example.org/preferences/token-{number}",
        web_version_url="https://news.example.org/archive/news",
        name=f"Person {number}",
        first_name=f"Alex{number}",
        reply_to=f"reply+token-{number}@replies.example.org",
    )


def _batch(built) -> Batch:
    items = [
        Item(
            delivery_id=number,
            email=f"person{number}@example.org",
            name=f"Person {number}",
            recipient=_recipient(number),
            message_id=f"<news.1.{number}@example.org>",
            unsubscribe_mailto="mailto:unsubscribe+token@replies.example.org?subject=unsubscribe",
        )
        for number in (1, 2)
    ]
    return Batch(
        built=built,
        variant="easy-read",
        items=items,
        sender="Get Yourself Active <news@example.org>",
        subject="Our news in Easy Read",
        list_id="Get Yourself Active <news.example.org>",
        campaign="news",
        send_id=1,
        tags=["news"],
    )


def test_an_easy_read_batch_goes_through_the_outbox_personalised(project) -> None:
    built = built_for(project, BODY)
    outcomes = Outbox(project.workspace).send_batch(_batch(built))
    assert [(o.delivery_id, o.sent, o.provider_id) for o in outcomes] == [
        (1, True, "outbox/news/0000001-person1@example.org.eml"),
        (2, True, "outbox/news/0000002-person2@example.org.eml"),
    ]
    for number in (1, 2):
        path = project.root / f"outbox/news/000000{number}-person{number}@example.org.eml"
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["Subject"] == "Our news in Easy Read"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        expected = (
            TEXT.replace("Hello Sam,", f"Hello Alex{number},")
            .replace("http://127.0.0.1:8025/archive/news", "https://news.example.org/archive/news")
            .replace(
                "http://127.0.0.1:8025/preferences/sample-token",
                f"https://news.example.org/preferences/token-{number}",
            )
            .replace(
                "http://127.0.0.1:8025/unsubscribe/sample-token",
                f"https://news.example.org/unsubscribe/token-{number}",
            )
        )
        assert text.replace("\r\n", "\n") == expected
        parts = _read(html)
        assert parts.lang == "en-GB"
        assert parts.found[1:3] == [
            (
                "picture",
                "Two people play boccia in a sports hall. "
                "<https://www.example.org/images/boccia.png>",
            ),
            ("p", "We play boccia every Tuesday."),
        ]
        assert f">Hello Alex{number},</p>" in html
        assert f'href="https://news.example.org/unsubscribe/token-{number}"' in html
        assert f'href="https://news.example.org/preferences/token-{number}"' in html


def test_an_easy_read_batch_merges_for_the_http_providers(project) -> None:
    built = built_for(project, BODY)
    batch = _batch(built)
    html, text = merged_bodies(batch, lambda field: f"%recipient.{field}%")
    assert 'href="%recipient.h_unsubscribe_url%"' in html
    assert "[Picture: Two people play boccia in a sports hall.]" in text
    assert "%recipient.t_unsubscribe_url%" in text
    values = merger(batch)(batch.items[0])
    assert values["h_unsubscribe_url"] == "https://news.example.org/unsubscribe/token-1"
    assert values["t_greeting"] == "Hello Alex1,"
