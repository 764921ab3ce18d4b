"""Giving each reply a kind from its headers, subject, address and cleaned words."""

from __future__ import annotations

import pytest

from engage.replies.triage import Signals, kind_of


def kind(text: str, *, stories: bool = False, **fields: object) -> str:
    values = {"headers": [], "subject": "Re: Our news", "recipient": "reply+1.x@r.example.org"}
    return kind_of(Signals(text=text, answers_call_for_stories=stories, **(values | fields)))


@pytest.mark.parametrize(
    "text",
    [
        "Can my son take part? He is 12.",
        "車いすでも参加できますか？",  # Japanese: a full-width question mark
        "我可以参加吗？",  # Chinese
        "هل يمكنني المشاركة؟",  # Arabic
    ],
)
def test_questions_in_any_script(text: str) -> None:
    assert kind(text) == "question"


def test_words_with_no_question_are_other() -> None:
    assert kind("ニュースレターをありがとうございます。") == "other"


def test_a_story_wins_over_a_question_in_it() -> None:
    words = "I started boccia last spring at the club in Wakefield and I love it. " * 2
    assert kind(words + "Would you like a photo？", stories=True) == "story"
