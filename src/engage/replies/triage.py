"""What kind of reply this is: story, question, unsubscribe, auto-reply, bounce or other.

The checks go from the most certain to the least: a delivery failure notice, then the headers
and subjects that mail programs put on automatic replies, then a mail to the unsubscribe
address or a short, unmistakable request to stop, then the words themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?reply|autoreply|auto:"
    r"|away from (?:the|my) (?:office|desk|email)|on holiday|on leave|on annual leave"
    r"|abwesenheitsnotiz|réponse automatique|absence du bureau|respuesta automática"
    r"|afwezigheidsbericht|risposta automatica)",
    re.I,
)
_AUTO_TEXT = re.compile(
    r"\b(?:I am|I'm) (?:currently )?(?:out of (?:the )?office|away|on (?:annual )?leave"
    r"|on holiday)\b.{0,80}\b(?:until|returning|back on|back in|limited access)",
    re.I | re.S,
)
_STOP = re.compile(
    r"^\W*(?:please\s+|pls\s+|kindly\s+)?(?:unsubscribe|unsub|remove me|take me off|opt me out"
    r"|stop (?:sending|emailing|mailing)|no more (?:emails|mail|newsletters)"
    r"|i (?:want|would like|'d like) to (?:unsubscribe|be removed|stop getting))\b",
    re.I,
)
_QUESTION_START = re.compile(
    r"^\s*(?:how|what|when|where|who|why|which|can|could|do|does|is|are|will|would|should)\b",
    re.I,
)

# "?", and the question marks of Chinese and Japanese (full width) and of Arabic.
_QUESTION_MARK = re.compile("[?\uff1f\u061f]")


@dataclass(frozen=True)
class Signals:
    headers: list[tuple[str, str]]
    subject: str
    recipient: str
    text: str  # the cleaned new words
    is_bounce: bool = False
    answers_call_for_stories: bool = False
    has_media: bool = False  # a voice note, a video or a picture is attached


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v.strip() for k, v in headers if k.lower() == name), "")


def is_auto_reply(headers: list[tuple[str, str]], subject: str, text: str) -> bool:
    auto = _header(headers, "auto-submitted").lower()
    if auto and auto != "no":
        return True
    if any(
        _header(headers, name)
        for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply")
    ):
        return True
    if _header(headers, "precedence").lower() == "auto_reply":
        return True
    if _header(headers, "x-ms-exchange-inbox-rules-loop") and _AUTO_SUBJECT.search(subject):
        return True
    return bool(_AUTO_SUBJECT.search(subject) or _AUTO_TEXT.search(text[:600]))


def asks_to_stop(recipient: str, subject: str, text: str) -> bool:
    if recipient.split("@", 1)[0].lower().startswith("unsubscribe+"):
        return True
    if re.fullmatch(r"\W*(?:re:\s*)*unsubscribe\W*", subject, re.I) and len(text.split()) <= 25:
        return True
    return bool(_STOP.search(text)) and len(text.split()) <= 25


def _asks(text: str) -> bool:
    return bool(_QUESTION_MARK.search(text)) or any(
        _QUESTION_START.match(line) for line in text.splitlines()[:3]
    )


def kind_of(signals: Signals) -> str:
    text = signals.text.strip()
    if signals.is_bounce:
        return "bounce"
    if is_auto_reply(signals.headers, signals.subject, text):
        return "auto-reply"
    if asks_to_stop(signals.recipient, signals.subject, text):
        return "unsubscribe"
    words = len(text.split())
    if signals.answers_call_for_stories and (words >= 25 or signals.has_media):
        return "story"  # the call invites a voice note or a video instead of words
    if _asks(text):
        return "question"
    if signals.answers_call_for_stories and words >= 15:
        return "story"
    return "other"
