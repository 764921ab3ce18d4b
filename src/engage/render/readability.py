"""Reading level of a block of text: Flesch–Kincaid grade, Flesch reading ease, sentence length.

Syllables come from the CMU Pronouncing Dictionary (pronouncing.py: the first pronunciation;
British "-ise" spellings fall back to "-ize"), with a spelling heuristic for words it does not
know. Digit strings count one syllable per digit, capped at 4 ("7" → 1, "10" → 2, "2026" → 4,
"1,000,000" → 4): spoken numbers vary too much for anything more exact to be worth it.
Sentences end at . ! ? … before a space or the end (not after "Dr.", "e.g." and the like).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass

from . import pronouncing

MIN_WORDS_FOR_FORMULAS = 5  # below this, grade and ease swing wildly (a heading, a sign-off)
WORDS_PER_MINUTE = 150
MAX_DIGIT_SYLLABLES = 4

# URLs and email addresses are not read aloud as words. A URL never swallows the full stop
# that ends its sentence.
_URL = re.compile(
    r"(?:https?://|www\.)\S*[^\s.,;:!?…)\]\"'”’]|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE
)
# Numbers with separators ("1,000", "3.50") are one word; so are "don't", "well-being".
_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:['’-][^\W_]+)*")
# Sentence end: . ! ? … (repeatable), optional closing quote/bracket, then space or the end.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)")
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "e.g", "i.e", "vs", "approx"})
# A word part: a run of digits (with separators) or of letters (with inner apostrophes).
_PART = re.compile(r"\d[\d.,]*|[^\W\d_]+(?:'[^\W\d_]+)*")
_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh", "ge", "ce", "se", "ze")


@dataclass(frozen=True)
class Score:
    """Counts and reading-level measures for one block of text."""

    words: int
    sentences: int
    syllables: int
    longest_sentence: int  # words in the longest sentence
    average_sentence: float  # words per sentence, rounded to 1 decimal
    grade: float  # Flesch–Kincaid grade level, rounded to 1 decimal
    ease: float  # Flesch reading ease, rounded to 1 decimal


@dataclass(frozen=True)
class Level:
    """The hardest text an audience level allows."""

    name: str
    max_grade: float
    min_ease: float
    max_sentence: int  # longest sentence allowed, in words
    max_average: float  # average sentence length allowed


LEVELS: dict[str, Level] = {
    "beginner": Level("beginner", 6.0, 70.0, 20, 15.0),
    "intermediate": Level("intermediate", 9.0, 60.0, 25, 20.0),
    "general": Level("general", 12.0, 50.0, 30, 25.0),
}


def _guess_syllables(word: str) -> int:
    """Estimate from spelling: vowel groups, minus a silent final e, keeping consonant+le."""
    ascii_word = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    letters = re.sub(r"[^a-z]", "", ascii_word.lower())
    count = len(re.findall(r"[aeiouy]+", letters))
    silent_e = word.endswith("e") and not word.endswith("ee")  # "café" keeps its é
    if silent_e and not re.search(r"[^aeiouy]le$", letters):
        count -= 1
    return max(1, count)


@functools.lru_cache(maxsize=4096)
def _word_syllables(word: str) -> int:
    """Syllables in one lower-case word of letters, possibly with apostrophes."""
    known = pronouncing.syllables()
    if word in known:
        return known[word]
    american = re.sub(r"is(e|es|ed|ing|ation|ations)$", r"iz\1", word)  # "organise"
    if american != word and american in known:
        return _word_syllables(american)
    if word.endswith("'s") and len(word) > 2:
        stem = word[:-2]
        return _word_syllables(stem) + stem.endswith(_SIBILANT_ENDINGS)
    return _guess_syllables(word.replace("'", ""))


def _syllables(token: str) -> int:
    """Syllables in a word token; hyphenated parts and letter/digit runs are summed."""
    token = token.lower().replace("’", "'").strip("'")
    total = 0
    for part in _PART.findall(token):
        if part[0].isdigit():
            total += min(sum(c.isdigit() for c in part), MAX_DIGIT_SYLLABLES)
        else:
            total += _word_syllables(part)
    return max(1, total)


def _split_sentences(text: str) -> list[str]:
    """Split at sentence-ending punctuation, but not after a common abbreviation."""
    pieces: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        before = text[start : end.start()].split()
        if end.group() == "." and before and before[-1].lower() in _ABBREVIATIONS:
            continue
        pieces.append(text[start : end.end()])
        start = end.end()
    pieces.append(text[start:])
    return pieces


def score_text(text: str) -> Score:
    """Score one block (heading, paragraph or list item); URLs and emails are ignored."""
    text = _URL.sub(" ", text)
    sentences = [words for piece in _split_sentences(text) if (words := _WORD.findall(piece))]
    if not sentences:
        return Score(0, 0, 0, 0, 0.0, 0.0, 100.0)
    lengths = [len(found) for found in sentences]
    count = sum(lengths)
    syllables = sum(_syllables(word) for sentence in sentences for word in sentence)
    average = count / len(sentences)
    per_word = syllables / count
    return Score(
        words=count,
        sentences=len(sentences),
        syllables=syllables,
        longest_sentence=max(lengths),
        average_sentence=round(average, 1),
        grade=round(0.39 * average + 11.8 * per_word - 15.59, 1),
        ease=round(206.835 - 1.015 * average - 84.6 * per_word, 1),
    )


READING_AGE_OFFSET = 5  # a school grade (US) is about 5 years below a UK reading age
OLDEST_READING_AGE = 18  # past this, an age means nothing to a reader


def reading_age(grade: float) -> int:
    """The reading age a Flesch–Kincaid grade stands for, as UK teachers use the words."""
    return round(grade) + READING_AGE_OFFSET


def age_words(grade: float) -> str:
    """ "about 9", or "above 18" for text no reading age fits."""
    age = reading_age(grade)
    return f"above {OLDEST_READING_AGE}" if age > OLDEST_READING_AGE else f"about {age}"


def too_hard(score: Score, level: Level) -> bool:
    """True when the words and sentences together are harder than the level allows."""
    return score.words >= MIN_WORDS_FOR_FORMULAS and score.grade > level.max_grade


def long_words(score: Score, level: Level) -> bool:
    """True when the reading ease shows many long words (it weighs syllables most)."""
    return score.words >= MIN_WORDS_FOR_FORMULAS and score.ease < level.min_ease


def long_sentences(score: Score, level: Level) -> bool:
    return score.longest_sentence > level.max_sentence or score.average_sentence > level.max_average


def problems(score: Score, level: Level) -> list[str]:
    """Plain-English reasons this text is harder than the level allows; [] when it is fine."""
    readers = f"{level.name} readers"
    found: list[str] = []
    if too_hard(score, level):
        found.append(
            f"it needs a reading age {age_words(score.grade)} "
            f"({readers}: {reading_age(level.max_grade)} or under)"
        )
    if long_words(score, level):
        found.append("it has many long words")
    if score.longest_sentence > level.max_sentence:
        found.append(
            f"one sentence has {score.longest_sentence} words "
            f"({readers}: {level.max_sentence} or fewer)"
        )
    if score.average_sentence > level.max_average:
        found.append(
            f"its sentences have {score.average_sentence:g} words on average "
            f"({readers}: {level.max_average:g} or fewer)"
        )
    return found


def advice(score: Score, level: Level) -> str:
    """What to change, for the problems `problems` found."""
    tips = []
    if long_words(score, level):
        tips.append('Use short, everyday words ("use", not "utilise").')
    if long_sentences(score, level):
        tips.append("Split long sentences, so each one says one thing.")
    return " ".join(tips) or "Use shorter sentences and everyday words."


def reading_time_minutes(words: int) -> int:
    """Minutes to read `words` at 150 words a minute, rounded up.

    At least 1 when words > 0, 0 for 0; a negative count is a ValueError.
    """
    if words < 0:
        raise ValueError(f"word count cannot be negative: {words}")
    return math.ceil(words / WORDS_PER_MINUTE)
