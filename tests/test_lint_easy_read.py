"""The Easy Read lint rules: each one firing, with its file line, message and fix, and not
firing on the Easy Read way to say the same thing; the rules kept and changed for Easy Read."""

from __future__ import annotations

import pytest

from engage import campaigns
from engage.render import rules_easyread
from engage.render.build import build
from engage.render.findings import Finding
from engage.render.lint import lint

ER = "campaigns/news.easy-read.md"
TOP = "# Our news\n\n"  # the body starts on line 5, so the first row is on line 7
PICTURE = "![Two people play boccia in a sports hall.](https://www.example.org/images/boccia.png)\n"
CLEAN = TOP + PICTURE + "We play games on Tuesday.\nYou can come too.\n"


@pytest.fixture
def project(project):
    """The example workspace with its sample contacts, so the newsletter audience has people."""
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    return project


def lint_easy_read(project, body: str) -> list[Finding]:
    project.campaign("news", "# Our news\n\nWe had a good month.\n", audience="newsletter")
    path = project.write(
        ER,
        '+++\nsubject = "Our news in Easy Read"\npreheader = "What we did this month."\n+++\n'
        + body,
    )
    ws = project.workspace
    return lint(ws, campaigns.load(ws, str(path)))


def problems(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    return [(f.rule, f.where, f.message, f.fix) for f in findings if f.severity != "info"]


def row(*lines: str) -> str:
    return PICTURE + "".join(f"{line}\n" for line in lines)


CAPITALS_FIX = (
    "If it is short for something, write the words it stands for the first time it is used, "
    'then the letters in brackets, like "Get Yourself Active (GYA)". If it is a word, write it '
    "in small letters."
)
FIRING = [
    (
        "We have no picture in this row.\n",
        [
            (
                "easy-read-picture",
                f"{ER}:7",
                'The row "We have no picture in this…" has no picture.',
                "Start the row with a picture on a line of its own: "
                "![What the picture shows](https://www.example.org/images/walk.png)",
            )
        ],
    ),
    (
        "![](https://www.example.org/images/boccia.png)\nWe play boccia.\n",
        [
            (
                "image-alt-missing",
                f"{ER}:7",
                "The image boccia.png has no alt text.",
                "Describe what the picture shows: "
                "![Two people playing boccia](https://www.example.org/boccia.jpg)",
            )
        ],
    ),
    (
        row(
            "We play.",
            "We walk in the park with our friends and our dogs on a hot day too.",
        ),
        [
            (
                "easy-read-sentence-long",
                f"{ER}:9",
                'The sentence "We walk in the park with…" has 16 words.',
                "Use 15 words or fewer. Split it into 2 sentences, each on a line of its own.",
            )
        ],
    ),
    (
        row("We walk. We talk. We have tea."),
        [
            (
                "easy-read-row-long",
                f"{ER}:7",
                "This row has 3 sentences.",
                "Keep one idea in each row, in 1 or 2 sentences. Start a new row, with its own "
                "picture, for the next idea.",
            )
        ],
    ),
    (
        row("We meet three times a week.", "It is twenty-five minutes."),
        [
            (
                "easy-read-numbers",
                f"{ER}:8",
                '"three" is a number written in words.',
                "Write numbers as digits: 3.",
            ),
            (
                "easy-read-numbers",
                f"{ER}:9",
                '"twenty-five" is a number written in words.',
                "Write numbers as digits: 25.",
            ),
        ],
    ),
    (
        "## Our hundred walks\n\n" + row("We walk."),
        [
            (
                "easy-read-numbers",
                f"{ER}:7",
                '"hundred" is a number written in words.',
                "Write numbers as digits: 100.",
            )
        ],
    ),
    (
        row("Bring a hat, e.g. a cap.", "The walk is 20 mins."),
        [
            (
                "easy-read-abbreviation",
                f"{ER}:8",
                '"e.g." is a short form, which many readers do not know.',
                'Write "for example" instead.',
            ),
            (
                "easy-read-abbreviation",
                f"{ER}:9",
                '"mins" is a short form, which many readers do not know.',
                'Write "minutes" instead.',
            ),
        ],
    ),
    (
        row("Bring a drink, a coat etc."),
        [
            (
                "easy-read-abbreviation",
                f"{ER}:8",
                '"etc." is a short form, which many readers do not know.',
                'Name each thing, or write "and more" instead.',
            )
        ],
    ),
    (
        row("GYA runs the walks."),
        [
            (
                "easy-read-abbreviation",
                f"{ER}:8",
                '"GYA" is in capitals, and it is not explained.',
                CAPITALS_FIX,
            )
        ],
    ),
    (
        row("GYA runs the walks.", "Get Yourself Active (GYA) is a charity."),
        [
            (
                "easy-read-abbreviation",
                f"{ER}:8",
                '"GYA" is explained on line 9, not where it is first used.',
                CAPITALS_FIX,
            )
        ],
    ),
    (
        row("We *really* want to see you."),
        [
            (
                "easy-read-italics",
                f"{ER}:8",
                '"really" is in italics.',
                "Remove the * around it: slanted letters are hard to read. Use bold "
                "(**like this**) for a word that matters.",
            )
        ],
    ),
    (
        row("We _really_ want to see you."),
        [
            (
                "easy-read-italics",
                f"{ER}:8",
                '"really" is in italics.',
                "Remove the _ around it: slanted letters are hard to read. Use bold "
                "(**like this**) for a word that matters.",
            )
        ],
    ),
    (
        row("COME ALONG to our walk."),
        [
            (
                "easy-read-capitals",
                f"{ER}:8",
                '"COME ALONG" is in block capitals.',
                "Write it in small letters, with a capital only at the start of a sentence or a "
                "name. Words in capitals are harder to read.",
            )
        ],
    ),
    (
        row("The walk is FREE."),
        [
            (
                "easy-read-abbreviation",
                f"{ER}:8",
                '"FREE" is in capitals, and it is not explained.',
                CAPITALS_FIX,
            )
        ],
    ),
]


@pytest.mark.parametrize(("rows", "expected"), FIRING)
def test_each_easy_read_rule_fires_at_its_line(project, rows, expected) -> None:
    assert problems(lint_easy_read(project, TOP + rows)) == expected


PASSING = [
    row("We play games on Tuesday.", "You can come too."),
    row("We walk in the park with our friends and our dogs on a hot day."),  # 15 words
    row("We walk. We talk."),
    row("We meet 3 times a week.", "No one is left out."),
    row("It is 25 minutes, for example, on a Monday."),
    row("Get Yourself Active (GYA) runs the walks.", "GYA is a charity."),
    row("GYA (Get Yourself Active) runs the walks.", "GYA is a charity."),
    row("We **really** want to see you."),
    row("Come along to our walk.", "It is free."),
]


@pytest.mark.parametrize("rows", PASSING)
def test_each_easy_read_rule_passes_the_easy_read_way(project, rows) -> None:
    assert problems(lint_easy_read(project, TOP + rows)) == []


def test_a_clean_easy_read_version_has_only_its_reading_time(project) -> None:
    findings = lint_easy_read(project, CLEAN)
    assert [(f.rule, f.where, f.message) for f in findings] == [
        (
            "reading-time",
            ER,
            "About 1 minute to read (11 words). As a whole, it is easy enough for beginner readers.",
        )
    ]


def test_the_reading_level_is_for_beginners_and_for_the_whole_version(project) -> None:
    # The original asks for general readers; its Easy Read version is always for beginners.
    project.campaign(
        "news",
        "# Our news\n\nWe had a good month.\n",
        audience="newsletter",
        reading_level="general",
    )
    hard = TOP + row("Consequently, organisational responsibilities necessitate deliberation.")
    assert problems(lint_easy_read(project, hard)) == [
        (
            "reading-level",
            ER,
            "As a whole, this Easy Read version is hard for beginner readers: it needs a reading "
            "age above 18 (beginner readers: 11 or under); it has many long words.",
            'Use short, everyday words ("use", not "utilise").',
        )
    ]


def test_the_smallest_text_in_easy_read_is_22px(project) -> None:
    project.replace("templates/newsletter-easy-read.mjml.j2", '"body": "24px"', '"body": "20px"')
    assert problems(lint_easy_read(project, CLEAN)) == [
        (
            "font-size",
            "templates/newsletter-easy-read.mjml.j2:9",
            'Text "Hello Sam," is 20px; the smallest allowed is 22px (and 7 more pieces of '
            "text) (in the easy-read version).",
            "Set the font size to 22px or more.",
        )
    ]


def test_22px_is_enough_in_easy_read(project) -> None:
    project.replace("templates/newsletter-easy-read.mjml.j2", '"body": "24px"', '"body": "22px"')
    assert problems(lint_easy_read(project, CLEAN)) == []


def test_the_footer_rules_read_the_easy_read_layout(project) -> None:
    project.replace(
        "templates/newsletter-easy-read.mjml.j2",
        '<p><a href="{{ recipient.unsubscribe_url }}">{{ _("Unsubscribe from our emails") }}</a></p>',
        "",
    )
    assert problems(lint_easy_read(project, CLEAN)) == [
        (
            "footer-unsubscribe",
            "templates/newsletter-easy-read.mjml.j2",
            "The email has no unsubscribe link (in the easy-read version).",
            'Add <a href="{{ recipient.unsubscribe_url }}">Unsubscribe from our emails</a>.',
        )
    ]


def test_the_example_easy_read_version_lints_clean(project) -> None:
    ws = project.workspace
    path = project.root / "campaigns/doing-with-not-doing-to.easy-read.md"
    findings = lint(ws, campaigns.load(ws, str(path)))
    assert [f.rule for f in findings] == ["reading-time"]
    result = project.run("lint", str(path))
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output.splitlines()[-1]


def test_the_rules_that_know_english_words_read_english_only(project) -> None:
    body = TOP + row("We meet three times a week, e.g. on Monday.", "GYA runs it.")
    english = problems(lint_easy_read(project, body))
    assert [(rule, where) for rule, where, _, _ in english] == [
        ("easy-read-abbreviation", f"{ER}:8"),
        ("easy-read-numbers", f"{ER}:8"),
        ("easy-read-abbreviation", f"{ER}:9"),
    ]
    ws = project.workspace
    built = build(ws, campaigns.load(ws, str(project.root / ER)))
    assert built.easy_read is not None
    other = rules_easyread.check(
        built.campaign, built.easy_read, built.body.tokens, ER, english=False
    )
    assert problems(other) == [
        (
            "easy-read-abbreviation",
            f"{ER}:9",
            '"GYA" is in capitals, and it is not explained.',
            CAPITALS_FIX,
        )
    ]
