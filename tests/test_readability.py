"""Tests for engage.render.readability: syllables, sentences, scores, levels, reading time."""

import dataclasses

import pytest

from engage.render import pronouncing
from engage.render.readability import (
    LEVELS,
    Level,
    Score,
    advice,
    age_words,
    problems,
    reading_age,
    reading_time_minutes,
    score_text,
)

BEGINNER = LEVELS["beginner"]
INTERMEDIATE = LEVELS["intermediate"]

SIMPLE = (
    "Our club meets every Saturday at the park. Everyone is welcome. "
    "Bring a drink and wear trainers. We will have fun together."
)
ACADEMIC = (
    "The organisation's comprehensive inclusion strategy prioritises the systematic "
    "identification of institutional barriers that disproportionately constrain participation "
    "opportunities for individuals with intellectual disabilities across competitive and "
    "recreational environments, notwithstanding considerable variation in regional "
    "infrastructure. Further longitudinal research is therefore required."
)


def score(**fields: float) -> Score:
    """A Score with harmless defaults, overridden by `fields`."""
    base = dict(
        words=10,
        sentences=1,
        syllables=12,
        longest_sentence=10,
        average_sentence=10.0,
        grade=3.0,
        ease=90.0,
    )
    return Score(**{**base, **fields})


@pytest.mark.parametrize(
    ("word", "syllables"),
    [
        # In the CMU dictionary.
        ("community", 4),
        ("story", 2),
        ("Saturday", 3),
        ("every", 3),  # first pronunciation listed
        ("wheelchair", 2),
        ("disabilities", 5),
        ("don't", 1),
        ("don’t", 1),  # curly apostrophe
        ("Sam's", 1),
        ("players'", 2),
        # British -ise spelling, looked up as -ize.
        ("organise", 3),
        ("prioritises", 5),
        # Possessive of an unknown word: stem, plus one after a sibilant.
        ("engage's", 3),
        ("Jess's", 2),
        # Heuristic for made-up words.
        ("blorptastic", 3),
        ("frimble", 2),  # consonant + le
        ("blorpe", 1),  # silent final e
        ("snorkee", 2),  # final ee is not silent
        ("zzz", 1),  # minimum 1
        ("café", 2),  # é is not a silent e
        # Hyphenated: sum of the parts.
        ("well-being", 3),
        ("twenty-six", 3),
        # Numbers: one per digit, capped at 4.
        ("7", 1),
        ("10", 2),
        ("2026", 4),
        ("1,000,000", 4),
        ("3.50", 3),
        ("10am", 3),
    ],
)
def test_syllables_of_one_word(word: str, syllables: int) -> None:
    result = score_text(word)
    assert result.words == 1
    assert result.syllables == syllables


def test_dictionary_is_loaded_once() -> None:
    assert pronouncing.syllables() is pronouncing.syllables()
    assert pronouncing.syllables.cache_info().currsize == 1
    assert pronouncing.syllables()["story"] == 2  # S T AO1 R IY0


@pytest.mark.parametrize(
    ("text", "sentences", "words", "longest"),
    [
        ("Hi. How are you? Great!", 3, 5, 3),
        ("No ending punctuation here", 1, 4, 4),
        ("Wait… what", 2, 2, 1),
        ("Really?! Yes... it is.", 3, 4, 2),
        ('"Run!" We ran. (Fast.) Then we rested.', 4, 7, 3),
        ("Dr. Patel said hello, e.g. to me.", 1, 8, 8),
        ("It costs £3.50 in 2026. Book now.", 2, 7, 5),
        ("Visit www.example.org. Then email sam@club.org.uk today.", 2, 4, 3),
        ("See https://example.org/join?x=1. Then go!", 2, 3, 2),
        ("Read https://example.org/a.html now", 1, 2, 2),
        ("One. https://example.org. Two.", 2, 2, 1),
    ],
)
def test_sentences_and_words(text: str, sentences: int, words: int, longest: int) -> None:
    result = score_text(text)
    assert (result.sentences, result.words, result.longest_sentence) == (
        sentences,
        words,
        longest,
    )


@pytest.mark.parametrize("text", ["", "   \n", "https://example.org", "...", "sam@club.org.uk"])
def test_empty_text(text: str) -> None:
    assert score_text(text) == Score(
        words=0,
        sentences=0,
        syllables=0,
        longest_sentence=0,
        average_sentence=0.0,
        grade=0.0,
        ease=100.0,
    )


def test_score_of_known_sentences() -> None:
    # 10 words, 2 sentences, 14 syllables (every 3, Saturday 3, the rest 1 each).
    # grade = 0.39 * 5 + 11.8 * 1.4 - 15.59 = 2.88
    # ease = 206.835 - 1.015 * 5 - 84.6 * 1.4 = 83.32
    assert score_text("The cat sat on the mat. We run every Saturday.") == Score(
        words=10,
        sentences=2,
        syllables=14,
        longest_sentence=6,
        average_sentence=5.0,
        grade=2.9,
        ease=83.3,
    )


def test_score_of_block_without_punctuation() -> None:
    # grade = 0.39 * 3 + 11.8 * 1 - 15.59 = -2.62; ease = 206.835 - 3.045 - 84.6 = 119.19
    assert score_text("Come and play") == Score(3, 1, 3, 3, 3.0, -2.6, 119.2)


