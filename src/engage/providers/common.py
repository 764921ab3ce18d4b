"""What the providers' webhook modules share: time and signature checks, JSON bodies, ids,
our metadata, and picking the address a reply was sent to."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hmac
import json
import math
import time
from typing import Any

from ..errors import WebhookRefused
from ..models import Request

METADATA_KEYS = ("engage_campaign", "engage_send", "engage_delivery")
TAGGED = ("reply+", "unsubscribe+")  # the local parts of the addresses replies come back to


def check_time(value: object, now: float | None, tolerance: float, what: str) -> None:
    """Refuse (403) a signed timestamp that is not within `tolerance` seconds of now."""
    try:
        stamp = float(str(value))
    except ValueError:
        stamp = math.nan
    if not math.isfinite(stamp):
        raise WebhookRefused(f"{what}: the timestamp {str(value)[:40]!r} is not a number", 403)
    current = time.time() if now is None else now
    if stamp < current - tolerance:
        age = int(current - stamp)
        raise WebhookRefused(f"{what}: the timestamp is {age} s old (limit {tolerance:g} s)", 403)
    if stamp > current + tolerance:
        ahead = int(stamp - current)
        raise WebhookRefused(f"{what}: the timestamp is {ahead} s in the future", 403)


def json_body(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{what}: the body is not valid JSON ({exc})") from None


def epoch_time(value: Any, what: str) -> dt.datetime:
    """An aware UTC datetime from epoch seconds (a number or a numeric string)."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ValueError(f"{what}: the timestamp {value!r} is not a time") from None


def engage_metadata(values: Any) -> dict[str, str]:
    """Our ids (engage_campaign, engage_send, engage_delivery) from a provider's metadata."""
    if not isinstance(values, dict):
        return {}
    return {key: str(values[key]) for key in METADATA_KEYS if values.get(key) not in (None, "")}


def bracketed(message_id: Any) -> str:
    """A Message-ID in <...> form, as we write it in the header; "" for none."""
    value = str(message_id or "").strip()
    if not value:
        return ""
    return value if value.startswith("<") else f"<{value}>"


def first_header(headers: list[tuple[str, str]], name: str) -> str:
    wanted = name.lower()
    return next((value.strip() for key, value in headers if key.lower() == wanted), "")


def header_addresses(headers: list[tuple[str, str]]) -> list[str]:
    """The addresses in the To and Cc headers, in order."""
    values = [v for k, v in headers if k.lower() in ("to", "cc")]
    return [address for _, address in email.utils.getaddresses(values) if address]


def choose_recipient(envelope: list[str], to: list[str]) -> str:
    """The first reply+/unsubscribe+ address (envelope first, then To/Cc), else the first
    envelope recipient, else the first To."""
    for address in [*envelope, *to]:
        if address.split("@", 1)[0].lower().startswith(TAGGED):
            return address
    return next((address for address in [*envelope, *to] if address), "")


def check_basic_auth(request: Request, user: str, password: str, what: str) -> None:
    """Refuse a request without (401) or with the wrong (403) HTTP Basic credentials."""
    if not password:
        raise WebhookRefused(f"{what}: no password is set to check the request against", 403)
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise WebhookRefused(f"{what}: no HTTP Basic credentials in the request", 401)
    try:
        given = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 inside
        raise WebhookRefused(f"{what}: the HTTP Basic credentials cannot be decoded", 403) from None
    given_user, colon, given_password = given.partition(":")
    user_ok = hmac.compare_digest(given_user.encode(), user.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    if not (colon and user_ok and password_ok):
        wrong = " and ".join(
            w for w, ok in (("user name", user_ok), ("password", password_ok)) if not ok
        )
        raise WebhookRefused(f"{what}: wrong {wrong or 'credentials'} in HTTP Basic auth", 403)
