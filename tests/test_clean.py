"""Setting aside quotes, reply headers and signatures so a reply shows only the person's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage.replies.charsets import decode
from engage.replies.clean import Cleaned, clean, clean_text, html_to_text

PAYLOADS = Path(__file__).parent / "payloads" / "replies"


def sample(name: str) -> str:
    return (PAYLOADS / name).read_text(encoding="utf-8")


def test_gmail_header_wrapped_over_two_lines() -> None:
    got = clean_text(sample("gmail.txt"))
    assert got.text == (
        "Hi Sam,\n\n"
        "Yes, I'd be happy to share my story about getting back into swimming.\n"
        "I use a wheelchair, so the changing rooms were the hard part.\n\n"
        "Thanks,\nPriya"
    )
    assert got.quoted.startswith(
        "On Tue, 3 Dec 2026 at 09:12, Get Yourself Active <news@example.org>\nwrote:\n\n> Dear Priya,"
    )
    assert got.quoted.endswith("> --\n> Get Yourself Active, Disability Rights UK")
    assert got.signature == ""  # the quoted "> --" belongs to the quote, not to Priya


def test_gmail_header_on_one_line() -> None:
    mail = "Count me in!\n\nOn Tue, 3 Dec 2026 at 09:12, Get Yourself Active <news@example.org> wrote:\n\n> Join our walk.\n"
    assert clean_text(mail) == Cleaned(
        text="Count me in!",
        quoted="On Tue, 3 Dec 2026 at 09:12, Get Yourself Active <news@example.org> wrote:\n\n> Join our walk.",
        signature="",
    )


def test_outlook_original_message() -> None:
    got = clean_text(sample("outlook_original.txt"))
    assert got.text == (
        "Hello,\n\nPlease take me off the postal list but keep the emails coming.\n\n"
        "Kind regards\nMartin Ellis"
    )
    assert got.quoted.startswith("-----Original Message-----\nFrom: Get Yourself Active")
    assert got.quoted.endswith("Would you like to tell us how you got active this year?")
    assert got.signature == ""


def test_outlook_underscores_crlf_and_get_outlook_for_ios() -> None:
    got = clean_text(sample("outlook_underscores.txt"))
    assert "\r\n" in (PAYLOADS / "outlook_underscores.txt").read_bytes().decode()
    assert got == Cleaned(
        text="I can do a phone interview on Thursday afternoon.\n\nAisha",
        quoted=(
            "________________________________\n"
            "From: Get Yourself Active <news@example.org>\n"
            "Sent: Tuesday, December 3, 2026 9:12:04 AM\n"
            "To: Aisha Khan <aisha@example.com>\n"
            "Subject: Your stories, December\n\n"
            "Dear Aisha,\nWould you like to tell us how you got active this year?"
        ),
        signature="Get Outlook for iOS<https://aka.ms/o0ukef>",
    )


def test_outlook_from_block_without_separator() -> None:
    mail = "Yes, Thursday works.\n\nFrom: Get Yourself Active <news@example.org>\nSent: 03 December 2026 09:12\nTo: Lee\nSubject: Interview\n\nCan you do Thursday?"
    got = clean_text(mail)
    assert got.text == "Yes, Thursday works."
    assert got.quoted.startswith("From: Get Yourself Active")


def test_apple_mail_quoted_header_and_sent_from_my_iphone() -> None:
    assert clean_text(sample("apple.txt")) == Cleaned(
        text="Lovely newsletter this month. The audio version worked well with VoiceOver.\n\nTom",
        quoted=(
            "> On 3 Dec 2026, at 09:12, Get Yourself Active <news@example.org> wrote:\n>\n"
            "> Dear Tom,\n> This month: audio versions of every story."
        ),
        signature="Sent from my iPhone",
    )


def test_apple_mail_header_unquoted() -> None:
    got = clean_text(sample("apple_unquoted_header.txt"))
    assert got.text == "Count me in for the walk."
    assert got.quoted == (
        "On 3 Dec 2026, at 09:12, Get Yourself Active <news@example.org> wrote:\n\n"
        "> Dear Tom,\n> Join our accessible walk on Saturday."
    )


def test_thunderbird_with_nested_quotes() -> None:
    got = clean_text(sample("thunderbird.txt"))
    assert got.text == "Could you send the large print version please?\n\nRegards,\nMargaret"
    assert got.quoted == (
        "On 03/12/2026 09:12, Get Yourself Active wrote:\n> Dear Margaret,\n"
        "> Our December stories are out.\n>\n>> Earlier: the November edition."
    )


def test_thunderbird_header_without_quote_marks_cuts_everything_below() -> None:
    mail = "Thank you!\n\nOn 03/12/2026 09:12, Get Yourself Active wrote:\nDear Margaret,\nOur stories are out.\n"
    got = clean_text(mail)
    assert got.text == "Thank you!"
    assert (
        got.quoted
        == "On 03/12/2026 09:12, Get Yourself Active wrote:\nDear Margaret,\nOur stories are out."
    )


def test_interleaved_quotes_keep_the_persons_lines() -> None:
    assert clean_text(sample("interleaved.txt")) == Cleaned(
        text="Hi Sam,\n\nYes, I would love to.\n\nI will send one next week, with a description.\n\nJo",
        quoted=(
            "> Would you like to share your story?\n\n"
            "> Can you send a photo?\n> (Please include a short description for screen reader users.)"
        ),
        signature="",
    )


def test_bottom_posted_reply_under_gmail_quote() -> None:
    mail = "On Tue, 3 Dec 2026 at 09:12, Sam <news@example.org> wrote:\n> Any news?\n\nYes - I start at the pool on Monday.\n"
    got = clean_text(mail)
    assert got.text == "Yes - I start at the pool on Monday."
    assert got.quoted == "On Tue, 3 Dec 2026 at 09:12, Sam <news@example.org> wrote:\n> Any news?"


def test_french_header() -> None:
    got = clean_text(sample("french.txt"))
    assert got.text == "Bonjour,\n\nOui, je veux bien partager mon histoire.\n\nAmélie"
    assert got.quoted.startswith(
        "Le mar. 3 déc. 2026 à 09:12, Get Yourself Active <news@example.org> a écrit :"
    )
    assert got.quoted.endswith("> Voulez-vous partager votre histoire ?")


def test_french_header_with_non_breaking_space_and_no_quote_marks() -> None:
    mail = "Merci !\n\nLe 3 déc. 2026 à 09:12, Sam <news@example.org> a\u00a0écrit\u00a0:\nBonjour Amélie\n"
    got = clean_text(mail)
    assert got.text == "Merci !"
    assert got.quoted.endswith("Bonjour Amélie")


def test_german_header_wrapped() -> None:
    got = clean_text(sample("german.txt"))
    assert got.text == "Hallo Sam,\n\ngerne erzähle ich meine Geschichte.\n\nViele Grüße\nJonas"
    assert got.quoted == (
        "Am Di., 3. Dez. 2026 um 09:12 Uhr schrieb Get Yourself Active <\nnews@example.org>:\n\n"
        "> Lieber Jonas,\n> möchtest du deine Geschichte erzählen?"
    )


def test_german_apple_header() -> None:
    mail = "Gerne!\n\n> Am 03.12.2026 um 09:12 schrieb Sam <news@example.org>:\n> \n> Hallo\n"
    got = clean_text(mail)
    assert got.text == "Gerne!"
    assert got.quoted == "> Am 03.12.2026 um 09:12 schrieb Sam <news@example.org>:\n>\n> Hallo"


def test_forwarded_message() -> None:
    got = clean_text(sample("forwarded.txt"))
    assert got.text == "Sam, my friend Dee would like to take part - see below."
    assert got.quoted.startswith("---------- Forwarded message ---------\nFrom: Dee Walker")
    assert got.quoted.endswith("I'm deaf and run a BSL walking group.")
    assert got.signature == ""


def test_apple_forward_under_fyi_is_what_the_person_shares() -> None:
    # Issue 14: the forwarded message is what "FYI" points at, so it is shown, not set aside.
    mail = "FYI\n\nBegin forwarded message:\n\nFrom: Dee <dee@example.com>\nHello"
    assert clean_text(mail) == Cleaned(text=mail, quoted="", signature="")


def test_no_quote_keeps_everything_including_sign_off() -> None:
    raw = sample("no_quote.txt")
    assert clean_text(raw) == Cleaned(text=raw.strip(), quoted="", signature="")


def test_dash_dash_signature_after_sign_off() -> None:
    assert clean_text(sample("sig_dashes.txt")) == Cleaned(
        text="Thanks for the reminder, I'll fill in the form tonight.\n\nBest wishes,\nRuth",
        quoted="",
        signature="--\nRuth Adeyemi (she/her)\nTrustee, Sheffield Access Group\n07700 900123",
    )


def test_signature_then_quote() -> None:
    mail = "See you there.\n\nSam\n-- \nSam Lee\n\nOn Tue, 3 Dec 2026 at 09:12, A <a@example.org> wrote:\n> Walk on Saturday\n"
    got = clean_text(mail)
    assert got == Cleaned(
        text="See you there.\n\nSam",
        quoted="On Tue, 3 Dec 2026 at 09:12, A <a@example.org> wrote:\n> Walk on Saturday",
        signature="--\nSam Lee",
    )


def test_sent_from_outlook_for_android() -> None:
    assert clean_text(sample("outlook_android.txt")) == Cleaned(
        text="Yes please, add me to the list.", quoted="", signature="Sent from Outlook for Android"
    )


@pytest.mark.parametrize(
    "body",
    [
        "I'd like to share my story.\n\nAlso, >50 people came to the group.",
        "On Tuesday I wrote:\nthat the ramp was broken. It is fixed now.",
        "From: me, a long-time reader.\nThank you!",
    ],
)
def test_plain_text_that_only_looks_like_markers_is_kept(body: str) -> None:
    assert clean_text(body) == Cleaned(text=body, quoted="", signature="")


@pytest.mark.parametrize(
    "marker",
    [
        "------ This is a copy of the message, including all the headers. ------",  # Exim
        "------ This is a copy of the message's headers. ------",  # Exim, headers only
        "--- Below this line is a copy of the message.",  # qmail
    ],
)
def test_the_copy_of_our_message_in_a_failure_notice_is_set_aside(marker: str) -> None:
    notice = f"The following address failed:\n\n  jo@example.org\n\n{marker}\n\nFrom: news@x"
    assert clean_text(notice) == Cleaned(
        text="The following address failed:\n\n  jo@example.org",
        quoted=f"{marker}\n\nFrom: news@x",
        signature="",
    )


def test_invisible_byte_order_marks_are_dropped() -> None:
    mail = "Yes!\n\n\ufeffOn 3 Dec 2026, at 09:12, Sam <news@example.org> wrote:\n\n> \ufeffHello"
    assert clean_text(mail) == Cleaned(
        text="Yes!",
        quoted="On 3 Dec 2026, at 09:12, Sam <news@example.org> wrote:\n\n> Hello",
        signature="",
    )


def test_empty_and_all_quoted() -> None:
    assert clean_text("") == Cleaned("", "", "")
    assert clean_text("> just a quote\n") == Cleaned("", "> just a quote", "")


# --- HTML ---------------------------------------------------------------------------------


def test_html_to_text_gmail() -> None:
    assert html_to_text(sample("gmail.html")) == (
        "Hi Sam,\n\n"
        "Here are the places I’ve tried:\n\n"
        "- The Leisure Centre pool (https://example.com/pool)\n"
        "- Park run & walk\n"
        "Thanks,\nPriya\n"
        "--\nPriya Shah\nWheelchair Rugby Fan\n"
        "On Tue, 3 Dec 2026 at 09:12, Get Yourself Active <news@example.org> wrote:\n\n"
        "> Dear Priya,\n> Where do you like to get active?\n>\n> > Older: the November edition."
    )


def test_clean_falls_back_to_html() -> None:
    got = clean(None, sample("gmail.html"))
    assert got.text.endswith("- Park run & walk\nThanks,\nPriya")
    assert got.signature == "--\nPriya Shah\nWheelchair Rugby Fan"
    assert got.quoted.startswith("On Tue, 3 Dec 2026 at 09:12")
    assert got.quoted.endswith("> > Older: the November edition.")


def test_clean_outlook_html() -> None:
    got = clean("   \n", sample("outlook.html"))
    assert got.text == "I can do Thursday at 2pm.\nAisha"
    assert got.quoted.startswith(
        "________________________________\nFrom: Get Yourself Active <news@example.org>\nSent:"
    )


def test_clean_prefers_text() -> None:
    assert clean("Plain words", "<p>HTML words</p>").text == "Plain words"
    assert clean(None, None) == Cleaned("", "", "")


def test_html_details() -> None:
    html = (
        "<head><title>x</title></head><script>var a = 1;</script>"
        "<p>Caf&eacute; &lt;ok&gt; &#8212; fine</p>"
        "<ol><li>one</li><li>two<ul><li>inner</li></ul></li></ol>"
        '<p><a href="https://x.org">https://x.org</a> '
        '<a href="mailto:jo@example.com">jo@example.com</a> '
        '<a href="https://y.org"><img src="y.png" alt="Our logo"></a></p>'
        "<div>a<br>b</div><div>c</div>"
    )
    assert html_to_text(html) == (
        "Café <ok> — fine\n\n"
        "- one\n- two\n  - inner\n\n"
        "https://x.org jo@example.com [image: Our logo] (https://y.org)\n\n"
        "a\nb\nc"
    )


def test_outlook_word_paragraphs_are_lines() -> None:
    html = (
        '<p class="MsoNormal">Hi,<o:p></o:p></p>\n<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n'
        '<p class="MsoNormal">Thanks<o:p></o:p></p>\n<p class=MsoNormal>Ivy<o:p></o:p></p>\n'
        "<p>A paragraph</p><p class=x_MsoNormal>Quoted by Outlook on the web</p>"
    )
    assert html_to_text(html) == (
        "Hi,\n\nThanks\nIvy\n\nA paragraph\n\nQuoted by Outlook on the web"
    )


def test_html_unclosed_blockquote() -> None:
    html = "<p>Yes</p><p>On 3 Dec 2026, Sam wrote:</p><blockquote><p>Question?"
    assert html_to_text(html) == "Yes\n\nOn 3 Dec 2026, Sam wrote:\n\n> Question?"


def test_html_blockquote_without_a_reply_header_is_the_persons_text() -> None:
    # Issue 14: a blockquote is a quote only under (or starting with) a reply header.
    assert html_to_text("<p>Yes</p><blockquote><p>Question?") == "Yes\n\nQuestion?"


# --- decoding -----------------------------------------------------------------------------


def test_decode_good_charsets() -> None:
    assert decode("Café".encode(), "utf-8") == ("Café", None)
    assert decode("Café".encode(), '"UTF-8"') == ("Café", None)
    assert decode("\ufeffCafé".encode(), "utf-8") == ("Café", None)
    assert decode("Café".encode("latin-1"), "ISO-8859-1") == ("Café", None)
    assert decode("Café".encode(), None) == ("Café", None)


def test_decode_unknown_charset() -> None:
    text, warning = decode("Café".encode(), "x-made-up")
    assert text == "Café"
    assert (
        warning
        == "The message said it was in 'x-made-up', which is not a character set we know; it was read as UTF-8."
    )


def test_decode_wrong_charset() -> None:
    text, warning = decode("Café – ok".encode("cp1252"), "utf-8")
    assert text == "Café – ok"
    assert (
        warning
        == "The message said it was in 'utf-8' but it is not; it was read as Windows Latin-1, so some letters may be wrong."
    )


def test_decode_utf8_labelled_latin1() -> None:
    text, warning = decode("Café".encode(), "iso-8859-1")
    assert text == "Café"
    assert (
        warning == "The message said it was in 'iso-8859-1' but it is UTF-8; it was read as UTF-8."
    )


def test_decode_windows_text_labelled_latin1() -> None:
    # Windows programs label curly quotes and dashes (bytes 0x80-0x9F) as ISO-8859-1.
    assert decode("I’d pay £4 – “yes”".encode("cp1252"), "iso-8859-1") == (
        "I’d pay £4 – “yes”",
        None,
    )
    assert decode(b"caf\xe9 \x81", "latin1") == ("café \x81", None)  # 0x81: not Windows


def test_decode_no_charset_not_utf8() -> None:
    text, warning = decode("Café".encode("cp1252"), None)
    assert text == "Café"
    assert warning is not None and "Windows Latin-1" in warning


@pytest.mark.parametrize("charset", ["base64", "rot13", "utf-16", "", "  "])
def test_decode_never_raises(charset: str) -> None:
    text, _ = decode(b"Hi \xff\xfe\x00 there", charset)
    assert isinstance(text, str) and text
