"""A campaign, rendered once per variant and ready to personalise for each recipient.

Markdown → safe HTML fragment → tables laid out for the variant → Jinja layout → MJML → HTML
(mjml-python) → preheader hidden → inline CSS → `PersonalTemplate`. The plain-text twin comes
from the Markdown tokens, through a text layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import mjml
from markupsafe import Markup, escape

from .. import i18n
from ..campaigns import EASY_READ, Campaign
from ..config import Workspace
from ..errors import CampaignError, EngageError, TemplateError
from . import easyread, inline_css, layout, personal_use, preheader, tables
from .markdown import Body, parse_body
from .personal import GREETINGS, Markers, PersonalTemplate, Recipient
from .plaintext import render_text

VARIANTS = ("standard", "large-print")


@dataclass(frozen=True)
class Message:
    html: str
    text: str


@dataclass
class Built:
    """One campaign, rendered once: a template per variant and the parsed body."""

    campaign: Campaign
    body: Body
    text_body: str
    html: dict[str, PersonalTemplate]
    text: PersonalTemplate
    templates: dict[str, list[Path]] = field(default_factory=dict)
    easy_read: easyread.Document | None = None  # an Easy Read version's rows

    @property
    def main_variant(self) -> str:
        """The variant a person gets unless they asked for another: "easy-read" for an Easy
        Read version (its only one), else "standard"."""
        return EASY_READ if self.easy_read is not None else "standard"

    def personalise(self, recipient: Recipient, variant: str = "") -> Message:
        html = self.html[variant or self.main_variant].render(recipient)
        return Message(html=html, text=self.text.render(recipient))


def template_names(name: str, form: str = "") -> dict[str, str]:
    """The layouts a campaign is built with, by variant; an Easy Read version has its own."""
    if form == EASY_READ:
        return {EASY_READ: f"{name}-easy-read.mjml.j2", "text": f"{name}.txt.j2"}
    return {
        "standard": f"{name}.mjml.j2",
        "large-print": f"{name}-large-print.mjml.j2",
        "text": f"{name}.txt.j2",
    }


def build(workspace: Workspace, campaign: Campaign, second: Campaign | None = None) -> Built:
    """The campaign built for every variant. With `second` (its translation): one email in
    both languages, `campaign`'s first, each part marked with its own `lang`."""
    if not campaign.meta.subject.strip():
        raise CampaignError(
            f"{workspace.relative(campaign.path)}: the front matter needs a subject."
        )
    words = i18n.translations(campaign.lang or workspace.config.organisation.lang, workspace.root)
    env = layout.environment(workspace.templates_dir, words)
    greetings = (words.gettext(GREETINGS[0]), words.gettext(GREETINGS[1]))
    names = template_names(campaign.meta.template, campaign.form)
    _refuse_personal_misuse(workspace, env, names)
    markers = Markers()
    body = parse_body(campaign.body)
    context = _context(workspace, campaign, markers)
    easy_read, parts, text_body = _parts(workspace, campaign, body)
    if second is not None:
        parts, text_body = _both(workspace, (campaign, body), second)
    html: dict[str, PersonalTemplate] = {}
    templates: dict[str, list[Path]] = {}
    for variant, part in parts.items():
        templates[variant] = layout.sources(env, names[variant])
        source = layout.render(env, names[variant], {**context, **part, "variant": variant})
        _refuse_changed_fields(markers, source, names[variant])
        html[variant] = PersonalTemplate(
            to_html(source, names[variant]), markers, html=True, greetings=greetings
        )
    templates["text"] = layout.sources(env, names["text"])
    text = layout.render(env, names["text"], {**context, "content": text_body, "variant": "text"})
    _refuse_changed_fields(markers, text, names["text"])
    text_template = PersonalTemplate(text, markers, html=False, greetings=greetings)
    return Built(campaign, body, text_body, html, text_template, templates, easy_read)


def _parts(
    workspace: Workspace, campaign: Campaign, body: Body
) -> tuple[easyread.Document | None, dict[str, dict[str, Any]], str]:
    """What each variant's layout is given besides the shared context, and the text twin's
    body: an Easy Read version's rows, or every other campaign's content in each variant."""
    if campaign.form == EASY_READ:
        document = easyread.parse(campaign, body, workspace.relative(campaign.path))
        return document, {EASY_READ: {"rows": easyread.rows(document)}}, easyread.text(document)
    parts = {
        variant: {"content": Markup(tables.for_email(body.html, stacked=variant == "large-print"))}
        for variant in VARIANTS
    }
    return None, parts, render_text(body.tokens)


