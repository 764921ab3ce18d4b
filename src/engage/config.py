"""engage.toml: finding the workspace, reading its settings, and secrets by variable name.

Secrets never live in engage.toml. The file names the environment variable that holds each
one (`api_key_env = "MAILGUN_API_KEY"`), and `secret()` reads it when it is needed.
"""

from __future__ import annotations

import dataclasses
import difflib
import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import langs
from .errors import ConfigError, EngageError, WorkspaceError
from .tomlcheck import SchemaError, build, explain, line_of

CONFIG_NAME = "engage.toml"
SECRET_HINT = (
    "Secrets are never read from engage.toml: put the value in an environment variable "
    "and name that variable with a key ending in _env"
)


@dataclass(frozen=True)
class Organisation:
    name: str
    address: str
    website: str = ""
    charity_number: str = ""
    lang: str = "en-GB"


@dataclass(frozen=True)
class Database:
    url: str = "sqlite:///engage.db"


@dataclass(frozen=True)
class Mailgun:
    __unknown_key_hint__ = SECRET_HINT
    domain: str = ""
    base_url: str = "https://api.mailgun.net"
    api_key_env: str = "MAILGUN_API_KEY"
    webhook_signing_key_env: str = "MAILGUN_WEBHOOK_SIGNING_KEY"


@dataclass(frozen=True)
class Postmark:
    __unknown_key_hint__ = SECRET_HINT
    server_token_env: str = "POSTMARK_SERVER_TOKEN"
    message_stream: str = "broadcast"
    base_url: str = "https://api.postmarkapp.com"
    webhook_user: str = "postmark"  # the HTTP Basic user in the webhook URL you give Postmark
    webhook_password_env: str = "POSTMARK_WEBHOOK_PASSWORD"


@dataclass(frozen=True)
class SendGrid:
    __unknown_key_hint__ = SECRET_HINT
    api_key_env: str = "SENDGRID_API_KEY"
    base_url: str = "https://api.sendgrid.com"
    webhook_public_key_env: str = "SENDGRID_WEBHOOK_PUBLIC_KEY"  # base64 DER, from SendGrid
    inbound_user: str = "sendgrid"  # Inbound Parse has no signature: HTTP Basic in its URL
    inbound_password_env: str = "SENDGRID_INBOUND_PASSWORD"


@dataclass(frozen=True)
class Smtp:
    __unknown_key_hint__ = SECRET_HINT
    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_env: str = "SMTP_PASSWORD"
    connections: int = 1  # at once, for a send: more is faster, if your relay allows it


@dataclass(frozen=True)
class Email:
    provider: Literal["outbox", "smtp", "mailgun", "postmark", "sendgrid"] = "outbox"
    from_: str = field(default="", metadata={"toml": "from"})
    reply_domain: str = ""
    rate_per_second: float | None = None
    timeout: float = 30.0  # seconds to wait for a provider's answer
    reconcile_settle_seconds: float | None = None  # None: each provider's own figure
    mailgun: Mailgun = field(default_factory=Mailgun)
    postmark: Postmark = field(default_factory=Postmark)
    sendgrid: SendGrid = field(default_factory=SendGrid)
    smtp: Smtp = field(default_factory=Smtp)


@dataclass(frozen=True)
class Web:
    __unknown_key_hint__ = SECRET_HINT
    base_url: str = "http://127.0.0.1:8025"
    # Only for trying engage on one computer: lets a real send (not the outbox) go with
    # base_url on this computer or a private network, where nobody else can reach the links.
    # Lint still warns.
    allow_local_links: bool = False
    secret_key_env: str = "ENGAGE_SECRET_KEY"
    # Variables holding keys used before: links signed with them still work (key rotation).
    old_secret_keys_env: list[str] = field(default_factory=list)
    # Tags every confirmed sign-up gets. Not set: the tags the newsletter audience needs (see
    # contacts/audiences.py, signup_tags).
    signup_tags: list[str] | None = None
    signups_per_hour_per_ip: int = 20  # more from one place is refused for an hour
    confirmations_per_day_per_address: int = 3  # more are quietly not sent
    consent_wording: str = (
        "Yes, please send me news by email. I know I can stop at any time, with one click."
    )


