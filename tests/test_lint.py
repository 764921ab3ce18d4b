"""Every lint rule: a case that fails it and a case that passes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engage import campaigns
from engage.render import rules_html
from engage.render.findings import RULES, Finding
from engage.render.htmlscan import scan
from engage.workflow.lint import lint

from .conftest import REPO, Project
from .test_web import set_topics

LAYOUT = "templates/_layout.mjml.j2"
CLEAN_BODY = "# Our news\n\nWe had a good month. Thank you for your help.\n"


def run_lint(project, slug: str = "t") -> list[Finding]:
    ws = project.workspace
    return lint(ws, campaigns.load(ws, slug))


def problems(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.rule, f.where, f.message) for f in findings if f.severity != "info"]


@pytest.fixture
def project(project):
    """The example workspace with its sample contacts, so the newsletter audience has people.
    The one who asked for Easy Read reads the standard email here, so a test campaign with no
    Easy Read version has no easy-read-missing warning (tests/test_versions.py has those)."""
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    standard = project.write("standard.csv", "email,format\njo.bell@example.org,html\n")
    assert project.run("contacts", "import", str(standard)).exit_code == 0
    return project


def campaign(project, body: str, slug: str = "t", **front: object) -> Path:
    """A campaign for the newsletter audience, unless the test says otherwise."""
    return project.campaign(slug, body, **{"audience": "newsletter", **front})


def lint_body(project, body: str, **front: object) -> list[tuple[str, str, str]]:
    campaign(project, body, **front)
    return problems(run_lint(project))


@pytest.mark.parametrize("slug", ["doing-with-not-doing-to", "share-your-story"])
def test_the_examples_lint_clean(project, slug) -> None:
    findings = run_lint(project, slug)
    # the campaign's, and its Easy Read version's or its Welsh translation's
    assert [f.rule for f in findings] == ["reading-time", "reading-time"]
    result = project.run("lint", slug)
    assert result.exit_code == 0
    assert result.output.endswith("0 errors, 0 warnings. Ready to send.\n")


def test_a_short_clean_campaign_passes_every_rule(project) -> None:
    assert lint_body(project, CLEAN_BODY) == []


# --- Front matter -------------------------------------------------------------------------


def test_subject_missing(project) -> None:
    campaign(project, CLEAN_BODY, subject="")
    assert problems(run_lint(project)) == [
        ("subject-missing", "campaigns/t.md:1", "The campaign has no subject.")
    ]
    result = project.run("lint", "t")
    assert result.exit_code == 1
    assert result.output == (
        "campaigns/t.md:1: error [subject-missing] The campaign has no subject.\n"
        '    Fix: Add a subject to the front matter, like subject = "Our winter news".\n'
        "1 error, 0 warnings. Fix the errors before this campaign can be sent.\n"
    )


def test_subject_long(project) -> None:
    subject = "A" * 40 + " " + "b" * 40
    assert lint_body(project, CLEAN_BODY, subject=subject) == [
        ("subject-long", "campaigns/t.md:1", "The subject is 81 characters long.")
    ]
    assert lint_body(project, CLEAN_BODY, subject="x" * 78) == []


def test_preheader_missing(project) -> None:
    assert lint_body(project, CLEAN_BODY, preheader=None) == [
        ("preheader-missing", "campaigns/t.md:1", "The campaign has no preheader.")
    ]


@pytest.mark.parametrize("preheader", ["Our news", "View in browser"])
def test_preheader_repeats(project, preheader) -> None:
    assert lint_body(project, CLEAN_BODY, preheader=preheader) == [
        ("preheader-repeats", "campaigns/t.md:1", f'The preheader "{preheader}" adds nothing.')
    ]


SOCIAL_FRONT = (
    '+++\nsubject = "Our news"\npreheader = "What we did this month."\n'
    'audience = "newsletter"\nsend_at = 2026-12-03T09:00:00Z\n{social}+++\n' + CLEAN_BODY
)


@pytest.mark.parametrize(
    ("social", "expected"),
    [
        ('[social.outbox]\ntext = "Out now: {{ link }}"\n', []),
        # Posting when it is sent is fine: `engage run` sends first, then posts.
        ('[social.outbox]\ntext = "Out now: {{ link }}"\npost_at = 2026-12-03T09:00:00Z\n', []),
        # A teaser without the link may go before the send.
        ('[social.outbox]\ntext = "Out on Thursday."\npost_at = 2026-12-01T09:00:00Z\n', []),
        (
            '[social.outbox]\ntext = "Out."\n[social."mastodon"]\ntext = "Out now."\n',
            [
                (
                    "social-channel-unknown",
                    "campaigns/t.md:8",
                    "[social.mastodon] is not a channel in engage.toml, so nothing could be "
                    "posted from it.",
                )
            ],
        ),
        (
            '[social]\nbsky = { text = "Out now." }\n',
            [
                (
                    "social-channel-unknown",
                    "campaigns/t.md:7",
                    "[social.bsky] is not a channel in engage.toml, so nothing could be posted "
                    "from it.",
                )
            ],
        ),
        (
            '[social.outbox]\ntext = ["Read it: {{ link }}", "More soon."]\n'
            "post_at = 2026-12-02T09:00:00+01:00\n",
            [
                (
                    "social-before-send",
                    "campaigns/t.md:6",
                    "[social.outbox] posts at 2026-12-02 09:00 UTC+01:00, before the campaign is "
                    "sent (2026-12-03 09:00 UTC), and links to its web page, which is only there "
                    "once it is sent.",
                )
            ],
        ),
    ],
)
def test_social_tables_name_channels_and_wait_for_the_send(project, social, expected) -> None:
    project.write("campaigns/t.md", SOCIAL_FRONT.format(social=social))
    assert problems(run_lint(project)) == expected


def test_the_social_fixes_say_what_to_do(project) -> None:
    project.write("campaigns/t.md", SOCIAL_FRONT.format(social='[social.x]\ntext = "Hi"\n'))
    [finding] = [f for f in run_lint(project) if f.rule == "social-channel-unknown"]
    assert finding.fix == (
        "The channels are: outbox (engage.toml sets none, so posts go there). Change the name "
        "to one of those, or add a [social.x] channel to engage.toml."
    )
    project.write(
        "campaigns/t.md",
        SOCIAL_FRONT.format(
            social='[social.outbox]\ntext = "{{ link }}"\npost_at = 2026-12-01T09:00:00Z\n'
        ),
    )
    [finding] = [f for f in run_lint(project) if f.rule == "social-before-send"]
    assert finding.fix == "Set post_at to send_at or later, or take {{ link }} out of the post."


# --- The Markdown body ----------------------------------------------------------------------

BODY_CASES = [
    (
        "# T\n\nSee this.\n\n![](https://www.example.org/pic.jpg)\n",
        [("image-alt-missing", "campaigns/t.md:10", "The image pic.jpg has no alt text.")],
    ),
    (
        "# T\n\n![IMG_2041.jpg](https://x.example/IMG_2041.jpg)\n",
        [("image-alt-filename", "campaigns/t.md:8", 'The alt text "IMG_2041.jpg" is a file name.')],
    ),
    (
        "# T\n\n![Image of a runner on a track](https://www.example.org/r.jpg)\n",
        [
            (
                "image-alt-redundant",
                "campaigns/t.md:8",
                'The alt text "Image of a runner on a track" starts by saying it is a picture.',
            )
        ],
    ),
    (
        "# T\n\n![" + "A runner " * 17 + "](https://www.example.org/r.jpg)\n",
        [("image-alt-long", "campaigns/t.md:8", "The alt text is 152 characters long.")],
    ),
    (
        "# T\n\nTo join,\n[click here](https://x.example/join).\n",
        [
            (
                "link-text-vague",
                "campaigns/t.md:9",
                'The link text "click here" does not say where it goes (https://x.example/join).',
            )
        ],
    ),
    (
        "# T\n\nSee [Read more!](https://x.example/a).\n",
        [
            (
                "link-text-vague",
                "campaigns/t.md:8",
                'The link text "Read more!" does not say where it goes (https://x.example/a).',
            )
        ],
    ),
    (
        "# T\n\nSee [our page](https://x.example/a).\n\nAnd [Our page](https://x.example/b).\n",
        [
            (
                "link-text-ambiguous",
                "campaigns/t.md:10",
                'The link text "Our page" goes to https://x.example/a and to https://x.example/b.',
            )
        ],
    ),
    (
        "## Section\n\nHello there.\n",
        [
            (
                "heading-h1",
                "campaigns/t.md:6",
                'The first heading "Section" is level 2, not level 1.',
            )
        ],
    ),
    (
        "# One\n\nHello there.\n\n# Two\n",
        [("heading-h1", "campaigns/t.md:10", '"Two" is a second level 1 heading.')],
    ),
    ("Hello there.\n", [("heading-h1", "campaigns/t.md", "The email has no headings.")]),
    (
        "# T\n\nHello there.\n\n### Detail\n",
        [
            (
                "heading-order",
                "campaigns/t.md:10",
                'The heading "Detail" jumps from level 1 to level 3.',
            )
        ],
    ),
    (
        "# T\n\nHello there.\n\n##\n",
        [("heading-empty", "campaigns/t.md:10", "A heading has no words.")],
    ),
    (
        "# T\n\nHello <b>there</b>.\n",
        [
            ("raw-html", "campaigns/t.md:8", "Raw HTML '<b>' is cleaned before sending."),
            ("raw-html", "campaigns/t.md:8", "Raw HTML '</b>' is cleaned before sending."),
        ],
    ),
    (
        "# T\n\nPlease come. DO NOT MISS OUT on the fun.\n",
        [("capitals", "campaigns/t.md:8", '"DO NOT MISS OUT" is in capitals.')],
    ),
    (
        "# T\n\nThe organisation's multidisciplinary stakeholder consultation methodology "
        "prioritises participatory co-production, facilitating transformational "
        "institutional accountability.\n",
        [
            (
                "reading-level",
                "campaigns/t.md:8",
                "This paragraph (\"The organisation's multidisciplinary stakeholder consultation "
                'methodology…") is hard for beginner readers: it needs a reading age above 18 '
                "(beginner readers: 11 or under); it has many long words.",
            )
        ],
    ),
]


@pytest.mark.parametrize(("body", "expected"), BODY_CASES)
def test_body_rules(project, body, expected) -> None:
    assert lint_body(project, body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "# T\n\nWe met the NHS and the BBC in the UK today.\n",  # acronyms are fine
        "# T\n\nSee [our page](https://x.example/a) and [our page](https://x.example/a).\n",
        "# T\n\nHello.\n\n## A\n\nHi.\n\n### B\n\nHi.\n\n## C\n\nHi.\n",
        "# T\n\n![Sam runs on a wet track in the rain](https://x.example/r.jpg)\n",
    ],
)
def test_body_rules_pass(project, body) -> None:
    assert lint_body(project, body) == []


def test_reading_level_follows_the_campaign(project) -> None:
    body = (
        "# T\n\nWe went to the park, and then we had a picnic by the lake, and after "
        "that the children played games with us until dark.\n"
    )
    assert [p[0] for p in lint_body(project, body)] == ["reading-level"]
    assert lint_body(project, body, reading_level="general") == []


def test_reading_level_speaks_plainly_in_the_cli(project) -> None:
    campaign(
        project,
        "# T\n\nThe organisation's multidisciplinary stakeholder consultation methodology "
        "prioritises participatory co-production, facilitating transformational "
        "institutional accountability.\n",
    )
    result = project.run("lint", "t")
    assert result.exit_code == 0
    assert result.output == (
        "campaigns/t.md:8: warning [reading-level] This paragraph (\"The organisation's "
        'multidisciplinary stakeholder consultation methodology…") is hard for beginner '
        "readers: it needs a reading age above 18 (beginner readers: 11 or under); it has many "
        "long words.\n"
        '    Fix: Use short, everyday words ("use", not "utilise").\n'
        "campaigns/t.md: info [reading-time] About 1 minute to read (14 words). As a whole, it "
        "needs a reading age above 18 (beginner readers: 11 or under).\n"
        "0 errors, 1 warning. Ready to send.\n"
    )
    assert "grade" not in result.output and "ease" not in result.output


def test_reading_time_is_information(project) -> None:
    campaign(project, CLEAN_BODY)
    info = [f for f in run_lint(project) if f.severity == "info"]
    assert [(f.rule, f.where, f.message) for f in info] == [
        (
            "reading-time",
            "campaigns/t.md",
            "About 1 minute to read (12 words). As a whole, it is easy enough for beginner "
            "readers.",
        )
    ]


# --- The templates and the finished email ---------------------------------------------------


def lint_layout(project, path: str, old: str, new: str) -> list[tuple[str, str, str]]:
    project.replace(path, old, new)
    campaign(project, CLEAN_BODY)
    return problems(run_lint(project))


def test_template_image_without_alt(project) -> None:
    found = lint_layout(
        project,
        LAYOUT,
        "      <mj-column>\n        <mj-text font-size",
        '      <mj-column>\n        <mj-image src="https://x.example/logo.png" />\n'
        "        <mj-text font-size",
    )
    assert found == [("image-alt-missing", f"{LAYOUT}:48", "The image logo.png has no alt text.")]


def test_template_image_marked_decorative_or_described(project) -> None:
    found = lint_layout(
        project,
        LAYOUT,
        "      <mj-column>\n        <mj-text font-size",
        '      <mj-column>\n        <mj-image src="https://x.example/line.png" alt="" />\n'
        '        <mj-image src="https://x.example/logo.png" alt="Get Yourself Active" />\n'
        "        <mj-text font-size",
    )
    assert found == []


def test_lang_und(project) -> None:
    found = lint_layout(project, "engage.toml", 'lang = "en-GB"', 'lang = "und"')
    assert found == [
        ("html-lang", f"{LAYOUT}:5", 'The email has lang="und".'),
        ("html-lang", f"{LAYOUT}:5", 'The email has lang="und" (in the large-print version).'),
    ]


def test_lang_missing(project) -> None:
    found = lint_layout(project, LAYOUT, '<mjml lang="{{ lang }}" dir="ltr">', "<mjml>")
    assert ("html-lang", LAYOUT + ":5", 'The email has lang="und".') in found


def test_title_not_the_subject(project) -> None:
    found = lint_layout(project, LAYOUT, "<mj-title>{{ campaign.subject }}", "<mj-title>News")
    assert found[0] == ("html-title", f"{LAYOUT}:7", 'The title "News" is not the subject.')


def test_title_missing(project) -> None:
    found = lint_layout(project, LAYOUT, "<mj-title>{{ campaign.subject }}</mj-title>", "")
    assert found[0] == ("html-title", f"{LAYOUT}:6", "The email has no <title>.")


def test_contrast(project) -> None:
    found = lint_layout(project, LAYOUT, 'color="#1a1a1a"', 'color="#999999"')
    assert found == [
        (
            "contrast",
            f"{LAYOUT}:13",
            'Text "Hello Sam," has #999999 on #ffffff: contrast 2.8:1, needs 4.5:1 '
            "(and 1 more piece of text).",
        ),
        (
            "contrast",
            f"{LAYOUT}:13",
            'Text "You get this email because you…" has #999999 on #f2f2f2: contrast 2.5:1, '
            "needs 4.5:1 (and 1 more piece of text).",
        ),
        (
            "contrast",
            f"{LAYOUT}:13",
            'Text "Hello Sam," has #999999 on #ffffff: contrast 2.8:1, needs 3:1 '
            "(and 1 more piece of text) (in the large-print version).",
        ),
        (
            "contrast",
            f"{LAYOUT}:13",
            'Text "You get this email because you…" has #999999 on #f2f2f2: contrast 2.5:1, '
            "needs 3:1 (and 1 more piece of text) (in the large-print version).",
        ),
    ]


def test_large_bold_text_needs_only_three_to_one(project) -> None:
    # #767676 on white is 4.5:1; #949494 is 3.0:1, enough for a 30px bold heading only.
    assert (
        lint_layout(project, LAYOUT, "color: #1a1a1a; }\n      h2", "color: #949494; }\n      h2")
        == []
    )


def test_font_size(project) -> None:
    found = lint_layout(project, "templates/newsletter.mjml.j2", '"body": "18px"', '"body": "14px"')
    assert found == [
        (
            "font-size",
            "templates/newsletter.mjml.j2:3",
            'Text "Hello Sam," is 14px; the smallest allowed is 16px (and 1 more piece of text).',
        )
    ]


def test_font_size_large_print(project) -> None:
    found = lint_layout(
        project, "templates/newsletter-large-print.mjml.j2", '"small": "24px"', '"small": "20px"'
    )
    assert found == [
        (
            "font-size",
            "templates/newsletter-large-print.mjml.j2:4",
            'Text "You get this email because you…" is 20px; the smallest allowed is 24px '
            "(and 4 more pieces of text) (in the large-print version).",
        )
    ]


def test_line_height(project) -> None:
    found = lint_layout(project, "templates/newsletter.mjml.j2", '"line": "1.6"', '"line": "1.2"')
    assert found[0] == (
        "line-height",
        f"{LAYOUT}:13",
        'Text "Get Yourself Active" has line height 1.20; it needs 1.5 or more '
        "(and 7 more pieces of text).",
    )
    assert {f[0] for f in found} == {"line-height"}


def test_justified_and_uppercase(project) -> None:
    found = lint_layout(
        project,
        LAYOUT,
        "      li {",
        "      p { text-align: justify; text-transform: uppercase; }\n      li {",
    )
    text = '"Get Yourself Active"'
    assert found == [
        (
            "text-justified",
            f"{LAYOUT}:21",
            f"Text {text} is justified (and 7 more pieces of text).",
        ),
        (
            "text-justified",
            f"{LAYOUT}:21",
            f"Text {text} is justified (and 7 more pieces of text) (in the large-print version).",
        ),
        (
            "text-uppercase",
            f"{LAYOUT}:21",
            f"Text {text} is shown in capitals (and 7 more pieces of text).",
        ),
        (
            "text-uppercase",
            f"{LAYOUT}:21",
            f"Text {text} is shown in capitals (and 7 more pieces of text) "
            "(in the large-print version).",
        ),
    ]


def test_layout_table_without_role(project) -> None:
    table = "<mj-table><tr><td>Walks</td><td>Tuesday</td></tr></mj-table>\n"
    found = lint_layout(
        project,
        LAYOUT,
        "        <mj-text>\n          <p>{{",
        table + "        <mj-text>\n          <p>{{",
    )
    message = 'A layout table has no role="presentation"; screen readers will read out its rows and columns'
    assert [f for f in found if f[0] == "layout-table-role"] == [
        ("layout-table-role", f"{LAYOUT}:55", message + "."),
        ("layout-table-role", f"{LAYOUT}:55", message + " (in the large-print version)."),
    ]


def test_data_table_with_headers_is_fine(project) -> None:
    body = "# T\n\nOur sessions.\n\n| Day | Sport |\n|---|---|\n| Tuesday | Walking |\n"
    assert lint_body(project, body) == []


def test_footer_unsubscribe_missing(project) -> None:
    line = '          <p class="small"><a href="{{ recipient.unsubscribe_url }}">{{ _("Unsubscribe from our emails") }}</a></p>\n'
    project.replace(
        "templates/newsletter.txt.j2",
        '{{ _("Unsubscribe from our emails") }}:\n{{ recipient.unsubscribe_url }}\n',
        "",
    )
    found = lint_layout(project, LAYOUT, line, "")
    assert found == [
        (
            "footer-unsubscribe",
            "templates/newsletter-large-print.mjml.j2",
            "The email has no unsubscribe link (in the large-print version).",
        ),
        (
            "footer-unsubscribe",
            "templates/newsletter.mjml.j2",
            "The email has no unsubscribe link.",
        ),
    ]


def test_footer_preferences_missing(project) -> None:
    line = '          <p class="small"><a href="{{ recipient.preferences_url }}">{{ _("Choose how you get our emails") }}</a></p>\n'
    found = lint_layout(project, LAYOUT, line, "")
    assert (
        "footer-preferences",
        "templates/newsletter.mjml.j2",
        "The email has no link to change preferences.",
    ) in found


def test_footer_identity_missing(project) -> None:
    found = lint_layout(project, LAYOUT, "{{ organisation.name }}, {{ organisation.address }}.", "")
    assert (
        "footer-identity",
        "templates/newsletter.mjml.j2",
        "The email does not show the organisation's postal address.",
    ) in found


def test_text_part_missing_a_link(project) -> None:
    found = lint_layout(
        project,
        "templates/newsletter.txt.j2",
        '{{ _("Unsubscribe from our emails") }}:\n{{ recipient.unsubscribe_url }}\n',
        "",
    )
    assert found == [
        (
            "text-links",
            "templates/newsletter.txt.j2",
            "The plain-text version does not include http://127.0.0.1:8025/unsubscribe/sample-token.",
        ),
        (
            "text-links",
            "templates/newsletter.txt.j2",
            "The plain-text version does not include http://127.0.0.1:8025/unsubscribe/sample-token "
            "(in the large-print version).",
        ),
    ]


def test_html_size(project) -> None:
    body = "# T\n\n" + "We walk. We talk. We laugh.\n\n" * 4000
    campaign(project, body)
    found = [p for p in problems(run_lint(project)) if p[0] == "html-size"]
    assert found[0][0:2] == ("html-size", LAYOUT + ":5")
    assert found[0][2].startswith("The email is ")
    assert found[0][2].endswith(
        "KB. Gmail cuts off emails over about 102 KB, hiding the footer and unsubscribe link."
    )


# --- The command ------------------------------------------------------------------------


def test_lint_exit_codes_and_output(project) -> None:
    campaign(project, "# T\n\nTo join, [click here](https://x.example/join).\n", preheader=None)
    result = project.run("lint", "t")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:4] == [
        "campaigns/t.md:1: warning [preheader-missing] The campaign has no preheader.",
        "    Fix: Add a preheader: one sentence that adds to the subject.",
        'campaigns/t.md:7: error [link-text-vague] The link text "click here" does not say where '
        "it goes (https://x.example/join).",
        '    Fix: Use words that name the page, like "Read Sam\'s story".',
    ]
    assert lines[4].startswith("campaigns/t.md: info [reading-time] About 1 minute to read")
    assert lines[5] == "1 error, 1 warning. Fix the errors before this campaign can be sent."


def test_lint_warnings_only_exit_zero(project) -> None:
    campaign(project, CLEAN_BODY, preheader=None)
    result = project.run("lint", "t")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "0 errors, 1 warning. Ready to send."


def test_lint_json(project) -> None:
    campaign(project, CLEAN_BODY, preheader=None)
    result = project.run("lint", "t", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data[0] == {
        "rule": "preheader-missing",
        "severity": "warning",
        "where": "campaigns/t.md:1",
        "message": "The campaign has no preheader.",
        "fix": "Add a preheader: one sentence that adds to the subject.",
    }


def test_charset_missing() -> None:
    html = '<html lang="en-GB"><head><title>Hi</title></head><body><p>Hi</p></body></html>'
    variant = _bare_variant(html)
    assert [(f.rule, f.message) for f in rules_html.document(variant, "Hi")] == [
        ("html-charset", "The email does not declare its character set.")
    ]
    with_charset = html.replace("<head>", '<head><meta charset="utf-8">')
    assert list(rules_html.document(_bare_variant(with_charset), "Hi")) == []


def _bare_variant(html: str) -> rules_html.Variant:
    return rules_html.Variant(
        name="standard",
        html=html,
        scan=scan(html),
        min_font=16.0,
        templates=[REPO / LAYOUT],
        shown={REPO / LAYOUT: LAYOUT},
    )


def test_a_filter_on_a_personal_field_is_an_error(project) -> None:
    """More cases in test_personal_fields.py."""
    project.replace(
        "templates/_layout.mjml.j2",
        "{{ recipient.greeting }}",
        "{{ recipient.first_name | upper }}",
    )
    found = run_lint(project, "doing-with-not-doing-to")
    # the Easy Read version has a layout of its own, without the filter
    assert [(f.rule, f.severity) for f in found] == [
        ("personal-field", "error"),
        ("reading-time", "info"),
    ]


def test_every_rule_has_a_test() -> None:
    source = "".join(
        path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_lint*.py")
    )
    untested = [rule for rule in RULES if f'("{rule}"' not in source and f'"{rule}",' not in source]
    assert untested == []


def _story(project, status: str, allowed: dict[str, bool], name: str = "Sam Jones") -> int:
    """A story by a real contributor, moved to `status`, with their choices recorded."""
    import sqlalchemy as sa

    from engage.contacts import core, life
    from engage.store import open_store
    from engage.store.schema import stories
    from engage.stories import coproduce
    from engage.stories import core as story_core
    from engage.stories import opening as story_opening

    store = open_store(project.workspace)
    with store.begin() as connection:
        person = life.add(
            connection, "sam@example.org", core.ConsentGiven(wording="Yes please"), name=name
        )
        story_id = story_opening.open_story(connection, person.id)
        connection.execute(sa.update(stories).values(status=status))
        story = story_core.get(connection, story_id)
        coproduce.record_choices(connection, story, allowed, {})
    store.engine.dispose()
    return story_id


STORY_BODY = "# Our news\n\nSam swims every week. We had a good month.\n"
SOCIAL_POST = '\n[social.outbox]\ntext = "Sam swims: {{ link }}"\n'


def _story_campaign(project, stories: str, social: str = "", body: str = STORY_BODY) -> None:
    project.write(
        "campaigns/t.md",
        '+++\nsubject = "Our news"\npreheader = "What we did this month."\n'
        f"stories = {stories}\n{social}+++\n{body}",
    )


@pytest.mark.parametrize(
    ("status", "allowed", "social", "body", "expected"),
    [
        ("approved", {"newsletter": True}, "", STORY_BODY, []),
        ("published", {"newsletter": True, "outbox": True}, SOCIAL_POST, STORY_BODY, []),
        (
            "in-progress",
            {"newsletter": True},
            "",
            STORY_BODY,
            [("story-not-approved", "Story 1 is in-progress, not approved by its contributor.")],
        ),
        (
            "approved",
            {"newsletter": True, "outbox": False},
            SOCIAL_POST,
            STORY_BODY,
            [
                (
                    "story-channel-refused",
                    "Story 1's contributor has not agreed to it appearing on outbox.",
                )
            ],
        ),
        (
            "approved",
            {"website": True},
            "",
            STORY_BODY,
            [
                (
                    "story-channel-refused",
                    "Story 1's contributor has not agreed to it appearing on newsletter.",
                )
            ],
        ),
        (
            "approved",
            {"newsletter": True, "name": False},
            "",
            "# Our news\n\nSam Jones swims every week.\n",
            [("story-name-refused", "The email names Sam Jones, who said no to using their name.")],
        ),
        (
            "approved",
            {"newsletter": True, "name": True},
            "",
            "# Our news\n\nSam Jones swims every week.\n",
            [],
        ),
    ],
)
def test_story_rules(project, status, allowed, social, body, expected) -> None:
    story_id = _story(project, status, allowed)
    _story_campaign(project, f"[{story_id}]", social, body)
    found = [(f.rule, f.message) for f in run_lint(project) if f.rule.startswith("story-")]
    assert found == expected
    assert all(
        f.where == "campaigns/t.md:1" for f in run_lint(project) if f.rule.startswith("story-")
    )


def test_story_unknown(project) -> None:
    _story_campaign(project, "[7]")
    assert [(f.rule, f.message) for f in run_lint(project) if f.rule.startswith("story-")] == [
        ("story-unknown", "There is no story 7.")
    ]


# --- The audience (the same check a real send makes), on SQLite and PostgreSQL ---------------


@pytest.fixture
def on_db(tmp_path, monkeypatch, db_url):
    """A fresh example workspace whose database is `db_url`, with the sample contacts."""
    root = tmp_path / "db-workspace"
    root.mkdir()
    shutil.copy(REPO / "engage.toml", root / "engage.toml")
    for folder in ("templates", "campaigns", "audiences", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_USER", "test-runner")
    project = Project(root)
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    return project


def audience_findings(project, audience: str | None, kind: str = "newsletter") -> list:
    campaign(project, CLEAN_BODY, audience=audience, kind=kind)
    return [
        (f.rule, f.where, f.message, f.fix)
        for f in run_lint(project)
        if f.rule not in ("reading-time", "translation-missing", "easy-read-missing")
    ]  # who misses a language or Easy Read: tests/test_lint_versions.py


def test_an_unknown_audience_is_an_error_naming_the_closest(on_db) -> None:
    root = on_db.root
    assert audience_findings(on_db, "newsleter") == [
        (
            "audience-unknown",
            "campaigns/t.md:4",
            f"No audience 'newsleter': looked for audiences/newsleter.toml in {root}. Did you "
            "mean 'newsletter'? Audiences here: contributors, newsletter.",
            "Change audience in the front matter to one of those, or add the audience file. "
            "See docs/audiences.md.",
        )
    ]
    result = on_db.run("lint", "t")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"campaigns/t.md:4: error [audience-unknown] No audience 'newsleter': looked for "
        f"audiences/newsleter.toml in {root}. Did you mean 'newsletter'? Audiences here: "
        "contributors, newsletter."
    )
    assert "Did you mean" not in audience_findings(on_db, "volunteers")[0][2]


def test_a_missing_or_broken_audience_is_an_error(on_db) -> None:
    assert audience_findings(on_db, None) == [
        (
            "audience-missing",
            "campaigns/t.md:1",
            "The campaign does not say who it goes to: it has no audience.",
            'Add audience = "newsletter" (or another audience) to the front matter. The '
            "audiences here are: contributors, newsletter.",
        )
    ]
    on_db.write("audiences/broken.toml", 'tags_any = "newsletter"\n')
    assert audience_findings(on_db, "broken") == [
        (
            "audience-invalid",
            "campaigns/t.md:4",
            "audiences/broken.toml:1: tags_any must be a list",
            "Fix the audience file.",
        )
    ]


def test_an_empty_audience_is_a_warning_that_says_how_many_people_and_lint_fails(on_db) -> None:
    on_db.write("audiences/swimmers.toml", 'tags_any = ["swimming"]\n')
    assert audience_findings(on_db, "swimmers", kind="call-for-stories") == [
        (
            "audience-empty",
            "campaigns/t.md:4",
            "Nobody is in the audience swimmers now: none of your 10 subscribed contacts "
            "matches its rules. This campaign would go to nobody.",
            "See who its rules pick with `engage audiences show swimmers`, and check the tags "
            "people have. A send to nobody is refused.",
        )
    ]
    result = on_db.run("lint", "t")  # a send now would be refused, so lint does not pass it
    assert (result.exit_code, result.output.splitlines()[-1]) == (
        1,
        "0 errors, 1 warning. Not ready to send: it would go to nobody now, and a send is refused.",
    )
    for email in (
        "amira.hassan@example.org",
        "femi.adeyemi@example.org",
        "rhys.morgan@example.org",
    ):
        on_db.run("contacts", "unsubscribe", email)
    on_db.write("audiences/contributors.toml", 'tags_any = ["contributor"]\n')
    message = audience_findings(on_db, "contributors", kind="call-for-stories")[0][2]
    assert message == (
        "Nobody is in the audience contributors now: none of your 7 subscribed contacts matches "
        "its rules. This campaign would go to nobody."
    )


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        (
            'tags_any = ["contributor", "story-teller"]\n',
            "it needs one of the tags contributor "
            "or story-teller, and sign-ups never get any of them",
        ),
        (
            'tags_all = ["newsletter", "leeds"]\n',
            "it needs the tag leeds, and sign-ups never get it",
        ),
        (
            'tags_none = ["newsletter"]\n',
            "it leaves out people tagged newsletter, and every sign-up gets that tag",
        ),
        ('status = ["pending"]\n', "it only picks people whose status is pending"),
        (
            '[attributes]\nregion = "Leeds"\n',
            "it picks people by region, and sign-ups have no such details",
        ),
    ],
)
def test_a_newsletter_audience_sign_ups_can_never_join(on_db, rules, reason) -> None:
    on_db.write("audiences/some.toml", rules)
    found = [f for f in audience_findings(on_db, "some") if f[0] == "audience-no-signups"]
    assert found == [
        (
            "audience-no-signups",
            "campaigns/t.md:4",
            f"People who sign up on the web form can never be in the audience some: {reason}.",
            "Sign-ups get the tags in [web] signup_tags (now: newsletter) and the topics they "
            "choose. Give sign-ups a tag this audience picks, or choose another audience. See "
            "docs/audiences.md.",
        )
    ]


def test_sign_ups_can_join_through_a_topic_or_their_tags(on_db) -> None:
    assert audience_findings(on_db, "contributors", kind="call-for-stories") == []
    assert audience_findings(on_db, "newsletter") == []
    on_db.write("audiences/walkers.toml", 'tags_all = ["newsletter", "walking"]\n')
    assert audience_findings(on_db, "walkers") == []  # walking is a topic they may tick
    set_topics(on_db, "")
    assert [f[0] for f in audience_findings(on_db, "walkers")] == ["audience-no-signups"]
    on_db.replace("engage.toml", "[web]\n", '[web]\nsignup_tags = ["members"]\n')
    assert [f[0] for f in audience_findings(on_db, "newsletter")] == ["audience-no-signups"]


def test_earlier_sign_ups_left_out_of_the_newsletter(on_db) -> None:
    from engage.contacts import core, life
    from engage.store import open_store

    store = open_store(on_db.workspace)
    with store.begin() as c:  # as the form left them before sign-ups got tags
        form = core.ConsentGiven(method="form", source="web-form", actor="the person")
        life.add(c, "early@example.org", form)
    store.engine.dispose()
    assert audience_findings(on_db, "newsletter") == [
        (
            "audience-signups-untagged",
            "campaigns/t.md:4",
            "1 person who confirmed on the sign-up form before sign-ups were given tags is not "
            "in the audience newsletter.",
            "Run `engage contacts tag-signups` to give them the sign-up tags (newsletter).",
        )
    ]
    assert on_db.run("contacts", "tag-signups").exit_code == 0
    assert audience_findings(on_db, "newsletter") == []
