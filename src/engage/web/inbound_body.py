"""Reading an inbound mail's request body without holding it in memory.

Inbound mail can be big: a voice note or a video comes as tens of megabytes. Each provider
declares the largest inbound post it may send, with room for encoding and the form around it
(its inbound hook's `body_limit`, in engage/providers/; see docs/replies.md, "How big a reply
can be"). `limit` reads it. Every other route keeps the app's small limit (web/__init__.py
MAX_BODY).

A multipart body is read part by part: file parts, and any field bigger than `HOLD`, go to
temporary files in `folder`; small fields stay in memory as the bytes sent (so each can be
decoded with the charset the provider declares). Any other body (Postmark's JSON) is copied to
a temporary file in chunks. The caller removes `folder` when the reply is stored.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from flask import Request as FlaskRequest
from werkzeug.exceptions import BadRequest
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from .. import providers
from ..models import Request, Upload

MB = 1024 * 1024
HOLD = 1 * MB  # a form field bigger than this is kept in a temporary file, not in memory
CHUNK = 64 * 1024
MAX_PARTS = 1000


def limit(provider: str) -> int:
    """The largest inbound body `provider` may post, as its unit declares it."""
    hook = providers.get(provider).inbound
    if hook is None:
        raise KeyError(f"{provider} takes no inbound mail")
    return hook.body_limit


@contextmanager
def spool_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="engage-inbound-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def headers_only(request: FlaskRequest) -> Request:
    """The request without its body: enough to check HTTP Basic credentials first."""
    return Request(headers=_headers(request), body=b"", content_type=request.content_type or "")


def read(request: FlaskRequest, folder: Path) -> Request:
    """The whole request, its body spooled to `folder` as described above."""
    if request.mimetype == "multipart/form-data":
        return _multipart(request, folder)
    if request.mimetype == "application/x-www-form-urlencoded":
        request.max_form_memory_size = request.max_content_length
        body = request.get_data(cache=True)
        return Request(
            headers=_headers(request),
            body=body,
            form=list(request.form.items(multi=True)),
            content_type=request.content_type or "",
        )
    path = folder / "body"
    with path.open("wb") as out:
        _copy(request.stream, out)
    return Request(
        headers=_headers(request),
        body=b"",
        content_type=request.content_type or "",
        body_file=path,
    )


def _headers(request: FlaskRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _copy(stream: IO[bytes], out: IO[bytes]) -> None:
    while chunk := stream.read(CHUNK):
        out.write(chunk)


class _Part:
    """One part being read: in memory until it is a file or grows past HOLD."""

    def __init__(self, event: Field | File, folder: Path, number: int) -> None:
        self.name = event.name
        self.file = isinstance(event, File)
        self.filename = event.filename if isinstance(event, File) else ""
        self.content_type = event.headers.get("content-type", "")
        self.path = folder / f"part-{number}"
        self.held: list[bytes] | None = []
        self.size = 0
        self.out: IO[bytes] | None = None
        if isinstance(event, File):
            self._spill()

    def _spill(self) -> None:
        self.out = self.path.open("wb")
        for chunk in self.held or ():
            self.out.write(chunk)
        self.held = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.out is None and self.size > HOLD:
            self._spill()
        if self.out is not None:
            self.out.write(data)
        else:
            assert self.held is not None
            self.held.append(data)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


def _multipart(request: FlaskRequest, folder: Path) -> Request:
    boundary = request.mimetype_params.get("boundary", "").encode("latin-1", "replace")
    if not boundary:
        raise BadRequest("a multipart body without a boundary")
    decoder = MultipartDecoder(boundary, max_parts=MAX_PARTS)
    parts: list[tuple[str, bytes]] = []
    files: list[Upload] = []
    current: _Part | None = None
    number = 0
    stream = request.stream
    done = False
    try:
        while not done:
            data = stream.read(CHUNK)
            decoder.receive_data(data or None)
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, Epilogue):
                    done = True
                    break
                if isinstance(event, Field | File):
                    number += 1
                    current = _Part(event, folder, number)
                elif isinstance(event, Data) and current is not None:
                    current.write(event.data)
                    if not event.more_data:
                        current.close()
                        if current.held is not None:
                            parts.append((current.name, b"".join(current.held)))
                        else:
                            files.append(
                                Upload(
                                    current.name,
                                    current.filename or "",
                                    current.content_type,
                                    current.path,
                                    current.file,
                                )
                            )
                        current = None
                event = decoder.next_event()
            if not data:
                break
    except ValueError as exc:  # the body ends before its last part does
        raise BadRequest(f"the multipart body cannot be read ({exc})") from None
    finally:
        if current is not None:
            current.close()
    return Request(
        headers=_headers(request),
        body=b"",
        form=[(name, value.decode("utf-8", "replace")) for name, value in parts],
        content_type=request.content_type or "",
        parts=parts,
        files=files,
    )
