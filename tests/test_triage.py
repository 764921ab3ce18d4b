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


@pytest.mark.parametrize(
    ("stories", "media", "expected"),
    [
        (True, True, "story"),  # a voice note or video answers the call
        (True, False, "other"),
        (False, True, "other"),  # a picture sent with a newsletter reply is not a story
    ],
)
def test_a_voice_note_to_a_call_for_stories_is_a_story(stories, media, expected) -> None:
    assert kind("", stories=stories, has_media=media) == expected


def test_an_out_of_office_with_a_logo_is_still_an_auto_reply() -> None:
    assert (
        kind("Out of office", stories=True, has_media=True, subject="Automatic reply: Hi")
        == "auto-reply"
    )
