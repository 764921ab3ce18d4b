"""Reply shapes, table by table: each case gives a whole reply and exactly what cleaning makes
of it (the new words, the quote, the signature). Issue 14: cleaning never hides a person's
words, and leaves as little of the quote in as it safely can, in each language we cover.

The header words are the ones the mail programs write in each language (Gmail, Outlook, Apple
Mail, Thunderbird); names, dates and messages are our own.
"""

from __future__ import annotations

import pytest

from engage.replies.clean import Cleaned, clean, clean_text

ADDR = "Sam Lee <sam@example.org>"


# language: (the person's reply, the message quoted, the "wrote:" line, the header block
# lines From / Sent / To / Subject, the device footer, a sentence that starts like a footer)
LANGUAGES = {
    "English": (
        "Yes please, count me in.",
        "Would you like to join the walk?",
        f"On Tue, 3 Dec 2026 at 09:12, {ADDR} wrote:",
        ("From", "Sent", "To", "Subject"),
        "Sent from my iPhone",
        "Sent from my desk, which is much easier than my phone.",
    ),
    "French": (
        "Oui, je viens avec plaisir.",
        "Voulez-vous venir à la marche ?",
        f"Le mar. 3 déc. 2026 à 09:12, {ADDR} a écrit :",
        ("De ", "Envoyé ", "À ", "Objet "),
        "Envoyé de mon iPhone",
        "Envoyé de mon bureau, c'est plus simple que mon téléphone.",
    ),
    "German": (
        "Ja, ich komme gerne mit.",
        "Möchtest du mitlaufen?",
        f"Am Di., 3. Dez. 2026 um 09:12 Uhr schrieb {ADDR}:",
        ("Von", "Gesendet", "An", "Betreff"),
        "Von meinem iPhone gesendet",
        "Gesendet von meinem Schreibtisch, das ist viel leichter als mit dem Handy.",
    ),
    "Danish": (
        "Ja tak, jeg kommer gerne.",
        "Vil du gå med på turen?",
        f"Den tir. 3. dec. 2026 kl. 09.12 skrev {ADDR}:",
        ("Fra", "Sendt", "Til", "Emne"),
        "Sendt fra min iPhone",
        "Sendt fra min computer, som er meget lettere end min telefon.",
    ),
    "Swedish": (
        "Ja tack, jag kommer gärna.",
        "Vill du gå med på promenaden?",
        f"Den tis 3 dec. 2026 kl 09:12 skrev {ADDR}:",
        ("Från", "Skickat", "Till", "Ämne"),
        "Skickat från min iPhone",
        "Skickat från min dator, som är mycket lättare än min telefon.",
    ),
    "Norwegian": (
        "Ja takk, jeg blir gjerne med.",
        "Vil du gå tur med oss?",
        f"tir. 3. des. 2026 kl. 09:12 skrev {ADDR}:",
        ("Fra", "Sendt", "Til", "Emne"),
        "Sendt fra min iPhone",
        "Sendt fra min datamaskin, som er mye lettere enn telefonen.",
    ),
    "Dutch": (
        "Ja graag, ik kom mee.",
        "Wil je mee wandelen?",
        f"Op 3 dec. 2026 om 09:12 heeft {ADDR} het volgende geschreven:",
        ("Van", "Verzonden", "Aan", "Onderwerp"),
        "Verzonden vanaf mijn iPhone",
        "Verzonden vanaf mijn bureau, dat is veel makkelijker dan met mijn telefoon.",
    ),
    "Polish": (
        "Tak, chętnie przyjdę.",
        "Czy chcesz iść z nami na spacer?",
        f"W dniu 3.12.2026 o 09:12, {ADDR} pisze:",
        ("Od", "Wysłano", "Do", "Temat"),
        "Wysłane z mojego iPhone'a",
        "Wysłane z mojego biurka, bo tak jest dużo łatwiej niż z telefonu.",
    ),
    "Russian": (
        "Да, я с удовольствием приду.",
        "Хотите пойти с нами на прогулку?",
        "03.12.2026 09:12, Sam Lee пишет:",
        ("От", "Отправлено", "Кому", "Тема"),
        "Отправлено с iPhone",
        "Отправлено с работы, потому что с компьютера писать намного легче.",
    ),
    "Vietnamese": (
        "Vâng, tôi rất muốn tham gia.",
        "Bạn có muốn đi bộ cùng chúng tôi không?",
        f"Vào Th 3, 3 thg 12, 2026 vào lúc 09:12 {ADDR} đã viết:",
        ("Từ", "Đã gửi", "Tới", "Chủ đề"),
        "Gửi từ iPhone của tôi",
        "Gửi từ máy tính ở văn phòng, vì dễ hơn nhiều so với điện thoại.",
    ),
    "Welsh": (
        "Ie, dw i'n dod gyda phleser.",
        "Hoffech chi ddod ar y daith gerdded?",
        f"Ar Maw, 3 Rhag 2026 am 09:12, {ADDR} ysgrifennodd:",
        ("Oddi wrth", "Anfonwyd", "At", "Pwnc"),
        "Anfonwyd o fy iPhone",
        "Anfonwyd o fy nesg, sy'n llawer haws na fy ffôn.",
    ),
}
NAMES = list(LANGUAGES)


