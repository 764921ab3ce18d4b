"""Words in a post that a screen reader reads badly: hashtags in one case (#disabilitysport is
read as one long word) and "fancy" letters (mathematical letters read as their names). Lint and
`engage post` warn about them; the post is still allowed."""

from __future__ import annotations

import functools

import regex

from ..render import pronouncing
from .counting import find_spans


@functools.cache
def _english_words() -> frozenset[str]:
    """The dictionary's words made only of letters (and no single letters but "a" and "i")."""
    return frozenset(
        w
        for w in pronouncing.syllables()
        if w.isalpha() and w.isascii() and (len(w) > 1 or w in ("a", "i"))
    )


def _split_words(letters: str) -> list[str] | None:
    """The one way to write `letters` as the fewest English words, or None if there is
    no such way or more than one."""
    words, n = _english_words(), len(letters)
    best: list[tuple[int, int, int] | None] = [(0, 1, 0)] + [None] * n  # (words, ways, cut)
    for end in range(1, n + 1):
        for start in range(max(0, end - 24), end):
            prev = best[start]
            if prev is None or letters[start:end] not in words:
                continue
            here = best[end]
            if here is None or prev[0] + 1 < here[0]:
                best[end] = (prev[0] + 1, prev[1], start)
            elif prev[0] + 1 == here[0]:
                best[end] = (here[0], here[1] + prev[1], here[2])
    last = best[n]
    if last is None or last[1] != 1:
        return None
    found: list[str] = []
    end = n
    while end:
        step = best[end]
        assert step is not None  # every cut on the one best way was reached
        start = step[2]
        found.insert(0, letters[start:end])
        end = start
    return found


def _camel_case(tag: str) -> str | None:
    """`tag` with each English word capitalised, or None when its words cannot be told apart."""
    out = []
    for piece in regex.findall(r"\p{L}+|\P{L}+", tag):
        words = _split_words(piece.lower()) if piece[0].isalpha() else [piece]
        if words is None:
            return None
        out += [word[:1].upper() + word[1:] for word in words]
    return "".join(out)


def hashtag_warnings(text: str) -> list[str]:
    """Plain-English warnings for hashtags a screen reader cannot read well: all lower case
    and longer than 12 characters (unless one English word), or ALL CAPS and longer than 5."""
    warnings = []
    for span in find_spans(text):
        tag = span.value
        if span.kind != "hashtag":
            continue
        if tag.islower() and len(tag) > 12:
            if len(_split_words(tag) or ()) == 1:
                continue  # one long English word reads fine
        elif not (tag.isupper() and len(tag) > 5):
            continue
        camel = _camel_case(tag)
        advice = f"write it as #{camel}" if camel else "capitalise each word, like #DisabilitySport"
        warnings.append(f"#{tag} is hard to read aloud: {advice}")
    return warnings


def fancy_letters(text: str) -> list[str]:
    """The "fancy" mathematical letters and digits (U+1D400-U+1D7FF) in `text`, each once,
    in order: screen readers cannot read them as words."""
    return [c for c in dict.fromkeys(text) if 0x1D400 <= ord(c) <= 0x1D7FF]
