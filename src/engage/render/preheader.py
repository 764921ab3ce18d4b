"""The preheader: the line a mail app shows after the subject, hidden in the email itself.

MJML's `<mj-preview>` hides it as white 1px text (`color:#ffffff`), which spam filters score as
text made hard to see on purpose (SpamAssassin's HTML_FONT_LOW_CONTRAST). We give it a style that
takes it out of the page instead, with no colour and no tiny font: `display:none` for most mail
apps, `mso-hide:all` for Outlook on Windows, and no height, no width and no opacity for the few
that ignore `display`.
"""

from __future__ import annotations

import re

STYLE = "display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;"

# mjml-python writes the preview as the first element of <body>.
_PREVIEW = re.compile(r'(<body\b[^>]*>\s*<div) style="display:none;[^"]*"')


def hide(html: str) -> str:
    """`html` from mjml-python with its preheader hidden by STYLE (unchanged when it has none)."""
    return _PREVIEW.sub(lambda found: f'{found.group(1)} style="{STYLE}"', html, count=1)