def block(lang: str) -> str:
    """A quoted message's header block, Outlook style, in that language."""
    _, _, _, (frm, sent, to, subject), _, _ = LANGUAGES[lang]
    return f"{frm}: {ADDR}\n{sent}: 03.12.2026 09:12\n{to}: Jo <jo@example.com>\n{subject}: Walk"


@pytest.mark.parametrize("lang", NAMES)
def test_wrote_line_and_quote(lang: str) -> None:
    reply, asked, wrote, *_ = LANGUAGES[lang]
    mail = f"{reply}\n\n{wrote}\n\n> {asked}\n"
    assert clean_text(mail) == Cleaned(reply, f"{wrote}\n\n> {asked}", "")


@pytest.mark.parametrize("lang", NAMES)
def test_wrote_line_without_quote_marks(lang: str) -> None:
    reply, asked, wrote, *_ = LANGUAGES[lang]
    mail = f"{reply}\n\n{wrote}\n{asked}\n"
    assert clean_text(mail) == Cleaned(reply, f"{wrote}\n{asked}", "")


@pytest.mark.parametrize("lang", NAMES)
def test_wrote_line_wrapped_by_gmail(lang: str) -> None:
    reply, asked, wrote, *_ = LANGUAGES[lang]
    cut = wrote.index(" <") if " <" in wrote else wrote.index(", ") + 1
    wrapped = f"{wrote[:cut]}\n{wrote[cut + 1 :]}"
    mail = f"{reply}\n\n{wrapped}\n\n> {asked}\n"
    assert clean_text(mail) == Cleaned(reply, f"{wrapped}\n\n> {asked}", "")


@pytest.mark.parametrize("lang", NAMES)
def test_header_block(lang: str) -> None:
    reply, asked, *_ = LANGUAGES[lang]
    mail = f"{reply}\n\n{block(lang)}\n\n{asked}\n"
    assert clean_text(mail) == Cleaned(reply, f"{block(lang)}\n\n{asked}", "")


@pytest.mark.parametrize("lang", NAMES)
def test_header_block_under_a_line(lang: str) -> None:
    reply, asked, *_ = LANGUAGES[lang]
    line = "_" * 32
    mail = f"{reply}\r\n\r\n{line}\r\n{block(lang)}\r\n\r\n{asked}\r\n"
    assert clean_text(mail) == Cleaned(reply, f"{line}\n{block(lang)}\n\n{asked}", "")


@pytest.mark.parametrize("lang", NAMES)
def test_device_footer_at_the_end(lang: str) -> None:
    reply, asked, wrote, _, device, _ = LANGUAGES[lang]
    assert clean_text(f"{reply}\n\n{device}\n") == Cleaned(reply, "", device)
    mail = f"{reply}\n\n{device}\n\n{wrote}\n> {asked}"
    assert clean_text(mail) == Cleaned(reply, f"{wrote}\n> {asked}", device)


@pytest.mark.parametrize("lang", NAMES)
def test_a_sentence_that_starts_like_a_device_footer_is_kept(lang: str) -> None:
    reply, *_, sentence = LANGUAGES[lang]
    mail = f"{sentence}\n{reply}\n\nJo"
    assert clean_text(mail) == Cleaned(mail, "", "")


@pytest.mark.parametrize("lang", NAMES)
def test_device_footer_between_paragraphs_hides_nothing_below(lang: str) -> None:
    reply, asked, *_, device, _ = LANGUAGES[lang]
    mail = f"{reply}\n\n{device}\n\n{asked}"
    assert clean_text(mail) == Cleaned(f"{reply}\n\n{asked}", "", device)


