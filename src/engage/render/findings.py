"""Lint findings, and the catalogue of rules they come from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import sentence

Severity = Literal["error", "warning", "info"]

# rule id → (severity, what it checks). docs/lint-rules.md is generated from this table.
RULES: dict[str, tuple[Severity, str]] = {
    "subject-missing": ("error", "The front matter has a subject."),
    "subject-line-break": (
        "error",
        "The subject is one line: a line break in an email header could add headers of its own, "
        "so `engage send` refuses it.",
    ),
    "subject-long": ("warning", "The subject is 78 characters or fewer."),
    "preheader-missing": ("warning", "There is a preheader (the preview line after the subject)."),
    "preheader-repeats": (
        "warning",
        "The preheader is not the subject again, or 'View in browser'.",
    ),
    "audience-missing": ("error", "The front matter names the audience the campaign goes to."),
    "audience-unknown": (
        "error",
        "The audience exists (the error names the audiences there are, and the closest).",
    ),
    "audience-invalid": ("error", "The audience file can be read and is valid."),
    "audience-empty": (
        "warning",
        "Somebody is in the audience now. A real send to an empty audience is refused.",
    ),
    "audience-no-signups": (
        "warning",
        "A newsletter's audience can include people who sign up on the web form.",
    ),
    "audience-signups-untagged": (
        "warning",
        "Nobody who confirmed on the sign-up form before sign-ups got tags is left out of a "
        "newsletter's audience (`engage contacts tag-signups` fixes it).",
    ),
    "image-data": (
        "error",
        "No picture is written into the email as data (a data: address): many mail programs, "
        "like Gmail and Outlook, never show them. Use the picture's https web address.",
    ),
    "image-path": (
        "error",
        "Every picture is a full web address, not a file path: an email has no folder to load "
        "a picture from.",
    ),
    "image-local": (
        "error",
        "No picture is on this computer or a private network (localhost, 127.0.0.1, "
        "192.168.x.x, a .local or .internal name), where nobody who gets the email can see it.",
    ),
    "image-not-https": (
        "error",
        "Every picture's address is https: the web version (on https) blocks http pictures, and "
        "anyone on the reader's network can see an http picture being fetched.",
    ),
    "base-url": (
        "error",
        "For a real send (any provider but the outbox), [web] base_url is an https address "
        "that everyone can reach: not localhost, 127.x, ::1, a private network (10.x, 172.16-31.x, "
        "192.168.x, 169.254.x, fc00::/7, fe80::/10) or a .local or .internal name. Otherwise the "
        "unsubscribe links are dead, and one-click unsubscribe needs https (RFC 8058).",
    ),
    "base-url-local-allowed": (
        "warning",
        "[web] allow_local_links = true lets a real send go with base_url on this computer or a "
        "private network, for trying engage on one computer. Nobody else can use the links.",
    ),
    "image-alt-missing": ("error", "Every image in the Markdown and the templates has alt text."),
    "image-alt-filename": ("warning", "Alt text is words, not a file name."),
    "image-alt-redundant": ("warning", "Alt text does not start with 'image of' or 'picture of'."),
    "image-alt-long": ("warning", "Alt text is 150 characters or fewer."),
    "link-text-vague": ("error", "Link text says where the link goes (not 'click here')."),
    "link-text-ambiguous": ("error", "One link text never points at two different addresses."),
    "heading-h1": ("error", "There is exactly one level 1 heading, before any other heading."),
    "heading-order": ("error", "Heading levels are not skipped (no level 2 straight to 4)."),
    "heading-empty": ("error", "No heading is empty."),
    "raw-html": ("warning", "Raw HTML in the Markdown is cleaned; what was removed is reported."),
    "capitals": ("warning", "No run of three or more words in capitals."),
    "reading-level": ("warning", "Each block reads at the campaign's reading_level or easier."),
    "reading-time": ("info", "How long the email takes to read."),
    "personal-field": (
        "error",
        "A layout prints each personal field (recipient.first_name and the rest) as it is: "
        "no filter, test or slice, which would print a code or treat everyone the same.",
    ),
    "html-lang": ("error", "The email says its language (lang), and it is a real language tag."),
    "html-title": ("error", "The email's <title> is the subject."),
    "html-charset": ("error", "The email declares its character set."),
    "contrast": ("error", "Text contrast is at least 4.5:1 (3:1 for large text)."),
    "font-size": (
        "error",
        "Body text is at least 16px (24px in large print; 22px, 16 point in print, in Easy Read).",
    ),
    "line-height": ("error", "Line height is at least 1.5."),
    "text-justified": ("warning", "Body text is not justified."),
    "text-uppercase": ("warning", "Body text is not turned into capitals by CSS."),
    "layout-table-role": ("error", 'Every layout table has role="presentation".'),
    "footer-unsubscribe": ("error", "The email has an unsubscribe link."),
    "footer-preferences": ("error", "The email has a link to change email preferences."),
    "footer-identity": ("error", "The email names the organisation and its postal address."),
    "html-size": ("error", "The email is under 100 KB, so Gmail does not cut it off."),
    "text-links": ("error", "Every link in the HTML is written out in the plain text."),
    "easy-read-picture": (
        "error",
        "Easy Read: every row starts with a picture (with alt text) that shows what its words "
        "say. Many readers follow the pictures first.",
    ),
    "easy-read-sentence-long": (
        "warning",
        "Easy Read: each sentence has 15 words or fewer, so it can be read and held in mind at "
        "once.",
    ),
    "easy-read-row-long": (
        "warning",
        "Easy Read: a row has 1 or 2 sentences: one idea, beside its own picture.",
    ),
    "easy-read-numbers": (
        "warning",
        "Easy Read: numbers are digits (3, not three; 25, not twenty-five), which are quicker "
        "to read.",
    ),
    "easy-read-abbreviation": (
        "warning",
        "Easy Read: no short forms (e.g., etc., info, mins), and initials in capitals are "
        'explained where first used: "Get Yourself Active (GYA)". Many readers do not know '
        "them.",
    ),
    "easy-read-italics": (
        "warning",
        "Easy Read: no italics. Slanted letters are harder to read; bold marks a word that "
        "matters.",
    ),
    "easy-read-capitals": (
        "warning",
        "Easy Read: no words in block capitals. The shape of a word in small letters helps "
        "people read it.",
    ),
    "version-unreadable": (
        "error",
        "Each version beside the campaign (a translation like news.cy.md, an Easy Read "
        "version like news.easy-read.md) can be read, as the campaign can.",
    ),
    "version-own-key": (
        "warning",
        "A version sets only its subject, preheader and [social.*] posts. The rest (audience, "
        "send_at, kind, template, stories) is the campaign's own, so every version goes out "
        "together.",
    ),
    "version-older": (
        "warning",
        "A translation or Easy Read version was saved after the campaign last changed: else it "
        "may not say what the campaign says now.",
    ),
    "translation-missing": (
        "warning",
        "Everyone in the audience who asked for a language has the campaign in it; the warning "
        "says how many people will get it in the campaign's own language instead.",
    ),
    "easy-read-missing": (
        "warning",
        "Everyone in the audience who asked for Easy Read has an Easy Read version; the warning "
        "says how many people will get large print instead.",
    ),
    "social-easy-read": (
        "error",
        "An Easy Read version has no [social.NAME] posts of its own: posts go one for each "
        "language, so it would post a second one in the same language.",
    ),
    "social-channel-unknown": (
        "error",
        "Every [social.NAME] table names a channel in engage.toml (or the network of one).",
    ),
    "social-before-send": (
        "error",
        "A social post that links to the newsletter's web page is not due before send_at.",
    ),
    "story-unknown": ("error", "Every story in `stories = [...]` exists."),
    "story-not-approved": (
        "error",
        "Every story the campaign uses is approved by its contributor (or published).",
    ),
    "story-channel-refused": (
        "error",
        "A story is only used on channels its contributor agreed to (newsletter, each social "
        "channel).",
    ),
    "story-name-refused": (
        "error",
        "A contributor's full name is not in the email when they said no to using their name.",
    ),
}


@dataclass(frozen=True)
class Finding:
    rule: str
    where: str  # "campaigns/news.md:12", or a file alone when no line is known
    message: str
    fix: str = ""

    @property
    def severity(self) -> Severity:
        return RULES[self.rule][0]

    def text(self) -> str:
        """The finding as `engage lint` prints it: where, severity, rule, message, and the fix
        on a line of its own."""
        line = f"{self.where}: {self.severity} [{self.rule}] {self.message}"
        return f"{line}\n    Fix: {self.fix}" if self.fix else line

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "where": self.where,
            "message": self.message,
            "fix": self.fix,
        }


def sort_key(finding: Finding) -> tuple[bool, str, int, str]:
    """Through each file from top to bottom; information last."""
    path, _, line = finding.where.partition(":")
    return (finding.severity == "info", path, int(line) if line.isdigit() else 0, finding.rule)


def refusal(slug: str, errors: list[Finding]) -> str:
    """Why a send was refused, on one line: the first error itself (where, what, the fix), not
    only a count, so the team can mend it from the message in front of them."""
    first, n = errors[0], len(errors)
    fix = f" Fix: {first.fix}" if first.fix else ""
    more = f" That is the first of {n}: `engage lint {slug}` shows them all." if n > 1 else ""
    return (
        f"{slug} has {n} lint error{'s' if n != 1 else ''}, so nothing was sent. "
        f"{first.where}: {sentence(first.message)}{fix}{more}"
    )
