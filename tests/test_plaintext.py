"""The plain-text part: rendered from the Markdown tokens, complete and screen-reader friendly."""

from __future__ import annotations

import pytest
from markdown_it.token import Token

from engage.render.markdown import make_parser, parse_body
from engage.render.plaintext import render_text


def render(source: str, width: int = 72) -> str:
    return render_text(make_parser().parse(source), width=width)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", ""),
        ("   \n\n", ""),
        ("# Spring appeal", "Spring appeal\n=============\n"),
        ("Spring appeal\n=============", "Spring appeal\n=============\n"),
        ("## What we did", "What we did\n-----------\n"),
        ("### Thank you", "Thank you\n"),
        ("###### Small print", "Small print\n"),
        ("# *Big* news\n\nHello.", "Big news\n========\n\nHello.\n"),
        ("# Title\n## Sub\nText", "Title\n=====\n\nSub\n---\n\nText\n"),
    ],
)
def test_headings_and_blocks(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("one\ntwo", "one two\n"),
        ("one  \ntwo", "one\ntwo\n"),
        ("one\\\ntwo", "one\ntwo\n"),
        ("First.\n\n\n\nSecond.", "First.\n\nSecond.\n"),
        ("*calm* **bold** `a*b`", "calm bold a*b\n"),
        ("Fish &amp; chips &copy; 2024 &#8212; &lt;tag&gt;", "Fish & chips © 2024 — <tag>\n"),
        ("Tea\u00a0time", "Tea\u00a0time\n"),
    ],
)
def test_inline_text(source: str, expected: str) -> None:
    assert render(source) == expected


def test_paragraphs_wrap_at_width() -> None:
    source = "We planted forty trees in the park, and the children named every single one."
    assert render(source, width=30) == (
        "We planted forty trees in the\npark, and the children named\nevery single one.\n"
    )


def test_long_url_and_hyphenated_words_are_never_broken() -> None:
    url = "https://example.org/appeals/spring-2024/donate?utm_source=newsletter&utm_medium=email"
    source = f"Please [give what you can]({url}) to the well-known-cause."
    assert render(source, width=30) == (
        f"Please give what you can\n({url})\nto the well-known-cause.\n"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "Visit <https://example.org/our-spring-appeal-news> today",
            "Visit\nhttps://example.org/our-spring-appeal-news\ntoday\n",
        ),
        ("An up-to-the-minute report", "An\nup-to-the-minute\nreport\n"),
    ],
)
def test_wrapping_breaks_only_at_spaces(source: str, expected: str) -> None:
    assert render(source, width=12) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("[Donate](https://example.org/donate)", "Donate (https://example.org/donate)"),
        ('[Donate](https://example.org/d "Give")', "Donate (https://example.org/d)"),
        ("<https://example.org/news>", "https://example.org/news"),
        ("[https://example.org](https://example.org)", "https://example.org"),
        ("[](https://example.org/empty)", "https://example.org/empty"),
        ("[Email us](mailto:hello@example.org)", "Email us (hello@example.org)"),
        ("<hello@example.org>", "hello@example.org"),
        ("<mailto:hello@example.org>", "hello@example.org"),
        ("[hello@example.org](mailto:hello@example.org)", "hello@example.org"),
        ("[**Read** the *report*](/report)", "Read the report (/report)"),
        ("[Top](#top)", "Top (#top)"),
        ("[Ring us](tel:+441234567890)", "Ring us (tel:+441234567890)"),
        (
            "[![Our logo](logo.png)](https://example.org)",
            "[Picture: Our logo] (https://example.org)",
        ),
    ],
)
def test_links(source: str, expected: str) -> None:
    assert render(source) == expected + "\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("![Volunteers at the food bank](team.jpg)", "[Picture: Volunteers at the food bank]"),
        ("![](spacer.gif)", "[Picture]"),
        ("![A *very* happy dog](dog.jpg)", "[Picture: A very happy dog]"),
        ("See ![map](map.png) here.", "See [Picture: map] here."),
    ],
)
def test_images_use_alt_text_not_url(source: str, expected: str) -> None:
    output = render(source)
    assert output == expected + "\n"
    assert ".png" not in output and ".jpg" not in output


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("- tea\n- cake", "- tea\n- cake\n"),
        ("* tea\n+ cake", "- tea\n\n- cake\n"),
        ("1. tea\n2. cake", "1. tea\n2. cake\n"),
        ("3. tea\n4. cake", "3. tea\n4. cake\n"),
        ("7) tea\n8) cake", "7. tea\n8. cake\n"),
        ("9. nine\n10. ten", "9.  nine\n10. ten\n"),
        ("- a\n  - b\n    - c\n- d", "- a\n  - b\n    - c\n- d\n"),
        ("2. first\n   - sub\n3. second", "2. first\n   - sub\n3. second\n"),
        ("- a\n\n  1. x\n  2. y", "- a\n\n  1. x\n  2. y\n"),
        ("- loose\n\n- list\n\n  second para", "- loose\n\n- list\n\n  second para\n"),
        ("-\n- b", "-\n- b\n"),
    ],
)
def test_lists(source: str, expected: str) -> None:
    assert render(source) == expected