def _both(
    workspace: Workspace, first: tuple[Campaign, Body], second: Campaign
) -> tuple[dict[str, dict[str, Any]], str]:
    """The content of one email in two languages, for each variant, and its text twin: the
    first language's part, a rule, then the second's, each in an element with its `lang`, so
    a screen reader reads each part in its own voice."""
    home = workspace.config.organisation.lang
    other = parse_body(second.body)
    pieces = [(first[0].lang or home, first[1]), (second.lang or home, other)]
    parts = {}
    for variant in VARIANTS:
        stacked = variant == "large-print"
        html = '<hr class="between-languages">'.join(
            f'<div lang="{escape(lang)}">{tables.for_email(body.html, stacked=stacked)}</div>'
            for lang, body in pieces
        )
        parts[variant] = {"content": Markup(html)}
    rule = "\n\n" + "-" * 40 + "\n\n"
    text = rule.join(render_text(body.tokens).strip("\n") for _, body in pieces) + "\n"
    return parts, text


def _refuse_personal_misuse(
    workspace: Workspace, env: jinja2.Environment, names: dict[str, str]
) -> None:
    """Stop when a layout filters or tests a personal field (see render/personal_use.py)."""
    found = personal_use.misuses(env, list(names.values()))
    if found:
        first = found[0]
        where = f"{workspace.relative(first.path)}:{first.line}"
        raise TemplateError(f"{where}: {first.message} {first.fix}")


def _refuse_changed_fields(markers: Markers, rendered: str, template: str) -> None:
    """The last guard: a stand-in code that the layout changed in a way lint cannot see."""
    if markers.changed(rendered):
        raise TemplateError(
            f"templates/{template} changes a personal field (recipient...) on the way, so "
            "engage could not put each person's details in. Print each recipient field as it "
            "is, with no filter: see docs/templates.md."
        )


def to_html(source: str, template: str) -> str:
    """MJML → HTML, with the preheader hidden and `mj-style inline` rules written into the
    elements."""
    try:
        stripped, css = inline_css.extract(source)
    except inline_css.CSSError as exc:
        raise TemplateError(f"templates/{template}: mj-style inline: {exc}") from None
    try:
        converted = mjml.mjml2html(stripped)
    except (ValueError, RuntimeError) as exc:
        raise TemplateError(f"templates/{template} did not give valid MJML: {exc}") from None
    return inline_css.inline(preheader.hide(converted), css)


def _context(workspace: Workspace, campaign: Campaign, markers: Markers) -> dict[str, Any]:
    org = workspace.config.organisation
    return {
        "campaign": {
            "slug": campaign.slug,
            "subject": campaign.meta.subject,
            "preheader": campaign.meta.preheader,
            "kind": campaign.meta.kind,
            "send_at": campaign.meta.send_at,
        },
        "organisation": org,
        "lang": campaign.lang or org.lang,
        "recipient": markers.context(),
    }


def sample_recipient(workspace: Workspace, campaign: Campaign) -> Recipient:
    """The made-up person a build or preview is rendered for."""
    base = workspace.config.web.base_url.rstrip("/")
    return Recipient(
        email="sam@example.org",
        name="Sam Example",
        first_name="Sam",
        unsubscribe_url=f"{base}/unsubscribe/sample-token",
        preferences_url=f"{base}/preferences/sample-token",
        web_version_url=f"{base}/archive/{campaign.slug}",
        reply_to=f"reply+sample-token@{workspace.config.email.reply_domain or 'example.org'}",
    )


def write(built: Built, recipient: Recipient, out: Path) -> list[Path]:
    """Write index.html, large-print.html and index.txt for `recipient` into `out` (for an
    Easy Read version, index.html is the Easy Read email and there is no large print).

    Each file is written whole to a temporary name first, so a failure leaves no half file.
    """
    main = built.personalise(recipient)
    files = {"index.html": main.html}
    if "large-print" in built.html:
        files["large-print.html"] = built.personalise(recipient, "large-print").html
    files["index.txt"] = main.text
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            path = out / name
            temporary = path.with_name(f".{name}.tmp")
            temporary.write_text(content, encoding="utf-8")
            temporary.replace(path)
            written.append(path)
    except OSError as exc:
        raise EngageError(
            f"Cannot write the build to {out}: {exc.strerror}. Choose another folder with --out."
        ) from None
    return written
