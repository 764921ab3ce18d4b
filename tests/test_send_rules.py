"""Nothing goes out, or stays silent, by surprise; counts that stay true.

A send to nobody is refused and leaves the campaign as it was; `engage run` reports every
campaign file it cannot read and still sends the good ones; sending before send_at asks (or,
with --yes, needs --now); a test copy shows lint errors, needs --force for them, and says where
it went; the dry run counts exactly who the real send sends to; each skipped person is counted
under their true reason; the report never shows "delivered 0" for a provider that cannot tell.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from engage import clock as engage_clock
from engage.contacts import life
from engage.store import open_store
from engage.store.schema import contacts, deliveries, sends

from .test_sending import KEY, PEOPLE, SLUG, outbox, smtp_config

SUBJECT = "Doing with, not doing to: our winter news"


@pytest.fixture
def team(project, db_url, monkeypatch):
    """The example workspace with four people (three in the newsletter), on each database."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    return project


def after(days: int = 0) -> dt.datetime:
    """A moment after the newsletter's send_at (2026-12-03 09:00 UTC)."""
    return dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC) + dt.timedelta(days=days)


def send_rows(project) -> list[tuple]:
    store = open_store(project.workspace)
    with store.connect() as c:
        rows = c.execute(sa.select(sends.c.campaign, sends.c.status)).all()
    store.engine.dispose()
    return [tuple(r) for r in rows]


def status_of(project, slug: str) -> str:
    listed = json.loads(project.run("campaigns", "list", "--format", "json").stdout)
    return next(r["status"] for r in listed if r["slug"] == slug)


# --- a send to nobody -----------------------------------------------------------------------


def test_a_send_to_nobody_is_refused_and_the_campaign_stays_as_it_was(team) -> None:
    engage_clock.set(after())
    team.write("audiences/volunteers.toml", 'tags_any = ["volunteer"]\n')
    team.campaign("thanks", "# Thank you\n\nThank you for all you do.\n", audience="volunteers")
    result = team.run("send", "thanks", "--yes")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: Nobody in the audience volunteers can be sent thanks: it has nobody in it. "
        "Nothing was sent and the campaign stays as it was. See who is in it with `engage "
        "audiences show volunteers`, or choose another audience in its front matter.\n"
    )
    dry = team.run("send", "thanks", "--dry-run")
    assert (dry.exit_code, dry.stderr) == (1, result.stderr)
    assert send_rows(team) == []
    assert status_of(team, "thanks") == "draft"
    assert outbox(team, "thanks") == {}


def test_an_audience_of_people_who_would_all_be_skipped_is_nobody(team) -> None:
    """The audience file lets in pending and unsubscribed people; none of them can be sent to,
    so the send is refused, and the message says why, reason by reason."""
    engage_clock.set(after())
    team.write(
        "audiences/everyone.toml",
        'status = ["pending", "subscribed", "unsubscribed"]\ntags_any = ["staff"]\n',
    )
    team.campaign("staff-news", "# Staff news\n\nHello, team.\n", audience="everyone")
    set_status(team, "di@example.org", "pending")
    path = team.write("more.csv", "email,name,tags\ned@example.org,Ed,staff\n")
    assert team.run("contacts", "import", str(path)).exit_code == 0
    assert team.run("contacts", "unsubscribe", "ed@example.org").exit_code == 0
    result = team.run("send", "staff-news", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Nobody in the audience everyone can be sent staff-news: all 2 people in it "
        "would be skipped (1 not confirmed yet, 1 unsubscribed). Nothing was sent and the "
        "campaign stays as it was. See who is in it with `engage audiences show everyone`, or "
        "choose another audience in its front matter.\n"
    )
    assert send_rows(team) == []


def test_engage_run_reports_a_send_to_nobody_and_leaves_it_unsent(team) -> None:
    """Both example campaigns are due; the contributors audience is empty. The newsletter
    goes, the call for stories is a problem (exit 1), not sent and not in the archive."""
    engage_clock.set(after(days=10))
    result = team.run("run")
    assert result.exit_code == 1
    assert result.stderr == (
        "engage run: 1 campaign(s) worked on, 3 message(s) handed over; 1 problem(s): "
        "share-your-story: Nobody in the audience contributors can be sent share-your-story: it "
        "has nobody in it. Nothing was sent and the campaign stays as it was. See who is in it "
        "with `engage audiences show contributors`, or choose another audience in its front "
        "matter.\n"
    )
    assert send_rows(team) == [(SLUG, "sent")]
    assert status_of(team, "share-your-story") == "scheduled"
    from engage.web import create_app

    client = create_app(team.workspace).test_client()
    assert client.get("/archive/share-your-story").status_code == 404
    assert client.get(f"/archive/{SLUG}").status_code == 200


