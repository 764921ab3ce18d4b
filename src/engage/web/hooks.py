"""The providers' event webhooks and inbound mail. Each request is verified with that
provider's own scheme first; anything unverified is refused (401/403) with a log line, and
nothing from it is stored. Events are stored once, however often they are delivered; a
verified event engage cannot read is kept with the reason and answered 200 all the same."""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from flask import Blueprint, Response, abort, request

from ..config import secret
from ..contacts.core import now
from ..errors import ConfigError
from ..store.schema import seen_tokens
from ..webhooks.base import Request, Unreadable, WebhookRefused
from ..webhooks.common import unreadable
from ..webhooks.store import record_events
from ..workflow import inbound as take_inbound
from . import inbound_body, log
from . import state as _engage

blueprint = Blueprint("hooks", __name__)
PROVIDERS = ("mailgun", "postmark", "sendgrid")


def _module(provider: str):  # noqa: ANN202
    return importlib.import_module(f"engage.webhooks.{provider}")


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


def _verify(provider: str, kind: str, incoming: Request) -> None:
    """Check the request came from the provider, or stop with 401/403 (and a log line)."""
    settings = _engage()["workspace"].config.email
    try:
        verify_request(provider, kind, incoming, settings, _seen_token)
    except WebhookRefused as refused:
        log.warning(
            "refused %s %s webhook from %s: %s", provider, kind, request.remote_addr, refused
        )
        if refused.status == 401:
            abort(Response("Unauthorized", 401, {"WWW-Authenticate": 'Basic realm="engage"'}))
        abort(refused.status)
    except ConfigError as missing:
        log.error("cannot check %s %s webhooks: %s", provider, kind, missing)
        abort(403)


def verify_request(provider, kind, incoming, settings, seen_token) -> None:  # noqa: ANN001
    module = _module(provider)
    if provider == "mailgun":
        key = secret(
            settings.mailgun.webhook_signing_key_env, "email.mailgun.webhook_signing_key_env"
        )
        verify = module.verify_events if kind == "events" else module.verify_inbound
        verify(incoming, key, seen_token=seen_token)
    elif provider == "postmark":
        password = secret(
            settings.postmark.webhook_password_env, "email.postmark.webhook_password_env"
        )
        verify = module.verify_events if kind == "events" else module.verify_inbound
        verify(incoming, password, user=settings.postmark.webhook_user)
    elif kind == "events":
        key = secret(
            settings.sendgrid.webhook_public_key_env, "email.sendgrid.webhook_public_key_env"
        )
        module.verify_events(incoming, key)
    else:
        password = secret(
            settings.sendgrid.inbound_password_env, "email.sendgrid.inbound_password_env"
        )
        module.verify_inbound(incoming, password, user=settings.sendgrid.inbound_user)


def _seen_token(token: str) -> bool:
    """Mailgun's replay check: True if this signature token was used before (and note it)."""
    try:
        with _engage()["store"].begin() as connection:
            connection.execute(
                seen_tokens.insert().values(provider="mailgun", token=token, seen_at=now())
            )
    except sa.exc.IntegrityError:
        return True
    return False


@blueprint.post("/webhooks/<provider>")
def webhook(provider: str):  # noqa: ANN201
    """Verified events: each one stored once, and each that cannot be read kept with the
    reason. The answer is 200 either way, so the provider sends none of them again (Mailgun
    retries anything but 200 and 406 for 8 hours, Postmark anything but 200 and 403, SendGrid
    anything but 2xx for a day; a retry would bring back the good events with the bad)."""
    incoming = _verified(provider, "events")
    try:
        found = _module(provider).parse_events(incoming)
    except ValueError as exc:  # not even a list of events: keep the whole body
        found = [unreadable(provider, str(exc), incoming.body)]
    for problem in found:
        if isinstance(problem, Unreadable):
            log.warning("unreadable %s event kept: %s", provider, problem.reason)
    stored = _store(lambda c: record_events(c, found))
    return {"stored": stored.new, "repeated": stored.repeated, "unreadable": stored.unreadable}


@blueprint.post("/inbound/<provider>")
def inbound(provider: str):  # noqa: ANN201
    """A reply, however big the provider may send it: the body is spooled to disk (see
    inbound_body.py), the attachments kept as files by the inbox, the spool then removed."""
    if provider not in PROVIDERS:
        abort(404)
    request.max_content_length = inbound_body.LIMITS[provider]
    with inbound_body.spool_folder() as folder:
        if provider != "mailgun":  # HTTP Basic: checked before a byte of the body is read
            _verify(provider, "inbound", inbound_body.headers_only(request))
        incoming = inbound_body.read(request, folder)
        if provider == "mailgun":  # its signature is in the form fields
            _verify(provider, "inbound", incoming)
        try:
            message = _module(provider).parse_inbound(incoming)
        except ValueError as exc:
            log.warning("unreadable %s inbound: %s", provider, exc)
            abort(400)
        new = _store(lambda c: take_inbound.record_inbound(c, message, _engage()["inbox"]))
        if new:
            take_inbound.arrived()  # the worker opens its story and thanks them now
    return {"stored": 1 if new else 0, "repeated": 0 if new else 1}


def _verified(provider: str, kind: str) -> Request:
    """The request, verified (or refused)."""
    if provider not in PROVIDERS:
        abort(404)
    incoming = _request()
    _verify(provider, kind, incoming)
    return incoming


def _received(provider: str, kind: str, parser: str):  # noqa: ANN202
    """The request verified (or refused) and parsed (or answered 400)."""
    incoming = _verified(provider, kind)
    try:
        return getattr(_module(provider), parser)(incoming)
    except ValueError as exc:
        log.warning("unreadable %s %s: %s", provider, kind, exc)
        abort(400)


def _store(action):  # noqa: ANN001, ANN202
    """Run `action` in a transaction; a twin delivery that raced us in is not an error."""
    for attempt in (1, 2):
        try:
            with _engage()["store"].begin() as connection:
                return action(connection)
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
