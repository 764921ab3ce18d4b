"""`engage lint`: every rule, run over a campaign's source and its finished email.

Lint runs before every real send and blocks it on errors. It reads the source (front matter,
Markdown, templates), because MJML hides some mistakes (a missing alt becomes alt=""), and the
output of each variant, because that is what people receive.

The checks on what the campaign asks of the rest of engage (its audience, its [web] base_url,
and from the layers above: its social tables, its stories) are given to `lint` as a list, as
the report takes its extra sections, so rendering imports nothing above it. RENDER_CHECKS are
the ones rendering owns; workflow/lint.py adds the others for `engage lint` and every send.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..campaigns import Campaign
from ..config import Workspace
from ..errors import LintFailed
from ..store import open_store
from . import (
    layout,
    personal_use,
    rules_audience,
    rules_easyread,
    rules_html,
    rules_links,
    rules_source,
)
from .build import Built, build, sample_recipient, template_names
from .findings import Finding, refusal, sort_key
from .htmlscan import scan
from .personal import Recipient

# The smallest text each variant may have, in px. Easy Read asks for 16 point in print terms,
# 21.3px: 22px, so no size between passes.
MIN_FONT = {"standard": 16.0, "large-print": 24.0, "easy-read": 22.0}

# One check on a campaign before anything is built: (workspace, campaign, its path as shown)
# to findings.
Check = Callable[[Workspace, Campaign, str], Iterable[Finding]]


def front_matter(workspace: Workspace, campaign: Campaign, shown: str) -> Iterable[Finding]:  # noqa: ARG001
    return rules_source.front_matter(campaign, shown)


def base_url(workspace: Workspace, campaign: Campaign, shown: str) -> Iterable[Finding]:  # noqa: ARG001
    return rules_links.base_url(workspace)


def audience_findings(workspace: Workspace, campaign: Campaign, shown: str = "") -> list[Finding]:
    """The audience rules (rules_audience.check, which a real send runs too), on the store."""
    store = open_store(workspace)
    try:
        with store.connect() as connection:
            return rules_audience.check(workspace, campaign, connection, shown)
    finally:
        store.engine.dispose()


RENDER_CHECKS: tuple[Check, ...] = (front_matter, audience_findings, base_url)


def lint(
    workspace: Workspace, campaign: Campaign, checks: Sequence[Check] = RENDER_CHECKS
) -> list[Finding]:
    """Every finding on the campaign: the `checks` first, then the rules on what it builds."""
    shown = workspace.relative(campaign.path)
    findings: list[Finding] = []
    for check in checks:
        findings += check(workspace, campaign, shown)
    if any(f.rule == "subject-missing" for f in findings):
        return sorted(findings, key=sort_key)  # nothing can be built without a subject
    misused = _personal_fields(workspace, campaign)
    if misused:
        return sorted(findings + misused, key=sort_key)  # the build would stop at the first
    built = build(workspace, campaign)
    sample = sample_recipient(workspace, campaign)
    variants = {name: _variant(workspace, built, name, sample) for name in built.html}
    findings += _source(workspace, built, variants[built.main_variant], shown)
    for variant in variants.values():
        findings += _output(workspace, built, variant, sample)
    return sorted(unique(findings), key=sort_key)


def require_clean(
    workspace: Workspace, campaign: Campaign, checks: Sequence[Check] = RENDER_CHECKS
) -> list[Finding]:
    """Lint before a real send: raise when there is any error, return the rest."""
    findings = lint(workspace, campaign, checks)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise LintFailed(refusal(campaign.slug, errors))
    return findings


def _personal_fields(workspace: Workspace, campaign: Campaign) -> list[Finding]:
    env = layout.environment(workspace.templates_dir)
    names = list(template_names(campaign.meta.template, campaign.form).values())
    return [
        Finding("personal-field", f"{workspace.relative(m.path)}:{m.line}", m.message, m.fix)
        for m in personal_use.misuses(env, names)
    ]


def _source(
    workspace: Workspace, built: Built, main: rules_html.Variant, shown: str
) -> list[Finding]:
    campaign, tokens = built.campaign, built.body.tokens
    inline_links, images = rules_source.inline_items(campaign, tokens)
    templates = _all_templates(built)
    names = {path: workspace.relative(path) for path in templates}
    body_links = [
        rules_source.Located(link.text, link.href, f"{shown}:{link.line}") for link in inline_links
    ]
    return [
        *rules_source.images(images, shown),
        *rules_source.template_images(templates, names),
        *rules_source.links(body_links + _layout_links(main, body_links)),
        *_headings(built, main, shown),
        *rules_source.raw_html(campaign, tokens, shown),
        *_writing(built, shown, built.campaign.lang or workspace.config.organisation.lang),
    ]


def _writing(built: Built, shown: str, lang: str) -> list[Finding]:
    """The rules on the words: an Easy Read version's own (with the reading level always for
    beginners), or capitals and the reading level. The reading level is measured for English
    only (its formula counts English syllables); other languages get the reading time."""
    campaign, tokens = built.campaign, built.body.tokens
    english = lang.lower().startswith("en")
    if built.easy_read is not None:
        return rules_easyread.check(campaign, built.easy_read, tokens, shown, english)
    return [
        *rules_source.capitals(campaign, tokens, shown),
        *rules_source.reading(campaign, tokens, shown, english=english),
    ]


def _output(
    workspace: Workspace, built: Built, variant: rules_html.Variant, sample: Recipient
) -> list[Finding]:
    text = built.personalise(sample, variant.name).text
    text_template = workspace.relative(built.templates["text"][0])
    return [
        *rules_html.document(variant, built.campaign.meta.subject),
        *rules_html.typography(variant),
        *rules_html.tables(variant),
        *rules_html.footer(variant, sample, workspace.config.organisation),
        *rules_html.text_links(variant, text, text_template),
    ]


def _variant(
    workspace: Workspace, built: Built, name: str, sample: Recipient
) -> rules_html.Variant:
    html = built.personalise(sample, name).html
    paths = built.templates[name]
    return rules_html.Variant(
        name=name,
        html=html,
        scan=scan(html),
        min_font=MIN_FONT[name],
        templates=paths,
        shown={p: workspace.relative(p) for p in paths},
    )


def _all_templates(built: Built) -> list[Path]:
    seen: list[Path] = []
    for paths in built.templates.values():
        seen += [p for p in paths if p not in seen]
    return seen


def _layout_links(
    standard: rules_html.Variant, body: list[rules_source.Located]
) -> list[rules_source.Located]:
    """The links the layout adds (the footer and so on): those in the email but not the body."""
    remaining = Counter(link.href for link in body)
    found = []
    for link in standard.scan.links:
        if remaining[link.href] > 0:
            remaining[link.href] -= 1
            continue
        text = " ".join(link.text.split())
        found.append(rules_source.Located(text, link.href, standard.locate(text or link.href)))
    return found


def _headings(built: Built, standard: rules_html.Variant, shown: str) -> list[Finding]:
    """Heading order in the finished email, reported at the Markdown line where possible."""
    tokens = built.body.tokens
    lines: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            text = " ".join(tokens[index + 1].content.split())
            lines.setdefault(text, built.campaign.file_line(token.map[0]))
    headings = standard.scan.headings
    if not headings:
        return [
            Finding(
                "heading-h1",
                shown,
                "The email has no headings.",
                "Start the body with one # heading that says what the email is about.",
            )
        ]
    findings: list[Finding] = []
    previous, h1_count = 0, 0
    for level, text in headings:
        where = f"{shown}:{lines[text]}" if text in lines else standard.locate(f"<h{level}")
        if not text:
            findings.append(
                Finding(
                    "heading-empty",
                    where,
                    "A heading has no words.",
                    "Give the heading words, or remove it.",
                )
            )
        if level == 1:
            h1_count += 1
            if h1_count > 1:
                findings.append(
                    Finding(
                        "heading-h1",
                        where,
                        f'"{text}" is a second level 1 heading.',
                        "Use one # heading for the title and ## for sections.",
                    )
                )
        elif previous == 0:
            findings.append(
                Finding(
                    "heading-h1",
                    where,
                    f'The first heading "{text}" is level {level}, not level 1.',
                    "Start with one # heading that says what the email is about.",
                )
            )
        elif level > previous + 1:
            findings.append(
                Finding(
                    "heading-order",
                    where,
                    f'The heading "{text}" jumps from level {previous} to level {level}.',
                    f"Make it level {previous + 1} ({'#' * (previous + 1)}).",
                )
            )
        previous = level
    return findings


def unique(findings: list[Finding]) -> list[Finding]:
    """Each finding once: a layout two versions share is reported once."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for finding in findings:
        key = (finding.rule, finding.where, finding.message)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept
