"""Per-recipient fields, filled into a campaign rendered once.

A layout is rendered (Jinja → MJML → HTML) once per campaign and variant, with a marker in
place of each personal field. `PersonalTemplate` splits that output at the markers once; for
each recipient it only escapes a handful of values and joins the pieces, which costs a few
microseconds however long the newsletter is.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import escape

from ..i18n import N_

FIELDS = (
    "greeting",
    "name",
    "first_name",
    "email",
    "unsubscribe_url",
    "preferences_url",
    "web_version_url",
    "reply_to",
)


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    unsubscribe_url: str
    preferences_url: str
    web_version_url: str
    name: str = ""
    first_name: str = ""
    reply_to: str = ""

    @property
    def greeting(self) -> str:
        who = self.first_name or self.name
        return f"Hello {who}," if who else "Hello,"

    def values(self) -> tuple[str, ...]:
        return (
            self.greeting,
            self.name,
            self.first_name,
            self.email,
            self.unsubscribe_url,
            self.preferences_url,
            self.web_version_url,
            self.reply_to,
        )


class Markers:
    """The stand-ins a layout prints for personal fields: plain letters and digits, so they
    pass through Markdown, Jinja escaping, MJML and URL attributes unchanged."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(4)
        self.pattern = re.compile(f"engage{self.nonce}f(\\d+)x")

    def marker(self, field: str) -> str:
        return f"engage{self.nonce}f{FIELDS.index(field)}x"

    def changed(self, rendered: str) -> bool:
        """True when a code in `rendered` was changed (say, into capitals by a filter), so it
        can no longer be found and filled in."""
        loose = re.findall(self.nonce, rendered, flags=re.IGNORECASE)
        return len(loose) != len(self.pattern.findall(rendered))

    def context(self) -> dict[str, str]:
        """What a layout sees as `recipient`: each field's marker."""
        return {field: self.marker(field) for field in FIELDS}


# The greeting in English, as a campaign's catalogue translates it ("Helo Sam,").
GREETINGS = (N_("Hello %(name)s,"), N_("Hello,"))


class PersonalTemplate:
    """Rendered output with holes for personal fields, compiled once per campaign variant.
    `greetings`: the greeting with a name and without one, in the campaign's language."""

    def __init__(
        self,
        rendered: str,
        markers: Markers,
        html: bool,
        greetings: tuple[str, str] = GREETINGS,
    ) -> None:
        pieces = markers.pattern.split(rendered)
        self._parts: list[str] = pieces
        self._slots = [(i, int(pieces[i])) for i in range(1, len(pieces), 2)]
        self._escape: Callable[[str], str] = (lambda v: str(escape(v))) if html else str
        self.fields = {FIELDS[index] for _, index in self._slots}
        self._greetings = None if greetings == GREETINGS else greetings

    def render(self, recipient: Recipient) -> str:
        values = [self._escape(v) for v in recipient.values()]
        if self._greetings is not None:  # another language's greeting
            who = recipient.first_name or recipient.name
            said = self._greetings[0] % {"name": who} if who else self._greetings[1]
            values[0] = self._escape(said)
        out = self._parts.copy()
        for position, index in self._slots:
            out[position] = values[index]
        return "".join(out)