def test_an_unknown_audience_is_refused_clearly(team) -> None:
    engage_clock.set(after())
    team.campaign("typo", "# Hello\n\nHello there.\n", audience="newsleter")
    result = team.run("send", "typo", "--yes")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: typo has 1 lint error, so nothing was sent. campaigns/typo.md:4: No audience "
        f"'newsleter': looked for audiences/newsleter.toml in {team.root}. Did you mean "
        "'newsletter'? Audiences here: contributors, newsletter. Fix: Change audience in the "
        "front matter to one of those, or add the audience file. See docs/audiences.md.\n"
    )
    assert send_rows(team) == []


# --- campaign files engage run cannot read --------------------------------------------------


def test_engage_run_reports_every_file_it_cannot_read_and_sends_the_rest(team) -> None:
    engage_clock.set(after())
    team.write(
        "campaigns/no-zone.md",
        '+++\nsubject = "Hello"\naudience = "newsletter"\nsend_at = 2026-12-04T09:00:00\n+++\n'
        "Hello.\n",
    )
    team.write("campaigns/no-fence.md", "Just some words.\n")
    result = team.run("run")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "engage run: 1 campaign(s) worked on, 3 message(s) handed over; 2 problem(s): "
        "campaigns/no-fence.md:1: a campaign starts with front matter between +++ lines, for "
        'example:\n+++\nsubject = "Our spring news"\n+++ (engage run cannot send it until it '
        "is fixed) | campaigns/no-zone.md:4: front matter: send_at needs a time zone: write "
        "2026-12-04T09:00:00Z for UTC (UK winter time), or 2026-12-04T09:00:00+01:00 for UK "
        "summer time (engage run cannot send it until it is fixed).\n"
    )
    assert sorted(outbox(team)) == ["ann@example.org", "bo@example.org", "cy@example.org"]
    quiet = team.run("run", "--quiet")  # cron hears of it every time, until it is fixed
    assert quiet.exit_code == 1
    assert "campaigns/no-zone.md:4: front matter: send_at needs a time zone" in quiet.stderr


# --- send_at --------------------------------------------------------------------------------


def test_with_yes_an_early_send_needs_now(team, clock) -> None:
    result = team.run("send", SLUG, "--yes")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: {SLUG} is scheduled for 3 December 2026 at 09:00 UTC, and `engage run` sends "
        "it then. To send it now instead, add --now.\n"
    )
    assert send_rows(team) == [] and outbox(team) == {}

    sent = team.run("send", SLUG, "--yes", "--now")
    assert sent.exit_code == 0, sent.output
    assert len(outbox(team)) == 3
    store = open_store(team.workspace)
    with store.connect() as c:
        started, finished = c.execute(sa.select(sends.c.started_at, sends.c.finished_at)).one()
    store.engine.dispose()
    assert (_utc(started), _utc(finished)) == (clock.now(), clock.now())  # when it really went
    report = team.run("report", SLUG).stdout.splitlines()[1]
    assert report == (
        "Sent through outbox on 2026-12-01 09:00 UTC. It was scheduled for 2026-12-03 09:00 "
        "UTC, and sent early."
    )


def test_the_question_names_the_date_and_no_sends_nothing(team, clock) -> None:
    result = team.run("send", SLUG, input="n\n")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Subject:  {SUBJECT}",
        "Audience: newsletter (3 people will get it)",
        "Provider: outbox",
        "When:     now, instead of 3 December 2026 at 09:00 UTC as scheduled",
        "It is scheduled for 3 December 2026 at 09:00 UTC. Send it now instead? [y/N]: n",
        "Nothing was sent.",
    ]
    assert send_rows(team) == []
    yes = team.run("send", SLUG, input="y\n")
    assert yes.exit_code == 0, yes.output
    assert len(outbox(team)) == 3


def test_the_date_is_shown_in_the_time_zone_it_was_written_in(team, clock) -> None:
    team.replace(
        f"campaigns/{SLUG}.md",
        "send_at = 2026-12-03T09:00:00Z",
        "send_at = 2026-12-03T10:00:00+01:00",
    )
    result = team.run("send", SLUG, "--yes")
    assert result.stderr == (
        f"Error: {SLUG} is scheduled for 3 December 2026 at 10:00 (UTC+01:00), and `engage "
        "run` sends it then. To send it now instead, add --now.\n"
    )