@dataclass(frozen=True)
class SocialChannel:
    """One social account: [social.NAME] in engage.toml. Secrets are named, never written."""

    __unknown_key_hint__ = SECRET_HINT
    network: Literal["outbox", "x", "mastodon", "bluesky"] = "outbox"
    base_url: str = ""  # Mastodon: the instance; Bluesky: the PDS (https://bsky.social)
    handle: str = ""  # Bluesky: the account's handle
    access_token_env: str = ""  # Mastodon and X: the access token
    app_password_env: str = ""  # Bluesky: an app password, never the main one
    consumer_key_env: str = ""  # X: the app's API key
    consumer_secret_env: str = ""  # X: the app's API key secret
    access_token_secret_env: str = ""  # X: the access token secret
    language: str = "en"
    timeout: float = 30.0  # seconds to wait for the network's answer


@dataclass(frozen=True)
class Imap:
    """[replies.imap]: a shared mailbox that replies are fetched from."""

    host: str
    user: str
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    password_env: str = "IMAP_PASSWORD"
    folder: str = "INBOX"
    timeout: float = 60.0  # seconds to wait for the server


@dataclass(frozen=True)
class Replies:
    imap: Imap | None = None
    # Where the files that come with replies are kept (inside the workspace unless absolute),
    # and the biggest file kept: a bigger one is set aside with a note; the words are kept.
    attachments_dir: str = "attachments"
    attachment_max_mb: float = 25.0


@dataclass(frozen=True)
class Followups:
    """[followups]: nobody with an open story waits longer than this for news."""

    days: int = 14
    auto: bool = False  # let `engage run` send the update emails that are owed


@dataclass(frozen=True)
class Team:
    """[team]: how the media team signs in to the console (`engage serve`, /console)."""

    # "link": a single-use link by email, through the email provider; "password": a password
    # each member sets with `engage team password EMAIL` (kept as an argon2 hash).
    sign_in: Literal["link", "password"] = "link"
    session_hours: int = 12  # a console session ends this long after sign-in
    sign_ins_per_hour: int = 10  # tries from one network address, and for one email address


@dataclass(frozen=True)
class Languages:
    """[languages]: the languages people may choose, and one email in two of them."""

    # BCP 47 tags people may choose on the sign-up and preferences pages, like ["en-GB", "cy"].
    # [organisation] lang is always one, and the first.
    offered: list[str] = field(default_factory=list)
    # Two of those, in the order the email shows them: someone who asked for both gets one
    # email with both, like ["cy", "en-GB"]. Empty: nobody can ask for both.
    bilingual: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Config:
    organisation: Organisation
    database: Database = field(default_factory=Database)
    email: Email = field(default_factory=Email)
    web: Web = field(default_factory=Web)
    social: dict[str, SocialChannel] = field(default_factory=dict)
    replies: Replies = field(default_factory=Replies)
    followups: Followups = field(default_factory=Followups)
    team: Team = field(default_factory=Team)
    languages: Languages = field(default_factory=Languages)
    # [topics]: tags people may choose on the sign-up and preferences pages, each with the words
    # shown next to its tick box. Tags in lower case, in the order written.
    topics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Workspace:
    """A folder with engage.toml, campaigns/, templates/ and audiences/."""

    root: Path
    config: Config

    @property
    def campaigns_dir(self) -> Path:
        return self.root / "campaigns"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def audiences_dir(self) -> Path:
        return self.root / "audiences"

    def named_file(self, folder: str, name: str, suffix: str) -> Path | None:
        """folder/NAME.suffix, if it exists."""
        path = self.root / folder / f"{name}{suffix}"
        return path if path.is_file() else None

    def not_found(self, folder: str, name: str, suffix: str, what: str) -> str:
        """Where we looked for a named file, the closest name there is, and all of them."""
        found = sorted((self.root / folder).glob(f"*{suffix}"))
        # a campaign's versions (news.cy.md beside news.md) are not named on their own
        bases = [p.with_name(p.stem.split(".")[0] + suffix) for p in found]
        known = [
            p.stem for p, base in zip(found, bases, strict=True) if base == p or base not in found
        ]
        close = difflib.get_close_matches(name, known, n=1)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"No {what} '{name}': looked for {folder}/{name}{suffix} in {self.root}.{guess} "
            f"{what.capitalize()}s here: {', '.join(known) or 'none'}."
        )

    def relative(self, path: Path) -> str:
        """A path as a person would type it from the workspace root (through a linked folder,
        like the example workspace's templates/, as it is named there)."""
        for candidate in (Path(os.path.abspath(path)), path.resolve()):
            try:
                return str(candidate.relative_to(self.root))
            except ValueError:
                continue
        return str(path)


