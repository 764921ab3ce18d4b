"""What kind of reply this is: story, question, unsubscribe, auto-reply, bounce or other.

The checks go from the most certain to the least: a delivery failure notice, then the headers
and subjects that mail programs put on automatic replies, then a mail to the unsubscribe
address or a short, unmistakable request to stop, then the words themselves.

An answer to a call for stories opens a story however short it is: people write briefly, and
some can only write a little. It does not when it says only thank you or no ("Thanks!",
"Merci beaucoup", "Nein danke", "Not for me, sorry"), which is recognised by its words in the
languages replies come to us in, never by its length; and it is a question when all it does is
ask ("Can I send a video?"). When in doubt it is a story: the team can decline one in a
second, while a contributor left unanswered is the failure engage exists to prevent.
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
# A request to stop, at the start of a sentence of a short mail.
_STOP = re.compile(
    r"^\W*(?:please\s+|pls\s+|kindly\s+)?(?:unsubscribe|unsub|remove me|take me off|opt me out"
    r"|stop (?:sending|emailing|mailing)|no more (?:emails|mail|newsletters)"
    r"|i (?:want|would like|'d like) to (?:unsubscribe|be removed|stop getting))\b"
    r"|^\W*(?:merci de |veuillez )?(?:me désabonner|me désinscrire|désabonnez-moi"
    r"|désinscrivez-moi|je (?:veux|voudrais|souhaite) (?:me )?(?:désabonner|désinscrire))"
    r"|^\W*(?:bitte )?(?:abmelden|austragen|melden sie mich ab|tragen sie mich aus"
    r"|ich möchte mich (?:abmelden|austragen))\b"
    r"|^\W*(?:por favor,? )?(?:darme de baja|dadme de baja|quiero darme de baja|bórrenme)"
    r"|^\W*(?:graag )?(?:uitschrijven|afmelden|schrijf me uit|meld me af"
    r"|ik wil (?:me )?(?:uitschrijven|afmelden))\b"
    r"|^\W*(?:per favore,? )?(?:cancellami|disiscrivimi|toglietemi|voglio disiscrivermi)"
    # Welsh: what our Welsh pages and emails ask people to write (dad-danysgrifio)
    r"|^\W*(?:os gwelwch yn dda,? |plis,? )?(?:dad-?danysgrifi(?:o|wch fi)|tynnwch fi oddi ar"
    r"|stopiwch anfon|dim mwy o negeseuon|(?:dw i|rydw i|rwy'n|rwyf) (?:eisiau|am) "
    r"(?:ddad-?danysgrifio|dad-?danysgrifio))",
    re.I,
)
_QUESTION_START = re.compile(
    r"^\s*(?:how|what|when|where|who|why|which|can|could|do|does|is|are|will|would|should)\b",
    re.I,
)
# "?", and the question marks of Chinese and Japanese (full width) and of Arabic.
_QUESTION_MARK = re.compile("[?\uff1f\u061f]")
_SENTENCE = re.compile(r"[^.!?\uff1f\u061f。！\n]+[.!?\uff1f\u061f。！]*")
# A sentence with no question mark that still asks: a question word, or "can I", "do you" ...
_ASKING = re.compile(
    r"^\W*(?:how|what|when|where|who|why|which|est-ce que|comment|pourquoi|quand|où|puis-je"
    r"|pouvez-vous|wie|warum|wann|wo|kann ich|können sie|darf ich|cómo|qué|cuándo|dónde"
    r"|por qué|puedo|hoe|waarom|wanneer|waar|kan ik|mag ik|come|perché|quando|dove|posso"
    r"|(?:can|could|may|might|should|would|will|do|does|did|is|are)\s+(?:i|we|you|my|our|it"
    r"|there|he|she|they|this|that)\b)",
    re.I,
)

# What a person writes when they only thank us or say no, in the languages of our replies.
_THANKS = (
    "thanks", "thank you", "thank u", "thankyou", "thx", "ty", "many thanks", "cheers",
    "much appreciated", "appreciated", "thanks a lot", "thanks so much", "thank you so much",
    "thank you very much", "thanks very much", "thanks a million",
    "merci", "merci beaucoup", "merci bien", "mille mercis", "mille merci", "grand merci",
    "je vous remercie", "je te remercie",
    "danke", "danke schön", "dankeschön", "danke sehr", "vielen dank", "vielen lieben dank",
    "herzlichen dank", "besten dank", "tausend dank", "lieben dank",
    "gracias", "muchas gracias", "mil gracias", "muchísimas gracias", "se agradece",
    "dank je", "dank je wel", "dankjewel", "dank u", "dank u wel", "dankuwel", "bedankt",
    "hartelijk dank", "heel erg bedankt", "hartelijk bedankt", "dank",
    "grazie", "grazie mille", "molte grazie", "grazie tante", "grazie infinite", "vi ringrazio",
    "ti ringrazio",
)  # fmt: skip
_NO = (
    "no", "nope", "nah", "no thanks", "no thank you", "not for me", "not really",
    "not this time", "not at the moment", "not right now", "not now", "not for now",
    "not interested", "i'm not interested", "i am not interested", "i'm afraid not",
    "afraid not", "i don't think so", "i'll pass", "i will pass", "i'll give it a miss",
    "maybe next time", "maybe another time", "another time", "sorry", "i'm sorry",
    "i don't have a story", "i have no story", "i have nothing to share", "nothing to share",
    "no story", "it's not for me", "that's not for me", "i'd rather not", "i would rather not",
    "non", "non merci", "pas pour moi", "ce n'est pas pour moi", "pas cette fois",
    "pas maintenant", "pas pour le moment", "pas intéressé", "pas intéressée",
    "ça ne m'intéresse pas", "désolé", "désolée", "une autre fois", "je ne suis pas intéressé",
    "je ne suis pas intéressée",
    "nein", "nein danke", "nee", "nicht für mich", "kein interesse", "leider nicht",
    "leider nein", "nicht jetzt", "jetzt nicht", "im moment nicht", "tut mir leid",
    "vielleicht ein andermal", "lieber nicht",
    "no gracias", "no es para mí", "ahora no", "no me interesa", "lo siento", "por ahora no",
    "quizás en otra ocasión", "tal vez en otra ocasión", "otra vez será",
    "nee dank je", "nee dank je wel", "nee dank u", "nee bedankt", "niet voor mij",
    "geen interesse", "nu niet", "helaas niet", "liever niet", "momenteel niet",
    "een andere keer",
    "no grazie", "non fa per me", "non ora", "non adesso", "non mi interessa", "mi dispiace",
    "purtroppo no", "per ora no", "magari un'altra volta", "un'altra volta",
)  # fmt: skip
# Words around a thank-you or a no that add nothing to it: greetings, sign-offs, softeners.
_AROUND = (
    "hi", "hello", "hey", "hiya", "dear", "good morning", "good afternoon", "good evening",
    "team", "all", "everyone", "there", "folks", "ok", "okay", "oh", "well", "but", "and",
    "anyway", "though", "again", "all the same", "really", "very much", "so much", "a lot",
    "for asking", "for asking me", "for the email", "for your email", "for the invite",
    "for the invitation", "for thinking of me", "for the offer", "for getting in touch",
    "for your message", "for the message", "best", "best wishes", "kind regards", "regards",
    "warm regards", "all the best", "love", "take care", "yours", "bw", "x", "xx", "xxx",
    "bonjour", "salut", "bonsoir", "coucou", "cordialement", "bien à vous", "bien cordialement",
    "bonne journée", "bonne soirée", "à bientôt", "amitiés", "bises", "mais", "et", "quand même",
    "pour l'invitation", "pour votre message", "à tous", "tout le monde",
    "hallo", "guten tag", "guten morgen", "liebe grüße", "viele grüße", "beste grüße",
    "schöne grüße", "mit freundlichen grüßen", "freundliche grüße", "grüße", "gruß", "lg",
    "mfg", "aber", "und", "trotzdem", "für die einladung", "zusammen",
    "hola", "buenos días", "buenas tardes", "buenas", "saludos", "un saludo", "un abrazo",
    "atentamente", "pero", "y", "de todas formas", "por la invitación", "a todos",
    "hoi", "beste", "goedemorgen", "goedemiddag", "groeten", "groetjes", "met vriendelijke groet",
    "vriendelijke groeten", "hartelijke groeten", "mvg", "maar", "en", "toch",
    "voor de uitnodiging", "allemaal",
    "ciao", "salve", "buongiorno", "buonasera", "saluti", "cordiali saluti", "un saluto",
    "un abbraccio", "a presto", "ma", "e", "comunque", "lo stesso", "per l'invito", "a tutti",
)  # fmt: skip
# Scripts with no spaces between words: their phrases are found without word edges.
_THANKS_UNSPACED = (
    "ありがとうございます", "ありがとうございました", "どうもありがとう", "ありがとう",
    "感謝します",
    "谢谢你", "谢谢您", "谢谢", "多谢", "非常感谢", "感谢", "شكرا", "شكراً", "شكرًا", "شكرا جزيلا",
)  # fmt: skip
_NO_UNSPACED = (
    "いいえ", "結構です", "けっこうです", "遠慮しておきます", "遠慮します", "すみません",
    "ごめんなさい", "今回は見送ります", "不用了", "不了", "不感兴趣", "抱歉", "对不起",
    "لا شكرا", "لا", "آسف",
)  # fmt: skip
_AROUND_UNSPACED = (
    "こんにちは", "こんばんは", "おはようございます", "よろしくお願いします", "今回は",
    "你好", "您好", "مرحبا", "السلام عليكم",
)  # fmt: skip


def _phrases(spaced: tuple[str, ...], unspaced: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for a list of phrases, the longest first; spaced ones on word edges."""
    words = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(spaced, key=len)[::-1])
    whole = "|".join(re.escape(p) for p in sorted(unspaced, key=len)[::-1])
    return re.compile(rf"(?<!\w)(?:{words})(?!\w)|{whole}", re.I)


