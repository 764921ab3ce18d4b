"""The console's campaigns: every campaign with its status, audience and live progress; each
one's preview as a chosen reader beside lint; a test copy to yourself; schedule and
unschedule; start a send after a confirmation; pause, carry on or cancel a send.

Every page calls the library the CLI calls: send_status (where a send stands), the lint of
`engage lint`, workflow.sending (a test copy as `engage send --test-to`, starting a send),
sending.schedule (`engage campaigns schedule`) and sending.stopping (`engage send --stop`,
`--cancel`). Starting a send sets its schedule to now: the request sends nothing itself, and
the worker of `engage serve` (or `engage run`) sends it through the journal, each person once.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, jsonify, make_response, redirect, request, send_file, url_for

from ... import campaigns as campaign_files
from ... import langs, recipients
from ...campaigns import Campaign, when_text
from ...errors import CampaignError, EngageError
from ...providers import provider_for
from ...send_status import CampaignState, campaign_states, progress
from ...sending import schedule as schedules
from ...sending import stopping
from ...workflow import sending as workflow
from ...workflow.lint import lint
from ...workflow.worker import send_scheduled_soon
from .. import state as _engage
from .base import blueprint, current, message, needs, page, part

part(
    "console.campaigns",
    "Campaigns",
    "Every campaign: its status, preview, lint, tests, schedule and sends.",
)

SCRIPT = Path(__file__).parent / "static" / "progress.js"
FORMAT_NAMES = {"html": "Email", "large-print": "Large print", "easy-read": "Easy Read"}
FORMAT_NAMES |= {"plain": "Plain text"}
GOING = ("sending", "interrupted")  # a send under way: progress is worth watching


@blueprint.get("/campaigns")
@needs("read")
def campaigns():  # noqa: ANN201
    found = campaign_files.all_campaigns(_workspace())
    good = [c for c in found if not isinstance(c, CampaignError)]
    states = campaign_states(_store(), good) if good else {}
    rows = [_summary(c, states[c.slug]) for c in good]
    broken = [str(c) for c in found if isinstance(c, CampaignError)]
    return page("campaigns.html.j2", "Campaigns", rows=rows, broken=broken)


def _summary(campaign: Campaign, state: CampaignState) -> dict:
    size = None if state.went_out else workflow.audience_size(_store(), _workspace(), campaign)
    return {
        "campaign": campaign,
        "state": state,
        "status": status_words(state),
        "when": when_text(state.send_at) if state.send_at else "Not scheduled",
        "audience": state.total if state.went_out else size,
        "sent": f"{state.sent} of {state.total}" if state.went_out else "",
    }


@blueprint.get("/campaigns/<slug>")
@needs("read")
def campaign(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    fmt = request.args.get("format", "html")
    if fmt not in FORMAT_NAMES:
        return message("That did not work", f"'{fmt[:40]}' is not a format.", status=400)
    found_langs = workflow.languages(_workspace(), found)
    lang = request.args.get("lang", "")
    if lang and lang not in found_langs:
        names = ", ".join(langs.name(tag) for tag in found_langs)
        said = f"This campaign is not in {lang[:40]}. Choose one of: {names}."
        return message("That did not work", said, status=400)
    email = request.args.get("reader", "").strip()
    person = workflow.reader(_store(), _workspace(), found, email)
    problem = ""
    if person is None:
        problem = f"Nobody in your contacts has the email address {email[:320]}."
        person = workflow.reader(_store(), _workspace(), found)
    text, built = "", ""
    if fmt == "plain":
        try:
            text = workflow.preview(_workspace(), found, person, "plain", lang)  # type: ignore[arg-type]
        except EngageError as exc:
            built = str(exc)
    findings = lint(_workspace(), found)
    context = _facts(found) | {
        "fmt": fmt,
        "formats": FORMAT_NAMES,
        "lang": lang,
        "lang_words": f" in {langs.english_name(lang)}" if lang else "",
        # each language: its tag, its name in its own words, and its tag again when it is not
        # English (the console's language), for `lang` on its name
        "languages": [
            (tag, langs.name(tag), "" if langs.same(tag, "en") else tag) for tag in found_langs
        ],
        "instead": fmt == "easy-read" and workflow.easy_read_instead(_workspace(), found, lang),
        "reader": email if not problem else "",
        "problem": problem,
        "person": person,
        "text": text,
        "not_built": built,
        "findings": findings,
        "lint_summary": workflow.lint_summary(findings),
    }
    return page("campaign.html.j2", found.meta.subject, **context), 400 if problem else 200


@blueprint.get("/campaigns/<slug>/email")
@needs("read")
def campaign_email(slug: str):  # noqa: ANN201
    """The email as a whole document, for the preview's frame: web/headers.py gives it the
    archive's policy (its own inline styles, https pictures), framed only by the console."""
    found = _campaign(slug)
    fmt = request.args.get("format", "html")
    if fmt not in ("html", "large-print", "easy-read"):
        abort(404)
    lang = request.args.get("lang", "")
    if lang and lang not in workflow.languages(_workspace(), found):
        abort(404)
    person = workflow.reader(_store(), _workspace(), found, request.args.get("reader", ""))
    if person is None:
        abort(404)
    try:
        html = workflow.preview(_workspace(), found, person, fmt, lang)
    except EngageError as exc:
        return message("This email cannot be shown", str(exc), status=400)
    return Response(html, mimetype="text/html")