def test_wrapped_list_items_hang_under_their_text() -> None:
    source = "1. We collected warm coats for the shelter\n   - and hats, scarves and gloves too"
    assert render(source, width=30) == (
        "1. We collected warm coats for\n"
        "   the shelter\n"
        "   - and hats, scarves and\n"
        "     gloves too\n"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("> Thank you all", "> Thank you all\n"),
        ("> one\n>\n> two", "> one\n>\n> two\n"),
        ("> - a\n> - b", "> - a\n> - b\n"),
        ("> outer\n>\n> > inner", "> outer\n>\n> > inner\n"),
        ("> # Quote title", "> Quote title\n> ===========\n"),
    ],
)
def test_blockquotes(source: str, expected: str) -> None:
    assert render(source) == expected


def test_blockquote_wraps_inside_its_prefix() -> None:
    source = "> Volunteering changed my life and I would do it all again"
    assert render(source, width=30) == (
        "> Volunteering changed my life\n> and I would do it all again\n"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "```python\ndef total(xs):\n\n    return sum(xs)  # a long comment that is kept\n```",
            "    def total(xs):\n\n        return sum(xs)  # a long comment that is kept\n",
        ),
        ("    indented *code*\n    kept", "    indented *code*\n    kept\n"),
        ("Before\n\n```\n<b>&amp;</b>\n```\n\nAfter", "Before\n\n    <b>&amp;</b>\n\nAfter\n"),
        ("```\n```", ""),
    ],
)
def test_code_blocks_are_verbatim_and_indented(source: str, expected: str) -> None:
    assert render(source, width=20) == expected


@pytest.mark.parametrize("source", ["---", "***", "_ _ _"])
def test_thematic_break(source: str) -> None:
    assert render(f"Above\n\n{source}\n\nBelow") == "Above\n\n* * *\n\nBelow\n"


def test_table_reads_row_by_row() -> None:
    source = (
        "| Event | Date | Place |\n"
        "|---|:---:|---|\n"
        "| Bake sale | 4 May | [Hall](https://example.org/hall) |\n"
        "| **Fun run** | | Park |\n"
    )
    assert render(source) == (
        "Event: Bake sale\n"
        "Date: 4 May\n"
        "Place: Hall (https://example.org/hall)\n"
        "\n"
        "Event: Fun run\n"
        "Date:\n"
        "Place: Park\n"
    )


