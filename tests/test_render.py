from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from engage import campaigns
from engage.errors import TemplateError
from engage.render import tables
from engage.render.build import build, sample_recipient
from engage.render.htmlscan import scan
from engage.render.inline_css import CSSError, check, inline
from engage.render.markdown import parse_body, sanitise
from engage.render.personal import Recipient

SLUG = "doing-with-not-doing-to"


def built(project, slug: str = SLUG):
    ws = project.workspace
    return build(ws, campaigns.load(ws, slug))


def person(name: str = "Sam Example", first_name: str = "Sam") -> Recipient:
    return Recipient(
        email="sam@example.org",
        name=name,
        first_name=first_name,
        unsubscribe_url="https://engage.example.org/unsubscribe/tok1",
        preferences_url="https://engage.example.org/preferences/tok1",
        web_version_url="https://engage.example.org/archive/news",
    )


def test_build_writes_three_files_and_prints_their_paths(project) -> None:
    out = project.root / "out"
    result = project.run("build", SLUG, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output == f"{out}/index.html\n{out}/large-print.html\n{out}/index.txt\n"
    html = (out / "index.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en-GB" dir="ltr"' in html
    assert "<title>Doing with, not doing to: our winter news</title>" in html
    assert "Hello Sam," in html
    text = (out / "index.txt").read_text()
    assert text.startswith("Hello Sam,\n\nDoing with, not doing to\n========================\n")
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "index.txt", "large-print.html"]


def test_build_default_folder_and_nothing_else_touched(project) -> None:
    before = {p: p.read_bytes() for p in project.root.rglob("*") if p.is_file()}
    result = project.run("build", "share-your-story")
    assert result.exit_code == 0
    folder = project.root / "build" / "share-your-story"
    assert result.output.splitlines() == [
        str(folder / "index.html"),
        str(folder / "large-print.html"),
        str(folder / "index.txt"),
    ]
    after = {p: p.read_bytes() for p in project.root.rglob("*") if p.is_file()}
    assert {p: b for p, b in after.items() if p in before} == before
    assert set(after) - set(before) == {
        folder / n for n in ("index.html", "large-print.html", "index.txt")
    }


def test_large_print_uses_bigger_type_for_the_same_words(project) -> None:
    b = built(project)
    standard = scan(b.personalise(person(), "standard").html)
    large = scan(b.personalise(person(), "large-print").html)
    assert [t.text for t in standard.texts] == [t.text for t in large.texts]
    paragraph = next(t for t in standard.texts if t.text.startswith("This year"))
    big = next(t for t in large.texts if t.text.startswith("This year"))
    assert (paragraph.style.font_size, big.style.font_size) == (18.0, 24.0)
    assert min(t.style.font_size for t in large.texts) == 24.0


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


@pytest.mark.parametrize("slug", ["doing-with-not-doing-to", "share-your-story"])
def test_every_link_in_the_html_is_written_out_in_the_text(project, slug) -> None:
    message = built(project, slug).personalise(person())
    parser = _Links()
    parser.feed(message.html)
    assert len(parser.hrefs) >= 4
    for href in parser.hrefs:
        assert href in message.text


def test_plain_text_is_rendered_from_markdown_not_html(project) -> None:
    project.campaign("links", "# Title\n\nSee [our page](https://example.org/a) and **bold**.\n")
    text = built(project, "links").personalise(person()).text
    assert "See our page (https://example.org/a) and bold.\n" in text
    assert "<" not in text


def test_recipient_name_is_escaped_in_html_but_not_in_text(project) -> None:
    b = built(project)
    message = b.personalise(person(name="<script>alert(1)</script>", first_name="<script>"))
    assert "<script>" not in message.html
    assert "Hello &lt;script&gt;," in message.html
    assert "Hello <script>," in message.text


def test_personal_links_are_escaped_in_attributes(project) -> None:
    evil = Recipient(
        email="a@example.org",
        unsubscribe_url='https://x.example/u?a=1&b="><script>',
        preferences_url="https://x.example/p",
        web_version_url="https://x.example/w",
    )
    html = built(project).personalise(evil).html
    assert 'href="https://x.example/u?a=1&amp;b=&#34;&gt;&lt;script&gt;"' in html


def test_personalisation_fills_only_the_fields(project) -> None:
    b = built(project)
    first = b.personalise(person(first_name="Ana"))
    second = b.personalise(person(first_name="Bo"))
    assert first.html.replace("Hello Ana,", "Hello Bo,") == second.html
    assert not re.search(r"engage[0-9a-f]{8}f\d+x", first.html + first.text)
    assert "Hello," in b.personalise(person(name="", first_name="")).text


def test_raw_html_in_markdown_is_cleaned(project) -> None:
    project.campaign(
        "raw",
        '# Title\n\nHi <script>alert(1)</script><b onclick="x()">there</b>'
        ' [bad](javascript:alert(1)) <iframe src="https://evil.example"></iframe>\n\n'
        '<div style="color:red" onmouseover="x()">block</div>\n',
    )
    html = built(project, "raw").personalise(person()).html
    assert "<script" not in html and "alert(1)</" not in html
    assert "onclick" not in html and "onmouseover" not in html and "iframe" not in html
    assert 'href="javascript' not in html
    assert "<b>there</b>" in html and "block" in html


def test_undefined_template_variable_names_template_and_line(project) -> None:
    project.replace(
        "templates/_layout.mjml.j2", "{{ recipient.greeting }}", "{{ recipient.nickname }}"
    )
    with pytest.raises(TemplateError) as caught:
        built(project)
    line = next(
        n
        for n, text in enumerate(project.read("templates/_layout.mjml.j2").splitlines(), 1)
        if "nickname" in text
    )
    assert str(caught.value) == (
        f"templates/_layout.mjml.j2:{line}: there is no placeholder {{{{ recipient.nickname }}}}. "
        "The placeholders under recipient are: recipient.email, recipient.first_name, "
        "recipient.greeting, recipient.name, recipient.preferences_url, recipient.reply_to, "
        "recipient.unsubscribe_url, recipient.web_version_url. Check the spelling; "
        "docs/templates.md lists every placeholder a layout can use."
    )


def test_undefined_top_level_variable(project) -> None:
    project.replace("templates/newsletter.txt.j2", "{{ content }}", "{{ contents }}")
    result = project.run("build", SLUG)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: templates/newsletter.txt.j2:3: there is no placeholder {{ contents }}. The "
        "placeholders you can use here are: campaign, content, lang, organisation, recipient, "
        "variant. Check the spelling; docs/templates.md lists every placeholder a layout can "
        "use.\n"
    )


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "{{ campaign.titel }}",
            "there is no placeholder {{ campaign.titel }}. The placeholders under campaign are: "
            "campaign.kind, campaign.preheader, campaign.send_at, campaign.slug, "
            "campaign.subject.",
        ),
        (
            "{{ organisation.nmae }}",
            "there is no placeholder {{ organisation.nmae }}. The placeholders under "
            "organisation are: organisation.address, organisation.charity_number, "
            "organisation.lang, organisation.name, organisation.website.",
        ),
        (
            "{{ organisation['town'] }}",
            "there is no placeholder {{ organisation.town }}. The placeholders under "
            "organisation are: organisation.address, organisation.charity_number, "
            "organisation.lang, organisation.name, organisation.website.",
        ),
        (
            "{{ orgnisation.name }}",
            "there is no placeholder {{ orgnisation }}. The placeholders you can use here are: "
            "campaign, content, lang, organisation, recipient, variant.",
        ),
    ],
)
def test_a_placeholder_that_does_not_exist_is_named_with_the_ones_that_do(
    project, written: str, said: str
) -> None:
    project.replace("templates/_layout.mjml.j2", "{{ recipient.greeting }}", written)
    line = next(
        n
        for n, text in enumerate(project.read("templates/_layout.mjml.j2").splitlines(), 1)
        if written in text
    )

    result = project.run("build", SLUG)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: templates/_layout.mjml.j2:{line}: {said} Check the spelling; "
        "docs/templates.md lists every placeholder a layout can use.\n"
    )
    assert "object" not in result.stderr and "undefined" not in result.stderr
    assert not (project.root / "build").exists()


