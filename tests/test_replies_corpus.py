"""Real reply shapes, run through the replies inbox against a real send.

tests/fixtures/replies/ holds whole mails as mail programs and mail systems write them: Gmail,
Outlook, Apple Mail, Thunderbird and others, out-of-office replies, failure notices, odd
character sets and broken mail, all in our own words. Their placeholders are filled in from
the messages the outbox really sent: {{REPLY_TO}} (the Reply-To address with its token),
{{MESSAGE_ID}}, {{UNSUBSCRIBE}} (the List-Unsubscribe mailto address) and
{{LIST_UNSUBSCRIBE}} (the whole header). So tokens and thread headers are matched for real.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from engage.contacts import core
from engage.replies import attachments
from engage.replies.inbox import Taken, for_workspace
from engage.replies.mime import NotAMail, parse, unflow
from engage.store import open_store
from engage.store.schema import (
    consents,
    contacts,
    deliveries,
    events,
    inbound,
    sends,
    suppressions,
)

from .conftest import REPO, Project
from .test_sending import KEY, outbox

FIXTURES = Path(__file__).parent / "fixtures" / "replies"
STORY = "share-your-story"  # a call for stories: to the contributors audience
NEWS = "doing-with-not-doing-to"  # a newsletter

# With samples/contacts.csv: one person for each reply, so each effect shows on its own.
PEOPLE = """email,name,first_name,tags,format
chloe.martin@example.fr,Chloé Martin,Chloé,newsletter,html
ivy.nolan@example.org,Ivy Nolan,Ivy,newsletter,html
jon.baker@example.org,Jon Baker,Jon,newsletter,html
kai.reid@example.org,Kai Reid,Kai,newsletter,plain
lena.fischer@example.de,Lena Fischer,Lena,newsletter,html
marie.dubois@example.fr,Marie Dubois,Marie,newsletter,html
noor.ali@example.org,Noor Ali,Noor,newsletter,html
owen.price@example.org,Owen Price,Owen,newsletter,html
pia.clarke@example.org,Pia Clarke,Pia,newsletter,html
quinn.moss@example.org,Quinn Moss,Quinn,newsletter,html
ravi.kumar@example.org,Ravi Kumar,Ravi,newsletter,large-print
sol.jones@example.org,Sol Jones,Sol,newsletter,html
sora.ito@example.jp,Sora Ito,Sora,newsletter,large-print
tess.hughes@example.org,Tess Hughes,Tess,contributor,html
uma.shah@example.org,Uma Shah,Uma,newsletter,html
vic.lowe@example.org,Vic Lowe,Vic,newsletter,html
will.grant@example.org,Will Grant,Will,newsletter,html
yuki.tanaka@example.jp,Yuki Tanaka,Yuki,newsletter,html
zoe.hart@example.org,Zoe Hart,Zoe,newsletter,html
"""


# -- what each reply should become -----------------------------------------------------------


def news(name: str) -> str:
    """The start of the newsletter, as the replies quote it."""
    return (
        f"Hello {name},\n\nDoing with, not doing to\n========================\n\n"
        "This year we tried to work in a new way. We asked Disabled people to\n"
        "help us plan our work from the start. We did not just ask for a view at\n"
        "the end."
    )


def story(name: str) -> str:
    """The start of the call for stories, as the replies quote it."""
    return (
        f"Hello {name},\n\nShare your story with us\n========================\n\n"
        "We want to share real stories from Disabled people who are active. We\n"
        "would love one of them to be yours."
    )


def said(text: str) -> str:
    """Text quoted with "> ", as cleaning keeps it (a quoted blank line is ">")."""
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def outlook(name: str, address: str, sent: str = "03 December 2026 09:00") -> str:
    return (
        f"From: Get Yourself Active <news@example.org>\nSent: {sent}\nTo: {name} <{address}>\n"
        "Subject: Doing with, not doing to: our winter news\n\n"
    )


POSTFIX = (
    "This is the mail system at host mail.example.net.\n\n"
    "{middle}"
    "For further assistance, please send mail to postmaster.\n\n"
    "If you do so, please include this problem report. You can\n"
    "delete your own text from the attached returned message.\n\n"
    "                   The mail system\n\n"
)
NO_TEXT = "The mail has no text in it (only attachments, or nothing)."


@dataclass(frozen=True)
class Reply:
    fixture: str
    contact: str  # who it is matched to; their mail from `campaign` fills the placeholders
    campaign: str | None
    kind: str
    matched_by: str
    text: str
    quoted: str = ""
    signature: str = ""
    notes: tuple[str, ...] = ()


REPLIES = [
    Reply(
        "gmail_story.eml",
        "amira.hassan@example.org",
        STORY,
        "story",
        "reply-token",
        "Hi,\n\n"
        "I’d love to share my story. I have cerebral palsy and I never liked PE\n"
        "at school. Two years ago a friend took me to a wheelchair basketball\n"
        "taster session in Leeds. I was nervous, but the coach asked what I wanted\n"
        "to try first, instead of telling me what I couldn’t do.\n\n"
        "Now I train every Tuesday and I play in the league. I have made good\n"
        "friends and I feel stronger.\n\n"
        "You can use my first name and my photo.\n\nAmira",
        "On Thu, 10 Dec 2026 at 10:02, Get Yourself Active <news@example.org>\nwrote:\n\n"
        + said(story("Amira")),
    ),
    Reply(
        "gmail_android_question.eml",
        "carys.evans@example.org",
        NEWS,
        "question",
        "reply-token",
        "Can my son take part? He is 12.\n\nCarys",
        "On Thu, 3 Dec 2026, 09:00 Get Yourself Active, <news@example.org> wrote:\n\n"
        + said(news("Carys")),
    ),
    Reply(
        "gmail_vacation.eml",
        "pia.clarke@example.org",
        NEWS,
        "auto-reply",
        "reply-token",
        "Hello,\n\n"
        "Thank you for your email. I'm away with no internet until Monday 4 January.\n"
        "I will reply when I'm back.\n\nPia",
    ),
    Reply(
        "apple_iphone_story.eml",
        "dev.patel@example.org",
        STORY,
        "story",
        "reply-token",
        "I started boccia last spring at the club in Wakefield. I love it and I go every week.",
        "> On 10 Dec 2026, at 10:02, Get Yourself Active <news@example.org> wrote:\n>\n"
        + said(story("Dev")),  # without the invisible U+FEFF Apple Mail puts before "Hello"
        "Sent from my iPhone",
    ),
    Reply(
        "apple_mac_long_story.eml",
        "femi.adeyemi@example.org",
        STORY,
        "story",
        "reply-token",
        "Hello,\n\nHere is my story. It is a bit long, sorry!\n\n"
        "I lost my sight when I was 30. For a long time I did not do any sport at all. I "
        "thought running was over for me. I stayed at home a lot and I felt low.\n\n"
        "In 2024 a friend told me about a running club in Leeds that has guide runners. I went "
        "along on a cold Saturday morning. A guide called Jo ran with me, holding a short "
        "tether between us. She told me about every kerb, every puddle and every turn. By the "
        "end of the first lap I was laughing.\n\n"
        "Now I run with the club twice a week. Last May I finished my first 10k, with Jo next "
        "to me the whole way. My family came to watch and my daughter made a sign.\n\n"
        "What helped most was that nobody made a fuss. They just asked what I needed.\n\n"
        "If other blind or partially sighted people read this, I want them to know: find a "
        "club and ask. Most people want to help.\n\n"
        "You can use my name. I am happy to do an interview.\n\nBest wishes,\nFemi",
        "On 10 Dec 2026, at 10:02, Get Yourself Active <news@example.org> wrote:\n\n"
        + said(story("Femi")),
    ),
    Reply(
        "outlook_desktop.eml",
        "jon.baker@example.org",
        NEWS,
        "other",
        "reply-token",
        "Hello,\n\n"
        "Thank you for the winter news. Our club’s members liked the walking story – please "
        "keep them coming.\n\nKind regards\nJon Baker",
        outlook("Jon Baker", "jon.baker@example.org") + news("Jon"),
    ),
    Reply(
        "outlook_html_only.eml",
        "ivy.nolan@example.org",
        NEWS,
        "question",
        "in-reply-to",  # sent to news@example.org, not to the Reply-To address
        "Hi,\n\n"
        "Where does the new walking group meet? I’d like to come, but I need step-free access "
        "and a toilet I can use.\n\nThanks\nIvy",
        outlook("Ivy Nolan", "ivy.nolan@example.org")
        + "Hello Ivy,\n\nDoing with, not doing to\n\nThis year we tried to work in a new way.",
    ),
    Reply(
        "outlook_mobile.eml",
        "uma.shah@example.org",
        NEWS,
        "other",
        "reply-token",
        "Yes please – I would like the large print version from now on. Thank you.",
        "________________________________\n"
        + outlook("Uma Shah", "uma.shah@example.org", "Thursday, December 3, 2026 9:00:12 AM")
        + news("Uma"),
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
    ),
    Reply(
        "thunderbird_flowed.eml",
        "kai.reid@example.org",
        NEWS,
        "question",
        "reply-token",
        "Hello,\n\n"
        "I would like to join the walking group, but I use a mobility scooter. Are the paths "
        "wide and flat enough for a scooter, and is there parking near the start?\n\n"
        "From what I read, the group meets on Saturday mornings. Is that right?\n\nThanks,\nKai",
        "On 03/12/2026 09:00, Get Yourself Active wrote:\n" + said(news("Kai")),
    ),
    Reply(
        "gmail_forwarded.eml",
        "kit.morgan@example.net",
        None,
        "other",
        "new-contact",
        "Hello,\n\n"
        "My friend Grace sent me your newsletter. Please add me to your list. I am\n"
        "deaf and I would love to try the walking group.\n\nKit",
        "---------- Forwarded message ---------\n"
        "From: Grace Liu <grace.liu@example.org>\n"
        "Date: Sun, 6 Dec 2026 at 18:02\n"
        "Subject: Fwd: Doing with, not doing to: our winter news\n"
        "To: Kit Morgan <kit.morgan@example.net>\n\n"
        "Thought you would like this!\n\n"
        "---------- Forwarded message ---------\n"
        "From: Get Yourself Active <news@example.org>\n"
        "Date: Thu, 3 Dec 2026 at 09:00\n"
        "Subject: Doing with, not doing to: our winter news\n"
        "To: Grace Liu <grace.liu@example.org>\n\n" + news("Grace"),
    ),
    Reply(
        "evolution_signature.eml",
        "grace.liu@example.org",
        NEWS,
        "question",
        "reply-token",
        "Hi,\n\n"
        "Is the boccia session in Huddersfield on 19 December still on? I could not\n"
        "find it on your website.\n\nThanks\nGrace",
        "On Thu, 2026-12-03 at 09:00 +0000, Get Yourself Active wrote:\n" + said(news("Grace")),
        "--\nGrace Liu\nHuddersfield Boccia Club (volunteer)\n07700 900456",
    ),
    Reply(
        "gmail_french.eml",
        "marie.dubois@example.fr",
        NEWS,
        "question",
        "reply-token",
        "Bonjour,\n\n"
        "Est-ce que les séances de marche sont ouvertes aux personnes qui ne\n"
        "parlent pas bien anglais ?\n\nMerci beaucoup,\nMarie",
        "Le jeu. 3 déc. 2026 à 09:00, Get Yourself Active <news@example.org> a\nécrit :\n\n"
        + said(news("Marie")),
    ),
    Reply(
        "outlook_german.eml",
        "lena.fischer@example.de",
        NEWS,
        "other",
        "reply-token",
        "Hallo,\n\n"
        "vielen Dank für den Newsletter. Ich wohne seit März in Leeds und möchte gern beim "
        "Boccia mitmachen.\n\nViele Grüße\nLena Fischer",
        "-----Ursprüngliche Nachricht-----\n"
        "Von: Get Yourself Active <news@example.org>\n"
        "Gesendet: Donnerstag, 3. Dezember 2026 10:00\n"
        "An: Lena Fischer <lena.fischer@example.de>\n"
        "Betreff: Doing with, not doing to: our winter news\n\n" + news("Lena"),
    ),
    Reply(
        "exchange_out_of_office.eml",
        "owen.price@example.org",
        NEWS,
        "auto-reply",
        "in-reply-to",
        "Thank you for your email. I am out of the office until Monday 14 December with limited "
        "access to email.\n\n"
        "For anything urgent, please ring reception on 0113 496 0999.\n\nOwen",
    ),
    Reply(
        "out_of_office_subject_only.eml",
        "sol.jones@example.org",
        NEWS,
        "auto-reply",
        "reply-token",
        "Hello, I'm on holiday. I will read your message when I get home.",
    ),
    Reply(
        "postfix_hard_bounce.eml",
        "ben.okafor@example.org",
        NEWS,
        "bounce",
        "returned-message",  # by the Message-ID of the returned message
        POSTFIX.format(
            middle="I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
        )
        + "<ben.okafor@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1\n"
        "    <ben.okafor@example.org>: Recipient address rejected: User unknown in\n"
        "    virtual mailbox table (in reply to RCPT TO command)",
        notes=(
            "Delivery to ben.okafor@example.org failed (5.1.1); the address is now suppressed.",
        ),
    ),
    Reply(
        "postfix_delayed.eml",
        "ellie.murray@example.org",
        NEWS,
        "bounce",
        "returned-message",  # by the Message-ID in the returned headers
        POSTFIX.format(
            middle="#" * 68 + "\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            + "#"
            * 68
            + "\n\nYour message could not be delivered for more than 4 hour(s).\n"
            "It will be retried until it is 5 day(s) old.\n\n"
        )
        + "<ellie.murray@example.org>: host mx.example.org[192.0.2.25] said: 452 4.2.2\n"
        "    <ellie.murray@example.org>: Mailbox full (in reply to RCPT TO command)",
        notes=("Delivery to ellie.murray@example.org is late (4.2.2); it may still work.",),
    ),
    Reply(
        "exim_failed.eml",
        "harry.shaw@example.org",
        NEWS,
        "bounce",
        "returned-message",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  harry.shaw@example.org\n"
        "    host mx.example.org [192.0.2.25]\n"
        "    SMTP error from remote mail server after RCPT TO:<harry.shaw@example.org>:\n"
        "    550 5.1.1 <harry.shaw@example.org>: Recipient address rejected: User unknown",
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "Return-path: <bounces@example.org>\n"
        "Received: from send.example.org (send.example.org [198.51.100.7])\n"
        "\tby mx1.example.com with esmtps (Exim 4.97)\n"
        "\t(envelope-from <bounces@example.org>)\n"
        "\tid 1tHq2J-0004Xw-0a\n"
        "\tfor harry.shaw@example.org; Thu, 03 Dec 2026 09:00:19 +0000\n"
        "From: Get Yourself Active <news@example.org>\n"
        "To: Harry Shaw <harry.shaw@example.org>\n"
        "Subject: Doing with, not doing to: our winter news\n"
        "Date: Thu, 03 Dec 2026 09:00:11 GMT\n"
        "Message-ID: {{MESSAGE_ID}}\n"
        "List-Unsubscribe: {{LIST_UNSUBSCRIBE}}\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
        "List-Id: Get Yourself Active <news.example.org>\n"
        "Reply-To: {{REPLY_TO}}\n"
        "MIME-Version: 1.0\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n"
        + news("Harry").replace("=" * 24, "=3D" * 24),
        notes=(
            "Delivery to harry.shaw@example.org failed (5.1.1); the address is now suppressed.",
        ),
    ),
    Reply(
        "windows_live_mail_latin1.eml",
        "ravi.kumar@example.org",
        NEWS,  # his latest mail: a new mail, with no token or thread headers
        "question",
        "sender",
        "Hello,\n\n"
        "I read about the walking group in your newsletter. Is there anything like that for "
        "wheelchair tennis in Bradford? I’ve played for years but our club closed in the "
        "summer. It cost £4 a session and I’d happily pay more.\n\nRavi",
    ),
    Reply(
        "becky_iso2022jp.eml",
        "yuki.tanaka@example.jp",
        NEWS,
        "question",  # it ends in a full-width question mark
        "reply-token",
        "こんにちは。\n\nリーズに住んでいる田中です。車いすでも、歩くグループに参加できますか？"
        "\n\n田中 由紀",
        "On Thu, 03 Dec 2026 09:00:11 GMT\nGet Yourself Active <news@example.org> wrote:\n"
        + said(news("Yuki")),
    ),
    Reply(
        "phone_shift_jis.eml",
        "sora.ito@example.jp",
        NEWS,
        "other",
        "reply-token",
        "ニュースレターをありがとうございます。大きな文字の版は表紙も本文もとても読みやすいです。"
        "\n\n伊藤",
        said(news("Sora")),
    ),
    Reply(
        "raw_utf8_headers.eml",
        "chloe.martin@example.fr",
        NEWS,
        "other",
        "reply-token",
        "Bonjour,\n\n"
        "Merci pour la lettre d’information ! Je marche avec le groupe de Leeds depuis octobre "
        "et j’adore ça.\n\nChloé",
    ),
    Reply(
        "unknown_charset.eml",
        "zoe.hart@example.org",
        NEWS,
        "other",
        "reply-token",
        "Hi,\n\nI’ve just signed up for the sailing taster – thank you for telling us about it!"
        "\n\nZoe",
        notes=(
            "The message said it was in 'unknown-8bit', which is not a character set we know; "
            "it was read as Windows Latin-1, so some letters may be wrong.",
        ),
    ),
    Reply(
        "utf8_labelled_latin1.eml",
        "noor.ali@example.org",
        NEWS,
        "other",
        "reply-token",
        "Thank you – the café meet-up after the walk was lovely. See you at the next one 😊"
        "\n\nNoor",
        notes=("The message said it was in 'iso-8859-1' but it is UTF-8; it was read as UTF-8.",),
    ),
    Reply(
        "voice_note_only.eml",
        "tess.hughes@example.org",
        STORY,
        "story",  # the call invites a voice note
        "reply-token",
        "",
        notes=(NO_TEXT,),
    ),
    Reply(
        "truncated_multipart.eml",
        "quinn.moss@example.org",
        NEWS,
        "other",
        "reply-token",
        "Thanks, I have shared this with my swimming club.\n\nQuinn",
        "On Thu, 3 Dec 2026 at 09:00, Get Yourself Active <news@example.org>\nwrote:\n\n"
        + said(news("Quinn")),
        notes=("The mail seems cut short (a part has no end marker); what arrived is kept.",),
    ),
    Reply(
        "samsung_please_unsubscribe.eml",
        "vic.lowe@example.org",
        NEWS,
        "unsubscribe",
        "reply-token",
        "Please unsubscribe me. Thanks",
        "-------- Original message --------\n"
        "From: Get Yourself Active <news@example.org>\n"
        "Date: 03/12/2026  09:00  (GMT+00:00)\n"
        "To: vic.lowe@example.org\n"
        "Subject: Doing with, not doing to: our winter news\n\n" + news("Vic"),
        "Sent from my Galaxy",
        ("vic.lowe@example.org was unsubscribed, as this reply asked.",),
    ),
    Reply(
        "gmail_unsubscribe_button.eml",
        "will.grant@example.org",
        NEWS,
        "unsubscribe",
        "unsubscribe-token",
        "This message was automatically generated by Gmail.",
        notes=("will.grant@example.org was unsubscribed, as this reply asked.",),
    ),
]


# -- the store: both campaigns sent, then every fixture taken once ----------------------------


def placeholders(sent: EmailMessage) -> dict[str, str]:
    header = str(sent["List-Unsubscribe"])
    mailto = re.search(r"<mailto:([^?>]+)", header)
    assert mailto is not None, header
    return {
        "REPLY_TO": str(sent["Reply-To"]),
        "MESSAGE_ID": str(sent["Message-ID"]),
        "UNSUBSCRIBE": mailto.group(1),
        "LIST_UNSUBSCRIBE": header,
    }


def fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


@dataclass
class Corpus:
    project: Project
    store: sa.Engine
    sent: dict[tuple[str, str], EmailMessage]  # (address, campaign) -> what the outbox wrote
    taken: dict[str, Taken]

    def values(self, reply: Reply) -> dict[str, str]:
        found = self.sent.get((reply.contact, reply.campaign or ""))
        return placeholders(found) if found else {}

    def raw(self, reply: Reply) -> bytes:
        raw = (FIXTURES / reply.fixture).read_bytes()
        for name, value in self.values(reply).items():
            raw = raw.replace(b"{{" + name.encode() + b"}}", value.encode())
        assert b"{{" not in raw, f"{reply.fixture}: a placeholder is left"
        return raw

    def row(self, inbound_id: int) -> sa.Row:
        with self.store.connect() as c:
            return c.execute(
                sa.select(inbound, contacts.c.email.label("contact"))
                .outerjoin(contacts, contacts.c.id == inbound.c.contact_id)
                .where(inbound.c.id == inbound_id)
            ).one()

    def counts(self) -> dict[str, int]:
        with self.store.connect() as c:
            return {
                table.name: c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in (inbound, contacts, consents, suppressions, events)
            }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ENGAGE_SECRET_KEY", KEY)
        env.setenv("ENGAGE_USER", "test-runner")
        env.delenv("ENGAGE_DATABASE_URL", raising=False)
        env.delenv("ENGAGE_WORKSPACE", raising=False)
        root = tmp_path_factory.mktemp("corpus") / "workspace"
        root.mkdir()
        shutil.copy(REPO / "engage.toml", root / "engage.toml")
        for folder in ("templates", "campaigns", "audiences", "samples"):
            shutil.copytree(REPO / folder, root / folder)
        project = Project(root)
        people = project.write("people.csv", PEOPLE)
        for path in (root / "samples" / "contacts.csv", people):
            assert project.run("contacts", "import", str(path)).exit_code == 0
        for slug in (STORY, NEWS):
            result = project.run("send", slug, "--yes", "--now")
            assert result.exit_code == 0, result.output
        sent = {
            (address, slug): m
            for slug in (STORY, NEWS)
            for address, m in outbox(project, slug).items()
        }
        store = open_store(project.workspace)
        corpus = Corpus(project, store.engine, sent, {})
        inbox = for_workspace(project.workspace)
        for reply in REPLIES:
            with store.begin() as connection:
                corpus.taken[reply.fixture] = inbox.take_raw(
                    connection, corpus.raw(reply), "import"
                )
        yield corpus
        store.engine.dispose()


def test_every_fixture_is_in_the_table() -> None:
    assert sorted(path.name for path in FIXTURES.glob("*.eml")) == sorted(
        reply.fixture for reply in REPLIES
    )


@pytest.mark.parametrize("reply", REPLIES, ids=lambda reply: reply.fixture.removesuffix(".eml"))
def test_each_reply(corpus: Corpus, reply: Reply) -> None:
    taken = corpus.taken[reply.fixture]
    row = corpus.row(taken.id)
    values = corpus.values(reply)
    assert (taken.new, taken.kind, taken.matched_by, taken.notes) == (
        True,
        reply.kind,
        reply.matched_by,
        list(reply.notes),
    )
    assert (row.kind, row.matched_by, row.contact, row.campaign) == (
        reply.kind,
        reply.matched_by,
        reply.contact,
        reply.campaign,
    )
    assert row.clean_text == reply.text
    assert row.quoted == fill(reply.quoted, values)
    assert row.signature == reply.signature
    assert row.notes == list(reply.notes)
    assert row.status == ("done" if reply.kind in ("auto-reply", "bounce") else "new")
    assert row.original == corpus.raw(reply)  # kept as it came


@pytest.mark.parametrize(
    "fixture, sender, name, subject",
    [
        (
            "becky_iso2022jp.eml",
            "yuki.tanaka@example.jp",
            "田中 由紀",  # an ISO-2022-JP encoded word
            "Re: Doing with, not doing to: our winter news",
        ),
        (
            "raw_utf8_headers.eml",
            "chloe.martin@example.fr",
            "Chloé Martin",
            "Re: Doing with, not doing to: our winter news – merci !",
        ),
        (
            "postfix_hard_bounce.eml",
            "MAILER-DAEMON@mail.example.net",
            "Mail Delivery System",
            "Undelivered Mail Returned to Sender",
        ),
    ],
)
def test_names_and_subjects(
    corpus: Corpus, fixture: str, sender: str, name: str, subject: str
) -> None:
    row = corpus.row(corpus.taken[fixture].id)
    assert (row.sender, row.sender_name, row.subject) == (sender, name, subject)


def test_a_failure_notice_keeps_only_its_own_words(corpus: Corpus) -> None:
    """The returned message's parts are our newsletter, not the words of the notice."""
    row = corpus.row(corpus.taken["postfix_hard_bounce.eml"].id)
    assert row.html == ""