def test_table_without_body_lists_its_headers() -> None:
    assert render("| Name | Role |\n|---|---|") == "Name\nRole\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<b>x</b>", "x\n"),
        ("Hello <em>there</em> &amp; welcome", "Hello there & welcome\n"),
        ("Hi <script>alert(1)</script> there", "Hi there\n"),
        ("<script>alert(1)</script>", ""),
        ("<style>p { color: red }</style>\n\nText", "Text\n"),
        ("<!-- tracking pixel -->\n\nText", "Text\n"),
        ("line<br>break", "line\nbreak\n"),
        (
            'See <a href="https://example.org/raw">our site</a>.',
            "See our site (https://example.org/raw).\n",
        ),
        ('<a href="javascript:alert(1)">click</a>', "click\n"),
        (
            '<div align="center">\n<p>One &amp; <i>two</i></p><p>Three</p>\n</div>',
            "One & two\n\nThree\n",
        ),
        ('<p><img src="logo.png" alt="Charity logo"></p>', "[Picture: Charity logo]\n"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b\n"),
    ],
)
def test_raw_html_gives_text_only(source: str, expected: str) -> None:
    output = render(source)
    assert output == expected
    assert "<" not in output and "alert" not in output


NEWSLETTER = """\
# Riverside Food Bank — Spring 2024

Dear friend,

Thanks to you we gave out **2,140 parcels** this winter. Read the
[full impact report](https://riverside.example.org/reports/winter-2023-24.pdf?ref=news&amp;v=2)
or watch [the video](https://video.example.com/watch?v=abc123&t=42s).

![Volunteers sorting tins in the warehouse](https://cdn.example.org/img/sorting.jpg)

## How you can help

1. [Donate online](https://riverside.example.org/donate) — every £5 feeds a family.
2. Volunteer: email <volunteers@riverside.example.org> or
   [our coordinator](mailto:sam@riverside.example.org?subject=Volunteering).
3. Share our appeal: <https://riverside.example.org/appeal>
   - on [Facebook](https://facebook.com/riversidefoodbank)
   - in your community group

> "I don't know what we'd have done without you." — a parent

| Collection point | Opening hours |
|---|---|
| [St Mark's Hall](https://maps.example.com/?q=St+Marks+Hall) | Mon–Fri 9–5 |

---

You are receiving this because you signed up. [Unsubscribe](https://riverside.example.org/u/XYZ)
"""


def _link_urls(tokens: list[Token]) -> list[str]:
    urls = []
    for token in tokens:
        for child in token.children or []:
            if child.type == "link_open":
                urls.append(str(child.attrs["href"]).removeprefix("mailto:"))
    return urls


def test_newsletter_keeps_every_link_url() -> None:
    body = parse_body(NEWSLETTER)
    output = render_text(body.tokens)
    urls = _link_urls(body.tokens)
    assert len(urls) == 9
    for url in urls:
        assert url in output, url
    for url in [
        "https://riverside.example.org/reports/winter-2023-24.pdf?ref=news&v=2",
        "https://video.example.com/watch?v=abc123&t=42s",
        "https://riverside.example.org/donate",
        "volunteers@riverside.example.org",
        "sam@riverside.example.org?subject=Volunteering",
        "https://maps.example.com/?q=St+Marks+Hall",
        "https://riverside.example.org/u/XYZ",
    ]:
        assert url in output, url
    assert "mailto:" not in output
    assert "sorting.jpg" not in output
    assert "[Picture: Volunteers sorting tins in the warehouse]" in output


def test_newsletter_layout_is_clean() -> None:
    output = render(NEWSLETTER, width=60)
    assert output.endswith("\n") and not output.endswith("\n\n")
    assert "\n\n\n" not in output
    lines = output.split("\n")
    assert all(line == line.rstrip() for line in lines)
    assert not any(mark in output for mark in ("**", "<", "&amp;", "]("))
    assert output.startswith(
        "Riverside Food Bank — Spring 2024\n" + "=" * 33 + "\n\nDear friend,\n"
    )
    assert "1. Donate online (https://riverside.example.org/donate) —\n   every £5" in output
    assert "   - on Facebook (https://facebook.com/riversidefoodbank)\n" in output
    assert "> \"I don't know what we'd have done without you.\" — a parent\n" in output
    assert "Collection point: St Mark's Hall\n" in output
    assert "\n* * *\n" in output
