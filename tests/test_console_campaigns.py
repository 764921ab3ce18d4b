"""The console's campaigns: the list, a campaign's page (preview as a chosen reader, lint, live
progress), a test copy to yourself, schedule and unschedule (the console and `engage campaigns
schedule`), a send started after a confirmation and sent by the worker each person once, pause,
carry on and cancel (honoured by `engage run` and `engage send`), each role's refusals, and the
audit log of all of it. On SQLite and PostgreSQL."""

from __future__ import annotations

import collections
import email
import email.policy
import html
import json

import pytest
import sqlalchemy as sa

from engage.store.schema import schedules
from engage.team import audit
from engage.workflow.sending import send_scheduled

from .console import signed_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

SLUG = "doing-with-not-doing-to"
NEWSLETTER = [
    "amira.hassan@example.org",
    "ben.okafor@example.org",
    "carys.evans@example.org",
    "dev.patel@example.org",
    "ellie.murray@example.org",
    "grace.liu@example.org",
    "harry.shaw@example.org",
    "jo.bell@example.org",
]
REFUSED = "You cannot do this"


@pytest.fixture
def app(console_app):
    """The console on a workspace with the sample contacts imported."""
    result = console_app.project.run("contacts", "import", "samples/contacts.csv")
    assert result.exit_code == 0, result.output
    return console_app


def store(app):
    return app.extensions["engage"]["store"]


def text(answer) -> str:
    """The page's main part (not the menu), as a person reads it."""
    page = html.unescape(answer.get_data(as_text=True))
    return page.partition('<main id="content">')[2].partition("</main>")[0] or page


def outbox(app, slug: str = SLUG) -> collections.Counter:
    """Who has a copy of `slug` in the outbox, and how many each."""
    folder = app.project.root / "outbox" / slug
    found = collections.Counter()
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[str(message["To"].addresses[0].addr_spec)] += 1
    return found


