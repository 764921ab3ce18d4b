"""The example Easy Read email as headless Chromium lays it out: each picture left of its words
on a wide screen, above them on a 320px phone, large text, nothing wider than the screen, and
no axe-core violations. The pictures are served by the test (a plain PNG), so each box has its
real size. Each test saves a screenshot in its tmp folder, to look at."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from engage import campaigns
from engage.render.build import build, sample_recipient

from .browser import axe, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401

VERSION = "campaigns/doing-with-not-doing-to.easy-read.md"
ROWS = 15


def _png(width: int, height: int) -> bytes:
    """A plain blue PNG, written by hand (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x0b\x4f\x8a" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PICTURE = _png(400, 300)

# In the page: for each row, the picture's box and the box of its words.
_ROWS = """
() => [...document.querySelectorAll('.easy-read-row')].map((row) => {
  const box = (element) => {
    const r = element.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width};
  };
  const image = row.querySelector('.easy-read-picture img');
  const words = [...row.querySelectorAll('.easy-read-words p.sentence')];
  return {
    picture: box(image),
    loaded: image.naturalWidth,
    words: {
      left: Math.min(...words.map((w) => box(w).left)),
      right: Math.max(...words.map((w) => box(w).right)),
      top: Math.min(...words.map((w) => box(w).top)),
      bottom: Math.max(...words.map((w) => box(w).bottom)),
    },
    sizes: words.map((w) => parseFloat(getComputedStyle(w).fontSize)),
    text: words.map((w) => w.innerText.trim()),
  };
})
"""
_PAGE_WIDTH = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def _open(project, page, tmp_path: Path, width: int) -> Path:
    ws = project.workspace
    campaign = campaigns.load(ws, str(project.root / VERSION))
    message = build(ws, campaign).personalise(sample_recipient(ws, campaign), "easy-read")
    path = tmp_path / f"easy-read-{width}.html"
    path.write_text(message.html, encoding="utf-8")
    page.route(
        "https://www.example.org/images/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=PICTURE),
    )
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return path


def _screenshot(page, path: Path) -> Path:
    shot = path.with_suffix(".png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    return shot


def _rows(page) -> list[dict[str, Any]]:
    return page.evaluate(_ROWS)


@pytest.mark.parametrize("width", [600, 640, 1280])
def test_on_a_wide_screen_each_picture_is_left_of_its_words(project, page, tmp_path, width) -> None:
    path = _open(project, page, tmp_path, width)
    _screenshot(page, path)

    assert page.evaluate(_PAGE_WIDTH) == [width, width]
    rows = _rows(page)
    assert len(rows) == ROWS
    for row in rows:
        picture, words = row["picture"], row["words"]
        assert row["loaded"] == 400
        assert picture["width"] == 160
        assert picture["right"] <= words["left"], row["text"]
        # Side by side: the picture and its words share some of the same height.
        assert picture["top"] < words["bottom"] and words["top"] < picture["bottom"], row["text"]
        assert min(row["sizes"]) >= 22
    # Each row is below the one before it.
    tops = [row["picture"]["top"] for row in rows]
    assert tops == sorted(tops) and len(set(tops)) == ROWS


def test_on_a_320px_phone_each_picture_is_above_its_words(project, page, tmp_path) -> None:
    path = _open(project, page, tmp_path, 320)
    shot = _screenshot(page, path)

    assert shot.name == "easy-read-320.png"
    assert page.evaluate(_PAGE_WIDTH) == [320, 320]
    rows = _rows(page)
    assert len(rows) == ROWS
    for row in rows:
        picture, words = row["picture"], row["words"]
        assert picture["bottom"] <= words["top"], row["text"]
        assert picture["left"] == words["left"] == 32  # both start at the same margin
        assert words["right"] <= 320 - 32
        assert min(row["sizes"]) >= 22
    for before, after in zip(rows, rows[1:], strict=False):
        assert before["words"]["bottom"] <= after["picture"]["top"]


def test_the_email_says_its_language_and_its_rows_in_reading_order(project, page, tmp_path) -> None:
    _open(project, page, tmp_path, 320)
    assert page.evaluate("() => document.documentElement.lang") == "en-GB"
    reading = page.evaluate(
        "() => [...document.querySelectorAll('.easy-read-row')].slice(0, 2)"
        ".map((row) => row.innerText.replace(/\\s+/g, ' ').trim())"
    )
    assert reading == [
        "This year we worked in a new way. Disabled people helped us plan our work from the start.",
        'We call this "doing with, not doing to". It means you help make the plans.',
    ]


@pytest.mark.parametrize("width", [320, 1280])
def test_the_easy_read_email_has_no_axe_violations(project, page, tmp_path, width) -> None:
    _open(project, page, tmp_path, width)
    violations = axe(page, email=True)
    assert not violations, format_violations(violations, title=f"Easy Read at {width}px")