@blueprint.get("/campaigns/<slug>/progress.json")
@needs("read")
def campaign_progress(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    facts = _facts(found)
    return jsonify(
        {
            "status": facts["state"].status,
            "status_words": facts["status_words"],
            "words": facts["progress_words"],
            "watch": facts["watch"],
            **(facts["progress"].as_dict() if facts["progress"] else {}),
        }
    )


@blueprint.get("/campaigns/-/progress.js")
def progress_script():  # noqa: ANN201
    """The little script that refreshes a send's progress: the page works without it."""
    return send_file(SCRIPT, mimetype="text/javascript", max_age=0)


# --- a test copy ------------------------------------------------------------------------------


@blueprint.post("/campaigns/<slug>/test")
@needs("edit")
def campaign_test(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    me = _me()
    force = request.form.get("force") == "yes"
    provider = provider_for(_workspace())
    try:
        copy = workflow.send_test_copy(
            _store(), _workspace(), found, provider, me, force=force, actor=me
        )
    except workflow.CopyRefused as exc:
        lines = [f"{f.where}: {f.message}" for f in exc.errors]
        return message(
            "The test was not sent",
            f"{found.slug} has {exc.count}. Fix them, or tick “Send it even with lint errors”.",
            *lines,
            link=_back(found),
            status=400,
        )
    except EngageError as exc:
        return message("The test was not sent", str(exc), link=_back(found), status=400)
    if not copy.outcome.sent:
        return message(
            "The test was not sent",
            f"{provider.name} refused it: {copy.outcome.error}",
            link=_back(found),
            status=502,
        )
    said = [f"A copy marked [Test] is on its way to {me}, through {provider.name}."]
    if copy.errors:
        said.append(
            f"It has {len(copy.errors)} lint error(s): the real send refuses to go until they "
            "are fixed."
        )
    return message("Test sent", *said, link=_back(found))


# --- schedule, unschedule, start --------------------------------------------------------------


@blueprint.post("/campaigns/<slug>/schedule")
@needs("send")
def campaign_schedule(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    given = request.form.get("when", "")
    try:
        when = schedules.parse_when(given, schedules.UK)
        schedules.schedule(_store(), found.slug, when, _me())
    except schedules.ScheduleError as exc:
        return message("The time was not set", str(exc), link=_back(found), status=400)
    send_scheduled_soon()
    return redirect(url_for("console.campaign", slug=found.slug), code=303)


@blueprint.post("/campaigns/<slug>/unschedule")
@needs("send")
def campaign_unschedule(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    try:
        schedules.unschedule(_store(), found.slug, _me())
    except schedules.ScheduleError as exc:
        return message("Nothing was changed", str(exc), link=_back(found), status=409)
    return redirect(url_for("console.campaign", slug=found.slug), code=303)


@blueprint.get("/campaigns/<slug>/send")
@needs("send")
def campaign_send_check(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    facts = _facts(found)
    if facts["state"].went_out:
        return message(
            "This campaign has begun sending",
            f"{found.slug} is {facts['status_words'].lower()}, so it cannot start again.",
            link=_back(found),
            status=409,
        )
    try:
        who = workflow.audience_now(_store(), _workspace(), found)
    except EngageError as exc:
        return message("This campaign cannot be sent", str(exc), link=_back(found), status=409)
    skipped = recipients.describe(who.skipped) if who.skipped else ""
    return page("campaign-send.html.j2", "Send this campaign?", who=who, skipped=skipped, **facts)


@blueprint.post("/campaigns/<slug>/send")
@needs("send")
def campaign_send(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    try:
        workflow.start_send(_store(), _workspace(), found, _me())
    except EngageError as exc:
        return message("The send did not start", str(exc), link=_back(found), status=409)
    send_scheduled_soon()
    return redirect(url_for("console.campaign", slug=found.slug), code=303)


# --- pause, carry on, cancel ------------------------------------------------------------------


@blueprint.post("/campaigns/<slug>/pause")
@needs("send")
def campaign_pause(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    try:
        stopping.ask_to_stop(_store(), found.slug, _me(), wait=0, actor=_me())
    except EngageError as exc:
        return message("Nothing was paused", str(exc), link=_back(found), status=409)
    return redirect(url_for("console.campaign", slug=found.slug), code=303)


@blueprint.post("/campaigns/<slug>/resume")
@needs("send")
def campaign_resume(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    try:
        stopping.resume(_store(), found.slug, _me())
    except EngageError as exc:
        return message("The send did not carry on", str(exc), link=_back(found), status=409)
    send_scheduled_soon()
    return redirect(url_for("console.campaign", slug=found.slug), code=303)


@blueprint.get("/campaigns/<slug>/cancel")
@needs("send")
def campaign_cancel_check(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    facts = _facts(found)
    if facts["state"].status not in (*GOING, "stopped"):
        return message(
            "There is no send to cancel",
            f"{found.slug} is {facts['status_words'].lower()}.",
            link=_back(found),
            status=409,
        )
    return page("campaign-cancel.html.j2", "Cancel this send?", **facts)


@blueprint.post("/campaigns/<slug>/cancel")
@needs("send")
def campaign_cancel(slug: str):  # noqa: ANN201
    found = _campaign(slug)
    try:
        stopping.ask_to_stop(_store(), found.slug, _me(), wait=0, actor=_me(), cancel=True)
    except EngageError as exc:
        return message("Nothing was cancelled", str(exc), link=_back(found), status=409)
    return redirect(url_for("console.campaign", slug=found.slug), code=303)


# --- what the pages share ---------------------------------------------------------------------


STATUS_WORDS = {
    "draft": "Not scheduled",
    "scheduled": "Scheduled",
    "sending": "Sending now",
    "interrupted": "Sending stopped by itself: it will carry on",
    "stopped": "Paused",
    "cancelled": "Cancelled",
    "sent": "Sent",
}


def status_words(state: CampaignState) -> str:
    return STATUS_WORDS.get(state.status, state.status)


def _facts(found: Campaign) -> dict:
    """What every page about one campaign shows: its state, its send time and who set it,
    and its progress from the journal, in words."""
    [state] = campaign_states(_store(), [found]).values()
    with _store().connect() as connection:
        now = progress(connection, found.slug)
    due = state.status == "scheduled" and state.send_at is not None and state.send_at <= _now()
    starting = due and state.schedule is not None  # the worker of `engage serve` sends it
    words = status_words(state)
    if due:
        words = STARTING if starting else DUE
    return {
        "campaign": found,
        "state": state,
        "status_words": words,
        "when": when_text(state.send_at) if state.send_at else "",
        "progress": now,
        "progress_words": progress_words(now, due),
        "watch": starting or state.status in GOING,
    }


STARTING = "Starting: it will begin within a minute"
DUE = "Due: engage sends it at its next run"


def progress_words(now, due: bool) -> str:  # noqa: ANN001 - send_status.Progress or None
    """A send's progress in one sentence, for the page and its live region alike."""
    if now is None:
        return "Waiting for the sender to start." if due else "Not started."
    skipped = f" {now.skipped} skipped." if now.skipped else ""
    return (
        f"{now.sent} of {now.total} sent. {now.failed} failed. {now.unknown} unknown. "
        f"{now.to_go} still to go.{skipped}"
    )


def _now():  # noqa: ANN202
    from ... import clock

    return clock.now()


def _campaign(slug: str) -> Campaign:
    """The campaign `slug` (one name, never a path); 404 when there is none, when it is a
    version of another (news.cy), or when it cannot be read (the list says why)."""
    path = _workspace().named_file("campaigns", slug, ".md")
    if path is None or campaign_files.version_parts(path) is not None:
        abort(404)  # a version is shown on its campaign's page (the Languages and formats)
    try:
        return campaign_files.parse(path, _workspace().relative(path))
    except CampaignError as exc:
        abort(make_response(message("This campaign cannot be read", str(exc))[0], 404))


def _back(found: Campaign) -> dict:
    return {"url": url_for("console.campaign", slug=found.slug), "text": "Back to the campaign"}


def _me() -> str:
    session = current()
    assert session is not None
    return session.member.email


def _store():  # noqa: ANN202
    return _engage()["store"]


def _workspace():  # noqa: ANN202
    return _engage()["workspace"]
