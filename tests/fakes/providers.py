"""Fake Mailgun, Postmark and SendGrid sending APIs for tests and benchmarks.

Each fake is a real HTTP server on 127.0.0.1 (a free port) that checks requests the way the
provider's API does, answers with its status codes and error bodies, records every request,
and keeps what it accepted as one normalised message per recipient with the per-recipient
variables already substituted. Standard library only, so benchmark scripts can use it too::

    with FakeMailgun(api_key="key-test", domain="mg.example.org") as fake:
        requests.post(f"{fake.url}/v3/mg.example.org/messages", auth=("api", "key-test"), ...)
        fake.messages  # [{"to": ..., "email": ..., "subject": ..., ...}, ...]

Each fake also serves the provider's records of what it accepted, the way the real API does
(paths, auth, parameters, paging, answers): Mailgun's events, Postmark's outbound message
search and SendGrid's Email Activity. A message joins the records `records_lag` seconds after
it was accepted, by the fake's `clock` (give engage's clock, `engage.clock.now`, so tests that
set engage's time see records at that time).
"""

from __future__ import annotations

import base64
import json
import operator
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from .. import mailcheck

__all__ = ["FakeMailgun", "FakePostmark", "FakeProvider", "FakeSendGrid", "RecordedRequest"]

JSON = "application/json"