# -- what the replies did --------------------------------------------------------------------


def everybody() -> list[str]:
    rows = (REPO / "samples" / "contacts.csv").read_text().splitlines()[1:]
    return [line.split(",", 1)[0] for line in rows + PEOPLE.splitlines()[1:]]


def test_who_changed(corpus: Corpus) -> None:
    changed = {
        "ben.okafor@example.org": "bounced",
        "harry.shaw@example.org": "bounced",
        "vic.lowe@example.org": "unsubscribed",
        "will.grant@example.org": "unsubscribed",
        "kit.morgan@example.net": "pending",  # a stranger: a contact with no consent
    }
    with corpus.store.connect() as c:
        statuses = dict(c.execute(sa.select(contacts.c.email, contacts.c.status)).all())
        suppressed = dict(c.execute(sa.select(suppressions.c.email, suppressions.c.reason)).all())
        kit = core.get(c, "kit.morgan@example.net")
        assert core.consent_history(c, kit.id) == []
    assert statuses == {address: "subscribed" for address in everybody()} | changed
    assert suppressed == {
        "ben.okafor@example.org": "bounced",
        "harry.shaw@example.org": "bounced",
        "vic.lowe@example.org": "unsubscribed",
        "will.grant@example.org": "unsubscribed",
    }


def delivery_of(c: sa.Connection, address: str, campaign: str) -> int:
    return c.execute(
        sa.select(deliveries.c.id)
        .join(sends, sends.c.id == deliveries.c.send_id)
        .join(contacts, contacts.c.id == deliveries.c.contact_id)
        .where(contacts.c.email == address, sends.c.campaign == campaign)
    ).scalar_one()


