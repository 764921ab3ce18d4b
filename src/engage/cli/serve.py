"""`engage serve`: the web app on this machine, for trying it out or behind a proxy."""

from __future__ import annotations

import logging
import socket

import click

from .common import workspace


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    default=8025,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The port to listen on.",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="How many requests to handle at once.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int) -> None:
    """Run the web app (sign-up, unsubscribe, preferences, webhooks, archive) with waitress.

    It also sends the emails the web pages queue (like sign-up links), as soon as they are
    queued."""
    from waitress.server import create_server

    from ..tokens import signer
    from ..web import create_app

    _log_plainly()
    signer(workspace(ctx))  # a missing key is the first thing to say: nothing works without it
    _can_listen(host, port)  # before the app sets up a database for a server that cannot start
    app = create_app(workspace(ctx))
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="engage")
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None
    click.echo(
        f"engage is serving http://{host}:{port}/ (links in emails use "
        f"{workspace(ctx).config.web.base_url}). Press Ctrl+C to stop."
    )
    worker = _own_emails_worker(app)
    try:
        server.run()
    finally:
        worker.stop()


def _own_emails_worker(app):  # noqa: ANN001, ANN202 - a Flask app; an outgoing.Worker
    """Sends the emails the web app queues (sign-up links, story emails) outside the requests
    that queue them, so every sign-up answers alike. Stops with the server."""
    from ..outgoing import Worker

    engage = app.extensions["engage"]
    return Worker(engage["store"], engage["workspace"], engage["signer"]).start()


def _can_listen(host: str, port: int) -> None:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
            probe.bind((host, port))
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None


def _cannot_listen(host: str, port: int, exc: OSError) -> click.ClickException:
    reason = exc.strerror or str(exc)
    return click.ClickException(f"Cannot listen on {host}:{port}: {reason}. Choose another --port.")


class _PlainFormatter(logging.Formatter):
    """The time and the message; a warning or error starts with "Problem:"."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.levelno < logging.WARNING:
            return line
        stamp, _, message = line.partition(" | ")
        return f"{stamp} | Problem: {message}"


def _log_plainly() -> None:
    """What engage says while it serves: its own news, and anyone's warnings. Not Alembic's or
    waitress's chatter (waitress's own "Serving on" line repeats ours)."""
    handler = logging.StreamHandler()
    handler.setFormatter(_PlainFormatter("%(asctime)s | %(message)s", "%Y-%m-%d %H:%M:%S"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])  # unless already set up
    logging.getLogger("engage").setLevel(logging.INFO)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
