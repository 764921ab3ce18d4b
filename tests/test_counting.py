"""Post lengths, spans and facets for X, Mastodon and Bluesky (engage.social.counting).

The X values were checked against twitter-text 3.1 (parseTweet, config v3)."""

import pytest

from engage.social.counting import (
    Span,
    bluesky_facets,
    bluesky_length,
    fancy_letters,
    find_spans,
    hashtag_warnings,
    mastodon_length,
    utf8_offsets,
    x_length,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦, 7 code points
NFD = "Cafe\u0301 ñ"  # "Café ñ" with the accents as combining marks
NFC = "Café ñ"


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        # the worked values from shared/reference/social-networks.md
        ("english text 日本語 😷 https://example.com", 46),
        (f"Hi {FAMILY}", 5),
        ("Visit charity.org.uk today", 35),
        ("Café ñ — “quotes”", 17),
        ("", 0),
        ("Ünïcödé ÀÉÎÕÜ", 13),
        ("€5 → £4 … ok", 15),  # € and … are in the light ranges, → is not
        ("日本語のテキスト", 16),  # CJK weighs 2
        ("한국어", 6),
        ("\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165", 6),  # the same, as jamo: NFC first
        ("🇬🇧🇺🇦", 4),  # each flag is one emoji
        ("👍🏽", 2),  # skin tone and base together
        ("👍🏽👍🏿", 4),
        ("🏳️‍🌈", 2),  # ZWJ sequence with U+FE0F
        ("🏃🏽‍♀️", 2),
        ("1️⃣", 2),  # keycap
        ("©", 1),  # text-style: an ordinary character
        ("©️", 2),  # emoji-style
        ("😷😷😷", 6),
        ("a https://example.com/a b http://example.org/very/long/path?x=1 c charity.org.uk", 77),
        ("See https://example.com.", 28),  # the full stop is not part of the URL
        ("(see example.com)", 29),
        ("Donate at www.charity.org.uk/donate.", 34),
        ("https://example.com/#top", 23),
        ("Run for #DisabilitySport! 🏃🏽‍♀️ https://charity.org.uk/run?id=7", 52),
        ("file.notatld", 12),  # no such top-level domain: not a link
        ("info@charity.org.uk", 19),  # an email address is not a link
    ],
)
def test_x_length(text, weight):
    assert x_length(text) == weight


@pytest.mark.parametrize(
    ("char", "weight"),
    [
        ("\u10ff", 1),  # the last code point of the first light range
        ("\u1100", 2),
        ("\u2002", 1),
        ("\u200e", 2),
        ("\u2010", 1),
        ("\u201f", 1),
        ("\u2020", 2),
        ("\u2030", 2),
        ("\u2032", 1),
        ("\u2037", 1),
        ("\u2038", 2),
    ],
)
def test_x_length_range_edges(char, weight):
    assert x_length(char) == weight


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("a" * 280, 280),
        ("a" * 281, 281),
        ("a" * 256 + " https://example.com", 280),
        ("a" * 257 + " https://example.com", 281),
        ("日" * 140, 280),
        ("日" * 139 + "ab", 280),
        ("日" * 140 + "a", 281),
        ("😷" * 140, 280),
        (FAMILY * 140, 280),
        (FAMILY * 140 + ".", 281),
    ],
)
def test_x_length_at_the_280_boundary(text, weight):
    assert x_length(text) == weight


@pytest.mark.parametrize("count", [x_length, mastodon_length, bluesky_length])
def test_composed_and_decomposed_text_count_the_same(count):
    assert NFD != NFC
    assert count(NFD) == count(NFC) == 6
    assert count(f"{NFD} https://example.com/ok") == count(f"{NFC} https://example.com/ok")


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Hello @ann@mastodon.social!", 11),  # counts as "Hello @ann!"
        ("Hello @ann!", 11),
        ("Read https://example.org/a/very/long/path/indeed?with=query", 28),
        ("https://a.io and http://example.com/x", 51),
        ("charity.org.uk", 14),  # without a scheme Mastodon does not shorten it
        (f"Hi {FAMILY} 🇬🇧", 6),  # grapheme clusters
        ("👍🏽👍🏿 日本語", 6),
        ("@ann@mastodon.social https://example.com/a", 28),
    ],
)
def test_mastodon_length(text, length):
    assert mastodon_length(text) == length