def test_failure_notices_are_recorded_like_a_providers_bounces(corpus: Corpus) -> None:
    with corpus.store.connect() as c:
        found = c.execute(
            sa.select(
                events.c.provider,
                events.c.event_id,
                events.c.event_type,
                events.c.recipient,
                events.c.delivery_id,
                events.c.reason,
                events.c.raw,
            ).order_by(events.c.recipient)
        ).all()
        expected = []
        for fixture, address, status in (
            ("postfix_hard_bounce.eml", "ben.okafor@example.org", "5.1.1"),
            ("postfix_delayed.eml", "ellie.murray@example.org", "4.2.2"),
            ("exim_failed.eml", "harry.shaw@example.org", "5.1.1"),
        ):
            inbound_id = corpus.taken[fixture].id
            expected.append(
                (
                    "import",
                    f"notice:{inbound_id}:{address}",
                    "bounced",
                    address,
                    delivery_of(c, address, NEWS),
                    status,
                    {"inbound_id": inbound_id, "source": "failure notice (import)"},
                )
            )
    assert [tuple(row) for row in found] == expected


def test_the_soft_bounce_suppresses_nobody(corpus: Corpus) -> None:
    with corpus.store.connect() as c:
        ellie = core.get(c, "ellie.murray@example.org")
        assert (ellie.status, core.suppression(c, ellie.email)) == ("subscribed", None)


