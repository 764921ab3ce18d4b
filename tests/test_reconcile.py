"""Reconciling unknown messages from each provider's own records: messages really sent through
the fake Mailgun, Postmark and SendGrid servers, then looked up there as engage would after
losing the answer. engage's clock is fixed, and the fakes keep their records by it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from engage import campaigns
from engage.email.base import Batch, Item, Provider, Reconciled, Unknown
from engage.errors import AuthFailed, CannotReconcile, ProviderError, TryLater
from engage.providers.mailgun import Mailgun
from engage.providers.postmark import Postmark
from engage.providers.sendgrid import SendGrid
from engage.render.build import build
from engage.render.personal import Recipient

from .fakes import FakeMailgun, FakePostmark, FakeProvider, FakeSendGrid

SLUG = "doing-with-not-doing-to"
SEND = 7
SETTINGS = {
    "mailgun": '[email.mailgun]\ndomain = "mg.example.org"\nbase_url = "{url}"\n'
    'api_key_env = "TEST_MG_KEY"\n',
    "postmark": '[email.postmark]\nbase_url = "{url}"\nserver_token_env = "TEST_PM_TOKEN"\n',
    "sendgrid": '[email.sendgrid]\nbase_url = "{url}"\napi_key_env = "TEST_SG_KEY"\n',
}
ENV = {"mailgun": "TEST_MG_KEY", "postmark": "TEST_PM_TOKEN", "sendgrid": "TEST_SG_KEY"}
KEYS = {"mailgun": "key-1", "postmark": "pm-1", "sendgrid": "SG.1"}
PROVIDERS: dict[str, type[Provider]] = {
    "mailgun": Mailgun,
    "postmark": Postmark,
    "sendgrid": SendGrid,
}
TITLES = {"mailgun": "Mailgun", "postmark": "Postmark", "sendgrid": "SendGrid"}


@dataclass
class Setup:
    name: str
    fake: FakeProvider
    provider: Provider
    project: object
    built: object

    def batch(self, ids: list[int], send_id: int = SEND) -> Batch:
        items = [
            Item(
                delivery_id=d,
                email=address(d),
                name=f"Person {d}",
                recipient=Recipient(
                    email=address(d),
                    unsubscribe_url=f"https://engage.example.org/unsubscribe/{d}",
                    preferences_url=f"https://engage.example.org/preferences/{d}",
                    web_version_url=f"https://engage.example.org/archive/{SLUG}",
                    name=f"Person {d}",
                    first_name="Person",
                ),
                message_id=message_id(d, send_id),
                unsubscribe_mailto="mailto:unsubscribe@example.org?subject=unsubscribe",
            )
            for d in ids
        ]
        return Batch(
            built=self.built,  # type: ignore[arg-type]
            variant="plain",
            items=items,
            sender="Get Yourself Active <news@example.org>",
            subject="Our winter news",
            list_id="Get Yourself Active <news.example.org>",
            campaign=SLUG,
            send_id=send_id,
            tags=[SLUG],
        )

    def send(self, ids: list[int], send_id: int = SEND) -> dict[int, str]:
        """Hand these people to the provider in batches it takes, as the sender does; the
        provider's id for each, as a send records it."""
        ids_by_batch = [
            ids[i : i + self.provider.batch_size]
            for i in range(0, len(ids), self.provider.batch_size)
        ]
        sent = {}
        for part in ids_by_batch:
            for outcome in self.provider.send_batch(self.batch(part, send_id)):
                assert outcome.sent, outcome.error
                sent[outcome.delivery_id] = outcome.provider_id
        return sent

    def reconcile(self, ids: list[int], handed_at: dt.datetime, send_id: int = SEND) -> Reconciled:
        unknown = [
            Unknown(d, send_id, address(d), message_id(d, send_id), handed_at, SLUG) for d in ids
        ]
        return self.provider.reconcile(unknown)


def address(delivery_id: int) -> str:
    return f"person{delivery_id}@example.org"


def message_id(delivery_id: int, send_id: int = SEND) -> str:
    return f"<{SLUG}.{send_id}.{delivery_id}.5eed@example.org>"


def make_fake(name: str, clock, **options: object) -> FakeProvider:
    if name == "mailgun":
        return FakeMailgun(api_key=KEYS[name], domain="mg.example.org", clock=clock, **options)
    if name == "postmark":
        return FakePostmark(api_key=KEYS[name], clock=clock, **options)
    return FakeSendGrid(api_key=KEYS[name], clock=clock, **options)