# (Norwegian and Russian headers start with the date: see test_less_quote_is_left_in.)
@pytest.mark.parametrize("lang", [n for n in NAMES if n not in ("Norwegian", "Russian")])
def test_reply_on_the_same_line_as_the_header(lang: str) -> None:
    reply, asked, wrote, *_ = LANGUAGES[lang]
    mail = f"{reply} {wrote}\n> {asked}"
    assert clean_text(mail) == Cleaned(reply, f"{wrote}\n> {asked}", "")


# -- headers that start with a date, header blocks and separators --------------------------


@pytest.mark.parametrize(
    ("mail", "text", "quoted"),
    [
        (  # Gmail in some languages: the date first, and no verb at all
            "Thanks, that is perfect.\n\n2026-12-03 09:12 GMT+00:00 Sam Lee <sam@example.org>:\n\n"
            "> Here is the map.",
            "Thanks, that is perfect.",
            "2026-12-03 09:12 GMT+00:00 Sam Lee <sam@example.org>:\n\n> Here is the map.",
        ),
        (  # the same on the reply's own last line
            "Thanks, that is perfect. 2026-12-03 09:12 GMT+00:00 Sam Lee <sam@example.org>:\n"
            "> Here is the map.",
            "Thanks, that is perfect.",
            "2026-12-03 09:12 GMT+00:00 Sam Lee <sam@example.org>:\n> Here is the map.",
        ),
        (  # the date first with slashes, the address wrapped onto the next line
            "See you there.\n\n2026/12/3 Sam Lee\n<sam@example.org>:\n\n> Meet at the gate.",
            "See you there.",
            "2026/12/3 Sam Lee\n<sam@example.org>:\n\n> Meet at the gate.",
        ),
        (  # Gmail wraps the closing ">:" onto a line of its own
            "Ja takk.\n\ntir. 3. des. 2026 kl. 09:12 skrev Sam Lee <sam@example.org\n>:\n\n> Hei",
            "Ja takk.",
            "tir. 3. des. 2026 kl. 09:12 skrev Sam Lee <sam@example.org\n>:\n\n> Hei",
        ),
        (  # Hotmail: the header block starts with Date:
            "I can bring a flask.\n\nDate: Tue, 3 Dec 2026 09:12:00 +0000\n"
            "From: sam@example.org\nTo: jo@example.com\nSubject: Walk\n\nBring a drink.",
            "I can bring a flask.",
            "Date: Tue, 3 Dec 2026 09:12:00 +0000\nFrom: sam@example.org\nTo: jo@example.com\n"
            "Subject: Walk\n\nBring a drink.",
        ),
        (
            "Sorry, I am away.\n\n-----Reply Message-----\nFrom: Sam Lee\nWalk on Saturday",
            "Sorry, I am away.",
            "-----Reply Message-----\nFrom: Sam Lee\nWalk on Saturday",
        ),
        (
            "Sorry, I am away.\n\n----- Reply message -----\nFrom: Sam Lee\nWalk on Saturday",
            "Sorry, I am away.",
            "----- Reply message -----\nFrom: Sam Lee\nWalk on Saturday",
        ),
        (  # Android's mail program
            "Sounds good.\n\n---- Sam Lee wrote ----\n\nWalk on Saturday",
            "Sounds good.",
            "---- Sam Lee wrote ----\n\nWalk on Saturday",
        ),
        (  # Zoho
            "Sounds good.\n\n---- On Tue, 03 Dec 2026 09:12:00 +0000 sam@example.org wrote ----\n"
            "Walk on Saturday",
            "Sounds good.",
            "---- On Tue, 03 Dec 2026 09:12:00 +0000 sam@example.org wrote ----\nWalk on Saturday",
        ),
        (  # Danish Outlook separator
            "Tak!\n\n-------- Oprindelig besked --------\nFra: Sam Lee\nHej",
            "Tak!",
            "-------- Oprindelig besked --------\nFra: Sam Lee\nHej",
        ),
        (  # a line and "Message du : <date>" just above a French header block
            "Merci !\n\n====\n\nMessage du : 03/12/2026 09:12\nDe : Sam Lee\nA : jo@example.fr\n"
            "Sujet : Marche\n\nBonjour",
            "Merci !",
            "====\n\nMessage du : 03/12/2026 09:12\nDe : Sam Lee\nA : jo@example.fr\n"
            "Sujet : Marche\n\nBonjour",
        ),
        (  # a quoted line that the mail program wrapped without its ">"
            "Yes.\n\nOn 3 Dec 2026, Sam wrote:\n> We are planning a long walk around the lake and "
            "the old mill,\nand back for tea.\n> Can you come?",
            "Yes.",
            "On 3 Dec 2026, Sam wrote:\n> We are planning a long walk around the lake and the "
            "old mill,\nand back for tea.\n> Can you come?",
        ),
    ],
)
def test_less_quote_is_left_in(mail: str, text: str, quoted: str) -> None:
    assert clean_text(mail) == Cleaned(text, quoted, "")