def test_missing_template_names_what_and_where(project) -> None:
    project.campaign("other", "# Hi\n", template="poster")
    result = project.run("build", "other")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Template 'poster.mjml.j2' not found: looked for {project.root}/templates/"
        "poster.mjml.j2. Check the template name in the campaign's front matter, or add the file.\n"
    )


def test_template_syntax_error(project) -> None:
    project.replace("templates/newsletter.txt.j2", "{{ content }}", "{{ content ")
    result = project.run("build", SLUG)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: templates/newsletter.txt.j2:5: a placeholder is not written right: it needs {{ "
        "at the start and }} at the end, like {{ organisation.name }}.\n"
    )


def test_invalid_mjml(project) -> None:
    project.replace("templates/_layout.mjml.j2", "</mjml>", "")
    result = project.run("build", SLUG)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: templates/newsletter.mjml.j2 did not give valid MJML: ")
    assert not (project.root / "build").exists()


def test_build_without_subject_is_refused(project) -> None:
    project.campaign("nosubject", "# Hi\n", subject="")
    result = project.run("build", "nosubject")
    assert result.exit_code == 1
    assert result.stderr == "Error: campaigns/nosubject.md: the front matter needs a subject.\n"


def test_inline_css_follows_the_cascade() -> None:
    css = (
        "p.note { color: #b00020; font-weight: bold } p { color: #1a1a1a; margin: 0 0 24px }"
        " .small { font-size: 16px } a { color: #0b4f8a; text-decoration: underline }"
        " a { color: #123456 }"
    )
    html = (
        "<!DOCTYPE html><html><head><style>p { margin: 13px 0 }</style></head><body>"
        '<p class="note small">Note</p><p>Plain</p>'
        '<p><a href="https://example.org/?a=1&amp;b=2" style="color:#8a0000">Own</a></p>'
        '<!-- <p class="note"> --></body></html>'
    )
    # p.note beats the later p; the later `a` beats the earlier one; the element's own style
    # beats both; the <style> in the head and the comment are left as they are.
    assert inline(html, css) == (
        "<!DOCTYPE html><html><head><style>p { margin: 13px 0 }</style></head><body>"
        '<p class="note small" style="margin: 0 0 24px;font-size: 16px;color: #b00020;'
        'font-weight: bold;">Note</p>'
        '<p style="color: #1a1a1a;margin: 0 0 24px;">Plain</p>'
        '<p style="color: #1a1a1a;margin: 0 0 24px;">'
        '<a href="https://example.org/?a=1&amp;b=2" style="text-decoration: underline;'
        'color: #8a0000">Own</a></p>'
        '<!-- <p class="note"> --></body></html>'
    )


def test_the_layout_masthead_class_beats_the_paragraph_rule(project) -> None:
    project.replace(
        "templates/_layout.mjml.j2",
        "      p { margin: 0 0 {{ type.space }}; }\n",
        "",
    )
    project.replace(
        "templates/_layout.mjml.j2",
        "      .small {",
        "      p { margin: 0 0 {{ type.space }}; }\n      .small {",
    )
    html = built(project).personalise(person()).html
    # .masthead comes before p in the style block now, and still wins: it is more specific.
    assert (
        '<p class="masthead" style="color: #ffffff;font-weight: bold;margin: 0;">'
        "Get Yourself Active</p>"
    ) in html
    assert '<p style="margin: 0 0 24px;">Hello Sam,</p>' in html


@pytest.mark.parametrize(
    ("css", "message"),
    [
        (
            "a:hover { color: red }",
            "the selector 'a:hover' needs a state or a part of an element (:hover, ::before), "
            "which cannot be written into an element's style; put it in an <mj-style> without "
            'inline="inline"',
        ),
        (
            "@media (max-width: 479px) { p { margin: 0 } }",
            "'@media' cannot be written into an element's style; put it in an <mj-style> "
            'without inline="inline"',
        ),
        ("p { color: red } } h1 { margin: 0 }", "cannot read the CSS near '}'"),
        ("p, { color: red }", "a rule has an empty selector; write one before the '{'"),
    ],
)
def test_inline_css_refuses_what_it_cannot_write_into_an_element(css, message) -> None:
    with pytest.raises(CSSError) as caught:
        check(css)
    assert str(caught.value) == message


def test_inline_css_takes_any_selector() -> None:
    check('table.data-table td, a[href^="https:"], ul > li + li { margin: 0 }')


def test_a_bad_inline_rule_in_a_layout_names_the_template(project) -> None:
    project.replace("templates/_layout.mjml.j2", "      a { color", "      a:hover { color")
    result = project.run("build", SLUG)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: templates/newsletter.mjml.j2: mj-style inline: the selector 'a:hover' needs a "
        "state or a part of an element (:hover, ::before), which cannot be written into an "
        'element\'s style; put it in an <mj-style> without inline="inline"\n'
    )