@pytest.mark.parametrize(
    "address, method",
    [("vic.lowe@example.org", "reply"), ("will.grant@example.org", "email")],
)
def test_a_request_to_stop_withdraws_consent(corpus: Corpus, address: str, method: str) -> None:
    with corpus.store.connect() as c:
        person = core.get(c, address)
        last = core.consent_history(c, person.id)[-1]
    assert (last["action"], last["method"], last["source"]) == (
        "withdrawn",
        method,
        "reply by import",
    )


@pytest.mark.parametrize(
    "address", ["pia.clarke@example.org", "owen.price@example.org", "sol.jones@example.org"]
)
def test_automatic_replies_change_nobody(corpus: Corpus, address: str) -> None:
    with corpus.store.connect() as c:
        person = core.get(c, address)
        history = core.consent_history(c, person.id)
        theirs = c.execute(
            sa.select(sa.func.count()).select_from(events).where(events.c.recipient == address)
        ).scalar_one()
    assert (person.status, [h["action"] for h in history], theirs) == ("subscribed", ["given"], 0)


def test_taking_each_mail_again_changes_nothing(corpus: Corpus) -> None:
    before = corpus.counts()
    inbox = for_workspace(corpus.project.workspace)
    for reply in REPLIES:
        with corpus.store.begin() as c:
            again = inbox.take_raw(c, corpus.raw(reply), "imap")
        assert again == Taken(corpus.taken[reply.fixture].id, new=False), reply.fixture
    assert corpus.counts() == before