@dataclass
class RecordedRequest:
    """One request as the fake received it. Header names are lower-cased. `body` is a list of
    (name, value) pairs for forms (file parts give bytes), the decoded JSON for JSON, else the
    text; `error` says why the body could not be parsed; `status` is what the fake answered;
    `query` holds the URL's query parameters (the last value of each)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    error: str | None = None
    status: int | None = None
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": JSON, **(headers or {})})


def message(
    *,
    to: str,
    email: str,
    sender: str,
    subject: str | None,
    text: str | None,
    html: str | None,
    headers: dict[str, str],
    metadata: dict[str, Any],
    tags: list[str],
    provider_id: str,
) -> dict[str, Any]:
    """The normalised form of what one recipient receives; its headers pass mailcheck."""
    fields = {"to": to, "from": sender, "subject": subject or "", **headers}
    mailcheck.note_fields(fields, f"the message to {email} the fake provider took")
    return {
        "to": to,
        "email": email,
        "from": sender,
        "subject": subject,
        "text": text,
        "html": html,
        "headers": headers,
        "metadata": metadata,
        "tags": tags,
        "provider_id": provider_id,
    }


def display(name: str | None, address: str) -> str:
    """`Name <address>` (name quoted when it needs it) or the bare address."""
    if not name:
        return address
    if re.search(r'[()<>@,;:\\".\[\]]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def addresses(value: str) -> list[tuple[str, str]]:
    """(display, bare address) for each address in a header-style list such as a `to` field."""
    if not value.strip():
        return []
    return [(display(name, addr), addr) for name, addr in getaddresses([value])]


def valid(address: str) -> bool:
    return bool(re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address))


class _Invalid(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _slim(request: RecordedRequest) -> RecordedRequest:
    """The request without its body, so a benchmark's fake does not hold every message."""
    return RecordedRequest(
        request.method, request.path, request.headers, None, b"", request.error, None, request.query
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _without_bodies(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("text", "html")}


_RESET = Reply(0)  # answer by closing the connection at once, with no reply at all


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the fault tests do it on purpose) is no error here;
        the fake's own mistakes are answered with a 500 in `_serve`."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class FakeProvider:
    """A fake sending API on 127.0.0.1. Subclasses implement `handle` and `error_reply`.

    `clock`: what time it is for the records (default: the computer's clock, UTC);
    `records_lag`: seconds between accepting a message and showing it in the records."""

    name = "fake"

    def __init__(
        self,
        api_key: str,
        *,
        delay: float = 0.0,
        records_lag: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api_key = api_key
        self.delay = delay  # seconds to sleep before answering each request
        self.clock = clock or _utcnow
        self._records_lag = records_lag
        self.keep_bodies = True  # False (benchmarks): keep only each message's address and id
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"fake-{self.name}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes requests sleeping in delay or hang_next
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"fake {self.name} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- what was received ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, accepted or not, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages, one per recipient, in the order accepted (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def records(self) -> list[dict[str, Any]]:
        """What the records endpoint can show now: each accepted message (one per recipient)
        whose `records_lag` has passed by `clock`, as {"at", "seq", "message", ...} (a copy)."""
        now = self.clock()
        with self._lock:
            lag = timedelta(seconds=self.records_lag)
            return [r for r in self._records if r["at"] + lag <= now]

    # --- failure injection ------------------------------------------------------------------

    def fail_next(
        self, status: int = 429, retry_after: float | None = 2, times: int = 1, body: Any = None
    ) -> None:
        """Answer the next `times` requests with `status` (and `Retry-After` when given) and
        accept nothing from them. `body`: a str/bytes, a JSON value, or None for the provider's
        usual error body."""
        if body is None:
            reply = self.error_reply(status, HTTPStatus(status).phrase)
        elif isinstance(body, str | bytes):
            raw = body.encode() if isinstance(body, str) else body
            reply = Reply(status, raw, {"Content-Type": "text/plain; charset=utf-8"})
        else:
            reply = json_reply(status, body)
        if retry_after is not None:
            reply.headers.update(self._retry_headers(retry_after))
        with self._lock:
            self._failures.extend([reply] * times)

    def hang_next(self, seconds: float = 5, times: int = 1) -> None:
        """The next `times` requests wait `seconds` (or until stop()) before answering 504;
        nothing from them is accepted. Pair with a shorter client timeout."""
        with self._lock:
            self._hangs.extend([seconds] * times)

    def accept_then_hang(self, seconds: float = 5, times: int = 1) -> None:
        """The next `times` requests are handled as usual (what they send is accepted and
        recorded) but the answer is held back `seconds` (or until stop()), so a client with a
        shorter read time-out never hears that its messages went. Requests that `fail_next` or
        `hang_next` catch come first."""
        with self._lock:
            self._accept_then.extend([("hang", seconds)] * times)

    def accept_then_reset(self, times: int = 1) -> None:
        """The next `times` requests are handled as usual (what they send is accepted and
        recorded), then the connection is closed at once with no answer at all."""
        with self._lock:
            self._accept_then.extend([("reset", 0.0)] * times)

    @property
    def records_lag(self) -> float:
        """Seconds between accepting a message and showing it in the records."""
        return self._records_lag

    @records_lag.setter
    def records_lag(self, seconds: float) -> None:
        self._records_lag = seconds

    def reject_recipient(
        self, address: str, code: int | None = None, message: str | None = None
    ) -> None:
        """Refuse this address the way the provider does (see each subclass)."""
        with self._lock:
            self._rejections[address.lower()] = (code, message)

    def reset(self) -> None:
        """Forget requests, messages, records, queued failures and rejected recipients, and put
        `records_lag` back to what the fake was made with."""
        with self._lock:
            self._requests: list[RecordedRequest] = []
            self._messages: list[dict[str, Any]] = []
            self._records: list[dict[str, Any]] = []
            self._failures: list[Reply] = []
            self._hangs: list[float] = []
            self._accept_then: list[tuple[str, float]] = []
            self._rejections: dict[str, tuple[int | None, str | None]] = {}
            self._lag_at_start = getattr(self, "_lag_at_start", self._records_lag)
            self._records_lag = self._lag_at_start

    # --- for subclasses ---------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def error_reply(self, status: int, message: str) -> Reply:
        raise NotImplementedError

    def _retry_headers(self, retry_after: float) -> dict[str, str]:
        return {"Retry-After": f"{retry_after:g}"}

    def _rejection(self, address: str) -> tuple[int | None, str | None] | None:
        with self._lock:
            return self._rejections.get(address.lower())

    def _accept(self, accepted: list[dict[str, Any]], **extra: Any) -> None:
        """Keep what one request sent: the messages, and a record of each for the records
        endpoint (`extra` adds provider fields to each record)."""
        at = self.clock()
        if self.keep_bodies:
            records = [{"at": at, "message": m, **extra} for m in accepted]
        else:  # the records need no bodies either
            records = [{"at": at, "message": _without_bodies(m), **extra} for m in accepted]
        if not self.keep_bodies:
            accepted = [{"email": m["email"], "provider_id": m["provider_id"]} for m in accepted]
        with self._lock:
            self._messages.extend(accepted)
            for record in records:
                record["seq"] = len(self._records)
                self._records.append(record)

    # --- HTTP plumbing ----------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        raw = _read_body(handler)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        body, error = _parse_body(headers.get("content-type", ""), raw)
        url = urlsplit(handler.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        request = RecordedRequest(handler.command, url.path, headers, body, raw, error, None, query)
        with self._lock:
            self._requests.append(request if self.keep_bodies else _slim(request))
        try:
            reply = self._answer(request)
        except Exception as exc:  # a bug in the fake: say so rather than leave the client hanging
            reply = Reply(500, f"fake {self.name} failed: {exc!r}".encode(), {})
        if reply is None:  # stopped while hanging
            handler.close_connection = True
            return
        if reply is _RESET:  # close at once: SO_LINGER 0 makes the close a reset (RST)
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.close_connection = True
            return
        request.status = reply.status
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            handler.close_connection = True

    def _answer(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            hang = self._hangs.pop(0) if self._hangs else None
            failure = self._failures.pop(0) if self._failures and hang is None else None
            then = None
            if self._accept_then and hang is None and failure is None:
                then = self._accept_then.pop(0)
        if self.delay:
            self._stopping.wait(self.delay)
        if hang is not None:
            return None if self._stopping.wait(hang) else self.error_reply(504, "Gateway Timeout")
        if failure is not None:
            return Reply(failure.status, failure.body, dict(failure.headers))
        reply = self.handle(request)
        if then is None:
            return reply
        kind, seconds = then
        if kind == "reset":
            return _RESET
        return None if self._stopping.wait(seconds) else reply


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(handler.rfile.readline().split(b";")[0], 16):
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()
    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
        pass
    return b"".join(chunks)


def _parse_body(content_type: str, raw: bytes) -> tuple[Any, str | None]:
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            return parse_qsl(raw.decode("utf-8"), keep_blank_values=True), None
        if kind == "multipart/form-data":
            return _parse_multipart(content_type, raw), None
        if kind.endswith("json"):
            return json.loads(raw), None
        return (raw.decode("utf-8", "replace") if raw else None), None
    except ValueError as exc:  # also UnicodeDecodeError and JSONDecodeError
        return None, f"{type(exc).__name__}: {exc}"


_DISPOSITION = re.compile(rb'^content-disposition:[^\r\n]*?\bname="([^"]*)"', re.I | re.M)


def _parse_multipart(content_type: str, raw: bytes) -> list[tuple[str, str | bytes]]:
    """multipart/form-data as clients send it (no transfer encodings), split by its boundary.
    Written by hand: the email package takes a third of a second for a 1,000-recipient call."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        raise ValueError("multipart body without a boundary")
    delimiter = b"--" + found[1].encode("latin-1")
    chunks = raw.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("malformed multipart body: no closing boundary")
    fields: list[tuple[str, str | bytes]] = []
    for chunk in chunks[1:-1]:
        head, separator, body = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = _DISPOSITION.search(head)
        if not separator or not name:
            raise ValueError("malformed multipart body: a part has no name")
        payload = body.removesuffix(b"\r\n")
        is_file = b"filename=" in head.lower()
        fields.append((name[1].decode("utf-8"), payload if is_file else payload.decode("utf-8")))
    return fields


# --- Mailgun ----------------------------------------------------------------------------------

_RECIPIENT_VARIABLE = re.compile(r"%recipient\.([^%\s]+)%")


class FakeMailgun(FakeProvider):
    """`POST /v3/{domain}/messages`, HTTP Basic `api:<api_key>`, form fields (urlencoded or
    multipart). One id for the whole batch. reject_recipient(address, code=400, message):
    any request naming that address in `to` fails with `code` and {"message": message}.

    `GET /v3/{domain}/events` (same auth): the `accepted` event of each accepted message, as
    Mailgun's Events API gives them (`begin`, `end`, `ascending`, `limit` up to 300, filters
    `event`, `recipient`, `message-id`), a page at a time with `paging.next` and `previous`
    addresses under `/v3/{domain}/events/{page}`; an empty page ends the traversal. Only
    `accepted` events are kept (no deliveries, opens...)."""

    name = "mailgun"
    MAX_RECIPIENTS = 1000
    MAX_TAGS = 3
    MAX_EVENTS = 300  # a page of events
    FILTERS = ("event", "recipient", "message-id")

    def __init__(
        self,
        api_key: str = "key-test",
        domain: str = "mg.example.org",
        *,
        delay: float = 0.0,
        records_lag: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(api_key, delay=delay, records_lag=records_lag, clock=clock)
        self.domain = domain

    def error_reply(self, status: int, message: str) -> Reply:
        return json_reply(status, {"message": message})

    def handle(self, request: RecordedRequest) -> Reply:
        events = re.fullmatch(r"/v3/([^/]+)/events(?:/([A-Za-z0-9_-]+))?", request.path)
        if request.method == "GET" and events:
            refusal = self._refusal(request, events[1])
            return refusal or self._events(request, events[1], events[2])
        match = re.fullmatch(r"/v3/([^/]+)/messages", request.path)
        if request.method != "POST" or not match:
            return self.error_reply(404, "Not Found")
        if refusal := self._refusal(request, match[1]):
            return refusal
        if not isinstance(request.body, list):
            return self.error_reply(400, request.error or "Expected a form body")
        provider_id = f"<{datetime.now(UTC):%Y%m%d%H%M%S}.{uuid.uuid4().hex[:16]}@{self.domain}>"
        try:
            accepted = self._normalise(request.body, provider_id)
        except _Invalid as exc:
            return self.error_reply(exc.status, str(exc))
        self._accept(accepted)
        return json_reply(200, {"id": provider_id, "message": "Queued. Thank you."})

    def _refusal(self, request: RecordedRequest, domain: str) -> Reply | None:
        expected = base64.b64encode(f"api:{self.api_key}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Reply(401, b"Forbidden", {"Content-Type": "text/plain; charset=utf-8"})
        if domain != self.domain:
            return self.error_reply(404, f"Domain not found: {domain}")
        return None

    # --- the Events API ---------------------------------------------------------------------

    def _events(self, request: RecordedRequest, domain: str, page: str | None) -> Reply:
        if page is None:
            try:
                query = self._event_query(request.query)
            except _Invalid as exc:
                return self.error_reply(exc.status, str(exc))
            position: dict[str, Any] = {}
        else:
            try:
                state = json.loads(base64.urlsafe_b64decode(page + "=" * (-len(page) % 4)))
                query, position = state["q"], state["p"]
            except (ValueError, KeyError, TypeError):
                return self.error_reply(400, "Invalid page URL")
        found = self._page(query, position)
        if found:
            after = [found[-1]["timestamp"], found[-1]["id"]]
            before = [found[0]["timestamp"], found[0]["id"]]
        else:  # an empty page: next asks again from the same place, later
            after = position.get("after")
            before = position.get("before")
        base = f"{self.url}/v3/{domain}/events/"
        paging = {
            "first": base + _token(query, {}),
            "last": base + _token(query, {"last": True}),
            "next": base + _token(query, {"after": after} if after else {}),
            "previous": base + _token(query, {"before": before}),
        }
        return json_reply(200, {"items": found, "paging": paging})

    def _page(self, query: dict[str, Any], position: dict[str, Any]) -> list[dict[str, Any]]:
        """The events of one page: the first, the last, or those just after or just before a
        position, in the order of the traversal."""
        found = self._matching(query)
        limit, up = query["limit"], query["ascending"]

        def beyond(event: dict[str, Any], mark: list[Any]) -> bool:
            key = [event["timestamp"], event["id"]]
            return key > mark if up else key < mark

        if position.get("last"):
            return found[-limit:]
        if "after" in position:
            return [e for e in found if beyond(e, position["after"])][:limit]
        if "before" in position:
            mark = position["before"]
            if mark is None:
                return []
            return [e for e in found if e["id"] != mark[1] and not beyond(e, mark)][-limit:]
        return found[:limit]

    def _event_query(self, params: dict[str, str]) -> dict[str, Any]:
        known = {"begin", "end", "ascending", "limit", "pretty", *self.FILTERS}
        unknown = sorted(set(params) - known)
        if unknown:
            raise _Invalid(400, f"the fake Mailgun does not know the parameter {unknown[0]!r}")
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            raise _Invalid(400, "limit must be a number") from None
        if not 1 <= limit <= self.MAX_EVENTS:
            raise _Invalid(400, f"limit must be between 1 and {self.MAX_EVENTS}")
        begin = _mailgun_time(params["begin"]) if "begin" in params else self.clock().timestamp()
        end = _mailgun_time(params["end"]) if "end" in params else None
        ascending = params.get("ascending")
        if ascending not in (None, "yes", "no"):
            raise _Invalid(400, "ascending must be yes or no")
        if end is None and ascending is None:
            raise _Invalid(400, "Either 'end' or 'ascending' must be given")
        if end is not None and ascending is not None and (end >= begin) != (ascending == "yes"):
            raise _Invalid(400, "'ascending' does not agree with 'begin' and 'end'")
        up = ascending == "yes" if end is None else end >= begin
        filters = {name: params[name] for name in self.FILTERS if name in params}
        return {"begin": begin, "end": end, "ascending": up, "limit": limit, "filters": filters}

    def _matching(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Every visible event in the query's time range that passes its filters, in the
        order of the traversal (by timestamp, then id)."""
        end = query["end"]
        if end is None:  # open-ended: from begin onwards, or back to the start of the records
            end = float("inf") if query["ascending"] else float("-inf")
        low, high = sorted([query["begin"], end])
        found = []
        for record in self.records:
            event = self._event(record)
            if not low <= event["timestamp"] <= high:
                continue
            if all(_mailgun_filter(event, k, v) for k, v in query["filters"].items()):
                found.append(event)
        found.sort(key=lambda e: (e["timestamp"], e["id"]), reverse=not query["ascending"])
        return found

    def _event(self, record: dict[str, Any]) -> dict[str, Any]:
        message = record["message"]
        headers = message.get("headers") or {}
        message_id = (
            headers.get("Message-Id") or headers.get("Message-ID") or message["provider_id"]
        )
        address = message["email"]
        return {
            "event": "accepted",
            "id": f"{record['seq']:06d}{uuid.uuid5(uuid.NAMESPACE_URL, str(record['seq'])).hex[:16]}",
            "timestamp": record["at"].timestamp(),
            "log-level": "info",
            "method": "http",
            "recipient": address,
            "recipient-domain": address.rpartition("@")[2],
            "tags": list(message.get("tags") or []),
            "user-variables": dict(message.get("metadata") or {}),
            "flags": {"is-authenticated": True, "is-test-mode": False},
            "envelope": {
                "sender": message.get("from") or "",
                "targets": address,
                "transport": "smtp",
            },
            "message": {
                "headers": {
                    "to": message.get("to") or address,
                    "message-id": message_id.strip().strip("<>"),
                    "from": message.get("from") or "",
                    "subject": message.get("subject") or "",
                },
                "attachments": [],
                "size": len((message.get("text") or "") + (message.get("html") or "")),
            },
        }

    def _normalise(self, fields: list[tuple[str, Any]], provider_id: str) -> list[dict[str, Any]]:
        values: dict[str, list[Any]] = {}
        for name, value in fields:
            values.setdefault(name, []).append(value)

        def one(name: str) -> str | None:
            return values[name][-1] if values.get(name) else None

        senders = addresses(one("from") or "")
        if not senders:
            raise _Invalid(400, "'from' parameter is missing")
        if not valid(senders[0][1]):
            raise _Invalid(
                400, "'from' parameter is not a valid address. please check documentation"
            )
        recipients = [pair for value in values.get("to", []) for pair in addresses(value)]
        if not recipients:
            raise _Invalid(400, "'to' parameter is missing")
        if not all(valid(address) for _, address in recipients):
            raise _Invalid(400, "'to' parameter is not a valid address. please check documentation")
        if len(recipients) > self.MAX_RECIPIENTS:
            raise _Invalid(
                400, f"Too many recipients: {len(recipients)} (max {self.MAX_RECIPIENTS})"
            )
        subject, text, html = one("subject"), one("text"), one("html")
        if not subject:
            raise _Invalid(400, "'subject' parameter is missing")
        if not text and not html:
            raise _Invalid(400, "Need at least one of 'text' or 'html' parameters specified")
        tags = values.get("o:tag", [])
        if len(tags) > self.MAX_TAGS:
            raise _Invalid(400, f"Too many tags: {len(tags)} (max {self.MAX_TAGS})")
        variables = self._recipient_variables(one("recipient-variables"), recipients)
        for _, address in recipients:
            if rejection := self._rejection(address):
                code, reason = rejection
                raise _Invalid(code or 400, reason or f"'to' address {address} was rejected")

        accepted = []
        user_fields = [(name[2:], value) for name, value in fields if name.startswith("v:")]
        id_fields = [(name[2:], value) for name, value in fields if name.lower() == "h:message-id"]
        for to, address in recipients:
            own = variables.get(address, {})

            def sub(value: str | None, own: dict[str, Any] = own) -> str | None:
                if value is None:
                    return None
                return _RECIPIENT_VARIABLE.sub(
                    lambda m: _as_text(own[m[1]]) if m[1] in own else m[0], value
                )

            metadata = {name: _user_variable(sub(value)) for name, value in user_fields}
            if not self.keep_bodies:  # a benchmark: fill in only what the records need
                ids = {name: sub(value) for name, value in id_fields}
                accepted.append(
                    {"email": address, "provider_id": provider_id, "metadata": metadata}
                    | {"headers": ids}
                )
                continue
            headers = {name[2:]: sub(value) for name, value in fields if name.startswith("h:")}
            accepted.append(
                message(
                    to=to,
                    email=address,
                    sender=senders[0][0],
                    subject=sub(subject),
                    text=sub(text),
                    html=sub(html),
                    headers=headers,
                    metadata=metadata,
                    tags=list(tags),
                    provider_id=provider_id,
                )
            )
        return accepted

    def _recipient_variables(
        self, raw: str | None, recipients: list[tuple[str, str]]
    ) -> dict[str, dict[str, Any]]:
        if raw is None:
            if len(recipients) > 1:
                raise _Invalid(
                    400,
                    "recipient-variables is required when sending to more than one 'to' "
                    "recipient: without it every recipient sees all the To addresses",
                )
            return {}
        try:
            variables = json.loads(raw)
        except ValueError:
            variables = None
        if not isinstance(variables, dict) or not all(
            isinstance(v, dict) for v in variables.values()
        ):
            raise _Invalid(400, "recipient-variables parameter is not a valid JSON object")
        if len(recipients) > 1:
            for _, address in recipients:
                if address not in variables:
                    raise _Invalid(400, f"recipient-variables has no entry for {address}")
        return variables


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _token(query: dict[str, Any], position: dict[str, Any]) -> str:
    """A page address's last part: the query and where the page starts, in base64url JSON."""
    raw = json.dumps({"q": query, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _mailgun_time(value: str) -> float:
    """Mailgun's times: epoch seconds or an RFC 2822 date."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        when = None
    if when is None:
        raise _Invalid(400, f"{value!r} is not a time (epoch seconds or RFC 2822)")
    return when.timestamp()


def _mailgun_filter(event: dict[str, Any], name: str, value: str) -> bool:
    """One filter of the Events API, for the expressions engage uses: a value, or values
    joined by OR."""
    wanted = {v.strip().strip('"').casefold() for v in re.split(r"\s+OR\s+", value)}
    if name == "event":
        have = event["event"]
    elif name == "recipient":
        have = event["recipient"]
    else:  # message-id
        have = event["message"]["headers"]["message-id"]
    return have.casefold() in wanted


def _user_variable(value: str | None) -> Any:
    """Mailgun hands `v:` values back as objects when they are JSON objects or arrays."""
    if value and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


# --- Postmark ---------------------------------------------------------------------------------

POSTMARK_NO_TOKEN = (
    "No Account or Server API tokens were supplied in the HTTP headers. Please add a header "
    "for either X-Postmark-Server-Token or X-Postmark-Account-Token."
)
POSTMARK_BAD_TOKEN = (
    "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. "
    "Please verify that you are using a valid token."
)
POSTMARK_INACTIVE = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
    "addresses: {address}. Inactive recipients are ones that have generated a hard bounce, a "
    "spam complaint, or a manual suppression."
)


class FakePostmark(FakeProvider):
    """`POST /email/batch` (and `/email`), header `X-Postmark-Server-Token: <api_key>`.
    Per-message failures come back inside a 200 array. reject_recipient(address, code=406,
    message): a message to that address gets that ErrorCode and is not accepted.

    `GET /messages/outbound` (same token, `Accept: application/json`): Postmark's outbound
    message search, newest first, {"TotalCount", "Messages": [...]}. `count` (1 to 500) and
    `offset` are required and may add up to 10,000 at most; filters `recipient`, `fromemail`,
    `tag`, `status`, `subject`, `messagestream` (Postmark's default stream, "outbound", when
    not given), one `metadata_<key>`, and `fromdate`/`todate` read as Eastern Time. A query it
    cannot take is answered 422 with ErrorCode 1100 (the fake's own code)."""

    name = "postmark"
    MAX_BATCH = 500
    MAX_RECIPIENTS = 50
    MAX_COUNT = 500  # messages in one search answer
    MAX_SEARCH = 10_000  # count + offset
    EASTERN = "America/New_York"

    def __init__(
        self,
        api_key: str = "pm-test",
        message_stream: str = "broadcast",
        *,
        delay: float = 0.0,
        records_lag: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(api_key, delay=delay, records_lag=records_lag, clock=clock)
        self.message_stream = message_stream

    def error_reply(self, status: int, message: str, code: int | None = None) -> Reply:
        return json_reply(
            status, {"ErrorCode": status if code is None else code, "Message": message}
        )

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == "/messages/outbound":
            return self._token_refusal(request) or self._search(request)
        if request.method != "POST" or request.path not in ("/email", "/email/batch"):
            return self.error_reply(404, "Not Found")
        if refusal := self._token_refusal(request):
            return refusal
        for header in ("accept", "content-type"):
            if JSON not in request.headers.get(header, "").lower():
                message = f"The request needs the header '{header.title()}: application/json'."
                return self.error_reply(422, message, 409)
        if request.error:
            return self.error_reply(422, "Received invalid JSON input.", 402)
        batch = request.path == "/email/batch"
        if not isinstance(request.body, list if batch else dict):
            expected = "an array of messages" if batch else "a message object"
            return self.error_reply(422, f"The JSON input was not {expected}.", 403)
        if batch and len(request.body) > self.MAX_BATCH:
            message = f"Too many batch messages ({len(request.body)}); the maximum is 500."
            return self.error_reply(422, message, 410)
        submitted_at = datetime.now(UTC).isoformat()
        results = [self._one(m, submitted_at) for m in (request.body if batch else [request.body])]
        self._accept([m for _, accepted in results for m in accepted], stream=self.message_stream)
        if batch:
            return json_reply(200, [entry for entry, _ in results])
        entry = results[0][0]
        return json_reply(422 if entry["ErrorCode"] else 200, entry)

    def _token_refusal(self, request: RecordedRequest) -> Reply | None:
        token = request.headers.get("x-postmark-server-token")
        if token != self.api_key:
            return self.error_reply(401, POSTMARK_BAD_TOKEN if token else POSTMARK_NO_TOKEN, 10)
        return None

    # --- outbound message search ------------------------------------------------------------

    def _search(self, request: RecordedRequest) -> Reply:
        if JSON not in request.headers.get("accept", "").lower():
            return self.error_reply(
                422, "The request needs the header 'Accept: application/json'.", 409
            )
        try:
            count, offset, keep = self._search_query(request.query)
        except _Invalid as exc:
            return self.error_reply(422, str(exc), exc.status)
        found = [m for m in self._outbound() if keep(m)]
        found.sort(key=lambda m: (m["_at"], m["_seq"]), reverse=True)
        page = [{k: v for k, v in m.items() if not k.startswith("_")} for m in found]
        return json_reply(
            200, {"TotalCount": len(found), "Messages": page[offset : offset + count]}
        )

    def _search_query(
        self, params: dict[str, str]
    ) -> tuple[int, int, Callable[[dict[str, Any]], bool]]:
        try:
            count, offset = int(params["count"]), int(params["offset"])
        except KeyError as exc:
            raise _Invalid(1100, f"The '{exc.args[0]}' parameter is required.") from None
        except ValueError:
            raise _Invalid(1100, "count and offset must be numbers.") from None
        if not 1 <= count <= self.MAX_COUNT or offset < 0:
            raise _Invalid(1100, f"count must be 1 to {self.MAX_COUNT}, offset 0 or more.")
        if count + offset > self.MAX_SEARCH:
            raise _Invalid(1100, f"count + offset cannot exceed {self.MAX_SEARCH:,}.")
        metadata = {
            k[len("metadata_") :]: v for k, v in params.items() if k.startswith("metadata_")
        }
        if len(metadata) > 1:
            raise _Invalid(1100, "Only one metadata filter can be used at a time.")
        start = self._eastern(params.get("fromdate"), end=False)
        end = self._eastern(params.get("todate"), end=True)
        stream = params.get("messagestream") or "outbound"
        plain = {"recipient", "fromemail", "tag", "status", "subject"} & set(params)

        def keep(m: dict[str, Any]) -> bool:
            wanted = {
                "recipient": [r.casefold() for r in m["Recipients"]],
                "fromemail": [addresses(m["From"])[0][1].casefold()],
                "tag": [m["Tag"].casefold()],
                "status": [m["Status"].casefold()],
                "subject": [m["Subject"].casefold()],
            }
            return (
                m["MessageStream"] == stream
                and (start is None or m["_at"] >= start)
                and (end is None or m["_at"] <= end)
                and all(str(m["Metadata"].get(k)) == v for k, v in metadata.items())
                and all(params[name].casefold() in wanted[name] for name in plain)
            )

        return count, offset, keep

    def _eastern(self, value: str | None, *, end: bool) -> datetime | None:
        """fromdate/todate: a date or a date and time in Eastern Time; a date alone as `todate`
        means the whole of that day."""
        if not value:
            return None
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(1100, f"{value!r} is not a date (like 2026-12-01T09:00:00).") from None
        if end and len(value) == 10:
            when += timedelta(days=1, microseconds=-1)
        return when.replace(tzinfo=ZoneInfo(self.EASTERN)).astimezone(UTC)

    def _outbound(self) -> list[dict[str, Any]]:
        """The visible records, one search entry per message (a message may have several
        recipients), with the private fields `_at` and `_seq` for sorting and filtering."""
        zone = ZoneInfo(self.EASTERN)
        by_id: dict[str, dict[str, Any]] = {}
        for record in self.records:
            m = record["message"]
            entry = by_id.get(m["provider_id"])
            if entry is None:
                entry = by_id[m["provider_id"]] = {
                    "Tag": (m.get("tags") or [""])[0],
                    "MessageID": m["provider_id"],
                    "MessageStream": record["stream"],
                    "To": [],
                    "Cc": [],
                    "Bcc": [],
                    "Recipients": [],
                    "ReceivedAt": record["at"].astimezone(zone).isoformat(),
                    "From": m.get("from") or "",
                    "Subject": m.get("subject") or "",
                    "Attachments": [],
                    "Status": "Sent",
                    "TrackOpens": False,
                    "TrackLinks": "None",
                    "Metadata": dict(m.get("metadata") or {}),
                    "Sandboxed": False,
                    "_at": record["at"],
                    "_seq": record["seq"],
                }
            name = addresses(m.get("to") or m["email"])[0][0].rpartition("<")[0].strip(' "')
            entry["To"].append({"Email": m["email"], "Name": name})
            entry["Recipients"].append(m["email"])
        return list(by_id.values())

    def _one(self, msg: Any, submitted_at: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        try:
            recipients, headers = self._check(msg)
        except _Invalid as exc:
            return {"ErrorCode": exc.status, "Message": str(exc)}, []
        for _, address in recipients:
            if rejection := self._rejection(address):
                code, reason = rejection
                reason = reason or POSTMARK_INACTIVE.format(address=address)
                return {"ErrorCode": 406 if code is None else code, "Message": reason}, []
        message_id = str(uuid.uuid4())
        accepted = [
            message(
                to=to,
                email=address,
                sender=addresses(msg["From"])[0][0],
                subject=msg["Subject"],
                text=msg.get("TextBody"),
                html=msg.get("HtmlBody"),
                headers=dict(headers),
                metadata=dict(msg.get("Metadata") or {}),
                tags=[msg["Tag"]] if msg.get("Tag") else [],
                provider_id=message_id,
            )
            for to, address in recipients
        ]
        entry = {
            "ErrorCode": 0,
            "Message": "OK",
            "MessageID": message_id,
            "SubmittedAt": submitted_at,
            "To": msg["To"],
        }
        return entry, accepted

    def _check(self, msg: Any) -> tuple[list[tuple[str, str]], dict[str, str]]:
        if not isinstance(msg, dict):
            raise _Invalid(403, "Each message must be a JSON object.")
        sender = msg.get("From")
        senders = addresses(sender) if isinstance(sender, str) else []
        if len(senders) != 1 or not valid(senders[0][1]):
            raise _Invalid(300, f"Invalid 'From' address: '{sender or ''}'.")
        to = msg.get("To")
        recipients = addresses(to) if isinstance(to, str) else []
        if not recipients:
            raise _Invalid(300, "Zero recipients specified")
        for _, address in recipients:
            if not valid(address):
                raise _Invalid(300, f"Invalid 'To' address: '{address}'.")
        if len(recipients) > self.MAX_RECIPIENTS:
            raise _Invalid(300, "Maximum of 50 recipients allowed per email message")
        if not msg.get("Subject"):
            raise _Invalid(300, "Missing 'Subject'.")
        if not msg.get("TextBody") and not msg.get("HtmlBody"):
            raise _Invalid(300, "Provide either email TextBody or HtmlBody or both.")
        stream = msg.get("MessageStream") or "outbound"
        if stream != self.message_stream:
            raise _Invalid(1235, f"The message stream '{stream}' was not found on this server.")
        raw_headers = msg.get("Headers") or []
        if not isinstance(raw_headers, list) or not all(
            isinstance(h, dict) and isinstance(h.get("Name"), str) and "Value" in h
            for h in raw_headers
        ):
            raise _Invalid(300, "Invalid 'Headers': expected a list of {Name, Value} objects.")
        if not isinstance(msg.get("Metadata") or {}, dict):
            raise _Invalid(300, "Invalid 'Metadata': expected an object.")
        if not isinstance(msg.get("Tag") or "", str):
            raise _Invalid(300, "Invalid 'Tag': expected a string.")
        headers = {h["Name"]: str(h["Value"]) for h in raw_headers}
        if msg.get("ReplyTo"):
            headers["Reply-To"] = msg["ReplyTo"]
        return recipients, headers


# --- SendGrid ---------------------------------------------------------------------------------

SENDGRID_BAD_AUTH = "The provided authorization grant is invalid, expired, or revoked"
SENDGRID = {
    "no_personalizations": "The personalizations field is required and must have at least one "
    "personalization.",
    "personalizations": "The personalization block is limited to 1000 personalizations per API "
    "request. You have provided {n} personalizations. Please consider splitting this into "
    "multiple requests and resending your request.",
    "total": "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
    "to": "The to parameter is required for all personalization objects, and must have at least "
    "one email object with a valid email address.",
    "to_email": "Each to object must at least have an email address and may also contain a name. "
    'e.g. {"email": "example@example.com"} or {"email": "example@example.com", "name": '
    '"Example Recipient"}',
    "duplicate": "Each unique email address in the personalizations array should only be "
    "included once. You have included {email} more than once.",
    "from": "The from object must be provided for every email send. It is an object that "
    "requires the email parameter, but may also contain a name parameter.",
    "subject": "The subject is required. You can get around this requirement if you use a "
    "template with a subject defined or if every personalization has a subject defined.",
    "content": "Unless a valid template_id is provided, the content parameter is required. There "
    "must be at least one defined content block. We typically suggest both text/plain and "
    "text/html blocks are included, but only one block is required.",
    "content_value": "The content value must be a string at least one character in length.",
    "content_type": "The content type must be a string at least one character in length.",
    "content_order": "If present, text/plain and text/html may only be the first two content "
    "blocks, in that order.",
    "strings": "The {key} object must map strings to strings.",
    "categories": "Too many categories on this message. The maximum number of categories is 10.",
    "category": "Each category must be a string.",
    "rejected": "The email address {email} has been rejected.",
}


class FakeSendGrid(FakeProvider):
    """`POST /v3/mail/send`, `Authorization: Bearer <api_key>`, JSON with personalizations.
    202 with an empty body and `X-Message-Id`. reject_recipient(address, code=400, message):
    any request naming that address fails as a whole with a 400-style errors body.

    `GET /v3/messages?limit=&query=` (same key): the Email Activity API, {"messages": [...]}
    newest first, one per recipient, at most `limit` (1 to 1,000) and no further pages. The
    query language: `field="value"` for msg_id, from_email, subject, to_email, status,
    categories and `unique_args['name']` (custom_args), last_event_time against
    `TIMESTAMP "2026-12-01T09:00:00Z"`; =, !=, <, >, <=, >=, [NOT] BETWEEN, [NOT] LIKE, [NOT]
    IN, NOT, AND, OR and parentheses. `email_activity=False` is an account without the paid
    add-on: SendGrid then answers 400 {"errors": [{"message": "authorization required"}]}."""

    name = "sendgrid"
    MAX_PERSONALIZATIONS = 1000
    MAX_RECIPIENTS = 1000
    MAX_CATEGORIES = 10
    MAX_ACTIVITY = 1000  # messages in one Email Activity answer

    def __init__(
        self,
        api_key: str = "SG.test",
        *,
        delay: float = 0.0,
        email_activity: bool = True,
        records_lag: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(api_key, delay=delay, records_lag=records_lag, clock=clock)
        self.email_activity = email_activity

    def error_reply(self, status: int, message: str, where: str | None = None) -> Reply:
        return json_reply(status, {"errors": [{"message": message, "field": where, "help": None}]})

    def _retry_headers(self, retry_after: float) -> dict[str, str]:
        reset = str(int(time.time() + retry_after))
        return {"Retry-After": f"{retry_after:g}", "X-RateLimit-Reset": reset}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == "/v3/messages":
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return self.error_reply(401, SENDGRID_BAD_AUTH)
            return self._activity(request.query)
        if request.method != "POST" or request.path != "/v3/mail/send":
            return self.error_reply(404, "Not Found")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_reply(401, SENDGRID_BAD_AUTH)
        if JSON not in request.headers.get("content-type", "").lower():
            return self.error_reply(415, "Content-Type should be application/json.")
        body = request.body
        if request.error or not isinstance(body, dict):
            return self.error_reply(400, "Bad Request")
        errors = self._check(body)
        if errors:
            payload = [{"message": m, "field": f, "help": None} for m, f in errors]
            return json_reply(400, {"errors": payload})
        for i, p in enumerate(body["personalizations"]):
            for j, recipient in enumerate(p["to"]):
                if rejection := self._rejection(recipient["email"]):
                    code, reason = rejection
                    reason = reason or SENDGRID["rejected"].format(email=recipient["email"])
                    return self.error_reply(
                        code or 400, reason, f"personalizations.{i}.to.{j}.email"
                    )
        message_id = secrets.token_urlsafe(16)[:22]
        self._accept(self._normalise(body, message_id))
        return Reply(202, b"", {"X-Message-Id": message_id})

    # --- Email Activity -----------------------------------------------------------------------

    def _activity(self, params: dict[str, str]) -> Reply:
        if not self.email_activity:
            return json_reply(400, {"errors": [{"message": "authorization required"}]})
        try:
            limit = int(params["limit"])
        except (KeyError, ValueError):
            limit = 0
        if not 1 <= limit <= self.MAX_ACTIVITY:
            message = f"limit is required: a number from 1 to {self.MAX_ACTIVITY}"
            return self.error_reply(400, message, "limit")
        try:
            keep = _sg_query(params.get("query", ""))
        except _Invalid as exc:
            return self.error_reply(exc.status, str(exc), "query")
        rows = [self._activity_row(r) for r in self.records]
        found = sorted((r for r in rows if keep(r)), key=lambda r: r["_seq"], reverse=True)
        messages = [{k: v for k, v in r.items() if not k.startswith("_")} for r in found]
        return json_reply(200, {"messages": messages[:limit]})

    def _activity_row(self, record: dict[str, Any]) -> dict[str, Any]:
        m = record["message"]
        return {
            "from_email": addresses(m.get("from") or "")[0][1] if m.get("from") else "",
            "msg_id": f"{m['provider_id']}.filterdrecv-fake-{record['seq']}-0.0",
            "subject": m.get("subject") or "",
            "to_email": m["email"],
            "status": "delivered",
            "opens_count": 0,
            "clicks_count": 0,
            "last_event_time": record["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "_seq": record["seq"],
            "_at": record["at"],
            "_unique_args": dict(m.get("metadata") or {}),
            "_categories": list(m.get("tags") or []),
        }

    def _check(self, body: dict[str, Any]) -> list[tuple[str, str | None]]:
        errors: list[tuple[str, str | None]] = []
        ps = body.get("personalizations")
        if not isinstance(ps, list) or not ps:
            errors.append((SENDGRID["no_personalizations"], "personalizations"))
            ps = []
        elif len(ps) > self.MAX_PERSONALIZATIONS:
            errors.append((SENDGRID["personalizations"].format(n=len(ps)), "personalizations"))
        total, seen, every_subject = 0, set(), True
        for i, p in enumerate(ps):
            where = f"personalizations.{i}"
            to = p.get("to") if isinstance(p, dict) else None
            if not isinstance(to, list) or not to:
                errors.append((SENDGRID["to"], f"{where}.to"))
                continue
            total += len(to)
            for j, recipient in enumerate(to):
                address = recipient.get("email") if isinstance(recipient, dict) else None
                if not isinstance(address, str) or not valid(address):
                    errors.append((SENDGRID["to_email"], f"{where}.to.{j}.email"))
                elif address.lower() in seen:
                    message = SENDGRID["duplicate"].format(email=address)
                    errors.append((message, f"{where}.to.{j}.email"))
                else:
                    seen.add(address.lower())
            every_subject = every_subject and bool(p.get("subject"))
            for key in ("headers", "substitutions", "custom_args"):
                if not _strings(p.get(key)):
                    errors.append((SENDGRID["strings"].format(key=key), f"{where}.{key}"))
        if total > self.MAX_RECIPIENTS:
            errors.append((SENDGRID["total"], "personalizations"))
        sender = body.get("from")
        if not isinstance(sender, dict) or not valid(str(sender.get("email", ""))):
            errors.append((SENDGRID["from"], "from.email"))
        if not body.get("subject") and not every_subject:
            errors.append((SENDGRID["subject"], "subject"))
        errors.extend(self._check_content(body.get("content")))
        for key in ("headers", "custom_args"):
            if not _strings(body.get(key)):
                errors.append((SENDGRID["strings"].format(key=key), key))
        categories = body.get("categories") or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            errors.append((SENDGRID["category"], "categories"))
        elif len(categories) > self.MAX_CATEGORIES:
            errors.append((SENDGRID["categories"], "categories"))
        return errors

    @staticmethod
    def _check_content(content: Any) -> list[tuple[str, str | None]]:
        if not isinstance(content, list) or not content:
            return [(SENDGRID["content"], "content")]
        errors: list[tuple[str, str | None]] = []
        types = []
        for i, block in enumerate(content):
            block = block if isinstance(block, dict) else {}
            if not isinstance(block.get("type"), str) or not block["type"]:
                errors.append((SENDGRID["content_type"], f"content.{i}.type"))
            if not isinstance(block.get("value"), str) or not block["value"]:
                errors.append((SENDGRID["content_value"], f"content.{i}.value"))
            types.append(block.get("type"))
        expected = [kind for kind in ("text/plain", "text/html") if kind in types]
        if types[: len(expected)] != expected or any(types.count(k) > 1 for k in expected):
            errors.append((SENDGRID["content_order"], "content"))
        return errors

    def _normalise(self, body: dict[str, Any], message_id: str) -> list[dict[str, Any]]:
        content = {block["type"]: block["value"] for block in body["content"]}
        accepted = []
        for p in body["personalizations"]:
            substitutions = p.get("substitutions") or {}

            def sub(value: str | None, substitutions: dict[str, str] = substitutions) -> str | None:
                for key, replacement in substitutions.items():
                    value = value.replace(key, replacement) if value is not None else None
                return value

            sender = p.get("from") or body["from"]
            headers = {**(body.get("headers") or {}), **(p.get("headers") or {})}
            headers = {name: sub(value) for name, value in headers.items()}
            if reply_to := body.get("reply_to"):
                headers["Reply-To"] = sub(display(reply_to.get("name"), reply_to["email"]))
            metadata = {**(body.get("custom_args") or {}), **(p.get("custom_args") or {})}
            for recipient in p["to"]:
                accepted.append(
                    message(
                        to=display(recipient.get("name"), recipient["email"]),
                        email=recipient["email"],
                        sender=display(sender.get("name"), sender["email"]),
                        subject=sub(p.get("subject") or body.get("subject")),
                        text=sub(content.get("text/plain")),
                        html=sub(content.get("text/html")),
                        headers=dict(headers),
                        metadata=dict(metadata),
                        tags=list(body.get("categories") or []),
                        provider_id=message_id,
                    )
                )
        return accepted


# The Email Activity query language, as much of it as the docs show: comparisons of fields with
# quoted values (and TIMESTAMP "..."), BETWEEN, LIKE, IN, NOT, AND, OR and parentheses.
_SG_TOKEN = re.compile(
    r"""\s*(?:
      (?P<arg>unique_args\['(?P<name>[^']*)'\])
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<punct>[(),\[\]])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)
_SG_FIELDS = {"msg_id", "from_email", "subject", "to_email", "status", "categories"}
_SG_FIELDS |= {"last_event_time", "opens_count", "clicks_count"}

Row = dict[str, Any]
Test = Callable[[Row], bool]


def _sg_query(text: str) -> Test:
    """The query as a test of one activity row; _Invalid(400) for what SendGrid would refuse."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _SG_TOKEN.match(text, position)
        if not found or found.end() == position:
            raise _Invalid(400, f"invalid query near {text[position : position + 20]!r}")
        kind = found.lastgroup or ""
        if kind == "name":
            kind = "arg"
        value = found["name"] if kind == "arg" else found[kind]
        tokens.append((kind, value))
        position = found.end()
    if not tokens:
        return lambda row: True
    parser = _SgParser(tokens)
    test = parser.expression()
    if parser.position != len(tokens):
        raise _Invalid(400, f"invalid query: unexpected {tokens[parser.position][1]!r}")
    return test


class _SgParser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self, *words: str) -> bool:
        if self.position >= len(self.tokens):
            return False
        kind, value = self.tokens[self.position]
        return value.upper() in words if kind in ("word", "punct", "op") else False

    def take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise _Invalid(400, "invalid query: it ends too soon")
        self.position += 1
        return self.tokens[self.position - 1]

    def expect(self, word: str) -> None:
        if not self.peek(word):
            raise _Invalid(400, f"invalid query: {word} expected")
        self.position += 1

    def expression(self) -> Test:
        parts = [self.term()]
        while self.peek("OR"):
            self.position += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else lambda row: any(p(row) for p in parts)

    def term(self) -> Test:
        parts = [self.factor()]
        while self.peek("AND"):
            self.position += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else lambda row: all(p(row) for p in parts)

    def factor(self) -> Test:
        if self.peek("NOT"):
            self.position += 1
            inner = self.factor()
            return lambda row: not inner(row)
        if self.peek("("):
            self.position += 1
            inner = self.expression()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Test:
        kind, name = self.take()
        if kind == "arg":
            key = ("_unique_args", name)
        elif kind == "word" and name.lower() in _SG_FIELDS:
            column = name.lower()
            key = ({"categories": "_categories", "last_event_time": "_at"}.get(column, column), "")
        else:
            raise _Invalid(400, f"invalid query: unknown field {name!r}")
        negate = self.peek("NOT")
        if negate:
            self.position += 1
        if self.peek("BETWEEN"):
            self.position += 1
            low = self.value()
            self.expect("AND")
            op, operands = "between", [low, self.value()]
        elif self.peek("LIKE"):
            self.position += 1
            pattern = re.escape(str(self.value())).replace("%", ".*").replace("_", ".")
            op, operands = "like", [pattern]
        elif self.peek("IN"):
            self.position += 1
            op, operands = "in", self.choices()
        elif (
            not negate
            and self.position < len(self.tokens)
            and self.tokens[self.position][0] == "op"
        ):
            op, operands = self.take()[1], [self.value()]
        else:
            raise _Invalid(400, f"invalid query: a comparison expected after {name!r}")

        def test(row: Row) -> bool:
            column, arg = key
            have = row[column].get(arg) if arg else row[column]
            return _sg_test(have, op, operands) != negate

        return test

    def choices(self) -> list[Any]:
        if not (self.peek("(") or self.peek("[")):
            raise _Invalid(400, "invalid query: IN needs a list")
        close = ")" if self.take()[1] == "(" else "]"
        values = [self.value()]
        while self.peek(","):
            self.position += 1
            values.append(self.value())
        self.expect(close)
        return values

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "word" and text.upper() == "TIMESTAMP":
            kind, text = self.take()
            if kind != "string":
                raise _Invalid(400, "invalid query: TIMESTAMP needs a quoted time")
            try:
                return datetime.fromisoformat(json.loads(text).replace("Z", "+00:00"))
            except ValueError:
                raise _Invalid(400, f"invalid query: {text} is not a time") from None
        if kind == "string":
            return json.loads(text)
        if kind == "number":
            return float(text)
        raise _Invalid(400, f"invalid query: a value expected, not {text!r}")


def _sg_test(have: Any, op: str, operands: list[Any]) -> bool:
    if op == "between":
        return _sg_cmp(have, ">=", operands[0]) and _sg_cmp(have, "<=", operands[1])
    if op == "like":
        values = [v for v in _sg_values(have) if v is not None]
        return any(re.fullmatch(operands[0], str(v), re.I) for v in values)
    if op == "in":
        return any(_sg_cmp(have, "=", choice) for choice in operands)
    return _sg_cmp(have, op, operands[0])


def _sg_values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_SG_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _sg_cmp(have: Any, op: str, want: Any) -> bool:
    """One comparison; a field with several values (categories) passes if any value does."""
    for value in _sg_values(have):
        wanted = want
        try:
            if isinstance(value, datetime) and isinstance(wanted, str):
                wanted = datetime.fromisoformat(wanted.replace("Z", "+00:00"))
            elif isinstance(value, int | float) and isinstance(wanted, str):
                wanted = float(wanted)
            elif isinstance(wanted, float) and isinstance(value, str):
                value = float(value)
            if value is not None and _SG_OPS[op](value, wanted):
                return True
        except (TypeError, ValueError):
            continue
    return False


def _strings(value: Any) -> bool:
    """None, or a dict of strings to strings."""
    return value is None or (
        isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    )
