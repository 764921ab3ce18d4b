"""Post lengths, spans and facets for X, Mastodon and Bluesky (engage.social.counting).

The X values were checked against twitter-text 3.1 (parseTweet, config v3)."""

import pytest

from engage.social.counting import (
    Span,
    bluesky_length,
    find_spans,
    mastodon_length,
    x_invalid_characters,
    x_length,
    x_valid,
)
from engage.social.facets import bluesky_facets, utf8_offsets
from engage.social.readaloud import fancy_letters, hashtag_warnings

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


# Issue 14 part 5: text as each network reads it. The values below were checked against
# twitter-text 3.1.0 (parseTweet, extractUrlsWithIndices, extractHashtagsWithIndices) and
# Bluesky's tag rule (@atproto/api detectFacets); the texts are our own.
ZWJ, ZWNJ = "\u200d", "\u200c"
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # 28 bytes


@pytest.mark.parametrize(
    ("text", "tags", "weight"),
    [
        ("Anem al #col·legi avui", [Span("hashtag", 8, 17, "col·legi")], 22),  # U+00B7
        ("Gràcies #il·lusió", [Span("hashtag", 8, 17, "il·lusió")], 17),
        (f"#نمی{ZWNJ}دانم", [Span("hashtag", 0, 9, f"نمی{ZWNJ}دانم")], 9),
        (f"#ශ්{ZWJ}රී lanka", [Span("hashtag", 0, 6, f"ශ්{ZWJ}රී")], 12),
        ("#צ׳יפס", [Span("hashtag", 0, 6, "צ׳יפס")], 6),  # geresh U+05F3
        ("#תנ״ך", [Span("hashtag", 0, 5, "תנ״ך")], 5),  # gershayim U+05F4
        ("#בית־ספר", [Span("hashtag", 0, 8, "בית־ספר")], 8),  # maqaf U+05BE
        ("#走ろう～よ", [Span("hashtag", 0, 6, "走ろう～よ")], 11),  # fullwidth tilde U+FF5E
        ("#走ろう〜よ", [Span("hashtag", 0, 6, "走ろう〜よ")], 11),  # wave dash U+301C
        ("#パラ・スポーツ", [Span("hashtag", 0, 8, "パラ・スポーツ")], 15),  # U+30FB
        ("#東京〃", [Span("hashtag", 0, 4, "東京〃")], 7),  # ditto mark U+3003
        ("#བོད་ལྗོངས", [Span("hashtag", 0, 10, "བོད་ལྗོངས")], 10),  # tsheg U+0F0B
        ("#ゲ゛ム", [Span("hashtag", 0, 4, "ゲ゛ム")], 7),  # sound mark U+309B
        ("#ア゠イ", [Span("hashtag", 0, 4, "ア゠イ")], 7),  # U+30A0
        ("#꙾a", [Span("hashtag", 0, 3, "꙾a")], 4),  # paiyerok U+A67E
        ("#end· done", [Span("hashtag", 0, 5, "end·")], 10),  # a joiner may end a tag
        ("#a_b_", [Span("hashtag", 0, 5, "a_b_")], 5),
        ("#1\u0301", [Span("hashtag", 0, 3, "1\u0301")], 3),  # a mark counts as a letter
        ("Run ＃パラ", [Span("hashtag", 4, 7, "パラ")], 10),
        ("x·#tag &#tag", [], 12),  # a joiner or & just before the # is not a start
        ("#\ufe0f\u20e3 keycap", [], 9),  # the keycap emoji is not a tag
        ("#2024 #a#b", [], 10),
        ("#tag's", [Span("hashtag", 0, 4, "tag")], 6),
        ("#run, #jump.", [Span("hashtag", 0, 4, "run"), Span("hashtag", 6, 11, "jump")], 12),
    ],
)
def test_hashtags_as_twitter_text_finds_them(text, tags, weight):
    assert [span for span in find_spans(text) if span.kind == "hashtag"] == tags
    assert x_length(text) == weight


def bluesky_tags(text: str) -> list[tuple[str, int, int]]:
    return [
        (f["features"][0]["tag"], f["index"]["byteStart"], f["index"]["byteEnd"])
        for f in bluesky_facets(text, Resolver({}))
        if f["features"][0]["$type"] == FACET + "tag"
    ]


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Anem al #col·legi avui", [("col·legi", 8, 18)]),
        ("#col·legi! i #l·l", [("col·legi", 0, 10), ("l·l", 14, 19)]),
        ("#end· done", [("end", 0, 4)]),  # Bluesky leaves out punctuation at the end
        ("#走ろう～よ", [("走ろう～よ", 0, 16)]),
        ("#צ׳יפס #תנ״ך", [("צ׳יפס", 0, 11), ("תנ״ך", 12, 21)]),
        ("#東京〃", [("東京", 0, 7)]),  # 〃 is punctuation to Bluesky
        # Bluesky stops a tag at ZWJ and ZWNJ (twitter-text does not)
        (f"#ශ්{ZWJ}රී lanka", [("ශ්", 0, 7)]),
        (f"#نمی{ZWNJ}دانم", [("نمی", 0, 7)]),
        ("#tag's #a_b_ #a#b", [("tag's", 0, 6), ("a_b", 7, 11), ("a#b", 13, 17)]),
        ("#2024 #2024a #1?", [("2024a", 6, 12)]),
        ("a#tag x·#tag", []),  # only at the start or after a space
        ("Run ＃パラ", [("パラ", 4, 13)]),
        ("#\ufe0f\u20e3 keycap", []),
        ("#" + "e" * 64 + "!", [("e" * 64, 0, 65)]),
        ("#" + "e" * 65, []),  # more than 64 graphemes
        # graphemes, as atproto's source counts since mid 2026 (older @atproto/api builds on
        # npm counted UTF-16 units and give no facet for these two) and as the lexicon limits
        ("#" + "e\u0301" * 64, [("e\u0301" * 64, 0, 193)]),  # 128 code points, 64 graphemes
        ("#" + "e\u0301" * 65, []),
        ("#" + SCOTLAND * 22, [(SCOTLAND * 22, 0, 617)]),  # 22 graphemes, 616 bytes
        ("#" + SCOTLAND * 23, []),  # 23 graphemes, but over 640 bytes
    ],
)
def test_bluesky_tag_facets_as_bluesky_finds_them(text, tags):
    assert bluesky_tags(text) == tags
    for tag, start, end in tags:
        assert text.encode()[start:end].decode()[1:] == tag


