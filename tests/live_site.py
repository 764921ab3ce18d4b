"""The web app served for real (waitress, on a free loopback port), for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from waitress.server import create_server

from engage.config import load_workspace
from engage.store import open_store
from engage.store.schema import outgoing
from engage.web import create_app
from engage.workflow.worker import Worker


def queue_sent(project, seconds: float = 10) -> None:  # noqa: ANN001 - the conftest Project
    """Wait until the server's worker has sent every queued email (a page only queues them)."""
    store = open_store(project.workspace)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with store.connect() as c:
                busy = c.execute(
                    sa.select(sa.func.count()).where(
                        outgoing.c.state.in_(("waiting", "claimed", "sending"))
                    )
                ).scalar()
            if not busy:
                return
            time.sleep(0.05)
        raise AssertionError(f"{busy} queued email(s) still waiting after {seconds} s")
    finally:
        store.engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(project) -> Iterator[str]:  # noqa: ANN001 - the conftest Project
    """Serve the project's web app; its base_url is pointed at the server. Yields the base."""
    port = free_port()
    project.replace(
        "engage.toml", 'base_url = "http://127.0.0.1:8025"', f'base_url = "http://127.0.0.1:{port}"'
    )
    app = create_app(load_workspace(project.root / "engage.toml"))
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    engage = app.extensions["engage"]
    worker = Worker(engage["store"], engage["workspace"], engage["signer"], every=0.2).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        worker.stop()
        app.extensions["engage"]["store"].engine.dispose()