_SAYS_THANKS_OR_NO = _phrases(_THANKS + _NO, _THANKS_UNSPACED + _NO_UNSPACED)
_SAYS_NOTHING_MORE = _phrases(_AROUND, _AROUND_UNSPACED)
# A name, as people sign off: a capitalised word that is not "I" or a yes ("Jo", "Baker"), or
# a few characters of a script that has no capitals ("伊藤").
_YES = (
    r"yes|yeah|yep|yup|sure|please|count|happy|glad|gladly|absolutely|definitely|certainly|ok"
    r"|okay|oui|volontiers|ja|gerne|gern|sí|si|sì|claro|certo|volentieri|graag|zeker"
)
_NAME = (
    rf"(?:(?!I\b|I'|(?i:{_YES})\b)[A-ZÀ-ÖØ-Þ][\w'.-]*"
    r"|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]{1,6})"
)
_NAME_LINE = re.compile(rf"\W*(?:{_NAME}[\s.-]*){{1,3}}\W*")
_SIGNED_NAME = re.compile(rf"(?:{_NAME}[\s,.!-]*){{1,3}}$")
_GREETING = re.compile(
    r"^\W*(?i:hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening)|bonjour|salut|hallo"
    r"|liebe[rs]?|hola|hoi|beste|ciao|salve|buongiorno)"
    rf"(?:\s+(?:{_NAME}|(?i:team|all|everyone|there|folks|friends))){{0,3}}\s*[,.!:;\n-]"
)


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


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def asks_to_stop(recipient: str, subject: str, text: str) -> bool:
    if recipient.split("@", 1)[0].lower().startswith("unsubscribe+"):
        return True
    if len(text.split()) > 25:
        return False
    if re.fullmatch(r"\W*(?:re:\s*)*unsubscribe\W*", subject, re.I):
        return True
    return any(_STOP.search(sentence) for sentence in _sentences(text))