def setup(name: str, project, monkeypatch, clock, **options: object) -> Iterator[Setup]:
    fake = make_fake(name, clock.now, **options).start()
    monkeypatch.setenv(ENV[name], KEYS[name])
    project.replace("engage.toml", 'provider = "outbox"', f'provider = "{name}"\ntimeout = 5')
    project.write(
        "engage.toml", project.read("engage.toml") + "\n" + SETTINGS[name].format(url=fake.url)
    )
    workspace = project.workspace
    built = build(workspace, campaigns.load(workspace, SLUG))
    provider = PROVIDERS[name](workspace)
    with provider:
        yield Setup(name, fake, provider, project, built)
    fake.stop()


@pytest.fixture(params=["mailgun", "postmark", "sendgrid"])
def each(request, project, monkeypatch, clock) -> Iterator[Setup]:
    yield from setup(request.param, project, monkeypatch, clock)


T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)  # the `clock` fixture's time
SETTLE = {"mailgun": "1 hour", "postmark": "30 minutes", "sendgrid": "1 hour"}
AFTER = {"mailgun": "10:00", "postmark": "09:30", "sendgrid": "10:00"}


def waiting(name: str, count: int) -> str:
    what = "1 message was" if count == 1 else f"{count} messages were"
    return (
        f"{what} handed to {TITLES[name]} less than {SETTLE[name]} ago, and its records may "
        f"not be complete yet. Ask again after 1 December 2026, {AFTER[name]} UTC."
    )


def expected_ids(each: Setup, sent: dict[int, str]) -> dict[int, str]:
    """What the records give as the provider's id: the id the send recorded, except on
    Mailgun, whose events name each message by the Message-ID it carries."""
    if each.name == "mailgun":
        return {d: message_id(d) for d in sent}
    return sent


def test_what_the_provider_took_is_sent_at_once_the_rest_waits_until_settled(each, clock) -> None:
    sent = each.send([1, 2, 3])
    clock.advance(minutes=1)
    result = each.reconcile([1, 2, 3, 4], handed_at=T0)
    assert result.sent == expected_ids(each, sent)
    assert result.not_sent == set()
    assert result.note == waiting(each.name, 1)
    clock.advance(hours=1)
    result = each.reconcile([1, 2, 3, 4], handed_at=T0)
    assert (result.sent, result.not_sent, result.note) == (expected_ids(each, sent), {4}, "")


def test_records_that_lag_are_found_once_they_show(each, clock) -> None:
    each.fake.records_lag = 120
    sent = each.send([1, 2])
    result = each.reconcile([1, 2], handed_at=T0)
    assert (result.sent, result.not_sent, result.note) == ({}, set(), waiting(each.name, 2))
    clock.advance(seconds=120)
    result = each.reconcile([1, 2], handed_at=T0)
    assert (result.sent, result.not_sent, result.note) == (expected_ids(each, sent), set(), "")


def test_settle_time_from_the_workspace(each, clock) -> None:
    each.project.replace("engage.toml", "timeout = 5", "timeout = 5\nreconcile_settle_seconds = 90")
    provider = PROVIDERS[each.name](each.project.workspace)
    each.send([1])
    clock.advance(seconds=89)
    with provider:
        unknown = [Unknown(d, SEND, address(d), message_id(d), T0) for d in (1, 2)]
        early = provider.reconcile(unknown)
        clock.advance(seconds=1)
        settled = provider.reconcile(unknown)
    assert (list(early.sent), early.not_sent) == ([1], set())
    assert early.note.startswith("1 message was handed to")
    assert early.note.endswith(
        "less than 90 seconds ago, and its records may not be complete yet. Ask again after "
        "1 December 2026, 09:02 UTC."
    )
    assert (list(settled.sent), settled.not_sent, settled.note) == ([1], {2}, "")


