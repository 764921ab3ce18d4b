"""The one HTTP base that the email providers (email/http.py) and the social networks
(Mastodon, Bluesky) share: a requests session with engage's User-Agent, time-outs (a short
connect, then the read time-out from config), and what an answer's status means in the one
error family of errors.py. Each caller words its own messages, because they name its
settings; X posts through tweepy, which keeps its own session.
"""

from __future__ import annotations

import email.utils
import time

import requests
import urllib3

from . import __version__
from .errors import AuthFailed, ProviderError, TryLater

USER_AGENT = f"engage/{__version__}"
CONNECT_MAX = 5.0  # seconds: a server that does not take the connection in this time is away


def timeouts(read: float) -> tuple[float, float]:
    """(connect, read) for requests, from the read time-out config gives."""
    return (min(CONNECT_MAX, read), read)


class Client:
    """One session for one provider or channel, with its time-outs; close it when done."""

    def __init__(self, read_timeout: float) -> None:
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.timeout = timeouts(read_timeout)

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:
        """The answer, whatever its status; requests' own errors when none came."""
        return self.session.request(method, url, timeout=self.timeout, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        self.session.close()


def refusal(
    response: requests.Response,
    *,
    auth: str,
    busy: str,
    auth_statuses: tuple[int, ...] = (401, 403),
    server_error: str = "",
    wait: bool = True,
) -> ProviderError | None:
    """What the answer's status says, or None when it is none of these: a refused key
    (`auth_statuses`: AuthFailed with `auth`), too many requests (429: TryLater with `busy`),
    a server error (5xx: ProviderError with `server_error` when one is given, else TryLater
    with `busy`). `wait`: pass on the wait the answer asks for (Retry-After)."""
    status = response.status_code
    if status in auth_statuses:
        return AuthFailed(auth)
    later = retry_after(response) if wait else None
    if status == 429:
        return TryLater(busy, later)
    if status >= 500:
        return ProviderError(server_error) if server_error else TryLater(busy, later)
    return None


def never_connected(exc: requests.ConnectionError) -> bool:
    """Whether the error proves the request never reached the server: the connection was
    refused, the name did not resolve, or TLS failed before anything was sent. Anything else
    (a reset or close after the request went out) leaves it unknown."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(
        reason,
        urllib3.exceptions.NewConnectionError
        | urllib3.exceptions.NameResolutionError
        | urllib3.exceptions.ConnectTimeoutError,
    ) or isinstance(exc, requests.exceptions.SSLError)


def retry_after(response: requests.Response) -> float | None:
    """Seconds to wait, from Retry-After (seconds or a date) or X-RateLimit-Reset (epoch)."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time()) if when else None
    reset = response.headers.get("X-RateLimit-Reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return None