def _asks(text: str) -> bool:
    return bool(_QUESTION_MARK.search(text)) or any(
        _QUESTION_START.match(line) for line in text.splitlines()[:3]
    )


def _own_words(text: str) -> str:
    """The text without a greeting at its start or a name on a line of its own at its end."""
    text = _GREETING.sub("", text.replace("\u2019", "'").strip(), count=1)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and _NAME_LINE.fullmatch(lines[-1].strip()):
        lines.pop()
    return "\n".join(lines)


def _left_over(text: str) -> str:
    """What is left of the words once every thank-you, no, greeting and sign-off is gone, and
    a name signed after the last of them ("No thanks, Jo"): letters and digits only."""
    said = list(_SAYS_THANKS_OR_NO.finditer(text))
    cut = said[-1].end() if said else 0
    before = _SAYS_NOTHING_MORE.sub(" ", _SAYS_THANKS_OR_NO.sub(" ", text[:cut]))
    after = _SIGNED_NAME.sub("", _SAYS_NOTHING_MORE.sub(" ", text[cut:]).strip())
    return re.sub(r"[\W_]+", "", before + after)


def says_only_thanks_or_no(text: str) -> bool:
    """True for "Thanks!", "No, sorry", "Merci beaucoup", "Nein danke, liebe Grüße, Lena": a
    thank-you or a no, and nothing else."""
    words = _own_words(text)
    return bool(_SAYS_THANKS_OR_NO.search(words)) and not _left_over(words)


def only_asks(text: str) -> bool:
    """True when every sentence that says something asks something: "Can I send a video?".
    "Yes! Can I send a video of my first match?" also answers, so it is False."""
    said = [s for s in _sentences(_own_words(text)) if _left_over(s)]
    return bool(said) and all(_QUESTION_MARK.search(s) or _ASKING.match(s) for s in said)


def answer_to_call(text: str, has_media: bool) -> str:
    """The kind of a person's reply to a call for stories: a story unless it says nothing,
    only thanks us or says no, or only asks a question."""
    if has_media:
        return "story"  # the call invites a voice note, a video or a picture instead of words
    if not re.search(r"\w", text) or says_only_thanks_or_no(text):
        return "other"
    return "question" if only_asks(text) else "story"


def kind_of(signals: Signals) -> str:
    text = signals.text.strip()
    if signals.is_bounce:
        return "bounce"
    if is_auto_reply(signals.headers, signals.subject, text):
        return "auto-reply"
    if asks_to_stop(signals.recipient, signals.subject, text):
        return "unsubscribe"
    if signals.answers_call_for_stories:
        return answer_to_call(text, signals.has_media)
    return "question" if _asks(text) else "other"
