"""The providers' event webhooks and inbound mail. Each request is verified with that
provider's own scheme first; anything unverified is refused (401/403) with a log line, and
nothing from it is stored. Events are stored once, however often they are delivered; a
verified event engage cannot read is kept with the reason and answered 200 all the same."""

from __future__ import annotations

from typing import NoReturn

import sqlalchemy as sa
from flask import Blueprint, Response, abort, request

from .. import providers
from ..contacts.core import now
from ..errors import ConfigError, WebhookRefused
from ..models import Request, Unreadable, unreadable
from ..providers.base import Hook
from ..store import conflict
from ..store.schema import seen_tokens
from ..webhooks.store import record_events
from ..workflow import inbound as take_inbound
from . import inbound_body, log
from . import state as _engage

blueprint = Blueprint("hooks", __name__)


def _hook(provider: str, kind: str) -> Hook:
    """The provider's hook for `kind` ("events" or "inbound"), or 404: a provider that takes
    no such request has no such route."""
    try:
        hook = getattr(providers.get(provider), kind)
    except KeyError:
        hook = None
    if hook is None:
        abort(404)
    return hook


def _request() -> Request:
    body = request.get_data(cache=True)  # first, so the raw bytes stay for signatures and charsets
    form = list(request.form.items(multi=True)) if request.form else []
    if request.files:
        form += [
            (name, f.read().decode("utf-8", "replace"))
            for name, f in request.files.items(multi=True)
        ]
    return Request(
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        form=form,
        content_type=request.content_type or "",
    )


def _verify(provider: str, kind: str, incoming: Request) -> list[str]:
    """Check the request came from the provider, or stop with 401/403 (and a log line). The
    one-time tokens it was signed with are returned, for _store to note."""
    settings = _engage()["workspace"].config.email
    tokens: list[str] = []

    def seen(token: str) -> bool:  # noted later, with what the request brings (_note_tokens)
        tokens.append(token)
        return False

    try:
        _hook(provider, kind).verify(incoming, settings, seen)
    except WebhookRefused as refused:
        _refuse(provider, kind, refused)
    except ConfigError as missing:
        log.error("cannot check %s %s webhooks: %s", provider, kind, missing)
        abort(403)
    return tokens


def _refuse(provider: str, kind: str, refused: WebhookRefused) -> NoReturn:
    log.warning("refused %s %s webhook from %s: %s", provider, kind, request.remote_addr, refused)
    if refused.status == 401:
        abort(Response("Unauthorized", 401, {"WWW-Authenticate": 'Basic realm="engage"'}))
    abort(refused.status)


class _Replayed(Exception):
    """A signing token used before: the request is a replay."""


def _note_tokens(connection: sa.Connection, provider: str, tokens: list[str]) -> bool:
    """The replay check for providers that sign a one-time token (Mailgun): note each token,
    in the transaction that stores what the request brought; False if one was used before.
    Noted with what was stored, a token is never spent on a request that was not."""
    if not tokens:
        return True
    name = connection.dialect.name
    if name not in _NOTE:  # made once for each kind of database, as it costs more than it runs
        insert = conflict.insert(connection, seen_tokens).on_conflict_do_nothing()
        _NOTE[name] = insert.returning(seen_tokens.c.token)
    fresh = True
    for token in tokens:
        values = {"provider": provider, "token": token, "seen_at": now()}
        if connection.execute(_NOTE[name], values).first() is None:
            fresh = False
    return fresh


_NOTE: dict[str, sa.Executable] = {}


@blueprint.post("/webhooks/<provider>")
def webhook(provider: str):  # noqa: ANN201
    """Verified events: each one stored once, and each that cannot be read kept with the
    reason. The answer is 200 either way, so the provider sends none of them again (Mailgun
    retries anything but 200 and 406 for 8 hours, Postmark anything but 200 and 403, SendGrid
    anything but 2xx for a day; a retry would bring back the good events with the bad)."""
    incoming, tokens = _verified(provider, "events")
    try:
        found = _hook(provider, "events").parse(incoming)
    except ValueError as exc:  # not even a list of events: keep the whole body
        found = [unreadable(provider, str(exc), incoming.body)]
    for problem in found:
        if isinstance(problem, Unreadable):
            log.warning("unreadable %s event kept: %s", provider, problem.reason)
    stored = _store(
        provider, "events", tokens, lambda c: record_events(c, found), lambda s: s.anything_new
    )
    return {"stored": stored.new, "repeated": stored.repeated, "unreadable": stored.unreadable}


@blueprint.post("/inbound/<provider>")
def inbound(provider: str):  # noqa: ANN201
    """A reply, however big the provider may send it: the body is spooled to disk (see
    inbound_body.py), the attachments kept as files by the inbox, the spool then removed."""
    hook = _hook(provider, "inbound")
    request.max_content_length = inbound_body.limit(provider)
    tokens: list[str] = []
    with inbound_body.spool_folder() as folder:
        if not hook.signed_in_body:  # HTTP Basic: checked before a byte of the body is read
            tokens = _verify(provider, "inbound", inbound_body.headers_only(request))
        incoming = inbound_body.read(request, folder)
        if hook.signed_in_body:  # the signature is in the form fields (Mailgun)
            tokens = _verify(provider, "inbound", incoming)
        try:
            message = hook.parse(incoming)
        except ValueError as exc:
            log.warning("unreadable %s inbound: %s", provider, exc)
            abort(400)
        inbox = _engage()["inbox"]
        new = _store(
            provider,
            "inbound",
            tokens,
            lambda c: take_inbound.record_inbound(c, message, inbox),
            bool,
        )
        if new:
            take_inbound.arrived()  # the worker opens its story and thanks them now
    return {"stored": 1 if new else 0, "repeated": 0 if new else 1}


def _verified(provider: str, kind: str) -> tuple[Request, list[str]]:
    """The request, verified (or refused), and the tokens it was signed with."""
    _hook(provider, kind)
    incoming = _request()
    return incoming, _verify(provider, kind, incoming)


def _store(provider: str, kind: str, tokens: list[str], action, brought):  # noqa: ANN001, ANN202
    """Run `action` in a transaction that notes the request's tokens, through the app's
    writer (store/group.py: on SQLite, with other requests' work in one commit), and only
    then answer: what is answered as stored is committed. A twin delivery that raced us in is
    not an error.

    A token used before is a replay, refused, unless the request brings nothing new
    (`brought(result)` is false): that is the provider sending again a request whose answer
    it never got (engage stored it, then was stopped before it could say so), and it is
    answered as repeated, so the provider stops sending it."""

    def noted(connection: sa.Connection):  # noqa: ANN202
        fresh = _note_tokens(connection, provider, tokens)
        result = action(connection)
        if not fresh and brought(result):
            raise _Replayed  # undoes what the action stored
        return result

    for attempt in (1, 2):
        try:
            return _engage()["writer"].run(noted)
        except _Replayed:
            _refuse(provider, kind, WebhookRefused("this token was used before (a replay)", 403))
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
