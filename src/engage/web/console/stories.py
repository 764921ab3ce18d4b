"""The console's stories pages. (To be built: see docs/console.md.)"""

from __future__ import annotations

from .base import blueprint, needs, page, part

part(
    "console.stories",
    "Stories",
    "Contributors' stories on a board: drafts, moves and who is owed news.",
)


@blueprint.get("/stories")
@needs("read")
def stories():  # noqa: ANN201
    return page("message.html.j2", "Stories", paragraphs=["Coming soon."], link=None)
