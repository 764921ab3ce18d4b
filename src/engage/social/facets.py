"""Bluesky's facets: the links, mentions and hashtags of a post, indexed in UTF-8 bytes, as
app.bsky.richtext.facet records (social/bluesky.py sends them with the post)."""

from __future__ import annotations

from collections.abc import Callable

import regex

from .counting import BSKY_HANDLE, SCHEME, Span, graphemes, spans


def utf8_offsets(text: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets in `text` -> UTF-8 byte offsets (end exclusive)."""
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"offsets {start}:{end} are outside a text of {len(text)} characters")
    byte_start = len(text[:start].encode("utf-8"))
    return byte_start, byte_start + len(text[start:end].encode("utf-8"))


# Hashtags as Bluesky's own apps find them (@atproto/api RichText.detectFacets): a # at the
# start or after white space, then everything up to the next white space or invisible
# separator, if that holds something other than digits and punctuation; punctuation at the
# end is left out, and a tag of more than 64 graphemes (or 640 bytes) gets no facet.
# `_JS_SPACE` is what JavaScript counts as white space (\s), `_STOPS` the separators Bluesky
# adds to it.
_JS_SPACE = "\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_STOPS = _JS_SPACE + "\xad\u2060\u200b\u200c\u200d\u20e2"
_BSKY_TAG = regex.compile(
    r"(?:^|(?<=[" + _JS_SPACE + r"]))[#＃](?!\ufe0f)"
    r"(?P<tag>[^" + _STOPS + r"]*?[^0-9\p{P}" + _STOPS + r"][^" + _STOPS + r"]*+)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+\Z")
BLUESKY_MAX_TAG, BLUESKY_MAX_TAG_BYTES = 64, 640  # the facet lexicon's limits


def _bluesky_tags(text: str) -> list[Span]:
    found = []
    for m in _BSKY_TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", m["tag"])
        if tag and graphemes(tag) <= BLUESKY_MAX_TAG and len(tag.encode()) <= BLUESKY_MAX_TAG_BYTES:
            found.append(Span("hashtag", m.start(), m.start("tag") + len(tag), tag))
    return found


def bluesky_facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict]:
    """app.bsky.richtext.facet records for the links, mentions and hashtags in `text`.

    Byte offsets index `text` exactly as given (post that same string). Links and mentions
    are found as `find_spans` finds them; hashtags as Bluesky's own apps find them (see
    `_BSKY_TAG`), so a tag reads the same in our post as in one written in the app. Mentions
    are resolved with `resolve_handle(handle)` (lower-cased, without "@"), only for handles
    shaped like domains; one that does not resolve gets no facet. Bare domains are linked
    with "https://" in front. Where a tag and a link or mention overlap, the one that starts
    first wins (facets must not overlap).
    """
    ns = "app.bsky.richtext.facet#"
    links = [span for span in spans(text) if span.kind != "hashtag"]
    kept: list[tuple[Span, dict]] = []
    for span in sorted(links + _bluesky_tags(text), key=lambda s: s.start):
        if kept and span.start < kept[-1][0].end:
            continue
        if span.kind == "url":
            uri = span.value if SCHEME.match(span.value) else "https://" + span.value
            feature = {"$type": ns + "link", "uri": uri}
        elif span.kind == "mention":
            did = resolve_handle(span.value.lower()) if BSKY_HANDLE.fullmatch(span.value) else None
            if not did:
                continue
            feature = {"$type": ns + "mention", "did": did}
        else:
            feature = {"$type": ns + "tag", "tag": span.value}
        kept.append((span, feature))
    facets = []
    for span, feature in kept:
        byte_start, byte_end = utf8_offsets(text, span.start, span.end)
        facets.append(
            {"index": {"byteStart": byte_start, "byteEnd": byte_end}, "features": [feature]}
        )
    return facets
