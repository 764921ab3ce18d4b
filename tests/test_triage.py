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


# -- answers to a call for stories: heard however short, unless only thanks, no or a question --

STORIES = [
    "Yes please! I started wheelchair basketball last year and it changed everything.",
    "Yes, count me in",
    "Yes",
    "Me!",
    "I swim every Sunday.",
    "Boccia!",
    "Will do!",
    "OK",
    "Thank you. Yes",
    "Great, thanks!",
    "Thanks, I have shared this with my swimming club.",
    "Thank you, I will write something this weekend.",
    "No, but my daughter would love to share hers.",
    "No problem, count me in.",
    "Yes! Can I send a video of my first match?",
    "Hi Jo,\n\nI would love to. I play boccia at Leeds.\n\nSam",
    "Oui !",  # French
    "Oui, avec plaisir. Je fais du tennis en fauteuil.",
    "Ja, gerne!",  # German
    "Ja, ich spiele seit einem Jahr Rollstuhlbasketball.",
    "Sí, me encantaría.",  # Spanish
    "Ja, graag!",  # Dutch
    "Sì, volentieri!",  # Italian
    "はい、ぜひ参加したいです。",  # Japanese
    "Merci ! Je nage chaque semaine depuis mon accident.",
    "Danke! Ich schwimme jede Woche.",
]
THANKS_OR_NO = [
    "thanks!",
    "Thanks!",
    "Thank you so much for asking!!",
    "Thanks, Carys",
    "Hi Jo, thanks!",
    "Thanks Jo x",
    "No thank you 😊",
    "merci beaucoup",
    "no thanks",
    "No thanks.\n\nJon",
    "nein danke",
    "no gracias",
    "nee dank je",
    "not for me",
    "no, sorry",
    "No",
    "Sorry",
    "Thanks for asking, but I'd rather not.",
    "Merci, pas pour moi.",  # French
    "Non merci, bonne journée",
    "Danke, aber nein.",  # German
    "Nein, danke. Liebe Grüße, Lena",
    "Muchas gracias, pero no me interesa.",  # Spanish
    "No, lo siento. Saludos, Ana",
    "Nee, bedankt.\n\nGroeten,\nPieter",  # Dutch
    "Grazie mille!",  # Italian
    "Grazie, ma non fa per me. Un saluto, Giulia",
    "ありがとうございます。",  # Japanese
    "結構です。",
    "谢谢",  # Chinese
    "شكرا",  # Arabic
]
QUESTIONS = [
    "Can I send a video?",
    "Is there a word limit?",
    "Can I send a photo with my story?",
    "Hi, can I send a video? Thanks, Carys",
    "Hi, can I send a video? Best, Carys",
    "Do you need a photo",
    "Est-ce que je peux envoyer une vidéo ?",
    "Kann ich ein Video schicken?",
    "¿Puedo enviar un vídeo?",
    "ビデオを送ってもいいですか？",
]


@pytest.mark.parametrize("text", STORIES)
def test_a_short_answer_to_a_call_for_stories_opens_a_story(text: str) -> None:
    assert kind(text, stories=True) == "story"


@pytest.mark.parametrize("text", THANKS_OR_NO)
def test_only_a_thank_you_or_a_no_opens_no_story(text: str) -> None:
    assert kind(text, stories=True) == "other"


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_reply_that_only_asks_is_a_question(text: str) -> None:
    assert kind(text, stories=True) == "question"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes, count me in", "other"),  # to a newsletter, a yes is not a story
        ("Thanks!", "other"),
        ("Can I send a video?", "question"),
    ],
)
def test_short_replies_to_a_newsletter_open_no_story(text: str, expected: str) -> None:
    assert kind(text) == expected


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("Yes!", {"is_bounce": True}, "bounce"),
        ("Yes, count me in", {"headers": [("Auto-Submitted", "auto-replied")]}, "auto-reply"),
        ("Thanks", {"subject": "Automatic reply: Share your story"}, "auto-reply"),
        ("Please unsubscribe me", {}, "unsubscribe"),
        ("Not interested. Please remove me from your list.", {}, "unsubscribe"),
        ("Merci de me désabonner.", {}, "unsubscribe"),
        ("Bitte abmelden.", {}, "unsubscribe"),
        ("Por favor, darme de baja.", {}, "unsubscribe"),
        ("Graag uitschrijven, dank u.", {}, "unsubscribe"),
        ("Per favore, cancellami.", {}, "unsubscribe"),
        ("Dad-danysgrifio", {}, "unsubscribe"),
        ("Plis, tynnwch fi oddi ar y rhestr.", {}, "unsubscribe"),
        ("Dw i eisiau dad-danysgrifio, diolch.", {}, "unsubscribe"),
        ("Diolch am y newyddion, mae gen i stori i'w rhannu", {}, "story"),
        ("Yes", {"recipient": "unsubscribe+1.x@r.example.org"}, "unsubscribe"),
        ("", {}, "other"),  # nothing written and nothing attached: nothing to hear
    ],
)
def test_auto_replies_bounces_and_requests_to_stop_come_first(
    text: str, fields: dict, expected: str
) -> None:
    assert kind(text, stories=True, **fields) == expected