# -- the person's words are never hidden ----------------------------------------------------


@pytest.mark.parametrize(
    ("mail", "want"),
    [
        (
            "Sent from my desk, which is much easier than my phone.\n\nI would love to help.",
            Cleaned(
                "Sent from my desk, which is much easier than my phone.\n\nI would love to help.",
                "",
                "",
            ),
        ),
        (  # quoting without a space, answers in between
            ">Can you come on Saturday?\nYes, I can.\n>Can you bring a friend?\nMaybe my sister.",
            Cleaned(
                "Yes, I can.\n\nMaybe my sister.",
                ">Can you come on Saturday?\n\n>Can you bring a friend?",
                "",
            ),
        ),
        (
            "On Tuesday I wrote:\nthat the ramp was broken. It is fixed now.",
            Cleaned("On Tuesday I wrote:\nthat the ramp was broken. It is fixed now.", "", ""),
        ),
        (
            "On 3 December I wrote:\nthe ramp is broken. It is fixed now.",
            Cleaned("On 3 December I wrote:\nthe ramp is broken. It is fixed now.", "", ""),
        ),
        (  # "FYI" and a forward: the forward is what the person shares
            "FYI\n\n---------- Forwarded message ---------\nFrom: Dee <dee@example.com>\n"
            "Date: Tue, 3 Dec 2026\nSubject: My story\nTo: Jo <jo@example.com>\n\nHello Jo",
            Cleaned(
                "FYI\n\n---------- Forwarded message ---------\nFrom: Dee <dee@example.com>\n"
                "Date: Tue, 3 Dec 2026\nSubject: My story\nTo: Jo <jo@example.com>\n\nHello Jo",
                "",
                "",
            ),
        ),
        (  # a forward with no note at all
            "Begin forwarded message:\n\nFrom: Dee <dee@example.com>\nMy story",
            Cleaned("Begin forwarded message:\n\nFrom: Dee <dee@example.com>\nMy story", "", ""),
        ),
        (
            "I have >50 friends who would come.\n>50 is a lot!",
            Cleaned("I have >50 friends who would come.\n>50 is a lot!", "", ""),
        ),
        (  # an answer directly under a quoted line, in capitals: not a wrapped quote line
            "On 3 Dec 2026, Sam wrote:\n> We are planning a walk around the lake and the old "
            "mill,\nYes please!\n> Can you come?",
            Cleaned(
                "Yes please!",
                "On 3 Dec 2026, Sam wrote:\n> We are planning a walk around the lake and the old "
                "mill,\n\n> Can you come?",
                "",
            ),
        ),
    ],
)
def test_words_are_never_hidden(mail: str, want: Cleaned) -> None:
    assert clean_text(mail) == want


@pytest.mark.parametrize(
    ("html", "want"),
    [
        (  # a whole message in a blockquote
            "<blockquote><p>I would love to share my story.</p><p>Jo</p></blockquote>",
            Cleaned("I would love to share my story.\n\nJo", "", ""),
        ),
        (  # a blockquote used for a passage the person likes, with no "wrote:" above
            "<p>I loved this line:</p><blockquote>Doing with, not doing to.</blockquote>"
            "<p>Thank you.</p>",
            Cleaned("I loved this line:\n\nDoing with, not doing to.\n\nThank you.", "", ""),
        ),
        (  # a real quote: Gmail's header above the blockquote
            "<div>Yes!</div><div class=gmail_quote><div>On Tue, 3 Dec 2026 at 09:12, "
            "Sam &lt;sam@example.org&gt; wrote:<br></div><blockquote>Walk?</blockquote></div>",
            Cleaned(
                "Yes!", "On Tue, 3 Dec 2026 at 09:12, Sam <sam@example.org> wrote:\n\n> Walk?", ""
            ),
        ),
        (  # Apple Mail: the header as the blockquote's first line
            "<div>Yes!</div><blockquote type=cite><div>On 3 Dec 2026, at 09:12, Sam wrote:</div>"
            "<div>Walk?</div></blockquote>",
            Cleaned("Yes!", "> On 3 Dec 2026, at 09:12, Sam wrote:\n> Walk?", ""),
        ),
    ],
)
def test_html_blockquotes(html: str, want: Cleaned) -> None:
    assert clean(None, html) == want