def test_average_sentence_is_rounded() -> None:
    assert score_text("One two. Three. Four.").average_sentence == 1.3


def test_simple_paragraph_passes_beginner() -> None:
    result = score_text(SIMPLE)
    assert (result.words, result.sentences, result.longest_sentence) == (22, 4, 8)
    assert problems(result, BEGINNER) == []


def test_academic_paragraph_fails_beginner() -> None:
    # 39 words, 2 sentences (33 and 6 words), 129 syllables (114 + 15; CMU: "required" 3).
    # grade = 0.39 * 19.5 + 11.8 * 129 / 39 - 15.59 = 31.05
    # ease = 206.835 - 1.015 * 19.5 - 84.6 * 129 / 39 = -92.79
    result = score_text(ACADEMIC)
    assert result == Score(39, 2, 129, 33, 19.5, 31.0, -92.8)
    assert problems(result, BEGINNER) == [
        "it needs a reading age above 18 (beginner readers: 11 or under)",
        "it has many long words",
        "one sentence has 33 words (beginner readers: 20 or fewer)",
        "its sentences have 19.5 words on average (beginner readers: 15 or fewer)",
    ]
    assert advice(result, BEGINNER) == (
        'Use short, everyday words ("use", not "utilise"). '
        "Split long sentences, so each one says one thing."
    )


def test_academic_paragraph_at_intermediate_keeps_its_average() -> None:
    assert problems(score_text(ACADEMIC), INTERMEDIATE) == [
        "it needs a reading age above 18 (intermediate readers: 14 or under)",
        "it has many long words",
        "one sentence has 33 words (intermediate readers: 25 or fewer)",
    ]


def test_each_reason_on_its_own() -> None:
    assert problems(score(grade=8.2), BEGINNER) == [
        "it needs a reading age about 13 (beginner readers: 11 or under)"
    ]
    assert advice(score(grade=8.2), BEGINNER) == "Use shorter sentences and everyday words."
    assert problems(score(ease=55.0), BEGINNER) == ["it has many long words"]
    assert advice(score(ease=55.0), BEGINNER) == 'Use short, everyday words ("use", not "utilise").'
    assert problems(score(longest_sentence=27), BEGINNER) == [
        "one sentence has 27 words (beginner readers: 20 or fewer)"
    ]
    assert problems(score(average_sentence=16.0), BEGINNER) == [
        "its sentences have 16 words on average (beginner readers: 15 or fewer)"
    ]
    assert advice(score(average_sentence=16.0), BEGINNER) == (
        "Split long sentences, so each one says one thing."
    )


@pytest.mark.parametrize(
    ("grade", "age", "words"),
    [
        (-1.3, 4, "about 4"),
        (6.0, 11, "about 11"),
        (8.4, 13, "about 13"),
        (13.0, 18, "about 18"),
        (13.6, 19, "above 18"),
        (44.8, 50, "above 18"),
    ],
)
def test_reading_age(grade: float, age: int, words: str) -> None:
    assert reading_age(grade) == age
    assert age_words(grade) == words


def test_limits_themselves_are_allowed() -> None:
    at_limit = score(grade=6.0, ease=70.0, longest_sentence=20, average_sentence=15.0)
    assert problems(at_limit, BEGINNER) == []
    just_over = score(grade=6.1, ease=69.9, longest_sentence=21, average_sentence=15.1)
    assert len(problems(just_over, BEGINNER)) == 4


def test_short_blocks_skip_grade_and_ease() -> None:
    assert problems(score_text("Hello"), BEGINNER) == []
    hard_heading = score_text("Interdisciplinary collaboration")
    assert hard_heading.grade > 12 and hard_heading.ease < 50
    assert problems(hard_heading, BEGINNER) == []
    assert problems(score_text("The media team"), BEGINNER) == []
    five_words = score_text("Interdisciplinary collaboration opportunities necessitate evaluation")
    assert problems(five_words, BEGINNER)[:2] == [
        "it needs a reading age above 18 (beginner readers: 11 or under)",
        "it has many long words",
    ]


def test_short_blocks_still_get_sentence_length_checks() -> None:
    run_on = score(words=2, longest_sentence=22, average_sentence=22.0, grade=40.0, ease=-50.0)
    assert problems(run_on, BEGINNER) == [
        "one sentence has 22 words (beginner readers: 20 or fewer)",
        "its sentences have 22 words on average (beginner readers: 15 or fewer)",
    ]


def test_levels() -> None:
    assert list(LEVELS.items()) == [
        ("beginner", Level("beginner", 6.0, 70.0, 20, 15.0)),
        ("intermediate", Level("intermediate", 9.0, 60.0, 25, 20.0)),
        ("general", Level("general", 12.0, 50.0, 30, 25.0)),
    ]
    assert problems(score(grade=12.6), LEVELS["general"]) == [
        "it needs a reading age about 18 (general readers: 17 or under)"
    ]


def test_dataclasses_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        score_text("Hello").words = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        BEGINNER.max_grade = 99.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("words", "minutes"), [(0, 0), (1, 1), (150, 1), (151, 2), (300, 2), (301, 3)]
)
def test_reading_time_minutes(words: int, minutes: int) -> None:
    assert reading_time_minutes(words) == minutes


def test_reading_time_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        reading_time_minutes(-1)