def test_a_draft_without_send_at_says_so(team) -> None:
    team.campaign("draft", "# Hello\n\nHello there.\n", audience="newsletter")
    result = team.run("send", "draft", input="n\n")
    assert result.output.splitlines()[3:5] == [
        "When:     now (it has no send_at)",
        "Send it now? [y/N]: n",
    ]


# --- test copies ----------------------------------------------------------------------------


def break_a_link(project) -> None:
    project.replace(f"campaigns/{SLUG}.md", "[read the full walking group story]", "[click here]")


def test_a_test_copy_with_lint_errors_needs_force_and_shows_them(team) -> None:
    break_a_link(team)
    refused = team.run("send", SLUG, "--test-to", "me@example.org")
    assert (refused.exit_code, refused.stdout) == (1, "")
    errors = refused.stderr.splitlines()
    assert errors[0].startswith(f"campaigns/{SLUG}.md:")
    assert errors[0].endswith(
        ': error [link-text-vague] The link text "click here" does not say where it goes '
        "(https://www.example.org/stories/walking-group)."
    )
    assert errors[-1] == (
        f"Error: {SLUG} has 1 lint error, shown above. Fix them, or add --force to send the "
        "test copy anyway."
    )
    assert not (team.root / "outbox" / f"{SLUG}-test").exists()

    forced = team.run("send", SLUG, "--test-to", "me@example.org", "--force")
    assert forced.exit_code == 0, forced.output
    [copy] = (team.root / "outbox" / f"{SLUG}-test").glob("*.eml")
    assert forced.stdout == (
        f"Sent a test copy of {SLUG} to me@example.org through outbox.\n"
        f"It is the file {copy}\n"
        "It has 1 lint error: the real send refuses to go until they are fixed.\n"
    )
    assert forced.stderr == "\n".join(errors[:-1]) + "\n"
    assert send_rows(team) == []


def test_a_test_copy_through_smtp_says_where_it_went(team, monkeypatch) -> None:
    from .smtp_sink import SmtpSink

    sink = SmtpSink(password="pw").start()
    try:
        smtp_config(team, sink.port)
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
        result = team.run("send", SLUG, "--test-to", "me@example.org")
        assert result.exit_code == 0, result.output
        [(to, message)] = sink.messages()
        assert to == "me@example.org"
        assert result.stdout == (
            f"Sent a test copy of {SLUG} to me@example.org through smtp.\n"
            f"smtp took it, to deliver to me@example.org. Its id there is {message['Message-ID']}.\n"
        )
    finally:
        sink.stop()


def test_force_goes_only_with_test_to(team) -> None:
    result = team.run("send", SLUG, "--yes", "--force")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: --force only goes with --test-to: a real send never goes with lint errors.\n"
    )


# --- who is counted, and why they were skipped -----------------------------------------------

MIXED = (
    "email,name,tags\n"
    "ann@example.org,Ann,members\n"
    "bo@example.org,Bo,members\n"
    "cy@example.org,Cy,members\n"
    "di@example.org,Di,members\n"
    "ed@example.org,Ed,members\n"
    "fay@example.org,Fay,members\n"
)


def set_status(project, email: str, status: str) -> None:
    store = open_store(project.workspace)
    with store.begin() as c:
        c.execute(contacts.update().where(contacts.c.email == email).values(status=status))
    store.engine.dispose()


def mixed(project) -> None:
    """Six members: Ann and Fay can be mailed; Bo never confirmed, Cy unsubscribed, Di's
    address bounced, Ed is on the suppression list by hand. The audience lets them all in."""
    path = project.write("mixed.csv", MIXED)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    project.write(
        "audiences/members.toml",
        'status = ["pending", "subscribed", "unsubscribed", "bounced"]\ntags_any = ["members"]\n',
    )
    project.campaign("members", "# Members\n\nHello, members.\n", audience="members")
    set_status(project, "bo@example.org", "pending")
    assert project.run("contacts", "unsubscribe", "cy@example.org").exit_code == 0
    set_status(project, "di@example.org", "bounced")
    store = open_store(project.workspace)
    with store.begin() as c:
        life.suppress(c, "ed@example.org", "manual", "test")
    store.engine.dispose()


