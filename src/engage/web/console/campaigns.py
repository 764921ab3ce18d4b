"""The console's campaigns pages. (To be built: see docs/console.md.)"""

from __future__ import annotations

from .base import blueprint, needs, page, part

part(
    "console.campaigns",
    "Campaigns",
    "Every campaign: its status, preview, lint, tests, schedule and sends.",
)


@blueprint.get("/campaigns")
@needs("read")
def campaigns():  # noqa: ANN201
    return page("message.html.j2", "Campaigns", paragraphs=["Coming soon."], link=None)
