"""Headers every mail server takes: exact bytes for the hard cases, through the outbox and a
real SMTP server, on SQLite and PostgreSQL; and the strict checker (tests/mailcheck.py) that the
whole suite runs on every message."""

from __future__ import annotations

import datetime as dt
import re
from email.header import decode_header, make_header

import pytest

from engage.email.headers import HeaderTooLong, date, display_address, header

from . import mailcheck
from .smtp_sink import SmtpSink

SLUG = "doing-with-not-doing-to"
# The example campaign under a name of its own: on PostgreSQL a send's lock is held across the
# whole database, so another test run sending the example at the same moment cannot block it.
WELSH_SLUG = "newyddion-yr-wyl"
KEY = "test-secret-key"
# 63 characters of Welsh with ŵ, â and ï in it.
WELSH = "Newyddion yr ŵyl: Siân a Gwenllïan yn ennill aur yng Nghaerdydd"
WELSH_LINES = (
    "Subject: Newyddion yr =?utf-8?q?=C5=B5yl=3A_Si=C3=A2n?= a\r\n"
    " =?utf-8?q?Gwenll=C3=AFan?= yn ennill aur yng Nghaerdydd\r\n"
)
EMOJI = "Aur ac arian i’n nofwyr 🏊‍♀️🏅🥈 yn y Gemau Cymru eleni"
EMOJI_LINES = (
    "Subject: Aur ac arian =?utf-8?q?i=E2=80=99n?= nofwyr\r\n"
    " =?utf-8?b?8J+PiuKAjeKZgO+4j/Cfj4Xwn6WI?= yn y Gemau Cymru eleni\r\n"
)
CLUB = "Clwb Chwaraeon Anabledd Gŵyr a Phenrhyn Llŷn — Tîm y Cyfryngau"
FROM_LINES = (
    "From: =?utf-8?q?Clwb_Chwaraeon_Anabledd_G=C5=B5yr_a_Phenrhyn_Ll=C5=B7n_?=\r\n"
    " =?utf-8?q?=E2=80=94_T=C3=AEm_y_Cyfryngau?= <news@example.org>\r\n"
)
SIAN = "Siân Llywelyn-Brontë ap Gruffydd o Benrhyndeudraeth, Gwynedd"
TO_LINES = (
    "To: =?utf-8?q?Si=C3=A2n_Llywelyn-Bront=C3=AB_ap_Gruffydd_o_?=\r\n"
    " =?utf-8?q?Benrhyndeudraeth=2C_Gwynedd?= <sian@example.org>\r\n"
)
ZOE_LINE = "To: =?utf-8?q?Zo=C3=AB_Bront=C3=AB?= <zoe@example.org>\r\n"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
DATE_LINE = "Date: Tue, 01 Dec 2026 09:00:00 +0000\r\n"
# List-Unsubscribe folded after its comma: the https link, then the mailto link.
UNSUBSCRIBE = re.compile(
    r"List-Unsubscribe: <https://news\.example\.org/unsubscribe/[a-z0-9.]+>,\r\n"
    r" <mailto:unsubscribe\+[a-z0-9.]+@replies\.example\.org\?subject=unsubscribe>\r\n"
)


def decoded(line: str) -> str:
    """A header's value as a reader that follows RFC 2047 shows it."""
    return str(make_header(decode_header(line.partition(":")[2].replace("\r\n", ""))))


# --- one header at a time -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "lines", "shown"),
    [
        ("Subject", WELSH, WELSH_LINES, WELSH),
        ("Subject", EMOJI, EMOJI_LINES, EMOJI),
        ("From", f"{CLUB} <news@example.org>", FROM_LINES, f"{CLUB} <news@example.org>"),
        ("To", display_address(SIAN, "sian@example.org"), TO_LINES, f"{SIAN} <sian@example.org>"),
        ("To", "Zoë Brontë <zoe@example.org>", ZOE_LINE, "Zoë Brontë <zoe@example.org>"),
    ],
)
def test_text_beyond_ascii_is_encoded_and_folded(name, value, lines, shown) -> None:
    written = header(name, value) + "\r\n"
    assert written == lines
    assert decoded(written) == shown
    assert mailcheck.problems(written.encode() + b"\r\nbody\r\n") == []


