"""The HTTP providers against fake Mailgun, Postmark and SendGrid servers on loopback that
check requests as the real APIs do, and fail on cue."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from engage.store import open_store
from engage.tokens import Signer

from .fakes import FakeMailgun, FakePostmark, FakeSendGrid
from .test_sending import KEY, SLUG

PEOPLE = (
    "email,name,first_name,tags,format\n"
    "ann@example.org,Ann Lee,Ann,newsletter,html\n"
    "bo@example.org,<b>Bo</b> & Co,Bo,newsletter,large-print\n"
    "cy@example.org,Cy Obi,Cy,newsletter,plain\n"
)
SETTINGS = {
    "mailgun": '[email.mailgun]\ndomain = "mg.example.org"\nbase_url = "{url}"\napi_key_env = "TEST_MG_KEY"\n',
    "postmark": '[email.postmark]\nbase_url = "{url}"\nserver_token_env = "TEST_PM_TOKEN"\n',
    "sendgrid": '[email.sendgrid]\nbase_url = "{url}"\napi_key_env = "TEST_SG_KEY"\n',
}
ENV = {"mailgun": "TEST_MG_KEY", "postmark": "TEST_PM_TOKEN", "sendgrid": "TEST_SG_KEY"}
FAKES = {
    "mailgun": lambda: FakeMailgun(api_key="key-1", domain="mg.example.org"),
    "postmark": lambda: FakePostmark(api_key="pm-1"),
    "sendgrid": lambda: FakeSendGrid(api_key="SG.1"),
}
KEYS = {"mailgun": "key-1", "postmark": "pm-1", "sendgrid": "SG.1"}


@pytest.fixture(params=["mailgun", "postmark", "sendgrid"])
def provider(request, project, monkeypatch):
    name = request.param
    fake = FAKES[name]().start()
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv(ENV[name], KEYS[name])
    project.replace("engage.toml", 'provider = "outbox"', f'provider = "{name}"\ntimeout = 1')
    project.public_links()
    project.write(
        "engage.toml", project.read("engage.toml") + "\n" + SETTINGS[name].format(url=fake.url)
    )
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    yield name, fake, project
    fake.stop()


def statuses(project) -> dict[str, tuple[str, str | None]]:
    store = open_store(project.workspace)
    with store.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT contacts.email, deliveries.status, deliveries.error FROM deliveries "
                "JOIN contacts ON contacts.id = deliveries.contact_id ORDER BY contacts.email"
            )
        ).all()
    store.engine.dispose()
    return {email: (status, error) for email, status, error in rows}


def test_each_person_gets_their_own_message(provider) -> None:
    name, fake, project = provider
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{SLUG}: 3 handed to {name} this time. Of 3: 3 sent")
    got = {m["email"]: m for m in fake.messages}
    assert sorted(got) == ["ann@example.org", "bo@example.org", "cy@example.org"]
    signer = Signer(KEY)
    for address, message in got.items():
        assert message["from"] == "Get Yourself Active <news@example.org>"
        assert message["subject"] == "Doing with, not doing to: our winter news"
        headers = {k.lower(): v for k, v in message["headers"].items()}
        https, mailto = re.fullmatch(r"<(.+)>, <(.+)>", headers["list-unsubscribe"]).groups()
        contact_id, send_id = signer.verify("u", https.rsplit("/", 1)[1])
        assert mailto.startswith("mailto:unsubscribe+")
        assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        assert headers["list-id"] == "Get Yourself Active <news.example.org>"
        assert headers["message-id"].startswith(f"<{SLUG}.")
        assert headers["reply-to"].startswith("reply+")
        assert https in message["text"]
        first = address.split("@")[0].capitalize()
        assert message["text"].startswith(f"Hello {first},\n")
    assert got["cy@example.org"]["html"] is None
    assert (
        "Hello Bo," in got["bo@example.org"]["html"]
        and "font-size:24px" in got["bo@example.org"]["html"]
    )
    assert (
        "Hello Ann," in got["ann@example.org"]["html"]
        and "font-size:18px" in got["ann@example.org"]["html"]
    )
    assert (
        len(
            {m["headers"].get("Message-Id") or m["headers"].get("Message-ID") for m in got.values()}
        )
        == 3
    )


def test_wrong_key_stops_the_send(provider, monkeypatch) -> None:
    name, fake, project = provider
    monkeypatch.setenv(ENV[name], "wrong")
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 1
    title = {"mailgun": "Mailgun", "postmark": "Postmark", "sendgrid": "SendGrid"}[name]
    assert result.stderr == (
        f"Error: {title} refused the key (HTTP 401). Check the environment variable {ENV[name]} "
        f"(named by email.{name}.{ENV[name] and {'mailgun': 'api_key_env', 'postmark': 'server_token_env', 'sendgrid': 'api_key_env'}[name]}).\n"
    )
    assert fake.messages == []
    assert {s for s, _ in statuses(project).values()} == {"pending"}


def test_rate_limits_and_outages_are_retried(provider) -> None:
    name, fake, project = provider
    fake.fail_next(status=429, retry_after=0, times=1)
    fake.fail_next(status=503, retry_after=None, times=1)
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 0, result.output
    assert sorted(m["email"] for m in fake.messages) == [
        "ann@example.org",
        "bo@example.org",
        "cy@example.org",
    ]


def test_a_timeout_is_unknown_never_retried(provider) -> None:
    """The provider may have taken a request whose answer never came: those people are
    unknown, not sent again; the other batches go."""
    name, fake, project = provider
    fake.hang_next(seconds=3, times=1)
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-2] == (
        f"{SLUG}: 3 handed to {name} this time. Of 3: 2 sent, 0 failed, 0 skipped, "
        "1 unknown, 0 still to send."
    )
    title = {"mailgun": "Mailgun", "postmark": "Postmark", "sendgrid": "SendGrid"}[name]
    assert result.stderr.splitlines()[-2] == (
        f"Problem: {title} did not answer within 1 s after taking the request: 1 message(s) "
        "may or may not have gone"
    )
    assert len(fake.requests) == 3  # the one that timed out was not sent again
    assert len(fake.messages) == 2
    assert sorted(s for s, _ in statuses(project).values()) == ["sent", "sent", "unknown"]


def test_a_provider_that_stays_down_leaves_the_rest_for_the_next_run(provider) -> None:
    name, fake, project = provider
    fake.fail_next(status=500, retry_after=0, times=100)
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 1
    assert "left for the next run" in result.stderr
    assert fake.messages == []
    assert {s for s, _ in statuses(project).values()} == {"pending"}
    fake.reset()
    again = project.run("send", SLUG, "--yes", "--now")
    assert again.exit_code == 0
    assert len(fake.messages) == 3


def test_one_refused_recipient_does_not_stop_the_others(provider) -> None:
    name, fake, project = provider
    fake.reject_recipient("ann@example.org")
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 0, result.output
    assert sorted(m["email"] for m in fake.messages) == ["bo@example.org", "cy@example.org"]
    state = statuses(project)
    assert state["ann@example.org"][0] == "failed"
    assert state["ann@example.org"][1]
    assert state["bo@example.org"] == ("sent", None)


def test_mailgun_batches_of_a_thousand(project, monkeypatch) -> None:
    fake = FakeMailgun(api_key="key-1", domain="mg.example.org").start()
    try:
        monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
        monkeypatch.setenv("TEST_MG_KEY", "key-1")
        project.replace("engage.toml", 'provider = "outbox"', 'provider = "mailgun"')
        project.public_links()
        project.write(
            "engage.toml",
            project.read("engage.toml") + "\n" + SETTINGS["mailgun"].format(url=fake.url),
        )
        rows = "".join(f"p{i}@example.org,newsletter\n" for i in range(1500))
        path = project.write("many.csv", "email,tags\n" + rows)
        assert project.run("contacts", "import", str(path)).exit_code == 0
        assert project.run("send", SLUG, "--yes", "--now").exit_code == 0
        calls = [r for r in fake.requests if r.path.endswith("/messages")]
        # Batches may be in flight together, so they can arrive in either order.
        assert sorted(sum(1 for k, _ in r.body if k == "to") for r in calls) == [500, 1000]
        assert len({m["email"] for m in fake.messages}) == 1500
    finally:
        fake.stop()


def test_mailgun_unknown_domain(project, monkeypatch) -> None:
    fake = FakeMailgun(api_key="key-1", domain="mg.example.org").start()
    try:
        monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
        monkeypatch.setenv("TEST_MG_KEY", "key-1")
        project.replace("engage.toml", 'provider = "outbox"', 'provider = "mailgun"')
        project.public_links()
        project.write(
            "engage.toml",
            project.read("engage.toml")
            + "\n"
            + SETTINGS["mailgun"].format(url=fake.url).replace("mg.example.org", "eu.example.org"),
        )
        path = project.write("people.csv", PEOPLE)
        project.run("contacts", "import", str(path))
        result = project.run("send", SLUG, "--yes", "--now")
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: Mailgun does not know the domain eu.example.org at {fake.url} (HTTP 404: "
            "Domain not found: eu.example.org). Check domain and base_url in [email.mailgun]: "
            "EU domains use https://api.eu.mailgun.net.\n"
        )
    finally:
        fake.stop()


def test_engages_own_emails_keep_every_header_through_each_provider(provider) -> None:
    """An answer to a reply is threaded (In-Reply-To, References) and a story email carries its
    Reply-To, through each provider's API as through SMTP: each puts them where its API takes
    them, and the message that arrives has them."""
    from engage.own_emails import AnswerMessage, StoryMessage
    from engage.providers import provider_for

    name, fake, project = provider
    if name == "postmark":
        fake.message_stream = "outbound"  # engage's own emails go on Postmark's transactional one
    answer = AnswerMessage(
        to="ann@example.org",
        subject="Re: Your story",
        text="Thank you, Ann.",
        html="",
        sender="Team <news@example.org>",
        message_id="<answer-1@example.org>",
        kind="answer",
        in_reply_to="<their-1@mail.example.net>",
        references="<ours-1@example.org> <their-1@mail.example.net>",
    )
    story = StoryMessage(
        to="bo@example.org",
        subject="Your story",
        text="Thank you, Bo.",
        html="<p>Thank you, Bo.</p>",
        sender="Team <news@example.org>",
        message_id="<story-1@example.org>",
        kind="acknowledgement",
        reply_to="Stories <reply+abc@replies.example.org>",
    )
    sender = provider_for(project.workspace)
    sender.open()
    try:
        assert sender.send_system(answer).sent
        assert sender.send_system(story).sent
    finally:
        sender.close()
    got = {m["email"]: m["headers"] for m in fake.messages}
    assert got["ann@example.org"]["In-Reply-To"] == "<their-1@mail.example.net>"
    assert got["ann@example.org"]["References"] == "<ours-1@example.org> <their-1@mail.example.net>"
    assert "Reply-To" not in got["ann@example.org"]
    assert got["bo@example.org"]["Reply-To"] in (
        "Stories <reply+abc@replies.example.org>",
        "reply+abc@replies.example.org",
    )
    assert "In-Reply-To" not in got["bo@example.org"]
