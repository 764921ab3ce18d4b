"""The newsletter as headless Chromium lays it out: tables on a 320px phone, on a wide screen
and in large print, with no word broken and nothing wider than the screen; axe still passes.

Each test saves a screenshot in its tmp folder (pytest keeps the last few runs), to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engage import campaigns
from engage.render.build import build, sample_recipient

from .browser import axe, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401

BODY = """# Sessions this winter

Say <span lang="cy">diolch</span> to our Welsh friends. Here is where we meet.

| Day | Time | Place | What to bring | Who can come |
| --- | --- | --- | --- | --- |
| Wednesday | 10:00 | Leeds sports hall | Water and trainers | Everyone, including wheelchair users |
| Saturday | 14:30 | Roundhay Park, by the lake | A warm coat | Families and carers |

<p lang="fr">Bonjour à tous.</p>
"""

# In the page: each word of visible text inside `selector` that the browser split over two
# lines, and each element there whose content is wider than its box.
_BROKEN = """
(selector) => {
  const broken = [];
  const overflowing = [];
  for (const element of document.querySelectorAll(selector)) {
    if (element.scrollWidth > element.clientWidth) overflowing.push(element.textContent.trim());
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const words = /\\S+/g;
      let found;
      while ((found = words.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, found.index);
        range.setEnd(node, found.index + found[0].length);
        const lines = [...range.getClientRects()].filter((r) => r.width > 0);
        if (lines.length > 1) broken.push(found[0]);
      }
    }
  }
  return {broken, overflowing};
}
"""

# In the page: the box and text of each element matching `selector`, in document order.
_BOXES = """
(selector) => [...document.querySelectorAll(selector)].map((element) => {
  const box = element.getBoundingClientRect();
  const style = getComputedStyle(element);
  return {
    text: element.innerText.replace(/\\s+/g, " ").trim(),
    left: box.left, right: box.right, top: box.top, bottom: box.bottom,
    width: box.width, height: box.height,
    display: style.display,
    paddingLeft: parseFloat(style.paddingLeft), paddingRight: parseFloat(style.paddingRight),
    paddingTop: parseFloat(style.paddingTop),
  };
})
"""

_PAGE_WIDTH = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def _open(project, page, tmp_path: Path, variant: str, width: int) -> Path:
    project.campaign("sessions", BODY)
    ws = project.workspace
    campaign = campaigns.load(ws, "sessions")
    message = build(ws, campaign).personalise(sample_recipient(ws, campaign), variant)
    path = tmp_path / f"sessions-{variant}-{width}.html"
    path.write_text(message.html, encoding="utf-8")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(path.as_uri())
    return path


def _screenshot(page, path: Path, selector: str) -> Path:
    page.locator(selector).scroll_into_view_if_needed()
    shot = path.with_suffix(".png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    return shot


def _boxes(page, selector: str) -> list[dict[str, Any]]:
    return page.evaluate(_BOXES, selector)


def _rows(boxes: list[dict[str, Any]], size: int) -> list[list[str]]:
    return [[b["text"] for b in boxes[i : i + size]] for i in range(0, len(boxes), size)]


def test_a_table_stacks_on_a_320px_phone_with_no_word_broken(project, page, tmp_path) -> None:
    path = _open(project, page, tmp_path, "standard", 320)
    _screenshot(page, path, "table.data-table")

    assert page.evaluate(_PAGE_WIDTH) == [320, 320]
    assert page.evaluate(_BROKEN, "table.data-table td, h1, p") == {
        "broken": [],
        "overflowing": [],
    }
    assert [b["height"] for b in _boxes(page, "table.data-table th")] == [0, 0, 0, 0, 0]
    cells = _boxes(page, "table.data-table td")
    assert _rows(cells, 5) == [
        [
            "Day: Wednesday",
            "Time: 10:00",
            "Place: Leeds sports hall",
            "What to bring: Water and trainers",
            "Who can come: Everyone, including wheelchair users",
        ],
        [
            "Day: Saturday",
            "Time: 14:30",
            "Place: Roundhay Park, by the lake",
            "What to bring: A warm coat",
            "Who can come: Families and carers",
        ],
    ]
    # Stacked: each cell is a full-width line under the one before, inside the 24px margins.
    assert {b["display"] for b in cells} == {"block"}
    assert {(b["left"], b["right"]) for b in cells} == {(24, 296)}
    tops = [b["top"] for b in cells]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)
    assert all(
        after["top"] >= before["bottom"] for before, after in zip(cells, cells[1:], strict=False)
    )


def test_a_table_on_a_wide_screen_has_padded_cells_and_whole_words(project, page, tmp_path) -> None:
    path = _open(project, page, tmp_path, "standard", 640)
    _screenshot(page, path, "table.data-table")

    assert page.evaluate(_PAGE_WIDTH) == [640, 640]
    assert page.evaluate(_BROKEN, "table.data-table th, table.data-table td") == {
        "broken": [],
        "overflowing": [],
    }
    cells = _boxes(page, "table.data-table td")
    # A table: the labels stay hidden and each row's cells sit side by side.
    assert _rows(cells, 5)[0] == [
        "Wednesday",
        "10:00",
        "Leeds sports hall",
        "Water and trainers",
        "Everyone, including wheelchair users",
    ]
    for row in (cells[:5], cells[5:]):
        assert len({b["top"] for b in row}) == 1
        assert all(
            after["left"] >= before["right"] for before, after in zip(row, row[1:], strict=False)
        )
    assert {(b["paddingLeft"], b["paddingRight"], b["paddingTop"]) for b in cells} == {(12, 12, 8)}


@pytest.mark.parametrize("width", [600, 320])
def test_large_print_lays_each_row_out_as_lines(project, page, tmp_path, width) -> None:
    path = _open(project, page, tmp_path, "large-print", width)
    _screenshot(page, path, ".data-rows")

    assert page.evaluate(_PAGE_WIDTH) == [width, width]
    assert page.evaluate("() => document.querySelectorAll('table.data-table').length") == 0
    assert page.evaluate(_BROKEN, ".data-cell, h1, p") == {"broken": [], "overflowing": []}
    cells = _boxes(page, ".data-cell")
    assert [b["text"] for b in cells[:5]] == [
        "Day: Wednesday",
        "Time: 10:00",
        "Place: Leeds sports hall",
        "What to bring: Water and trainers",
        "Who can come: Everyone, including wheelchair users",
    ]
    assert len(cells) == 10
    assert len({b["left"] for b in cells}) == 1
    assert all(
        after["top"] >= before["bottom"] for before, after in zip(cells, cells[1:], strict=False)
    )


@pytest.mark.parametrize(
    ("variant", "width"),
    [("standard", 320), ("standard", 1280), ("large-print", 320), ("large-print", 1280)],
)
def test_a_newsletter_with_a_table_and_other_languages_passes_axe(
    project, page, tmp_path, variant, width
) -> None:
    _open(project, page, tmp_path, variant, width)

    violations = axe(page, email=True)

    assert not violations, format_violations(violations, title=f"{variant} at {width}px")
    assert page.evaluate("() => [...document.querySelectorAll('[lang]')].map(e => e.lang)") == [
        "en-GB",
        "en-GB",
        "cy",
        "fr",
    ]
