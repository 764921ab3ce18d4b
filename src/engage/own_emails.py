"""Every email engage writes itself, apart from campaigns, rendered in one place: the sign-up
confirmation (templates/email/confirm.*.j2), the story emails to a contributor and the
team notices about a story (templates/emails/), and the team's answer to a reply (its words
are the team's: plain text, with a simple HTML copy).

Each story email is two files in the workspace's `templates/emails/`, `NAME.txt.j2` and
`NAME.html.j2`, with its subject line in `templates/emails/subjects.toml`. Templates use
StrictUndefined, so a missing variable is an error that names it, never a blank in an email to
a person. docs/templates.md lists the variables each email uses. Five go to the team (the From
address) when a contributor approves, asks for changes, changes their choices, takes their
story back or replies asking us to stop writing: `team-approved`, `team-changes`,
`team-choices`, `team-withdrawn` and `team-stopped`. Making a rendered story email into a
message and sending it is stories/messages.py's.

The confirmation and the story emails to a contributor are in the person's language, from the
message catalogues (i18n.py): their words are marked `_("...")` in the templates, and each
subject line in subjects.toml is a message of its own. The emails to the team are in English,
like the team's console.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from . import i18n, langs
from .config import Workspace, read_toml
from .email.base import SystemMessage, system_message_id
from .errors import EngageError, sentence
from .i18n import N_
from .render import placeholders as undefined
from .subscriptions import CONFIRM_DAYS
from .tomlcheck import line_of

CONFIRM_SUBJECT = N_("Please confirm your email address")
TEMPLATES = ("acknowledgement", "draft", "update", "published", "declined", "went-out")
# To the team, about a story, not to its contributor.
TEAM_TEMPLATES = (
    "team-approved",
    "team-changes",
    "team-choices",
    "team-withdrawn",
    "team-stopped",
)
FOLDER = "emails"  # under the workspace's templates/
SUBJECTS = "subjects.toml"
# Given to every email when the caller leaves them out: both are optional.
OPTIONAL = {"first_name": "", "note": ""}
# Every other variable an email uses must be given and not empty, except these.
MAY_BE_EMPTY = frozenset({*OPTIONAL, "take_down", "comment", "reason"})
_SEE = "Check the spelling; docs/templates.md (Story emails) lists each email's placeholders."


class StoryMailError(EngageError):
    """A story email could not be made or was not sent; the message says which and why."""

    def __init__(self, message: str, *, try_later: bool = False, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.try_later = try_later  # the provider may take it on a later try
        self.maybe_sent = maybe_sent  # the answer was lost: it may have gone


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    lang: str = ""  # the language it is in, as its `lang` says (cy, en-GB)


@dataclass(frozen=True)
class OwnMessage(SystemMessage):
    """A SystemMessage in one person's language: it says so in Content-Language."""

    lang: str = ""

    def headers(self) -> dict[str, str]:
        found = super().headers()
        if self.lang:
            found["Content-Language"] = self.lang
        return found


@dataclass(frozen=True)
class StoryMessage(OwnMessage):
    """An email about a story, in its contributor's language; it may carry a Reply-To
    header."""

    reply_to: str = ""

    def headers(self) -> dict[str, str]:
        found = super().headers()
        if self.reply_to:
            found["Reply-To"] = self.reply_to
        return found


def speaking(workspace: Workspace, stored: str | None) -> str:
    """The language to write to someone in: the first they asked for (`stored`, as kept for
    them: one tag, or two for both) when engage has words for it, else the organisation's.
    As the workspace names it (en-GB)."""
    config = workspace.config
    home = langs.tidy(config.organisation.lang)
    available = i18n.languages(workspace.root, home, config.languages.offered)
    return i18n.choose(available, (stored or "").split()[:1])


def confirmation(
    workspace: Workspace, address: str, name: str, token: str, lang: str = ""
) -> OwnMessage:
    """The email with a sign-up's confirmation link, from templates/email/confirm.*.j2, in
    the language they chose on the form (`lang`, "" for the organisation's)."""
    base = workspace.config.web.base_url.rstrip("/")
    url = f"{base}/confirm/{token}"
    chosen = speaking(workspace, lang)
    words = i18n.translations(chosen, workspace.root)
    return _link_email(
        workspace,
        "confirm",
        words.gettext(CONFIRM_SUBJECT),
        address,
        name,
        lang=chosen,
        confirm_url=url,
    )


SIGN_IN_SUBJECT = "Your link to sign in"


def team_sign_in(workspace: Workspace, address: str, name: str, secret: str) -> SystemMessage:
    """The email with a team member's single-use link to the console, from
    templates/email/team-signin.*.j2."""
    base = workspace.config.web.base_url.rstrip("/")
    url = f"{base}/console/sign-in/{secret}"
    return _link_email(workspace, "team-signin", SIGN_IN_SUBJECT, address, name, sign_in_url=url)