# -- mail too big, and bytes that are not mail -----------------------------------------------


def test_a_20_mb_video_is_kept_as_a_file_not_in_the_database(corpus: Corpus) -> None:
    amira = placeholders(corpus.sent[("amira.hassan@example.org", STORY)])
    video_bytes = bytes(range(256)) * (20 * 4096)
    video = base64.encodebytes(video_bytes).decode("ascii")
    raw = (
        "From: Amira Hassan <amira.hassan@example.org>\n"
        f"To: {amira['REPLY_TO']}\n"
        "Subject: Re: We would love to hear your story\n"
        "Date: Sat, 12 Dec 2026 09:30:00 +0000\n"
        "Message-ID: <big-video.1@example.org>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="mixed"\n\n'
        "--mixed\n"
        'Content-Type: text/plain; charset="UTF-8"\n\n'
        "Here is a video of my first wheelchair basketball match. My coach filmed it for me.\n"
        "--mixed\n"
        'Content-Type: video/mp4; name="first-match.mp4"\n'
        'Content-Disposition: attachment; filename="first-match.mp4"\n'
        "Content-Transfer-Encoding: base64\n\n"
        f"{video}"
        "--mixed--\n"
    ).encode("ascii")
    with corpus.store.begin() as c:
        taken = for_workspace(corpus.project.workspace).take_raw(c, raw, "import")
    row = corpus.row(taken.id)
    assert (taken.new, taken.kind, taken.notes, row.notes) == (True, "story", [], [])
    with corpus.store.connect() as c:
        [kept] = attachments.listing(c, taken.id)
    folder = corpus.project.root / "attachments"
    assert kept == {
        "name": "first-match.mp4",
        "type": "video/mp4",
        "size": len(video_bytes),
        "sha256": hashlib.sha256(video_bytes).hexdigest(),
        "path": kept["path"],
        "set_aside": "",
    }
    assert kept["path"].startswith(f"{taken.id}-") and kept["path"].endswith("/1-first-match.mp4")
    assert (folder / kept["path"]).read_bytes() == video_bytes
    assert (row.contact, row.campaign, row.matched_by) == (
        "amira.hassan@example.org",
        STORY,
        "reply-token",
    )
    assert row.clean_text == (
        "Here is a video of my first wheelchair basketball match. My coach filmed it for me."
    )
    assert len(raw) > 27_000_000
    assert len(row.original) < 2_000
    assert b"[first-match.mp4, 20.0 MB: see the reply's attachments]" in row.original
    kept = parse(row.original, "import")
    assert (kept.message.text, kept.notes) == (
        "Here is a video of my first wheelchair basketball match. My coach filmed it for me.",
        [],
    )