def test_mastodon_length_uses_the_instances_url_length():
    assert mastodon_length("See https://example.com/page", url_length=30) == 34
    assert mastodon_length("See https://example.com/page", 23) == 27


@pytest.mark.parametrize(
    ("text", "length"),
    [
        (f"Hi {FAMILY}", 4),
        ("👍🏽🇬🇧", 2),
        ("🏳️‍🌈 ok", 4),
        ("Café ñ — “quotes”", 17),
        ("日本語", 3),
        ("https://example.com/a/long/path", 31),  # URLs count in full
        ("Visit charity.org.uk today", 26),
    ],
)
def test_bluesky_length(text, length):
    assert bluesky_length(text) == length


def test_find_spans():
    text = (
        "Hi @sam.bsky.social and @ann@mastodon.social, see https://example.org/a(b)?q=1. "
        "#DisabilitySport #2024 charity.org.uk/path, mail info@charity.org"
    )
    assert find_spans(text) == [
        Span("mention", 3, 19, "sam.bsky.social"),
        Span("mention", 24, 44, "ann@mastodon.social"),
        Span("url", 50, 78, "https://example.org/a(b)?q=1"),
        Span("hashtag", 80, 96, "DisabilitySport"),
        Span("url", 103, 122, "charity.org.uk/path"),
    ]
    for span in find_spans(text):
        prefix = {"url": "", "mention": "@", "hashtag": "#"}[span.kind]
        assert text[span.start : span.end] == prefix + span.value


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("(see example.com)", [Span("url", 5, 16, "example.com")]),
        ("https://example.com/#top", [Span("url", 0, 24, "https://example.com/#top")]),
        ("https://mastodon.social/@ann", [Span("url", 0, 28, "https://mastodon.social/@ann")]),
        ("Thanks @sam.", [Span("mention", 7, 11, "sam")]),
        ("#2024 #2024_vote", [Span("hashtag", 6, 16, "2024_vote")]),
        (
            "#日本語 #ÉtéSolidaire",
            [Span("hashtag", 0, 4, "日本語"), Span("hashtag", 5, 18, "ÉtéSolidaire")],
        ),
        ("a#b email@example.com", []),
        (f"{NFD} #cafe\u0301", [Span("hashtag", 7, 12, "café")]),  # offsets in the NFC text
    ],
)
def test_find_spans_cases(text, spans):
    assert find_spans(text) == spans


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("abc", 1, 2, (1, 2)),
        ("😷 é #tag", 4, 8, (8, 12)),
        ("é", 0, 1, (0, 2)),
        ("日本", 1, 2, (3, 6)),
        ("x", 1, 1, (1, 1)),
    ],
)
def test_utf8_offsets(text, start, end, expected):
    assert utf8_offsets(text, start, end) == expected
    byte_start, byte_end = expected
    assert text.encode()[byte_start:byte_end].decode() == text[start:end]


@pytest.mark.parametrize(("start", "end"), [(-1, 1), (2, 1), (0, 4)])
def test_utf8_offsets_rejects_offsets_outside_the_text(start, end):
    with pytest.raises(ValueError):
        utf8_offsets("abc", start, end)


class Resolver:
    """A dict-backed handle resolver that records what it was asked."""

    def __init__(self, dids):
        self.dids, self.asked = dids, []

    def __call__(self, handle):
        self.asked.append(handle)
        return self.dids.get(handle)


FACET = "app.bsky.richtext.facet#"