def test_the_date_is_written_with_a_numeric_zone() -> None:
    assert header("Date", date(NOW)) + "\r\n" == DATE_LINE
    summer = dt.datetime(2026, 7, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert date(summer) == "Wed, 01 Jul 2026 09:30:00 +0000"


def test_a_long_header_is_folded_at_a_space_and_a_long_word_is_left_whole() -> None:
    https = "https://news.example.org/unsubscribe/" + "a" * 60
    mailto = "mailto:unsubscribe+" + "b" * 40 + "@replies.example.org?subject=unsubscribe"
    assert header("List-Unsubscribe", f"<{https}>, <{mailto}>") == (
        f"List-Unsubscribe: <{https}>,\r\n <{mailto}>"
    )
    words = " ".join(["word"] * 40)
    assert [len(line) for line in header("X-Words", words).split("\r\n")] == [78, 75, 55]


def test_a_header_never_gets_a_line_of_its_own_from_its_value() -> None:
    assert header("Subject", "Our news\r\nBcc: evil@example.org") == (
        "Subject: Our news Bcc: evil@example.org"
    )
    assert header("To", display_address("Ed\r\nBcc: x@example.org", "ed@example.org")) == (
        'To: "Ed Bcc: x@example.org" <ed@example.org>'
    )


def test_a_word_too_long_for_any_line_is_refused() -> None:
    with pytest.raises(HeaderTooLong, match="The List-Unsubscribe header has a part of 1018"):
        header("List-Unsubscribe", "<https://example.org/" + "a" * 978 + ">")


def test_something_that_looks_encoded_is_encoded_itself() -> None:
    written = header("Subject", "=?utf-8?q?not_encoded?= really")
    assert written == "Subject: =?utf-8?q?=3D=3Futf-8=3Fq=3Fnot=5Fencoded=3F=3D?= really"
    assert decoded(written) == "=?utf-8?q?not_encoded?= really"


# --- the checker catches what servers refuse -----------------------------------------------


GOOD = b"From: a@example.org\r\nSubject: Hello\r\n\r\nHello.\r\n"


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (
            b"From: a@example.org\r\nSubject: =?utf-8?q?Hello_there_and_a_very_long_sub?=\n"
            b" =?utf-8?q?ject?=\r\n\r\nHi\r\n",
            "line 2 ends in a bare LF, not CRLF: b'Subject: =?utf-8?q?Hello_there_and_a_very"
            "_long_sub?='",
        ),
        (
            b"From: =?utf-8?q?" + b"Zo=C3=AB_" * 11 + b"?= <z@example.org>\r\n\r\nHi\r\n",
            "line 1 has an encoded word of 111 characters (75 at most)",
        ),
        (
            b"List-Unsubscribe: <https://example.org/" + b"u" * 60 + b">, <mailto:u@example.org>"
            b"\r\n\r\nHi\r\n",
            "line 1 is 124 characters long, not folded at a space near 78",
        ),
        (b"Subject: ok\r\n\r\n" + b"x" * 999 + b"\r\n", "line 3 is 999 octets long (998 at most)"),
        ("Subject: Siân\r\n\r\nHi\r\n".encode(), "header Subject: text beyond ASCII outside"),
        (b"Subject: ok\r\n \r\n\r\nHi\r\n", "line 2 is a folded line with nothing on it"),
    ],
)
def test_the_checker_finds_each_fault(message, problem) -> None:
    assert mailcheck.problems(GOOD) == []
    found = mailcheck.problems(message)
    assert any(p.startswith(problem) for p in found), found


def test_the_checker_takes_an_address_beyond_ascii() -> None:
    message = "To: =?utf-8?q?Jos=C3=A9?= <José@bücher.de>\r\n\r\nHi\r\n".encode()
    assert mailcheck.problems(message) == []


def test_a_field_for_an_http_api_has_no_line_break() -> None:
    assert mailcheck.field_problems("subject", "Our news") == []
    assert mailcheck.field_problems("subject", "Our\nnews") == [
        "field subject has a line break in it: 'Our\\nnews'"
    ]


# --- whole messages, as they leave engage ---------------------------------------------------


