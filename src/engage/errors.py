"""The errors engage raises for things a person can fix, each with its exit code.

Library code raises only these. The CLI turns them into `Error: <message>` on stderr and
exits with `exit_code`; nobody sees a traceback for their own mistake.
"""

from __future__ import annotations


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


def sentence(text: str) -> str:
    """`text` as a sentence: ending in one full stop, or in the ? ! or … it already has.

    Use it wherever a message ends with words from elsewhere (an exception, a server's answer),
    so "was refused: Bad key." never becomes "Bad key.." on the screen."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!", "…")) else f"{text}."