def user() -> str:
    """Who is running engage at a terminal or from cron: ENGAGE_USER, else the login name."""
    try:
        return os.environ.get("ENGAGE_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def find_workspace(
    given: str | os.PathLike[str] | None = None, start: Path | None = None
) -> Workspace:
    """The workspace named by `given` or ENGAGE_WORKSPACE, else the nearest engage.toml above."""
    given = given or os.environ.get("ENGAGE_WORKSPACE") or None
    if given:
        path = Path(given).expanduser().resolve()
        config_path = path if path.name == CONFIG_NAME else path / CONFIG_NAME
        if not config_path.is_file():
            raise WorkspaceError(
                f"No {CONFIG_NAME} in {config_path.parent}. Give the folder that holds "
                f"{CONFIG_NAME} with --workspace or ENGAGE_WORKSPACE."
            )
        return load_workspace(config_path)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return load_workspace(folder / CONFIG_NAME)
    raise WorkspaceError(
        f"No {CONFIG_NAME} found in {here} or any folder above it. Run engage inside your "
        "workspace, or name it with --workspace DIR or ENGAGE_WORKSPACE."
    )


def load_workspace(config_path: Path) -> Workspace:
    return Workspace(root=config_path.parent.resolve(), config=load_config(config_path))


def load_config(path: Path) -> Config:
    text = read_text(path, str(path), ConfigError)
    data = read_toml(path, text, first_line=1, what=CONFIG_NAME)
    try:
        config = build(Config, data)
        _check_replies(config.replies)
        _check_timeouts(config)
        _check_smtp(config.email.smtp)
        _check_team(config.team)
        return dataclasses.replace(
            config, topics=_topics(config.topics), languages=_languages(config)
        )
    except SchemaError as exc:
        raise schema_error(exc, path.name, text, 1, ConfigError) from None


def schema_error(
    exc: SchemaError,
    shown: str,
    text: str,
    first_line: int,
    error: type[EngageError],
    what: str = "",
) -> EngageError:
    """A setting that is wrong, as `error`, named by file, line (where it is written) and key."""
    line = line_of(text, exc.key)
    where = f"{shown}:{line + first_line - 1}" if line else shown
    return error(f"{where}: {what}{exc}")


def _topics(topics: dict[str, str]) -> dict[str, str]:
    """[topics] with each tag in lower case (as tags are stored); each needs its words."""
    found: dict[str, str] = {}
    for tag, words in topics.items():
        name = tag.strip().lower()
        if not name:
            raise SchemaError('[topics] has an empty name: write a tag, like walking = "..."')
        if not words.strip():
            raise SchemaError(
                f"topics.{tag} has no words: write what people see next to its tick box, "
                f'like {name} = "Walking groups near you"'
            )
        if name in found:
            raise SchemaError(f"topics.{tag} is there twice (tags do not care about capitals)")
        found[name] = " ".join(words.split())
    return found


def _languages(config: Config) -> Languages:
    """[languages] with every tag tidied (cy, en-GB), [organisation] lang first in `offered`,
    and `bilingual` two different languages of those offered."""

    def tidy(tag: str, key: str) -> str:
        try:
            return langs.tidy(tag)
        except langs.BadLanguage as exc:
            raise SchemaError(f"{key}: {exc}", key) from None

    home = tidy(config.organisation.lang, "organisation.lang")
    offered = [home]
    for tag in config.languages.offered:
        tidied = tidy(tag, "languages.offered")
        if not any(langs.same(tidied, known) for known in offered):
            offered.append(tidied)
    both = [tidy(tag, "languages.bilingual") for tag in config.languages.bilingual]
    if both:
        if len(both) != 2 or langs.same(both[0], both[1]):
            raise SchemaError(
                "languages.bilingual names two different languages, in the order the email "
                'shows them, like bilingual = ["cy", "en-GB"]',
                "languages.bilingual",
            )
        missing = [tag for tag in both if langs.best(tag, offered) is None]
        if missing:
            raise SchemaError(
                f"languages.bilingual has {missing[0]}, which is not in languages.offered: add "
                "it there too",
                "languages.bilingual",
            )
        both = [langs.best(tag, offered) or tag for tag in both]
    return Languages(offered=offered, bilingual=both)