def test_bluesky_facets_never_overlap_a_tag_and_a_link():
    text = "Hi @sam.bsky.social #run,https://example.com and #walk https://example.org"
    facets = bluesky_facets(text, Resolver({"sam.bsky.social": "did:plc:sam"}))
    assert [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in facets] == [
        (3, 19),
        (20, 44),  # Bluesky's tag takes the link after the comma: the tag wins, starting first
        (49, 54),
        (55, 74),
    ]
    assert [f["features"][0] for f in facets][1:] == [
        {"$type": FACET + "tag", "tag": "run,https://example.com"},
        {"$type": FACET + "tag", "tag": "walk"},
        {"$type": FACET + "link", "uri": "https://example.org"},
    ]


LONG_NAME = "障害者スポーツの大会に出ようみんなで走ろう大会"  # 23 characters, xn--... is 63


@pytest.mark.parametrize(
    ("label", "encoded"),
    [(LONG_NAME, 63), (LONG_NAME + "へ", 65), ("ü" * 57, 63), ("ü" * 58, 64)],
)
def test_the_idn_labels_below_are_the_lengths_they_claim(label, encoded):
    assert len("xn--" + label.encode("punycode").decode()) == encoded


@pytest.mark.parametrize(
    ("text", "urls", "weight"),
    [
        ("https://" + "a" * 63 + ".com", [(0, 75)], 23),
        ("https://" + "a" * 64 + ".com", [], 76),  # a label over 63: not a link
        ("a.b " + "a" * 64 + ".com", [], 72),
        (f"Join us https://{LONG_NAME}.jp today", [(8, 42)], 37),
        (f"Join us https://{LONG_NAME}へ.jp today", [], 73),  # 65 once encoded
        (f"Join https://www.{LONG_NAME}.jp/run's", [(5, 49)], 28),
        ("https://" + "ü" * 57 + ".de ok", [(0, 68)], 26),
        ("https://" + "ü" * 58 + ".de ok", [], 72),
        # the ASCII tail of a label that is too long is not a link either
        ("Go to http://日本" + "a" * 62 + ".com now", [], 87),
        ("Go to http://日本" + "a" * 60 + ".com now", [], 85),
    ],
)
def test_x_links_with_long_hosts(text, urls, weight):
    assert [(s.start, s.end) for s in find_spans(text) if s.kind == "url"] == urls
    assert x_length(text) == weight
    assert x_valid(text) is (weight <= 280)


@pytest.mark.parametrize(
    ("text", "urls", "weight"),
    [
        ("See https://t.co/AbC123's page", ["https://t.co/AbC123"], 34),
        ("https://t.co/abc- yes", ["https://t.co/abc"], 28),
        ("Go https://t.co/x1;now", ["https://t.co/x1"], 30),
        ("https://t.co/" + "a" * 40, ["https://t.co/" + "a" * 40], 23),
        ("https://t.co/" + "a" * 41 + " x", [], 56),  # a t.co slug is at most 40
        ("https://t.co/q?lang=en's", ["https://t.co/q?lang=en's"], 23),  # a query may go on
        # other links keep what twitter-text allows in a path
        ("https://example.org/it's", ["https://example.org/it's"], 23),
        ("charity.org.uk's shop", ["charity.org.uk"], 30),
        ("Visit https://example.com/run.", ["https://example.com/run"], 30),
        ("#DisabilitySport https://example.com/#top", ["https://example.com/#top"], 40),
    ],
)
def test_x_links_end_where_twitter_text_ends_them(text, urls, weight):
    assert [s.value for s in find_spans(text) if s.kind == "url"] == urls
    assert x_length(text) == weight
    assert mastodon_length(text) == len(text) - sum(len(u) for u in urls if "://" in u) + 23 * len(
        [u for u in urls if "://" in u]
    )


@pytest.mark.parametrize(
    ("text", "weight", "invalid"),
    [
        ("Hello\ufeffworld", 12, ["U+FEFF (a zero width no-break space, or byte order mark)"]),
        ("Hello\ufffe", 7, ["U+FFFE (a non-character)"]),
        ("\uffff", 2, ["U+FFFF (a non-character)"]),
        (
            "\uffff ok \ufeff https://example.com \uffff",
            35,
            [
                "U+FFFF (a non-character)",
                "U+FEFF (a zero width no-break space, or byte order mark)",
            ],
        ),
        ("Hello\u2060world", 12, []),  # the word joiner is fine
    ],
)
def test_x_refuses_posts_with_invalid_characters(text, weight, invalid):
    assert x_length(text) == weight
    assert x_invalid_characters(text) == invalid
    assert x_valid(text) is not invalid


@pytest.mark.parametrize(
    ("text", "valid"),
    [("", False), ("a" * 280, True), ("a" * 281, False), ("日" * 140, True), ("日" * 141, False)],
)
def test_x_valid_at_the_edges(text, valid):
    assert x_valid(text) is valid
