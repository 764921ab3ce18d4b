"""Lint rules for an Easy Read version: what Mencap and the Department of Health's "Making
written information easier to understand" ask of the words (docs/easy-read.md says why).

Each rule reads the rows render/easyread.py parsed, so each finding names the file line of the
sentence, heading or row. The picture's alt text is checked by rules_source.images, as in every
campaign; here a row without a picture is the finding.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from markdown_it.token import Token

from ..campaigns import Campaign
from . import readability, rules_source
from .easyread import ROW_EXAMPLE, Document, Heading
from .findings import Finding

MAX_WORDS = 15
MAX_SENTENCES = 2

# fmt: off
_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# fmt: on
_SCALES = {"hundred": "100", "thousand": "1,000", "million": "1,000,000"}
DIGITS = {word: str(n) for n, word in enumerate(_ONES)} | {
    word: str(20 + 10 * n) for n, word in enumerate(_TENS)
}
_NUMBER = re.compile(
    rf"\b(?:({'|'.join(_TENS)})[- ]({'|'.join(_ONES[1:10])})|({'|'.join([*DIGITS, *_SCALES])}))\b",
    re.I,
)
# "one" as a word, not a number: "no one", "one another".
_NOT_A_NUMBER = re.compile(r"\bno one\b|\bone another\b", re.I)

# Short forms (lower case, no spaces, no last full stop), and what to write instead.
_INSTEAD = 'Write "{}" instead.'
SHORT_FORMS = {
    "e.g": _INSTEAD.format("for example"),
    "i.e": _INSTEAD.format("that means"),
    "etc": 'Name each thing, or write "and more" instead.',
    "approx": _INSTEAD.format("about"),
    "vs": _INSTEAD.format("against"),
    "info": _INSTEAD.format("information"),
    "min": _INSTEAD.format("minutes"),
    "mins": _INSTEAD.format("minutes"),
    "hr": _INSTEAD.format("hours"),
    "hrs": _INSTEAD.format("hours"),
    "tel": _INSTEAD.format("phone"),
    "n.b": "Leave it out, and say the thing in a sentence of its own.",
    "p.s": "Leave it out, and put the thing in a row of its own.",
}
_SHORT = re.compile(
    r"(?<![\w.])(e\.\s?g\.?|i\.\s?e\.?|etc\.?|approx\.?|vs\.?|info|mins?|hrs?|tel\.?|n\.\s?b\.?"
    r"|p\.\s?s\.?)(?![\w])",
    re.I,
)
_CAPS_WORD = re.compile(r"\b[A-Z]{2,}\b")
_CAPS_RUN = re.compile(r"\b[A-Z]{2,}(?:[ \t]+[A-Z]{2,})+\b")


@dataclasses.dataclass(frozen=True)
class Words:
    """One sentence or heading: its words and where it is."""

    text: str
    line: int
    tokens: tuple[Token, ...]
    what: str  # "sentence" | "heading"


def check(
    campaign: Campaign, document: Document, tokens: list[Token], shown: str, english: bool = True
) -> list[Finding]:
    """Every Easy Read finding on the version, in the order of the rules. The rules that know
    English words (numbers in words, short forms, the reading level) read English only."""
    words = _words(document)
    return [
        *pictures(document, shown),
        *long_sentences(words, shown),
        *crowded_rows(document, shown),
        *(numbers(words, shown) if english else ()),
        *abbreviations(words, shown, english),
        *italics(words, shown),
        *capitals(words, shown),
        *reading(campaign, tokens, shown, english),
    ]


def _words(document: Document) -> list[Words]:
    found = []
    for part in document.parts:
        if isinstance(part, Heading):
            found.append(Words(part.text, part.line, part.tokens, "heading"))
        else:
            found += [Words(s.text, s.line, s.tokens, "sentence") for s in part.sentences]
    return found


def _start(text: str, words: int = 6) -> str:
    said = text.split()
    return " ".join(said[:words]) + ("…" if len(said) > words else "")


def pictures(document: Document, shown: str) -> Iterator[Finding]:
    for row in document.rows:
        if row.picture is None:
            yield Finding(
                "easy-read-picture",
                f"{shown}:{row.line}",
                f'The row "{_start(row.sentences[0].text)}" has no picture.',
                f"Start the row with a picture on a line of its own: {ROW_EXAMPLE}",
            )


def long_sentences(words: list[Words], shown: str) -> Iterator[Finding]:
    for each in words:
        if each.what != "sentence":
            continue
        count = readability.score_text(each.text).words
        if count > MAX_WORDS:
            yield Finding(
                "easy-read-sentence-long",
                f"{shown}:{each.line}",
                f'The sentence "{_start(each.text)}" has {count} words.',
                f"Use {MAX_WORDS} words or fewer. Split it into 2 sentences, each on a line of "
                "its own.",
            )


def crowded_rows(document: Document, shown: str) -> Iterator[Finding]:
    for row in document.rows:
        if len(row.sentences) > MAX_SENTENCES:
            yield Finding(
                "easy-read-row-long",
                f"{shown}:{row.line}",
                f"This row has {len(row.sentences)} sentences.",
                "Keep one idea in each row, in 1 or 2 sentences. Start a new row, with its own "
                "picture, for the next idea.",
            )


def numbers(words: list[Words], shown: str) -> Iterator[Finding]:
    for each in words:
        text = _NOT_A_NUMBER.sub(lambda m: " " * len(m.group()), each.text)
        for match in _NUMBER.finditer(text):
            said = match.group(0)
            if match.group(1):
                digits = str(
                    int(DIGITS[match.group(1).lower()]) + int(DIGITS[match.group(2).lower()])
                )
            else:
                digits = DIGITS.get(said.lower()) or _SCALES[said.lower()]
            yield Finding(
                "easy-read-numbers",
                f"{shown}:{each.line}",
                f'"{said}" is a number written in words.',
                f"Write numbers as digits: {digits}.",
            )


def abbreviations(words: list[Words], shown: str, english: bool = True) -> Iterator[Finding]:
    """Short forms (e.g., etc.: English only), and initials not explained where they are
    first used."""
    for each in words if english else ():
        for match in _SHORT.finditer(each.text):
            said = match.group(0)
            yield Finding(
                "easy-read-abbreviation",
                f"{shown}:{each.line}",
                f'"{said}" is a short form, which many readers do not know.',
                SHORT_FORMS[re.sub(r"\s", "", said.lower()).rstrip(".")],
            )
    yield from _initials(words, shown)


def _initials(words: list[Words], shown: str) -> Iterator[Finding]:
    in_runs = {
        (index, m.start(), m.end())
        for index, each in enumerate(words)
        for m in _CAPS_RUN.finditer(each.text)
    }
    first: dict[str, int] = {}
    explained: dict[str, int] = {}
    for index, each in enumerate(words):
        for match in _CAPS_WORD.finditer(each.text):
            if any(i == index and s <= match.start() < e for i, s, e in in_runs):
                continue  # block capitals: `capitals` reports the run
            first.setdefault(match.group(), index)
            if match.group() not in explained and _explains(each.text, match.group()):
                explained[match.group()] = index
    for initials, index in first.items():
        each = words[index]
        if initials not in explained:
            message = f'"{initials}" is in capitals, and it is not explained.'
        elif explained[initials] > index:
            later = words[explained[initials]].line
            message = f'"{initials}" is explained on line {later}, not where it is first used.'
        else:
            continue
        yield Finding(
            "easy-read-abbreviation",
            f"{shown}:{each.line}",
            message,
            "If it is short for something, write the words it stands for the first time it "
            'is used, then the letters in brackets, like "Get Yourself Active (GYA)". If it '
            "is a word, write it in small letters.",
        )


def _explains(text: str, initials: str) -> bool:
    """Whether `text` says what `initials` stand for: "Get Yourself Active (GYA)" or
    "GYA (Get Yourself Active)" (at least 2 words on the other side of the brackets)."""
    escaped = re.escape(initials)
    after = re.search(rf"\b{escaped}\s*\(([^)]*)\)", text)
    if after and len(after.group(1).split()) >= 2:
        return True
    before = re.search(rf"\(\s*{escaped}\s*\)", text)
    return bool(before and len(re.findall(r"\w+", text[: before.start()])) >= 2)


def italics(words: list[Words], shown: str) -> Iterator[Finding]:
    for each in words:
        tokens = list(each.tokens)
        for index, token in enumerate(tokens):
            if token.type != "em_open":
                continue
            inside = "".join(
                t.content
                for t in tokens[index + 1 :][: _close(tokens[index + 1 :])]
                if t.type == "text"
            )
            yield Finding(
                "easy-read-italics",
                f"{shown}:{each.line}",
                f'"{_start(inside)}" is in italics.',
                f"Remove the {token.markup} around it: slanted letters are hard to read. Use "
                "bold (**like this**) for a word that matters.",
            )


def _close(tokens: list[Token]) -> int:
    depth = 1
    for index, token in enumerate(tokens):
        depth += token.nesting if token.type in ("em_open", "em_close") else 0
        if depth == 0:
            return index
    return len(tokens)


def capitals(words: list[Words], shown: str) -> Iterator[Finding]:
    for each in words:
        for match in _CAPS_RUN.finditer(each.text):
            yield Finding(
                "easy-read-capitals",
                f"{shown}:{each.line}",
                f'"{_start(match.group())}" is in block capitals.',
                "Write it in small letters, with a capital only at the start of a sentence or "
                "a name. Words in capitals are harder to read.",
            )


def reading(
    campaign: Campaign, tokens: list[Token], shown: str, english: bool = True
) -> Iterator[Finding]:
    """The reading level, always for beginner readers (whatever the original asks), of the
    version as a whole: a row of 1 or 2 short sentences is too short to score on its own, and
    the rules above already keep each sentence short."""
    meta = dataclasses.replace(campaign.meta, reading_level="beginner")
    beginner = dataclasses.replace(campaign, meta=meta)
    level = readability.LEVELS["beginner"]
    whole = readability.score_text(
        " ".join(text for _, _, text in rules_source.blocks(beginner, tokens))
    )
    reasons = readability.problems(whole, level) if english else []
    if reasons:
        yield Finding(
            "reading-level",
            shown,
            f"As a whole, this Easy Read version is hard for {level.name} readers: "
            f"{'; '.join(reasons)}.",
            readability.advice(whole, level),
        )
    yield from (
        f
        for f in rules_source.reading(beginner, tokens, shown, english=english)
        if f.rule != "reading-level"
    )