NOT_HEADERS = (
    "It has no From, Date, Subject or Message-ID header, so it does not look like a mail. "
    "Save the message from your mail program as an .eml file and try again."
)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "It is empty."),
        (b" \r\n\r\n", "It is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", NOT_HEADERS),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", NOT_HEADERS),
        (b"Dear team,\nI would like to share my story.\n", NOT_HEADERS),
    ],
)
def test_bytes_that_are_not_a_mail_are_refused(corpus: Corpus, raw: bytes, message: str) -> None:
    before = corpus.counts()
    inbox = for_workspace(corpus.project.workspace)
    with corpus.store.begin() as c, pytest.raises(NotAMail) as refused:
        inbox.take_raw(c, raw, "import")
    assert str(refused.value) == message
    assert corpus.counts() == before


# -- reading MIME: the fixes the corpus asked for ----------------------------------------------


def test_unflow_joins_soft_breaks_and_removes_space_stuffing() -> None:
    flowed = (
        "I use a mobility \nscooter.\n"
        " From what I read, \n"
        "it meets on Saturday.\n"
        "> Quoted lines \n"
        "> flow too.\n"
        ">> Deeper \n"
        "> back up a level\n"
        "-- \n"
        "Kai \n"
    )
    assert unflow(flowed) == (
        "I use a mobility scooter.\n"
        "From what I read, it meets on Saturday.\n"
        "> Quoted lines flow too.\n"
        ">> Deeper \n"  # the quote depth changed: the line ends where it is
        "> back up a level\n"
        "-- \n"  # the signature line is never flowed
        "Kai "
    )


