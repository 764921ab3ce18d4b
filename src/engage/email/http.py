"""What the HTTP providers share: one requests session, time-outs, and what status codes mean.

401 and 403 stop the send (`AuthFailed`, naming the environment variable); 429, 5xx and a
connection that was never made are `TryLater` (with Retry-After when the provider gives one):
each proves nothing was sent. A read time-out, or a connection dropped after the request went
out, is `LostAnswer`: the provider may have taken the batch, so its people are *unknown*.
Another 4xx for a batch is split in halves until the one bad address is found, so everyone
else still gets it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import cast

import requests
from markupsafe import escape

from ..config import secret
from ..errors import LostAnswer, ProviderError, TryLater
from ..http import Client, never_connected, refusal
from ..render.personal import FIELDS, Recipient
from .base import Batch, Item, Outcome, Provider

READ_TRIES = 3  # tries of one read of a provider's records that is asked to wait
READ_WAIT_MAX = 60.0  # seconds: a longer wait is passed on to the caller as TryLater


class BatchRefused(Exception):
    """The provider refused the whole batch (a 4xx other than auth); the reason is given."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpProvider(Provider):
    key_setting = ""  # e.g. "email.mailgun.api_key_env"

    def key_env(self) -> str:
        raise NotImplementedError

    def key(self) -> str:
        return secret(self.key_env(), self.key_setting)

    def check(self) -> None:
        self.key()

    def open(self) -> None:
        self.client = Client(self.config.timeout)

    def close(self) -> None:
        self.client.close()

    def post(self, url: str, **kwargs: object) -> requests.Response:
        """POST to the provider; what a failure proves is in the module's docstring. A
        LostAnswer raised here names no messages: send_batch adds the ones the request held."""
        try:
            response = self.client.request("POST", url, **kwargs)
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ) as exc:
            raise ProviderError(
                f"{url} is not an address engage can call ({exc}). Check base_url in "
                f"[email.{self.name}] of engage.toml."
            ) from None
        except requests.ConnectTimeout:
            raise TryLater(f"Cannot reach {self.title} at {url}: no connection in time") from None
        except requests.ConnectionError as exc:
            if never_connected(exc):
                raise TryLater(f"Cannot reach {self.title} at {url}: {exc}") from None
            raise LostAnswer(
                f"The connection to {self.title} dropped after the request went out ({exc})",
                [],
            ) from None
        except requests.Timeout:  # a read time-out: it had the request, its answer never came
            raise LostAnswer(
                f"{self.title} did not answer within {self.config.timeout:g} s "
                "after taking the request",
                [],
            ) from None
        except requests.RequestException as exc:  # the answer came but could not be read
            raise LostAnswer(f"{self.title}'s answer could not be read: {exc}", []) from None
        refused = refusal(
            response,
            auth=f"{self.title} refused the key (HTTP {response.status_code}). Check the "
            f"environment variable {self.key_env()} (named by {self.key_setting}).",
            busy=f"{self.title} answered HTTP {response.status_code}",
        )
        if refused:
            raise refused
        return response

    def get(
        self, url: str, *, key_refused: tuple[int, ...] = (401, 403), **kwargs: object
    ) -> requests.Response:
        """A read of the provider's own records, for reconciling. Unlike a send, a read changes
        nothing, so every failure may be retried: a time-out or a dropped connection is
        `TryLater`, and an answer asking to wait a minute or less (429 or 5xx with Retry-After)
        is waited out here, up to three tries, because records APIs allow few calls a minute.
        `key_refused`: the statuses that mean the key was refused (`AuthFailed`)."""
        for attempt in range(READ_TRIES):
            try:
                return self._read(url, key_refused, **kwargs)
            except TryLater as exc:
                wait = exc.retry_after
                if attempt == READ_TRIES - 1 or wait is None or wait > READ_WAIT_MAX:
                    raise
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _read(self, url: str, key_refused: tuple[int, ...], **kwargs: object) -> requests.Response:
        try:
            response = self.client.request("GET", url, **kwargs)
        except (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise TryLater(f"Could not read {self.title}'s records at {url}: {exc}") from None
        except requests.RequestException as exc:  # a URL it cannot use: asking again won't help
            raise ProviderError(
                f"Could not ask {self.title} for its records at {url}: {exc}"
            ) from None
        refused = refusal(
            response,
            auth=f"{self.title} refused the key (HTTP {response.status_code}) when engage asked "
            f"for its records. Check the environment variable {self.key_env()} (named by "
            f"{self.key_setting}).",
            busy=f"{self.title} answered HTTP {response.status_code} when engage asked for its "
            "records",
            auth_statuses=key_refused,
        )
        if refused:
            raise refused
        return response

    @property
    def title(self) -> str:
        return self.name.capitalize()

    def send_batch(self, batch: Batch) -> list[Outcome]:
        return split_on_refusal(batch, self.send_items)

    def send_items(self, batch: Batch, items: list[Item]) -> list[Outcome]:
        raise NotImplementedError


def split_on_refusal(
    batch: Batch, send: Callable[[Batch, list[Item]], list[Outcome]]
) -> list[Outcome]:
    """Send the items; when the provider refuses the whole request, halve it and try again,
    so only the address it objects to is marked failed."""
    pending = [batch.items]
    outcomes: list[Outcome] = []
    while pending:
        items = pending.pop()
        try:
            outcomes += send(batch, items)
        except LostAnswer as lost:  # this request's people are in doubt; later ones never went
            raise LostAnswer(str(lost), [i.delivery_id for i in items], outcomes) from None
        except TryLater as later:  # this request and the later ones did not go
            raise TryLater(str(later), later.retry_after, outcomes) from None
        except ProviderError as stopped:  # a refused key, a wrong domain: keep what went
            stopped.done = outcomes
            raise
        except BatchRefused as refused:
            if len(items) == 1:
                outcomes.append(Outcome(items[0].delivery_id, False, error=refused.reason))
            else:
                middle = len(items) // 2
                pending += [items[middle:], items[:middle]]
    return outcomes


def error_text(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(data, dict):
        if "message" in data:
            return f"HTTP {response.status_code}: {data['message']}"
        if "Message" in data:
            return f"HTTP {response.status_code}: {data['Message']}"
        if data.get("errors"):
            return f"HTTP {response.status_code}: " + "; ".join(
                str(e.get("message", e)) for e in data["errors"]
            )
    return f"HTTP {response.status_code}: {str(data)[:200]}"


def merged_bodies(batch: Batch, tag: Callable[[str], str]) -> tuple[str, str]:
    """The batch's HTML and text with a provider's merge tag in place of each personal field.
    HTML fields are named h_<field> and text fields t_<field>, because a value goes into the
    HTML escaped and into the text as it is."""
    variant = "standard" if batch.variant == "plain" else batch.variant
    html_tags, text_tags = cast(Recipient, _Tags("h_", tag)), cast(Recipient, _Tags("t_", tag))
    html = "" if batch.variant == "plain" else batch.built.html[variant].render(html_tags)
    text = batch.built.text.render(text_tags)
    return html, text


class _Tags:
    """Stands in for a Recipient: every field is the provider's merge tag for that field."""

    def __init__(self, prefix: str, tag: Callable[[str], str]) -> None:
        self._values = tuple(tag(prefix + field) for field in FIELDS)

    def values(self) -> tuple[str, ...]:
        return self._values


def merger(batch: Batch) -> Callable[[Item], dict[str, str]]:
    """Each person's values for merged_bodies' tags, for the people of `batch`: only the
    fields its layouts use. The names are worked out once for the batch, not for each person."""
    variant = "standard" if batch.variant == "plain" else batch.variant
    html_fields = () if batch.variant == "plain" else batch.built.html[variant].fields
    text = [(f"t_{k}", FIELDS.index(k)) for k in batch.built.text.fields]
    html = [(f"h_{k}", FIELDS.index(k)) for k in html_fields]

    def values(item: Item) -> dict[str, str]:
        plain = item.recipient.values()
        merged = {name: plain[index] for name, index in text}
        merged.update({name: str(escape(plain[index])) for name, index in html})
        return merged

    return values


def form_data(fields: Sequence[tuple[str, str]]) -> dict[str, object]:
    """`fields` as multipart/form-data (names our own, values as they are: no %-escaping),
    as the `data` and `headers` of a POST. Written in one join: requests built an object for
    each field, 8% of a send's time with 1,000 recipients a call."""
    boundary = secrets.token_hex(16)
    while any(boundary in value for _, value in fields):  # one chance in 2**128, but checked
        boundary = secrets.token_hex(16)
    parts: list[str] = []
    for name, value in fields:
        if '"' in name or "\r" in name or "\n" in name:
            raise ValueError(f"a form field's name cannot hold quotes or line breaks: {name!r}")
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts += [head, value, "\r\n"]
    parts.append(f"--{boundary}--\r\n")
    return {
        "data": "".join(parts).encode("utf-8"),
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    }
