"""The errors engage raises for things a person can fix, each with its exit code: one
hierarchy, with EngageError at its root.

Library code raises only these. The CLI turns them into `Error: <message>` on stderr and
exits with `exit_code`; the web app into a page or a status; nobody sees a traceback for
their own mistake. The families shared across the code live here (configuration, campaigns,
lint, and ProviderError for every email provider and social network); a module's own kind of
mistake subclasses EngageError beside the code that raises it (ContactError, StoryError,
ImportFileError, ...). Those that began as ValueErrors (InvalidEmail, SchemaError, CSSError,
Unsendable, HeaderTooLong) are still ValueErrors too. Anything that is not an EngageError is a
bug in engage, and shows as one.
"""

from __future__ import annotations

from typing import Any


class EngageError(Exception):
    """Something the person running engage can fix. The message says what and how."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(EngageError):
    """engage.toml or the environment is wrong."""


class WorkspaceError(EngageError):
    """No workspace, or a file the workspace should have is missing."""


class CampaignError(EngageError):
    """A campaign file cannot be read or is not valid."""


class TemplateError(EngageError):
    """A layout template is missing or fails to render."""


class LintFailed(EngageError):
    """A campaign has lint errors, so it must not be sent."""


class ProviderError(EngageError):
    """An email provider or a social network said no, could not be reached, or answered in a
    way that leaves us not knowing; the message names it. `done` holds the outcomes of the
    messages it answered before it stopped, so they are recorded, not resent."""

    done: list[Any] = []  # read only here; an instance sets its own


class AuthFailed(ProviderError):
    """The key, token or password was refused: nothing more goes to this provider or channel
    until it is fixed (the other channels go on)."""


class TryLater(ProviderError):
    """Proof that this did not go, though it may later: a refused connection, a 429 or 5xx
    answer, an SMTP 4xx. Left for the next run, never retried in a loop. `retry_after` is
    the wait the provider asked for, if it gave one. `done` holds the outcomes of the messages
    answered before it happened (SMTP answers message by message); every other message of the
    batch was not sent and may be tried again."""

    def __init__(
        self, message: str, retry_after: float | None = None, done: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.done = list(done or [])


class LostAnswer(ProviderError):
    """Some messages went out and their answer never came (a read time-out, a connection
    dropped after the request or the DATA was sent): they may or may not have been accepted,
    so they are *unknown* and never sent again automatically. `done` holds the outcomes
    answered before; `unknown` the delivery ids in doubt; any other message of the batch was
    not sent."""

    def __init__(self, message: str, unknown: list[int], done: list[Any] | None = None) -> None:
        super().__init__(message)
        self.unknown = list(unknown)
        self.done = list(done or [])


class Rejected(ProviderError):
    """The network refused this one post; the reason is recorded and the rest go on."""


class CannotReconcile(ProviderError):
    """The provider keeps no records engage can ask about (SMTP, the outbox, an account
    without the API); the message says what to check by hand."""


class WebhookRefused(EngageError):
    """A request that did not prove it came from the provider. `status` is 401 or 403;
    the message is for the log, never shown to the caller."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def sentence(text: str) -> str:
    """`text` as a sentence: ending in one full stop, or in the ? ! or … it already has.

    Use it wherever a message ends with words from elsewhere (an exception, a server's answer),
    so "was refused: Bad key." never becomes "Bad key.." on the screen."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!", "…")) else f"{text}."