def test_unflow_with_delsp_removes_the_space_at_the_break() -> None:
    assert unflow("長い文章を \n書きました。\n", delsp=True) == "長い文章を書きました。\n"


def test_only_flowed_text_is_unflowed() -> None:
    head = "From: a@example.org\nSubject: x\nContent-Type: text/plain; charset=utf-8"
    body = "\nOne \ntwo\n"
    assert parse(f"{head}\n{body}".encode(), "import").message.text == "One \ntwo\n"
    flowed = f"{head}; format=flowed\n{body}".encode()
    assert parse(flowed, "import").message.text == "One two\n"


def test_a_forwarded_attachment_is_not_the_text_of_the_mail() -> None:
    raw = (
        b"From: a@example.org\nSubject: Fwd\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: message/rfc822\n\n"
        b"From: c@example.org\nSubject: inner\nContent-Type: text/html\n\n<p>Inner</p>\n"
        b"--b--\n"
    )
    parsed = parse(raw, "import")
    assert (parsed.message.text, parsed.message.html, parsed.notes) == ("", "", [NO_TEXT])


@pytest.mark.parametrize(
    "header, text",
    [
        ("Subject: Caf\u00e9 \u2013 merci".encode(), "Café – merci"),  # UTF-8, as RFC 6532
        (b"Subject: Caf\xe9 \x96 merci", "Café – merci"),  # an old program's Windows Latin-1
        (b"Subject: =?ISO-8859-1?Q?Caf=E9?= ok", "Café ok"),
    ],
)
def test_header_bytes_beyond_ascii_are_read(header: bytes, text: str) -> None:
    raw = b"From: a@example.org\n" + header + b"\n\nhi\n"
    assert parse(raw, "import").message.subject == text