def test_a_hand_over_timed_ahead_of_this_clock_waits_for_it(each, clock) -> None:
    """Several computers send one campaign; one's clock runs 40 s ahead of this one's. What it
    handed over is not called "not sent" before this clock has passed it, even with no settle
    time, and the note says why, not "less than 0 seconds ago"."""
    each.project.replace("engage.toml", "timeout = 5", "timeout = 5\nreconcile_settle_seconds = 0")
    provider = PROVIDERS[each.name](each.project.workspace)
    ahead = T0 + dt.timedelta(seconds=40)
    unknown = [Unknown(d, SEND, address(d), message_id(d), ahead) for d in (1, 2)]
    with provider:
        early = provider.reconcile(unknown)
        clock.advance(seconds=40)
        settled = provider.reconcile(unknown)
    assert (early.sent, early.not_sent) == ({}, set())
    assert early.note == (
        f"2 messages were handed to {TITLES[each.name]} at a time this computer's clock has not "
        "reached yet: the clocks of the computers that send may differ, so check that they keep "
        "time. Ask again after 1 December 2026, 09:01 UTC."
    )
    assert (settled.sent, settled.not_sent, settled.note) == ({}, {1, 2}, "")


def test_another_send_or_another_address_is_not_taken_for_ours(each, clock) -> None:
    each.send([1, 2], send_id=8)  # the same delivery ids, but another send
    clock.advance(hours=2)
    result = each.reconcile([1, 2], handed_at=T0)
    assert (result.sent, result.not_sent) == ({}, {1, 2})
    unknown = [Unknown(1, 8, "someone.else@example.org", "<other@example.org>", T0)]
    result = each.provider.reconcile(unknown)
    assert (result.sent, result.not_sent) == ({}, {1})
    unknown = [Unknown(1, 8, address(1), message_id(1, 8), T0, campaign="another-campaign")]
    result = each.provider.reconcile(unknown)
    assert (result.sent, result.not_sent) == ({}, {1})


def test_the_recipient_may_come_back_in_another_spelling(each, clock) -> None:
    sent = each.send([1])
    unknown = [Unknown(1, SEND, "Person1@EXAMPLE.org", message_id(1), T0)]
    assert each.provider.reconcile(unknown).sent == expected_ids(each, sent)


def test_a_message_taken_later_than_its_batch_was_claimed_is_found(each, clock) -> None:
    clock.advance(minutes=90)  # the provider took it on a retry, long after the claim
    sent = each.send([1])
    clock.advance(minutes=30)
    result = each.reconcile([1], handed_at=T0)
    assert (result.sent, result.not_sent, result.note) == (expected_ids(each, sent), set(), "")


def test_records_older_than_the_provider_keeps_stay_unknown(each, clock) -> None:
    clock.advance(days=8)
    result = each.reconcile([5], handed_at=T0)
    assert each.fake.requests == []  # nothing to ask: the provider keeps no records so old
    kept = {"mailgun": "1 day", "postmark": "7 days", "sendgrid": "7 days"}[each.name]
    where = {
        "mailgun": "Mailgun's logs (Sending > Logs)",
        "postmark": "Postmark's Activity page",
        "sendgrid": "SendGrid's Activity Feed",
    }[each.name]
    assert (result.sent, result.not_sent) == ({}, set())
    assert result.note == (
        f"1 message was handed over more than {kept} ago, longer than {TITLES[each.name]} is "
        f"sure to keep its records. Look for it by hand in {where}."
    )


def test_a_refused_key_stops_reconciling(each, monkeypatch) -> None:
    each.send([1])
    monkeypatch.setenv(ENV[each.name], "wrong")
    setting = {"mailgun": "api_key_env", "postmark": "server_token_env"}.get(
        each.name, "api_key_env"
    )
    with pytest.raises(AuthFailed) as refused:
        each.reconcile([1], handed_at=T0)
    assert str(refused.value) == (
        f"{TITLES[each.name]} refused the key (HTTP 401) when engage asked for its records. "
        f"Check the environment variable {ENV[each.name]} (named by email.{each.name}.{setting})."
    )


def test_an_outage_is_try_later_and_a_short_wait_is_waited_out(each, clock) -> None:
    sent = each.send([1])
    each.fake.fail_next(status=503, retry_after=None)
    with pytest.raises(TryLater) as later:
        each.reconcile([1], handed_at=T0)
    assert str(later.value) == (
        f"{TITLES[each.name]} answered HTTP 503 when engage asked for its records"
    )
    each.fake.fail_next(status=429, retry_after=0.01, times=2)
    result = each.reconcile([1], handed_at=T0)
    assert result.sent == expected_ids(each, sent)
    each.fake.fail_next(status=429, retry_after=120)  # longer than engage waits here
    with pytest.raises(TryLater) as later:
        each.reconcile([1], handed_at=T0)
    assert later.value.retry_after is not None and later.value.retry_after > 60


