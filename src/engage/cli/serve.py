"""`engage serve`: the web app on this machine, for trying it out or behind a proxy."""

from __future__ import annotations

import logging

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
    """Run the web app (sign-up, unsubscribe, preferences, webhooks, archive) with waitress."""
    from waitress.server import create_server

    from ..web import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(workspace(ctx))
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="engage")
    except OSError as exc:
        raise click.ClickException(
            f"Cannot listen on {host}:{port}: {exc.strerror}. Choose another --port."
        ) from None
    click.echo(
        f"engage is serving http://{host}:{port}/ (links in emails use "
        f"{workspace(ctx).config.web.base_url}). Press Ctrl+C to stop."
    )
    server.run()


def register(cli: click.Group) -> None:
    cli.add_command(serve)