def test_the_dry_run_counts_exactly_who_the_real_send_sends_to(project, db_url, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    mixed(project)
    skipped = (
        "4 skipped (1 not confirmed yet, 1 unsubscribed, 1 address bounced, "
        "1 on the suppression list)"
    )
    dry = project.run("send", "members", "--dry-run")
    assert (dry.exit_code, dry.stderr) == (0, "")
    assert dry.stdout == (
        "Dry run: members would go to 2 people now, and would skip 4 (1 not confirmed yet, "
        "1 unsubscribed, 1 address bounced, 1 on the suppression list). Rendered 2 message(s); "
        "nothing was sent.\n"
    )
    asked = project.run("send", "members", input="n\n")
    assert asked.output.splitlines()[1] == (
        "Audience: members (2 people will get it; 4 will be skipped: 1 not confirmed yet, "
        "1 unsubscribed, 1 address bounced, 1 on the suppression list)"
    )

    real = project.run("send", "members", "--yes")
    assert real.exit_code == 0, real.output
    assert real.stdout.splitlines()[0] == (
        f"members: 2 handed to outbox this time. Of 6: 2 sent, 0 failed, {skipped}, 0 unknown, "
        "0 still to send."
    )
    assert sorted(outbox(project, "members")) == ["ann@example.org", "fay@example.org"]
    store = open_store(project.workspace)
    with store.connect() as c:
        reasons = dict(
            c.execute(
                sa.select(contacts.c.email, deliveries.c.skip_reason)
                .join(contacts, contacts.c.id == deliveries.c.contact_id)
                .where(deliveries.c.status == "suppressed")
            ).all()
        )
    store.engine.dispose()
    assert reasons == {
        "bo@example.org": "pending",
        "cy@example.org": "unsubscribed",
        "di@example.org": "bounced",
        "ed@example.org": "suppressed",
    }
    report = json.loads(project.run("report", "members", "--format", "json").stdout)
    assert (report["skipped"], report["skipped_because"]) == (
        4,
        {"pending": 1, "unsubscribed": 1, "bounced": 1, "suppressed": 1},
    )
    table = project.run("report", "members").stdout
    assert (
        "skipped       4              people we did not send it to: 1 not confirmed yet, "
        "1 unsubscribed, 1 address bounced, 1 on the suppression list\n"
    ) in table


def test_a_dry_run_part_way_counts_only_who_is_still_to_send(team) -> None:
    engage_clock.set(after())
    assert team.run("send", SLUG, "--yes", "--limit", "1").exit_code == 0
    assert team.run("contacts", "unsubscribe", "bo@example.org").exit_code == 0
    dry = team.run("send", SLUG, "--dry-run", "--resume")
    assert dry.stdout == (
        f"Dry run: {SLUG} would go to 1 person now, and would skip 1 (1 unsubscribed). Rendered "
        "1 message(s); nothing was sent.\n"
    )
    real = team.run("send", SLUG, "--yes", "--resume")
    assert real.stdout.splitlines()[0] == (
        f"{SLUG}: 1 handed to outbox this time. Of 3: 2 sent, 0 failed, 1 skipped (1 "
        "unsubscribed), 0 unknown, 0 still to send."
    )


# --- delivered, when the provider cannot tell -------------------------------------------------


def test_smtp_report_says_deliveries_are_not_available(team, monkeypatch) -> None:
    from .smtp_sink import SmtpSink

    engage_clock.set(after())
    sink = SmtpSink(password="pw").start()
    try:
        smtp_config(team, sink.port)
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
        assert team.run("send", SLUG, "--yes").exit_code == 0
    finally:
        sink.stop()
    report = json.loads(team.run("report", SLUG, "--format", "json").stdout)
    assert (report["delivered"], report["deliveries_reported"]) == (None, False)
    table = team.run("report", SLUG).stdout
    assert (
        "delivered     not available  sending through smtp does not tell us when an email arrives\n"
    ) in table
    html = team.run("report", SLUG, "--format", "html").stdout
    assert '<tr><th scope="row">Delivered</th><td class="n">not available</td></tr>' in html


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def test_no_answer_to_the_question_sends_nothing(team) -> None:
    """Ctrl-C or the end of input at the question: nothing is sent, and it says so."""
    result = team.run("send", SLUG)
    assert result.exit_code == 130
    assert result.output.splitlines()[-1] == "Nothing was sent."
    assert "Aborted!" not in result.output
    assert send_rows(team) == []