def test_a_time_out_is_try_later(each) -> None:
    each.fake.hang_next(seconds=10)
    each.project.replace("engage.toml", "timeout = 5", "timeout = 0.2")
    provider = PROVIDERS[each.name](each.project.workspace)
    with provider, pytest.raises(TryLater) as later:
        provider.reconcile([Unknown(1, SEND, address(1), message_id(1), T0)])
    assert str(later.value).startswith(f"Could not read {TITLES[each.name]}'s records at ")


# --- Paging: more records than one answer holds ----------------------------------------------


@pytest.fixture
def mailgun(project, monkeypatch, clock) -> Iterator[Setup]:
    yield from setup("mailgun", project, monkeypatch, clock)


@pytest.fixture
def postmark(project, monkeypatch, clock) -> Iterator[Setup]:
    yield from setup("postmark", project, monkeypatch, clock)


@pytest.fixture
def sendgrid(project, monkeypatch, clock) -> Iterator[Setup]:
    yield from setup("sendgrid", project, monkeypatch, clock)


def test_mailgun_reads_every_page_of_events(mailgun, clock) -> None:
    ids = list(range(1, 652))  # 651 events: three pages of 300, then an empty one
    mailgun.send(ids)
    clock.advance(hours=2)
    result = mailgun.reconcile([*ids, 999], handed_at=T0)
    assert result.sent == {d: message_id(d) for d in ids}
    assert (result.not_sent, result.note) == ({999}, "")
    reads = [r for r in mailgun.fake.requests if r.method == "GET"]
    assert len(reads) == 4
    assert reads[0].path == "/v3/mg.example.org/events"
    assert reads[0].query == {
        "begin": str(int((T0 - dt.timedelta(minutes=5)).timestamp())),
        "end": str(int((T0 + dt.timedelta(hours=2)).timestamp())),  # now
        "ascending": "yes",
        "limit": "300",
        "event": "accepted",
    }
    assert all(r.path.startswith("/v3/mg.example.org/events/") for r in reads[1:])


def test_mailgun_searches_from_the_first_hand_over_until_now(mailgun, clock) -> None:
    mailgun.send([1])
    clock.advance(hours=3)
    mailgun.send([2])
    clock.advance(hours=2)
    unknown = [
        Unknown(1, SEND, address(1), message_id(1), T0, SLUG),
        Unknown(2, SEND, address(2), message_id(2), T0 + dt.timedelta(hours=3), SLUG),
    ]
    result = mailgun.provider.reconcile(unknown)
    assert result.sent == {1: message_id(1), 2: message_id(2)}
    (first, *_) = [r.query for r in mailgun.fake.requests if r.query]
    assert (first["begin"], first["end"]) == (
        str(int((T0 - dt.timedelta(minutes=5)).timestamp())),
        str(int((T0 + dt.timedelta(hours=5)).timestamp())),
    )


def test_postmark_pages_by_offset(postmark, clock) -> None:
    ids = list(range(1, 1102))  # 1,101 messages: three pages of 500 at most
    sent = postmark.send(ids)
    clock.advance(hours=1)
    result = postmark.reconcile([*ids, 5000], handed_at=T0)
    assert result.sent == sent
    assert (result.not_sent, result.note) == ({5000}, "")
    reads = [r.query for r in postmark.fake.requests if r.method == "GET"]
    assert reads == [
        {
            "count": "500",
            "offset": str(offset),
            "messagestream": "broadcast",
            "metadata_engage_send": str(SEND),
            "fromdate": "2026-12-01T03:55:00",  # Eastern Time, 5 minutes before
            "todate": "2026-12-01T05:00:01",  # now, rounded up
        }
        for offset in (0, 500, 1000)
    ]


def test_postmark_asks_message_by_message_when_a_search_is_too_big(postmark, clock) -> None:
    sent = postmark.send([1, 2, 3])
    clock.advance(hours=1)
    postmark.provider.search_limit = 2  # as if the window held more than 10,000 messages
    result = postmark.reconcile([1, 2, 4], handed_at=T0)
    assert (result.sent, result.not_sent) == ({1: sent[1], 2: sent[2]}, {4})
    reads = [r.query for r in postmark.fake.requests if r.method == "GET"]
    assert [q.get("metadata_engage_delivery") for q in reads] == [None, "1", "2", "4"]