def _check_replies(replies: Replies) -> None:
    if not replies.attachments_dir.strip():
        raise SchemaError(
            'replies.attachments_dir is empty: name a folder, like attachments_dir = "attachments"'
        )
    if not 0 < replies.attachment_max_mb <= 1024:
        raise SchemaError(
            f"replies.attachment_max_mb is {replies.attachment_max_mb:g}: give the size in MB of "
            "the biggest file to keep, more than 0 and at most 1024, like attachment_max_mb = 25"
        )


MAX_CONNECTIONS = 10  # to one SMTP relay at once: more and most relays refuse or slow them


def _check_smtp(smtp: Smtp) -> None:
    if not 1 <= smtp.connections <= MAX_CONNECTIONS:
        raise SchemaError(
            f"email.smtp.connections is {smtp.connections}: give how many connections a send "
            f"may open to the server at once, from 1 to {MAX_CONNECTIONS}, like connections = 2 "
            "(1, the default, if your relay allows only one)",
            "email.smtp.connections",
        )


MAX_TIMEOUT = 600.0  # seconds: longer, and a stuck server holds a send or a page for too long


def _check_team(team: Team) -> None:
    """A session lasts 1 hour to 30 days; at least 1 sign-in try an hour is allowed."""
    if not 1 <= team.session_hours <= 720:
        raise SchemaError(
            f"team.session_hours is {team.session_hours}: give the hours a console session "
            "lasts, from 1 to 720 (30 days), like session_hours = 12",
            "team.session_hours",
        )
    if team.sign_ins_per_hour < 1:
        raise SchemaError(
            f"team.sign_ins_per_hour is {team.sign_ins_per_hour}: give how many sign-in tries "
            "an hour are allowed, 1 or more, like sign_ins_per_hour = 10",
            "team.sign_ins_per_hour",
        )


def _check_timeouts(config: Config) -> None:
    """Every time-out is a number of seconds above 0 (a 0 would fail every request) and at
    most MAX_TIMEOUT."""
    found = [("email.timeout", config.email.timeout)]
    if config.replies.imap is not None:
        found.append(("replies.imap.timeout", config.replies.imap.timeout))
    found += [(f"social.{name}.timeout", chan.timeout) for name, chan in config.social.items()]
    for key, seconds in found:
        if not 0 < seconds <= MAX_TIMEOUT:
            raise SchemaError(
                f"{key} is {seconds:g}: give the seconds to wait for an answer, more than 0 and "
                f"at most {MAX_TIMEOUT:g}, like timeout = 30",
                key,
            )


def read_text(path: Path, shown: str, error: type[EngageError]) -> str:
    """A UTF-8 file (with or without a BOM); a file that is not says where and how to fix it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"Cannot read {shown}: {exc.strerror}.") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"{shown}:{line}: this file is not UTF-8 text (byte {exc.start} cannot be read). "
            "Save it as UTF-8 and try again."
        ) from None


def read_toml(
    path: Path, text: str, first_line: int, what: str, error: type[EngageError] = ConfigError
) -> dict[str, Any]:
    """Parse TOML that starts at `first_line` of `path`; errors name the file and real line,
    and say in plain words what is wrong and how to fix it."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, said = explain(exc, text)
        raise error(f"{path}:{line + first_line - 1}: {what} cannot be read: {said}.") from None


def secret(env_name: str, setting: str) -> str:
    """The value of the environment variable `env_name`, which the setting `setting` names."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(
            f"Set the environment variable {env_name} (named by {setting} in {CONFIG_NAME})."
        )
    return value