def _link_email(
    workspace: Workspace,
    template: str,
    subject: str,
    address: str,
    name: str,
    lang: str = "",
    **link: str,
) -> OwnMessage:
    """An email with one link, from templates/email/TEMPLATE.txt.j2 and .html.j2: the
    workspace's, else engage's own (a workspace made before engage had that email). In
    language `lang` when given (and then it says so); else in English, the team's."""
    home = workspace.config.organisation.lang
    context = {
        "name": name.split(" ")[0] if name else "",
        "organisation": workspace.config.organisation,
        "subject": subject,
        "language": lang or home,
        "days": CONFIRM_DAYS,
        **link,
    }
    ours = Path(__file__).parent / "templates" / "email"
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(str(workspace.templates_dir / "email")),
                jinja2.FileSystemLoader(str(ours)),
            ]
        ),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
    )
    i18n.install(env, i18n.translations(lang, workspace.root) if lang else i18n.english())
    sender = workspace.config.email.from_
    kind = "signin" if template == "team-signin" else template
    return OwnMessage(
        to=address,
        subject=subject,
        text=env.get_template(f"{template}.txt.j2").render(context),
        html=env.get_template(f"{template}.html.j2").render(context),
        sender=sender,
        message_id=system_message_id(sender, kind),
        kind=kind,
        lang=lang,
    )


def render_story(
    workspace: Workspace, template: str, context: Mapping[str, Any], lang: str | None = None
) -> Rendered:
    """The subject, plain text and HTML of one story email, ready to send. An email to a
    contributor is in their language: `lang` (or the context's `lang`), as kept for them
    (one tag, or two for both; "" for the organisation's). An email to the team is in
    English, like its console."""
    folder = _folder(workspace, template)
    values = {"organisation": workspace.config.organisation, **OPTIONAL, **context}
    values.update({key: "" for key in OPTIONAL if values[key] is None})
    if template in TEAM_TEMPLATES:
        chosen, words = "", i18n.english()
    else:
        chosen = speaking(workspace, lang if lang is not None else values.get("lang"))
        words = i18n.translations(chosen, workspace.root)
    _check(workspace, template, placeholders(workspace, template) - {"subject", "language"}, values)
    values["language"] = chosen or workspace.config.organisation.lang  # for `lang` in the HTML
    if isinstance(values.get("status_words"), str):  # stories/telling.py's STATUS_WORDS
        values["status_words"] = words.gettext(values["status_words"])
    subject = _subject(workspace, folder, template, values, words)
    values["subject"] = subject
    text = _render(workspace, folder, f"{template}.txt.j2", values, words)
    html = _render(workspace, folder, f"{template}.html.j2", values, words)
    return Rendered(subject=subject, text=_tidy(text), html=html, lang=chosen)


def placeholders(workspace: Workspace, template: str) -> set[str]:
    """Every variable the email's two files (and the layouts they use) ask for."""
    folder = _folder(workspace, template)
    environment = _environment(folder, html=False)
    found: set[str] = set()
    waiting, seen = [f"{template}.txt.j2", f"{template}.html.j2"], set()
    while waiting:
        name = waiting.pop()
        if name in seen:
            continue
        seen.add(name)
        source = _source(workspace, folder / name)
        try:
            tree = environment.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(workspace, folder / name, exc) from None
        found |= jinja2.meta.find_undeclared_variables(tree)
        waiting += [n for n in jinja2.meta.find_referenced_templates(tree) if n]
    return found


def _folder(workspace: Workspace, template: str) -> Path:
    if template not in TEMPLATES + TEAM_TEMPLATES:
        raise StoryMailError(
            f"There is no story email called '{template}'. "
            f"The story emails are: {', '.join(TEMPLATES + TEAM_TEMPLATES)}."
        )
    return workspace.templates_dir / FOLDER