def listed(app, slug: str = SLUG) -> dict:
    result = app.project.run("campaigns", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return next(row for row in json.loads(result.stdout) if row["slug"] == slug)


def logged(app) -> list[tuple[str, str, str, str]]:
    """The audit log, oldest first, without sign-ins and team changes."""
    with store(app).connect() as connection:
        entries = audit.entries(connection, limit=100)
    return [
        (e.actor, e.action, e.subject, e.detail)
        for e in reversed(entries)
        if e.action.startswith(("send", "schedule", "test"))
    ]


def post(client, url: str, **form: str):
    return client.post(url, data={"csrf": client.csrf, **form})


def work(app) -> list[str]:
    """What the worker of `engage serve` does every few seconds: send what a person set."""
    engage = app.extensions["engage"]
    from engage import clock

    return send_scheduled(engage["store"], engage["workspace"], clock.now())


# --- the list and a campaign's page -----------------------------------------------------------


def test_the_list_shows_each_campaign_its_status_time_and_audience(app) -> None:
    client = signed_in(app, "editor")
    answer = client.get("/console/campaigns")
    assert answer.status_code == 200
    page = text(answer)
    assert "Doing with, not doing to: our winter news" in page
    assert "We would love to hear your story" in page
    assert page.count("<td>Scheduled</td>") == 2
    assert "<td>3 December 2026 at 09:00 UTC</td>" in page
    assert "<td>8</td>" in page  # the newsletter's audience
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_broken_campaign_file_is_named_and_the_rest_still_listed(app) -> None:
    app.project.write("campaigns/broken.md", "no front matter\n")
    answer = signed_in(app, "editor").get("/console/campaigns")
    assert answer.status_code == 200
    assert "campaigns/broken.md:1: a campaign starts with front matter" in text(answer)
    assert signed_in(app, "editor").get("/console/campaigns/broken").status_code == 404


def test_a_campaign_page_previews_each_format_beside_lint(app) -> None:
    client = signed_in(app, "editor")
    answer = client.get(f"/console/campaigns/{SLUG}")
    assert answer.status_code == 200
    page = text(answer)
    assert f'src="/console/campaigns/{SLUG}/email?format=html"' in page
    assert "0 errors" in page and "Ready to send." in page
    assert "Not started." in page
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy

    framed = client.get(f"/console/campaigns/{SLUG}/email?format=large-print")
    assert framed.status_code == 200 and framed.mimetype == "text/html"
    assert "Hello Sam," in text(framed)
    policy = framed.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "sandbox" in policy
    assert "style-src 'unsafe-inline'" in policy and "script-src" not in policy

    plain = client.get(f"/console/campaigns/{SLUG}?format=plain")
    assert plain.status_code == 200
    assert "<pre>Hello Sam," in text(plain)


def test_a_preview_as_a_chosen_contact(app) -> None:
    client = signed_in(app, "editor")
    plain = client.get(f"/console/campaigns/{SLUG}?format=plain&reader=Ben.Okafor@example.org")
    assert plain.status_code == 200
    assert "<pre>Hello Ben," in text(plain)
    framed = client.get(
        f"/console/campaigns/{SLUG}/email?format=html&reader=ben.okafor@example.org"
    )
    assert "Hello Ben," in text(framed)
    nobody = client.get(f"/console/campaigns/{SLUG}?format=plain&reader=nobody@example.org")
    assert nobody.status_code == 400
    assert "Nobody in your contacts has the email address nobody@example.org." in text(nobody)
    assert "<pre>Hello Sam," in text(nobody)  # the sample reader instead
    assert client.get(f"/console/campaigns/{SLUG}/email?reader=nobody@example.org").status_code == (
        404
    )


def test_bad_addresses_are_4xx(app) -> None:
    client = signed_in(app, "editor")
    assert client.get("/console/campaigns/no-such-campaign").status_code == 404
    assert client.get("/console/campaigns/engage.toml").status_code == 404
    assert client.get(f"/console/campaigns/{SLUG}?format=pdf").status_code == 400
    assert client.get(f"/console/campaigns/{SLUG}/email?format=plain").status_code == 404
    assert client.get("/console/campaigns/no-such-campaign/progress.json").status_code == 404


def test_the_progress_script_is_served_and_small(app) -> None:
    answer = signed_in(app, "editor").get("/console/campaigns/-/progress.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert len(answer.get_data()) < 2000


# --- a test copy ------------------------------------------------------------------------------


def test_send_yourself_a_test(app) -> None:
    client = signed_in(app, "editor")
    answer = post(client, f"/console/campaigns/{SLUG}/test")
    assert answer.status_code == 200
    assert "A copy marked [Test] is on its way to editor@example.org, through outbox." in text(
        answer
    )
    [path] = (app.project.root / "outbox" / f"{SLUG}-test").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "editor@example.org"
    assert message["Subject"] == "[Test] Doing with, not doing to: our winter news"
    assert logged(app) == [("editor@example.org", "test sent", SLUG, "to editor@example.org")]


def test_a_test_with_lint_errors_is_refused_unless_forced(app) -> None:
    app.project.campaign("no-audience", "# Hello\n\nA few words.\n")
    client = signed_in(app, "editor")
    answer = post(client, "/console/campaigns/no-audience/test")
    assert answer.status_code == 400
    assert "no-audience has 1 lint error. Fix them, or tick" in text(answer)
    assert not (app.project.root / "outbox" / "no-audience-test").exists()
    assert logged(app) == []
    forced = post(client, "/console/campaigns/no-audience/test", force="yes")
    assert forced.status_code == 200
    assert "It has 1 lint error(s): the real send refuses to go" in text(forced)
    assert len(list((app.project.root / "outbox" / "no-audience-test").glob("*.eml"))) == 1


# --- schedules --------------------------------------------------------------------------------


def test_schedule_from_the_console_wins_over_the_file_and_shows_everywhere(app, clock) -> None:
    client = signed_in(app, "sender")
    answer = post(client, f"/console/campaigns/{SLUG}/schedule", when="2026-12-05T10:30")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/console/campaigns/{SLUG}"
    row = listed(app)
    assert (row["send_at"], row["status"], row["scheduled_by"]) == (
        "2026-12-05T10:30:00+00:00",
        "scheduled",
        "sender@example.org",
    )
    table = app.project.run("campaigns", "list").stdout
    assert (
        f"{SLUG}: send time set by sender@example.org on 1 December 2026 at 09:00 UTC (its "
        "file's send_at, 2026-12-03T09:00:00+00:00, is not used)."
    ) in table
    page = text(client.get(f"/console/campaigns/{SLUG}"))
    assert "5 December 2026 at 10:30 UTC" in page and "Set by sender@example.org" in page
    # The file's time comes and goes: engage run leaves it for the time a person set.
    clock.advance(days=3)
    assert app.project.run("run").stdout == "engage run: nothing was due.\n"
    assert outbox(app) == {}
    clock.advance(days=1, hours=2)
    assert work(app) == []
    assert outbox(app) == collections.Counter(NEWSLETTER)
    assert logged(app)[0] == (
        "sender@example.org",
        "schedule set",
        SLUG,
        "5 December 2026 at 10:30 UTC",
    )


def test_unschedule_holds_a_campaign_whatever_its_file_says(app, clock) -> None:
    client = signed_in(app, "sender")
    answer = post(client, f"/console/campaigns/{SLUG}/unschedule")
    assert answer.status_code == 303
    row = listed(app)
    assert (row["send_at"], row["status"]) == ("", "draft")
    clock.advance(days=5)  # the file's send_at has passed
    assert app.project.run("run").stdout == "engage run: nothing was due.\n"
    assert outbox(app) == {}
    assert logged(app) == [("sender@example.org", "schedule removed", SLUG, "")]


def test_schedule_from_the_command_line_shows_in_the_console(app, clock) -> None:
    result = app.project.run("campaigns", "schedule", SLUG, "2026-12-02T08:00Z")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{SLUG} is scheduled for 2 December 2026 at 08:00 UTC. `engage run` (or the worker "
        "of `engage serve`) sends it then.\n"
    )
    page = text(signed_in(app, "editor").get(f"/console/campaigns/{SLUG}"))
    assert "2 December 2026 at 08:00 UTC" in page and "command line (test-runner)" in page
    result = app.project.run("campaigns", "unschedule", SLUG)
    assert result.exit_code == 0 and result.stdout.startswith(f"{SLUG} is not scheduled")
    assert listed(app)["status"] == "draft"
    assert [entry[:2] for entry in logged(app)] == [
        ("command line (test-runner)", "schedule set"),
        ("command line (test-runner)", "schedule removed"),
    ]


@pytest.mark.parametrize(
    ("when", "said"),
    [
        ("2026-11-30T10:00", "30 November 2026 at 10:00 UTC has passed already."),
        ("next tuesday", "'next tuesday' is not a date and time."),
        ("", "'' is not a date and time."),
    ],
)
def test_a_schedule_that_cannot_be_is_refused(app, clock, when, said) -> None:
    answer = post(signed_in(app, "sender"), f"/console/campaigns/{SLUG}/schedule", when=when)
    assert answer.status_code == 400
    assert said in text(answer)
    assert listed(app)["scheduled_by"] == ""


def test_the_command_line_needs_a_zone(app) -> None:
    result = app.project.run("campaigns", "schedule", SLUG, "2026-12-10T10:00")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 2026-12-10T10:00 needs a time zone: write 2026-12-10T10:00Z for UTC (UK winter "
        "time), or 2026-12-10T10:00+01:00 for UK summer time.\n"
    )


# --- starting a send --------------------------------------------------------------------------


def test_start_a_send_after_a_confirmation_each_person_once(app, clock) -> None:
    client = signed_in(app, "sender")
    check = client.get(f"/console/campaigns/{SLUG}/send")
    assert check.status_code == 200
    assert "Yes, send it to 8 people" in text(check)
    assert "Now, instead of 3 December 2026 at 09:00 UTC" in text(check)
    answer = post(client, f"/console/campaigns/{SLUG}/send")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/console/campaigns/{SLUG}"
    assert outbox(app) == {}  # the request sent nothing itself
    page = text(client.get(f"/console/campaigns/{SLUG}"))
    assert "Starting: it will begin within a minute" in page
    assert 'aria-live="polite"' in page and "Refresh the progress" in page
    assert "/console/campaigns/-/progress.js" in page
    waiting = client.get(f"/console/campaigns/{SLUG}/progress.json").get_json()
    assert (waiting["status"], waiting["watch"]) == ("scheduled", True)
    assert waiting["words"] == "Waiting for the sender to start."

    assert work(app) == []
    assert work(app) == []  # again: nothing more
    assert app.project.run("run").stdout == "engage run: nothing was due.\n"
    assert outbox(app) == collections.Counter(NEWSLETTER)
    done = client.get(f"/console/campaigns/{SLUG}/progress.json").get_json()
    assert done == {
        "status": "sent",
        "status_words": "Sent",
        "words": "8 of 8 sent. 0 failed. 0 unknown. 0 still to go.",
        "watch": False,
        "total": 8,
        "sent": 8,
        "failed": 0,
        "unknown": 0,
        "skipped": 0,
        "to_go": 0,
    }
    assert logged(app) == [("sender@example.org", "send started", SLUG, "8 people in its audience")]
    again = post(client, f"/console/campaigns/{SLUG}/send")
    assert again.status_code == 409
    assert client.get(f"/console/campaigns/{SLUG}/send").status_code == 409
    assert (
        post(client, f"/console/campaigns/{SLUG}/schedule", when="2026-12-09T10:00").status_code
        == 400
    )


def test_a_send_with_lint_errors_does_not_start(app) -> None:
    app.project.campaign("no-audience", "# Hello\n\nA few words.\n")
    client = signed_in(app, "sender")
    assert client.get("/console/campaigns/no-audience/send").status_code == 409
    answer = post(client, "/console/campaigns/no-audience/send")
    assert answer.status_code == 409
    assert "no-audience has 1 lint error, so nothing was sent." in text(answer)
    with store(app).connect() as connection:
        assert connection.execute(sa.select(schedules)).all() == []


# --- pause, carry on, cancel ------------------------------------------------------------------


def part_sent(app) -> None:
    """Three of the seven have it; then the send is carried on by nobody (interrupted)."""
    result = app.project.run("send", SLUG, "--yes", "--now", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert listed(app)["status"] == "stopped"
    answer = post(signed_in(app, "sender"), f"/console/campaigns/{SLUG}/resume")
    assert answer.status_code == 303
    assert listed(app)["status"] == "interrupted"


def test_pause_then_carry_on(app, clock) -> None:
    part_sent(app)
    client = signed_in(app, "sender")
    assert "Pause the send" in text(client.get(f"/console/campaigns/{SLUG}"))
    assert post(client, f"/console/campaigns/{SLUG}/pause").status_code == 303
    assert listed(app)["status"] == "stopped"
    assert app.project.run("run").stdout == "engage run: nothing was due.\n"
    assert work(app) == []
    assert sum(outbox(app).values()) == 3
    again = post(client, f"/console/campaigns/{SLUG}/pause")
    assert again.status_code == 303  # already paused: nothing changes
    page = text(client.get(f"/console/campaigns/{SLUG}"))
    assert "Paused" in page and "Carry on sending" in page
    assert post(client, f"/console/campaigns/{SLUG}/resume").status_code == 303
    result = app.project.run("run")
    assert result.exit_code == 0, result.output
    assert outbox(app) == collections.Counter(NEWSLETTER)
    assert listed(app)["status"] == "sent"
    assert [e[:3] for e in logged(app)] == [
        ("sender@example.org", "send resumed", SLUG),
        ("sender@example.org", "send paused", SLUG),
        ("sender@example.org", "send resumed", SLUG),
    ]
    assert post(client, f"/console/campaigns/{SLUG}/resume").status_code == 409


def test_cancel_is_for_good(app, clock) -> None:
    part_sent(app)
    client = signed_in(app, "sender")
    check = client.get(f"/console/campaigns/{SLUG}/cancel")
    assert check.status_code == 200
    assert "3 of 8 sent." in text(check) and "This cannot be undone." in text(check)
    assert post(client, f"/console/campaigns/{SLUG}/cancel").status_code == 303
    assert listed(app)["status"] == "cancelled"
    clock.advance(days=5)
    assert app.project.run("run").stdout == "engage run: nothing was due.\n"
    assert work(app) == []
    resumed = app.project.run("send", SLUG, "--yes", "--resume")
    assert resumed.exit_code == 1
    assert resumed.stderr.startswith(f"Error: {SLUG} was cancelled by sender@example.org on ")
    assert resumed.stderr.endswith(
        ": 3 of 8 went. A cancelled send is never carried on, so the rest will not get it.\n"
    )
    client = signed_in(app, "sender")  # a session lasts 12 hours
    refused = post(client, f"/console/campaigns/{SLUG}/resume")
    assert refused.status_code == 409
    assert sum(outbox(app).values()) == 3
    page = text(client.get(f"/console/campaigns/{SLUG}"))
    assert "Cancelled" in page and "Carry on sending" not in page
    assert client.get(f"/console/campaigns/{SLUG}/cancel").status_code == 409
    assert logged(app)[-1] == ("sender@example.org", "send cancelled", SLUG, "3 of 8 had gone")


def test_cancel_from_the_command_line(app) -> None:
    result = app.project.run("send", SLUG, "--yes", "--now", "--limit", "2")
    assert result.exit_code == 0, result.output
    result = app.project.run("send", SLUG, "--cancel")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{SLUG} is cancelled: 2 of 8 went. Nobody will get it twice, and nothing carries it "
        "on: not `engage run`, not the console, not --resume.\n"
    )
    again = app.project.run("send", SLUG, "--cancel")
    assert again.stdout == f"{SLUG} was already cancelled by test-runner: 2 of 8 went.\n"
    assert listed(app)["status"] == "cancelled"
    assert logged(app) == [
        ("command line (test-runner)", "send cancelled", SLUG, "2 of 8 had gone")
    ]
    assert app.project.run("send", SLUG, "--cancel", "--now").exit_code == 2


def test_stop_from_the_command_line_is_a_pause_the_console_can_carry_on(app, clock) -> None:
    part_sent(app)
    result = app.project.run("send", SLUG, "--stop")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{SLUG} is stopped: 3 of 8 went.")
    assert logged(app)[-1] == ("command line (test-runner)", "send paused", SLUG, "3 of 8 had gone")
    page = text(signed_in(app, "editor").get(f"/console/campaigns/{SLUG}"))
    assert "Paused" in page and "3 of 8 sent. 0 failed. 0 unknown. 5 still to go." in page
    assert post(signed_in(app, "sender"), f"/console/campaigns/{SLUG}/resume").status_code == 303
    assert work(app) == []  # the worker carries it on: its schedule is now
    assert outbox(app) == collections.Counter(NEWSLETTER)


def test_nothing_to_pause_or_cancel(app) -> None:
    client = signed_in(app, "sender")
    answer = post(client, f"/console/campaigns/{SLUG}/pause")
    assert answer.status_code == 409
    assert f"{SLUG} has not started sending, so there is nothing to stop." in text(answer)
    assert post(client, f"/console/campaigns/{SLUG}/cancel").status_code == 409
    assert client.get(f"/console/campaigns/{SLUG}/cancel").status_code == 409
    assert post(client, f"/console/campaigns/{SLUG}/resume").status_code == 409


# --- who may ----------------------------------------------------------------------------------

SENDS = [
    ("get", "send", {}),
    ("post", "send", {}),
    ("post", "schedule", {"when": "2026-12-09T10:00"}),
    ("post", "unschedule", {}),
    ("post", "pause", {}),
    ("post", "resume", {}),
    ("get", "cancel", {}),
    ("post", "cancel", {}),
]


@pytest.mark.parametrize(("method", "action", "form"), SENDS)
def test_an_editor_cannot_send_schedule_pause_or_cancel(app, method, action, form) -> None:
    client = signed_in(app, "editor")
    url = f"/console/campaigns/{SLUG}/{action}"
    answer = client.get(url) if method == "get" else post(client, url, **form)
    assert answer.status_code == 403
    assert REFUSED in text(answer)
    assert "Your role is editor." in text(answer)
    assert "you need to be a sender or above" in text(answer)
    assert listed(app)["scheduled_by"] == "" and logged(app) == []


def test_an_editor_sees_no_send_buttons(app) -> None:
    page = text(signed_in(app, "editor").get(f"/console/campaigns/{SLUG}"))
    assert "Send me a test" in page
    assert "Start sending now" not in page and "Schedule</button>" not in page


def test_signed_out_and_forged_forms(app) -> None:
    stranger = app.test_client()
    answer = stranger.get(f"/console/campaigns/{SLUG}")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/sign-in")
    assert stranger.post(f"/console/campaigns/{SLUG}/send").status_code == 303
    client = signed_in(app, "admin")
    forged = client.post(f"/console/campaigns/{SLUG}/send", data={"csrf": "nope"})
    assert forged.status_code == 400
    assert forged.status_code == 400 and logged(app) == []
    assert client.post(f"/console/campaigns/{SLUG}/test").status_code == 400
