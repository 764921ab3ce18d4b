"""The console's people pages. (To be built: see docs/console.md.)"""

from __future__ import annotations

from .base import blueprint, needs, page, part

part(
    "console.people",
    "People",
    "Find a person: their timeline, consent, unsubscribe, export and erase.",
)


@blueprint.get("/people")
@needs("read")
def people():  # noqa: ANN201
    return page("message.html.j2", "People", paragraphs=["Coming soon."], link=None)
