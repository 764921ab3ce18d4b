"""The console's reports pages. (To be built: see docs/console.md.)"""

from __future__ import annotations

from .base import blueprint, needs, page, part

part("console.reports", "Reports", "How each campaign went.")


@blueprint.get("/reports")
@needs("read")
def reports():  # noqa: ANN201
    return page("message.html.j2", "Reports", paragraphs=["Coming soon."], link=None)