@pytest.fixture
def welsh(project, db_url, monkeypatch, clock):
    """The example workspace with a Welsh subject, a long Welsh From name and a contributor
    with a long Welsh name, on SQLite and on PostgreSQL."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    text = project.read(f"campaigns/{SLUG}.md")
    old = 'subject = "Doing with, not doing to: our winter news"'
    assert old in text
    project.write(f"campaigns/{WELSH_SLUG}.md", text.replace(old, f'subject = "{WELSH}"'))
    project.replace(
        "engage.toml",
        'from = "Get Yourself Active <news@example.org>"',
        f'from = "{CLUB} <news@example.org>"',
    )
    people = f'email,name,first_name,tags,format\nsian@example.org,"{SIAN}",Siân,newsletter,html\n'
    path = project.write("people.csv", people)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    project.public_links()  # as a send through any provider but the outbox needs
    return project


def head(data: bytes) -> str:
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii") + "\r\n"


def assert_welsh_headers(data: bytes) -> None:
    text = head(data)
    for lines in (FROM_LINES, TO_LINES, WELSH_LINES, DATE_LINE):
        assert lines in text
    assert UNSUBSCRIBE.search(text), text
    assert mailcheck.problems(data) == []


def test_the_outbox_file_has_exact_headers(welsh) -> None:
    result = welsh.run("send", WELSH_SLUG, "--yes", "--now")
    assert result.exit_code == 0, result.output
    (path,) = (welsh.root / "outbox" / WELSH_SLUG).glob("*.eml")
    assert_welsh_headers(path.read_bytes())


def test_the_smtp_server_gets_exact_headers(welsh, monkeypatch) -> None:
    sink = SmtpSink().start()
    try:
        welsh.replace("engage.toml", 'provider = "outbox"', 'provider = "smtp"')
        welsh.write(
            "engage.toml",
            welsh.read("engage.toml")
            + f'\n[email.smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n',
        )
        result = welsh.run("send", WELSH_SLUG, "--yes", "--now")
        assert result.exit_code == 0, result.output
        ((to, data),) = sink.received
    finally:
        sink.stop()
    assert to == "sian@example.org"
    assert_welsh_headers(data)


def test_a_test_copy_goes_to_a_name_beyond_ascii(welsh) -> None:
    result = welsh.run("send", WELSH_SLUG, "--test-to", "Zoë Brontë <zoe@example.org>")
    assert result.exit_code == 0, result.output
    (path,) = (welsh.root / "outbox" / f"{WELSH_SLUG}-test").glob("*.eml")
    assert result.stdout == (
        f"Sent a test copy of {WELSH_SLUG} to Zoë Brontë <zoe@example.org> through outbox.\n"
        f"It is the file {path}\n"
    )
    data = path.read_bytes()
    assert ZOE_LINE in head(data)
    assert "Subject: [Test] " + WELSH_LINES.removeprefix("Subject: ") in head(data)
    assert mailcheck.problems(data) == []
    assert b"Hello Zo=C3=AB,\r\n" in data  # the greeting uses the first name given


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("Zoë <zoe@>", "Error: --test-to: 'zoe@' is not a valid email address: There must be"),
        (
            "Zoë zoe@example.org>",
            "Error: --test-to: 'Zoë zoe@example.org>' is not an email address: write it as "
            "name@example.org, or with a name as Name <name@example.org>.",
        ),
    ],
)
def test_a_test_copy_to_something_that_is_not_an_address_is_refused(
    project, monkeypatch, given, error
) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    result = project.run("send", SLUG, "--test-to", given)
    assert result.exit_code == 1
    assert result.stderr.startswith(error)
    assert not (project.root / "outbox").exists()


def test_a_test_copy_to_a_quoted_name_over_smtp(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    sink = SmtpSink().start()
    try:
        project.replace("engage.toml", 'provider = "outbox"', 'provider = "smtp"')
        project.public_links()
        project.write(
            "engage.toml",
            project.read("engage.toml")
            + f'\n[email.smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n',
        )
        result = project.run("send", SLUG, "--test-to", '"Brontë, Zoë" <zoe@example.org>')
        assert result.exit_code == 0, result.output
        ((to, data),) = sink.received
    finally:
        sink.stop()
    assert to == "zoe@example.org"
    assert "To: =?utf-8?q?Bront=C3=AB=2C_Zo=C3=AB?= <zoe@example.org>\r\n" in head(data)
    assert mailcheck.problems(data) == []


# --- the HTTP providers: fields as the API reads them, never encoded twice -------------------


def to_fields(name: str, body) -> list[str]:  # noqa: ANN001
    """The recipient as each API was handed it."""
    if name == "mailgun":
        return [value for key, value in body if key == "to"]
    if name == "postmark":
        return [message["To"] for message in body]
    return [
        f"{person['name']} <{person['email']}>"
        for each in body["personalizations"]
        for person in each["to"]
    ]


@pytest.mark.parametrize("name", ["mailgun", "postmark", "sendgrid"])
def test_an_http_provider_gets_the_name_as_written(welsh, monkeypatch, name) -> None:
    from .test_providers import ENV, FAKES, KEYS, SETTINGS

    fake = FAKES[name]().start()
    try:
        monkeypatch.setenv(ENV[name], KEYS[name])
        welsh.replace("engage.toml", 'provider = "outbox"', f'provider = "{name}"\ntimeout = 5')
        welsh.write(
            "engage.toml", welsh.read("engage.toml") + "\n" + SETTINGS[name].format(url=fake.url)
        )
        result = welsh.run("send", WELSH_SLUG, "--yes", "--now")
        assert result.exit_code == 0, result.output
        (request,) = [r for r in fake.requests if r.method == "POST"]
    finally:
        fake.stop()
    expected = {
        "sendgrid": f"{SIAN} <sian@example.org>",  # a JSON object: name and email apart
    }.get(name, f'"{SIAN}" <sian@example.org>')
    assert to_fields(name, request.body) == [expected]
    assert "=?utf-8?" not in request.raw.decode("utf-8")