def test_sendgrid_asks_fifty_unknowns_at_a_time(sendgrid, clock) -> None:
    ids = list(range(1, 61))
    sent = sendgrid.send(ids[:55])
    clock.advance(hours=2)
    result = sendgrid.reconcile(ids, handed_at=T0)
    assert result.sent == sent
    assert (result.not_sent, result.note) == (set(ids[55:]), "")
    reads = [r.query for r in sendgrid.fake.requests if r.method == "GET"]
    assert [q["limit"] for q in reads] == ["1000", "1000"]
    assert reads[1]["query"] == (
        "unique_args['engage_send']=\"7\" AND ("
        + " OR ".join(f"unique_args['engage_delivery']=\"{d}\"" for d in ids[50:])
        + f") AND unique_args['engage_campaign']=\"{SLUG}\""
    )


def test_sendgrid_without_the_email_activity_add_on_cannot_reconcile(
    project, monkeypatch, clock
) -> None:
    for each in setup("sendgrid", project, monkeypatch, clock, email_activity=False):
        each.send([1])
        with pytest.raises(CannotReconcile) as cannot:
            each.reconcile([1], handed_at=T0)
    assert str(cannot.value) == (
        "This SendGrid account cannot be asked which messages it took: its Email Activity API "
        'is a paid add-on (HTTP 400: authorization required). Buy "additional email activity '
        'history" in SendGrid (Account Details > Your Products > Add-ons) and give the key '
        "Email Activity access, or look for these people by hand in SendGrid's Activity "
        "Feed, then use --resend-unknown for those who did not get it."
    )


def test_sendgrid_two_unknowns_to_one_address_stay_unknown(sendgrid, clock) -> None:
    sendgrid.send([1])
    clock.advance(hours=2)
    unknown = [
        Unknown(1, SEND, address(1), message_id(1), T0),
        Unknown(2, SEND, address(1), message_id(2), T0),
    ]
    result = sendgrid.provider.reconcile(unknown)
    assert (result.sent, result.not_sent) == ({}, set())
    assert result.note == (
        "2 messages could not be looked up completely: SendGrid's answer was full, or two "
        "of them went to one address. Look for them by hand in SendGrid's Activity Feed."
    )


def test_sendgrid_keeps_no_email_activity_for_eu_accounts(project, monkeypatch, clock) -> None:
    for each in setup("sendgrid", project, monkeypatch, clock):
        each.project.replace("engage.toml", each.fake.url, "https://api.eu.sendgrid.com")
        provider = SendGrid(each.project.workspace)
        with provider, pytest.raises(CannotReconcile) as cannot:
            provider.reconcile([Unknown(1, SEND, address(1), message_id(1), T0, SLUG)])
        assert each.fake.requests == []
    assert str(cannot.value) == (
        "SendGrid keeps no Email Activity for EU regional accounts (api.eu.sendgrid.com), so "
        "engage cannot ask it which messages it took. Instead, look for these people by hand "
        "in SendGrid's Activity Feed, then use --resend-unknown for those who did not get it."
    )


def test_an_address_engage_cannot_use_is_said_plainly(each) -> None:
    each.project.replace("engage.toml", each.fake.url, "ftp://127.0.0.1:1")
    provider = PROVIDERS[each.name](each.project.workspace)
    with provider, pytest.raises(ProviderError) as refused:
        provider.reconcile([Unknown(1, SEND, address(1), message_id(1), T0, SLUG)])
    assert not isinstance(refused.value, TryLater)
    assert str(refused.value).startswith(
        f"Could not ask {TITLES[each.name]} for its records at ftp://127.0.0.1:1/"
    )


def test_sendgrid_key_without_email_activity_access_cannot_reconcile(sendgrid) -> None:
    forbidden = {"errors": [{"field": None, "message": "access forbidden"}]}  # as SendGrid says
    sendgrid.fake.fail_next(status=403, retry_after=None, body=forbidden)
    with pytest.raises(CannotReconcile) as cannot:
        sendgrid.reconcile([1], handed_at=T0)
    assert str(cannot.value) == (
        "The SendGrid key in TEST_SG_KEY may send but not read Email Activity (HTTP 403: access "
        "forbidden). Give the key Email Activity access in SendGrid (Settings > API Keys), or "
        "look for these people by hand in SendGrid's Activity Feed, then use --resend-unknown "
        "for those who did not get it."
    )
