"""The console's replies pages. (To be built: see docs/console.md.)"""

from __future__ import annotations

from .base import blueprint, needs, page, part

part("console.replies", "Replies", "The replies inbox: read, assign, answer and close replies.")


@blueprint.get("/replies")
@needs("read")
def replies():  # noqa: ANN201
    return page("message.html.j2", "Replies", paragraphs=["Coming soon."], link=None)