def test_sample_recipient_links_use_the_web_base_url(project) -> None:
    ws = project.workspace
    sample = sample_recipient(ws, campaigns.load(ws, SLUG))
    assert sample.unsubscribe_url == "http://127.0.0.1:8025/unsubscribe/sample-token"
    assert sample.web_version_url == "http://127.0.0.1:8025/archive/doing-with-not-doing-to"


def test_build_into_a_folder_that_cannot_be_made(project) -> None:
    blocker = project.write("blocker", "a file, not a folder")
    result = project.run("build", SLUG, "--out", str(blocker / "inside"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Cannot write the build to {blocker}/inside: Not a directory. "
        "Choose another folder with --out.\n"
    )


TABLE = """| Day | Time | Place |
| --- | ---: | --- |
| Wednesday | 10:00 | Leeds *sports* hall |
| Saturday |  | Roundhay Park |
"""


def test_a_table_keeps_its_markup_and_gets_hidden_labels_for_phones() -> None:
    html = parse_body(TABLE).html
    hidden = 'class="cell-label" style="display:none;mso-hide:all;"'
    assert tables.for_email(html, stacked=False) == (
        '<table class="data-table">\n<thead>\n<tr>\n<th scope="col">Day</th>\n'
        '<th style="text-align:right" scope="col">Time</th>\n<th scope="col">Place</th>\n'
        "</tr>\n</thead>\n<tbody>\n<tr>\n"
        f"<td><span {hidden}>Day: </span>Wednesday</td>\n"
        f'<td style="text-align:right"><span {hidden}>Time: </span>10:00</td>\n'
        f"<td><span {hidden}>Place: </span>Leeds <em>sports</em> hall</td>\n"
        "</tr>\n<tr>\n"
        f"<td><span {hidden}>Day: </span>Saturday</td>\n"
        f'<td style="text-align:right"><span {hidden}>Time: </span></td>\n'
        f"<td><span {hidden}>Place: </span>Roundhay Park</td>\n"
        "</tr>\n</tbody>\n</table>\n"
    )


def test_a_stacked_table_reads_heading_colon_value_like_the_plain_text() -> None:
    html = parse_body(TABLE).html
    assert tables.for_email(html, stacked=True) == (
        '<div class="data-rows">'
        '<div class="data-row">'
        '<div class="data-cell"><strong class="cell-label">Day:</strong> Wednesday</div>'
        '<div class="data-cell"><strong class="cell-label">Time:</strong> 10:00</div>'
        '<div class="data-cell"><strong class="cell-label">Place:</strong> '
        "Leeds <em>sports</em> hall</div>"
        "</div>"
        '<div class="data-row">'
        '<div class="data-cell"><strong class="cell-label">Day:</strong> Saturday</div>'
        '<div class="data-cell"><strong class="cell-label">Time:</strong></div>'
        '<div class="data-cell"><strong class="cell-label">Place:</strong> Roundhay Park</div>'
        "</div>"
        "</div>\n"
    )


def test_a_table_without_headings_stacks_without_labels() -> None:
    html = sanitise("<p>Before</p><table><tr><td>a</td><td>b</td></tr></table><p>After</p>")
    assert tables.for_email(html, stacked=True) == (
        '<p>Before</p><div class="data-rows"><div class="data-row">'
        '<div class="data-cell">a</div><div class="data-cell">b</div></div></div><p>After</p>'
    )
    assert tables.for_email(html, stacked=False) == (
        '<p>Before</p><table class="data-table"><tbody><tr><td>a</td><td>b</td></tr></tbody>'
        "</table><p>After</p>"
    )


def test_a_body_without_tables_is_unchanged() -> None:
    html = parse_body(
        "# Hi\n\nNo tables, just <b>words</b> & a [link](https://example.org).\n"
    ).html
    assert tables.for_email(html, stacked=True) == html
    assert tables.for_email(html, stacked=False) == html


PADDED = (
    '<td style="padding: 8px 12px;text-align: left;vertical-align: top;'
    'border-bottom: 1px solid #6b6b6b;word-break: normal;overflow-wrap: break-word;">'
)


def test_email_tables_are_padded_and_stack_in_large_print(project) -> None:
    project.campaign("sessions", "# Sessions\n\n" + TABLE)
    b = built(project, "sessions")
    standard = b.personalise(person(), "standard").html
    large = b.personalise(person(), "large-print").html
    assert '<table class="data-table" style="border-collapse: collapse;width: 100%;' in standard
    assert (
        PADDED + '<span class="cell-label" style="display:none;mso-hide:all;">Day: </span>'
        "Wednesday</td>"
    ) in standard
    # The cell's own alignment still wins over the layout's text-align: left.
    assert (
        '<td style="padding: 8px 12px;vertical-align: top;border-bottom: 1px solid #6b6b6b;'
        'word-break: normal;overflow-wrap: break-word;text-align: right">'
    ) in standard
    assert "@media only screen and (max-width: 479px)" in standard
    assert "data-table" not in large.split("</head>")[1]
    assert (
        '<div class="data-row" style="border-top: 2px solid #0b4f8a;padding: 12px 0 0;">'
        '<div class="data-cell" style="margin: 0 0 12px;word-break: normal;'
        'overflow-wrap: break-word;"><strong class="cell-label">Day:</strong> Wednesday</div>'
    ) in large
    # The same words, in the same order, as the plain-text twin.
    assert (
        b.personalise(person())
        .text.split("Sessions\n========\n\n")[1]
        .startswith(
            "Day: Wednesday\nTime: 10:00\nPlace: Leeds sports hall\n\n"
            "Day: Saturday\nTime:\nPlace: Roundhay Park\n"
        )
    )
    assert [t.text for t in scan(large).texts if t.text != "Hello Sam,"][2:9] == [
        "Day:",
        "Wednesday",
        "Time:",
        "10:00",
        "Place:",
        "Leeds",
        "sports",
    ]


def test_lang_is_kept_on_span_p_and_div(project) -> None:
    project.campaign(
        "welsh",
        '# Hello\n\nWe say <span lang="cy" onclick="x()">diolch</span> for thank you.\n\n'
        '<p lang="fr">Bonjour à tous.</p>\n\n<div lang="ga" dir="ltr">Dia dhuit.</div>\n',
    )
    message = built(project, "welsh").personalise(person())
    assert (
        '<p style="margin: 0 0 24px;">We say <span lang="cy">diolch</span> for thank you.</p>'
        in (message.html)
    )
    assert '<p lang="fr" style="margin: 0 0 24px;">Bonjour à tous.</p>' in message.html
    assert '<div lang="ga" dir="ltr">Dia dhuit.</div>' in message.html
    assert "onclick" not in message.html
    assert "We say diolch for thank you.\n\nBonjour à tous.\n\nDia dhuit.\n" in message.text


PREHEADER = (
    '<div style="display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;">'
    "How Disabled people shape our work, and how you can share your story.</div>"
)


@pytest.mark.parametrize("variant", ["standard", "large-print"])
def test_the_preheader_is_hidden_without_a_low_contrast_colour(project, variant) -> None:
    html = built(project).personalise(person(), variant).html
    body = html.split("<body", 1)[1]
    assert body.split(">", 1)[1].startswith(PREHEADER)
    assert html.count("How Disabled people shape our work") == 1
    # No text anywhere is coloured the same as the white it sits on.
    assert "color:#ffffff;line-height:1px" not in html
    assert "font-size:1px" not in body
