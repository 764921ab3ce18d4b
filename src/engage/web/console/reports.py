"""The console's reports: the campaigns that have been sent, each with its report page. A
report is the one `engage report CAMPAIGN` gives (workflow/reports.py), its web page's body
(report_page.body) shown inside the console; it can be downloaded as the same one-file page
as `engage report CAMPAIGN --format html`."""

from __future__ import annotations

import re

from flask import Response, url_for

from ... import report_page
from ...campaigns import Campaign, parse
from ...errors import CampaignError
from ...workflow.reports import campaign_report, sent_campaigns
from .. import state as _engage
from .base import blueprint, message, needs, page, part

part("console.reports", "Reports", "How each campaign went.")


@blueprint.get("/reports")
@needs("read")
def reports():  # noqa: ANN201
    engage = _engage()
    found = sent_campaigns(engage["workspace"], engage["store"])
    return page("reports.html.j2", "Reports", campaigns=found)


def _campaign(slug: str) -> Campaign | None:
    """The campaign with this slug in campaigns/ (a slug, never a path), or None."""
    workspace = _engage()["workspace"]
    if slug.startswith(".") or slug.endswith(".md") or "\\" in slug:
        return None
    path = workspace.named_file("campaigns", slug, ".md")
    if path is None:
        return None
    try:
        return parse(path, workspace.relative(path))
    except CampaignError:
        return None


def _missing(slug: str):  # noqa: ANN202
    return message(
        "No such campaign",
        f"There is no campaign called “{slug[:100]}” in the campaigns folder, or its file "
        "cannot be read. `engage campaigns list` says which.",
        link={"url": url_for("console.reports"), "text": "Back to the reports"},
        status=404,
    )


@blueprint.get("/reports/<slug>")
@needs("read")
def report(slug: str):  # noqa: ANN201
    campaign = _campaign(slug)
    if campaign is None:
        return _missing(slug)
    engage = _engage()
    found = campaign_report(engage["workspace"], engage["store"], campaign)
    title = f"How “{found.subject or found.campaign}” went"
    return page("report.html.j2", title, report=found, body=report_page.body(found))


@blueprint.get("/reports/<slug>/page")
@needs("read")
def report_download(slug: str):  # noqa: ANN201
    campaign = _campaign(slug)
    if campaign is None:
        return _missing(slug)
    engage = _engage()
    found = campaign_report(engage["workspace"], engage["store"], campaign)
    organisation = engage["workspace"].config.organisation
    text = report_page.as_html(found, organisation=organisation.name, lang=organisation.lang)
    answer = Response(text, mimetype="text/html")
    name = re.sub(r"[^A-Za-z0-9._-]", "-", campaign.slug)
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}-report.html"'
    return answer