def _source(workspace: Workspace, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise StoryMailError(_missing(workspace, path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        shown = workspace.relative(path)
        raise StoryMailError(f"Cannot read {shown}: {sentence(str(exc))}") from None


def _missing(workspace: Workspace, path: Path) -> str:
    return (
        f"The story email file {workspace.relative(path)} is missing (looked in "
        f"{workspace.root}). Copy it from templates/emails/ in engage's example workspace, "
        "or write your own: docs/templates.md says what each story email needs."
    )


def _environment(
    folder: Path, *, html: bool, words: i18n.Translations | None = None
) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    i18n.install(environment, words or i18n.english())
    return environment


def _check(workspace: Workspace, template: str, wanted: set[str], values: dict[str, Any]) -> None:
    """Name a placeholder the email uses and was not given (where it is used, and the ones it
    was given), or every one that was given empty."""
    missing = sorted(wanted - set(values))
    if missing:
        environment = _environment(_folder(workspace, template), html=False)
        files = [f"{template}.txt.j2", f"{template}.html.j2"]
        found = undefined.first_use(environment, files, missing[0])
        where = f"{workspace.relative(found[0])}:{found[1]}" if found else f"The {template} email"
        raise StoryMailError(f"{where}: {undefined.unknown_name(missing[0], values)} {_SEE}")
    empty = sorted(k for k in wanted - MAY_BE_EMPTY if values[k] in (None, "", []))
    if empty:
        were = "it was" if len(empty) == 1 else "they were"
        raise StoryMailError(
            f"The {template} story email needs {_words(empty)}, and {were} empty. "
            "See docs/templates.md, Story emails."
        )


def _render(
    workspace: Workspace,
    folder: Path,
    name: str,
    values: dict[str, Any],
    words: i18n.Translations,
) -> str:
    environment = _environment(folder, html=name.endswith(".html.j2"), words=words)
    try:
        return environment.get_template(name).render(values)
    except jinja2.TemplateNotFound as exc:
        raise StoryMailError(_missing(workspace, folder / str(exc.name))) from None
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(workspace, folder / name, exc) from None
    except jinja2.UndefinedError as exc:
        found = undefined.frame(exc, folder) or (folder / name, 0)
        where = f"{workspace.relative(found[0])}:{found[1]}"
        said = undefined.missing(exc, values, _source(workspace, found[0]), found[1])
        raise StoryMailError(f"{where}: {said} {_SEE}") from None


def _syntax_error(
    workspace: Workspace, path: Path, exc: jinja2.TemplateSyntaxError
) -> StoryMailError:
    where = Path(exc.filename) if exc.filename else path
    said = undefined.syntax(exc.message or "")
    return StoryMailError(f"{workspace.relative(where)}:{exc.lineno}: {said}.")


def _subject(
    workspace: Workspace,
    folder: Path,
    template: str,
    values: dict[str, Any],
    words: i18n.Translations,
) -> str:
    """The email's subject line from subjects.toml, in the email's language: the line itself
    is the message the catalogues translate (i18n.extract_subjects finds them)."""
    path = folder / SUBJECTS
    shown, text = workspace.relative(path), _source(workspace, path)
    subjects = read_toml(Path(shown), text, 1, SUBJECTS, error=StoryMailError)
    line = subjects.get(template)
    if not isinstance(line, str) or not line.strip():
        raise StoryMailError(
            f"{shown} has no subject line for {template}. Add a line like "
            f'{template} = "News about your story".'
        )
    environment = _environment(folder, html=False, words=words)
    where = f"{shown}:{line_of(text, template) or 1}"
    try:
        subject = environment.from_string(words.gettext(line)).render(values)
    except jinja2.UndefinedError as exc:
        raise StoryMailError(f"{where}: {undefined.missing(exc, values, line, 1)} {_SEE}") from None
    except jinja2.TemplateError as exc:
        said = undefined.syntax(exc.message or str(exc))
        raise StoryMailError(f"{where}: in the {template} subject line, {said}.") from None
    return " ".join(subject.split())  # a subject is always one line


def _words(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _tidy(text: str) -> str:
    """No trailing spaces, never more than one blank line, one newline at the end."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def queued_story_email(address: str, made: dict[str, Any]) -> SystemMessage:
    """A story email as it was made when a web page queued it (outgoing.add_story_email)."""
    return StoryMessage(
        lang=made.get("lang", ""),
        to=address,
        subject=made["subject"],
        text=made["text"],
        html=made["html"],
        sender=made["sender"],
        message_id=made["message_id"],
        kind=made["kind"],
        reply_to=made["reply_to"],
    )


# --- the team's answer to a reply ------------------------------------------------------------


@dataclass(frozen=True)
class AnswerMessage(SystemMessage):
    """The team's answer to a person's reply: threaded to their mail with In-Reply-To and
    References, so their mail program shows it under what they wrote."""

    in_reply_to: str = ""
    references: str = ""

    def headers(self) -> dict[str, str]:
        found = super().headers()
        if self.in_reply_to:
            found["In-Reply-To"] = self.in_reply_to
        if self.references:
            found["References"] = self.references
        return found


def answer(
    workspace: Workspace, to: str, subject: str, text: str, in_reply_to: str, references: str
) -> AnswerMessage:
    """An answer from the organisation (the From of [email]) to `to`: the team's plain words,
    with a simple HTML twin of them."""
    sender = workspace.config.email.from_
    if not sender:
        raise EngageError(
            'Set from in [email] of engage.toml (like from = "Name <news@example.org>"): '
            "answers to replies are sent from it."
        )
    return AnswerMessage(
        to=to,
        subject=subject,
        text=text,
        html=answer_html(text),
        sender=sender,
        message_id=system_message_id(sender, "answer"),
        kind="answer",
        in_reply_to=in_reply_to,
        references=references,
    )


def answer_html(text: str) -> str:
    """The plain words as a simple HTML page: a paragraph for each block, line breaks kept."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(escape(line) for line in p.splitlines()) + "</p>" for p in paragraphs
    )
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"></head>\n'
        '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 18px; '
        f'line-height: 1.5; color: #1a1a1a;">\n{body}\n</body></html>\n'
    )


def queued_answer(made: dict[str, Any]) -> AnswerMessage:
    """An answer as it was made when it was queued (outgoing.add_answer)."""
    return AnswerMessage(
        to=made["to"],
        subject=made["subject"],
        text=made["text"],
        html=answer_html(made["text"]),
        sender=made["sender"],
        message_id=made["message_id"],
        kind="answer",
        in_reply_to=made["in_reply_to"],
        references=made["references"],
    )