def test_bluesky_facets_byte_offsets_after_emoji_and_accents():
    text = (
        "😷 Café! Join @sam.bsky.social at charity.org.uk/run #DisabilitySport "
        "https://example.com/ünï @nobody.bsky.social @ann@mastodon.social"
    )
    resolver = Resolver({"sam.bsky.social": "did:plc:sam"})
    facets = bluesky_facets(text, resolver)
    assert facets == [
        {
            "index": {"byteStart": 17, "byteEnd": 33},
            "features": [{"$type": FACET + "mention", "did": "did:plc:sam"}],
        },
        {
            "index": {"byteStart": 37, "byteEnd": 55},
            "features": [{"$type": FACET + "link", "uri": "https://charity.org.uk/run"}],
        },
        {
            "index": {"byteStart": 56, "byteEnd": 72},
            "features": [{"$type": FACET + "tag", "tag": "DisabilitySport"}],
        },
        {
            "index": {"byteStart": 73, "byteEnd": 98},
            "features": [{"$type": FACET + "link", "uri": "https://example.com/ünï"}],
        },
    ]
    spanned = [
        text.encode()[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in facets
    ]
    assert spanned == [
        "@sam.bsky.social",
        "charity.org.uk/run",
        "#DisabilitySport",
        "https://example.com/ünï",
    ]
    # unresolved handles get no facet; a Mastodon address is not looked up at all
    assert resolver.asked == ["sam.bsky.social", "nobody.bsky.social"]


def test_bluesky_facets_index_the_text_as_given():
    text = "Cafe\u0301 #cafe\u0301 @Sam.Bsky.Social"  # decomposed: not NFC
    facets = bluesky_facets(text, Resolver({"sam.bsky.social": "did:plc:sam"}))
    assert [f["index"] for f in facets] == [
        {"byteStart": 7, "byteEnd": 14},
        {"byteStart": 15, "byteEnd": 31},
    ]
    assert text.encode()[7:14].decode() == "#cafe\u0301"
    assert facets[1]["features"] == [{"$type": FACET + "mention", "did": "did:plc:sam"}]


def test_bluesky_facets_without_anything_to_mark():
    assert bluesky_facets("Just words, and 3.5 million. @ghost.bsky.social", Resolver({})) == []


@pytest.mark.parametrize(
    ("text", "warnings"),
    [
        (
            "#disabilitysport",
            ["#disabilitysport is hard to read aloud: write it as #DisabilitySport"],
        ),
        ("Go! #CHARITYRUN", ["#CHARITYRUN is hard to read aloud: write it as #CharityRun"]),
        (
            "#london2026marathon",
            ["#london2026marathon is hard to read aloud: write it as #London2026Marathon"],
        ),
        (
            "#qwxzvbnmplkjh",
            ["#qwxzvbnmplkjh is hard to read aloud: capitalise each word, like #DisabilitySport"],
        ),
        ("#DisabilitySport #NHS #COP28 #charity #Accessibility", []),  # CamelCase, or short
        ("#accessibility", []),  # one long English word reads fine
        ("https://example.com/#verylongfragmenthere", []),  # not a hashtag
    ],
)
def test_hashtag_warnings(text, warnings):
    assert hashtag_warnings(text) == warnings


def test_hashtag_warnings_all_caps_longer_than_five():
    assert hashtag_warnings("#BLACKHISTORYMONTH and #CHARITY") == [
        "#BLACKHISTORYMONTH is hard to read aloud: write it as #BlackHistoryMonth",
        "#CHARITY is hard to read aloud: write it as #Charity",
    ]


@pytest.mark.parametrize(
    ("text", "letters"),
    [
        ("𝐇𝐞𝐥𝐥𝐨 world", ["𝐇", "𝐞", "𝐥", "𝐨"]),
        ("𝘛𝘩𝘢𝘯𝘬𝘴 𝟙𝟚", ["𝘛", "𝘩", "𝘢", "𝘯", "𝘬", "𝘴", "𝟙", "𝟚"]),
        ("Hello world, café 日本語 😷", []),
    ],
)
def test_fancy_letters(text, letters):
    assert fancy_letters(text) == letters
    assert all(0x1D400 <= ord(c) <= 0x1D7FF for c in letters)
