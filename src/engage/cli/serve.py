"""`engage serve`: the web app on this machine, for trying it out or behind a proxy."""

from __future__ import annotations

import gc
import logging
import resource
import socket

import click

from .common import workspace

CONNECTIONS = 1000  # open connections, idle or busy: waitress's default is 100
IDLE_SECONDS = 30  # an idle connection is closed after this; a reverse proxy can be stricter
SPARE_FILES = 64  # files the process needs besides its connections: database, templates, logs


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
@click.option(
    "--connections",
    default=CONNECTIONS,
    show_default=True,
    type=click.IntRange(10, 100_000),
    help="How many connections to keep open at once, idle ones too.",
)
@click.option(
    "--proxy",
    metavar="ADDRESS",
    help="The address of your reverse proxy. engage then reads the visitor's address and "
    "https from the X-Forwarded-For and X-Forwarded-Proto headers it adds (docs/serving.md).",
)
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, threads: int, connections: int, proxy: str | None
) -> None:
    """Run the web app (sign-up, unsubscribe, preferences, webhooks, archive) with waitress.

    It also sends the emails the web pages queue (like sign-up links), as soon as they are
    queued."""
    from waitress.server import create_server

    from ..tokens import signer
    from ..web import create_app

    _log_plainly()
    signer(workspace(ctx))  # a missing key is the first thing to say: nothing works without it
    _can_listen(host, port)  # before the app sets up a database for a server that cannot start
    app = create_app(workspace(ctx), threads=threads)
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="engage",
            **_limits(connections),
            **_behind(proxy),
        )
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None
    click.echo(
        f"engage is serving http://{host}:{port}/ (links in emails use "
        f"{workspace(ctx).config.web.base_url}). Press Ctrl+C to stop."
    )
    worker = _worker(app)
    _settled()
    try:
        server.run()
    finally:
        worker.stop()


def _settled() -> None:
    """Everything made while starting lives as long as the server: keep it out of the garbage
    collector's full passes, which otherwise walk it all and held every request in flight for
    up to 40 ms under load (2 ms after this)."""
    gc.collect()
    gc.freeze()


def _worker(app):  # noqa: ANN001, ANN202 - a Flask app; a workflow.worker.Worker
    """Sends the emails the web app queues (sign-up links, story emails) outside the requests
    that queue them, so every sign-up answers alike, and opens the story of a reply that came
    by webhook and thanks its contributor. Stops with the server."""
    from ..workflow.worker import Worker

    engage = app.extensions["engage"]
    return Worker(engage["store"], engage["workspace"], engage["signer"]).start()


def _limits(connections: int) -> dict[str, object]:
    """Waitress settings that keep the app answering when many connections sit idle.

    Waitress reads each request whole before a thread handles it, so an idle connection costs
    a file descriptor, not a thread. With its defaults, though, 100 open connections stop it
    taking any more, and an idle one is closed only after 2 minutes: 110 idle connections stop
    every page, unsubscribe and webhook. So: room for `connections`, idle ones closed after
    IDLE_SECONDS (checked every few seconds), and poll() rather than select(), which cannot
    watch more than 1,024 sockets. The process may open as many files as that needs."""
    return {
        "connection_limit": _room_for(connections),
        "channel_timeout": IDLE_SECONDS,
        "cleanup_interval": 5,
        "backlog": 2048,
        "asyncore_use_poll": True,
    }


def _behind(proxy: str | None) -> dict[str, object]:
    """Waitress settings to trust the forwarding headers of the proxy at `proxy`, and only
    its: from anyone else they are removed, so nobody can pretend to be another address."""
    if not proxy:
        return {}
    return {
        "trusted_proxy": proxy,
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
        "clear_untrusted_proxy_headers": True,
    }


def _room_for(connections: int) -> int:
    """`connections`, raising this process's limit on open files to allow it if need be (up to
    the system's hard limit; fewer connections, with a warning, if that is too low)."""
    wanted = connections + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fewer = max(soft - SPARE_FILES, 10)
        logging.getLogger("engage").warning(
            "This system lets engage open %d files, so it will keep %d connections open, not "
            "%d. Raise the limit (ulimit -n) to allow more.",
            soft,
            fewer,
            connections,
        )
        return fewer
    return connections


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
    waitress's chatter (waitress's own "Serving on" line repeats ours), nor waitress's "Task
    queue depth is N" warning: it comes with every request that waits for a free thread, so a
    busy minute filled the log with "Problem:" lines that asked nothing of anyone (and cost
    the server a line written for each request)."""
    handler = logging.StreamHandler()
    handler.setFormatter(_PlainFormatter("%(asctime)s | %(message)s", "%Y-%m-%d %H:%M:%S"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])  # unless already set up
    logging.getLogger("engage").setLevel(logging.INFO)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
