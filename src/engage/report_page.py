"""A campaign's report as one web page (`engage report CAMPAIGN --format html`): its charts as
inline SVG with the same figures in words beside them, inline CSS, no scripts and nothing
fetched from anywhere. The figures are engage/report.py's. The console's report page shows
the same body (`body`) inside its own page."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from . import clock
from .errors import EngageError
from .report import KIND_MEANINGS, Report, when

CHART_WIDTH = 360


def _day(value: dt.date) -> str:
    return f"{value.day} {value:%b}"


def _long_day(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


def funnel_chart(steps: list[tuple[str, int]]) -> dict[str, Any]:
    """Horizontal bars, one under another, each with its label and number above it."""
    top = max((n for _, n in steps), default=0) or 1
    row = 56
    bars = [
        {
            "label": f"{label}: {n:,}",
            "text_y": i * row + 18,
            "bar_y": i * row + 26,
            "width": round(max(n / top * CHART_WIDTH, 2 if n else 0), 1),
        }
        for i, (label, n) in enumerate(steps)
    ]
    return {"width": CHART_WIDTH, "height": len(steps) * row, "bars": bars}


def funnel_text(report: Report) -> str:
    steps = dict(report.funnel())
    parts = [f"{steps['Sent']:,} were sent the email"]
    if "Delivered" in steps:
        parts.append(f"{steps['Delivered']:,} were delivered")
    parts.append(f"{steps['Wrote back']:,} wrote back")
    listed = ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Bar chart. Of {report.recipients:,} people in the audience, {listed}."


def day_chart(per_day: list[tuple[dt.date, int]]) -> dict[str, Any]:
    """Upright bars, one a day, with the day under some of them and the most at the side."""
    left, right, top, plot_height = 40, 8, 24, 140
    base = top + plot_height
    most = max((n for _, n in per_day), default=0) or 1
    slot = (CHART_WIDTH - left - right) / max(len(per_day), 1)
    labelled = _spread(len(per_day), 5)
    bars = []
    for i, (day, n) in enumerate(per_day):
        height = n / most * plot_height
        x = left + i * slot
        anchor = _anchor(i, len(per_day))
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(base - height, 1),
                "width": round(slot * 0.7, 1),
                "height": round(height, 1),
                "value": n if len(per_day) <= 14 and n else None,
                "centre": round(x + slot / 2, 1),
                "label": _day(day) if i in labelled else "",
                "anchor": anchor,
                "label_x": round({"start": x, "middle": x + slot / 2, "end": x + slot}[anchor], 1),
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": base + 32,
        "left": left,
        "top": top,
        "base": base,
        "most": most,
        "bars": bars,
    }


def _spread(count: int, most: int) -> set[int]:
    """Up to `most` of the indexes 0..count-1, evenly apart, always the first and the last."""
    if count <= most:
        return set(range(count))
    return {round(j * (count - 1) / (most - 1)) for j in range(most)}


def _anchor(i: int, count: int) -> str:
    if count > 2 and i == 0:
        return "start"
    if count > 2 and i == count - 1:
        return "end"
    return "middle"


def day_text(per_day: list[tuple[dt.date, int]]) -> str:
    busiest, most = max(per_day, key=lambda item: item[1])
    return (
        f"Bar chart of replies each day, from {_long_day(per_day[0][0])} "
        f"to {_long_day(per_day[-1][0])}. The most in one day was {most:,}, "
        f"on {_long_day(busiest)}."
    )


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["number"] = "{:,}".format
    text = files("engage").joinpath("report.html.j2").read_text(encoding="utf-8")
    return environment.from_string(text)


def as_html(
    report: Report, *, organisation: str, lang: str = "en-GB", made_at: dt.datetime | None = None
) -> str:
    """One page: inline CSS and SVG, no scripts and nothing fetched from anywhere."""
    made_at = made_at or clock.now()
    return _template().render(
        _context(report), organisation=organisation, lang=lang, made=when(made_at)
    )


def body(report: Report) -> markupsafe.Markup:
    """The page's body without the page around it (its block "body", from the heading to the
    words' meanings), for the console's report page to show inside its own."""
    template = _template()
    return markupsafe.Markup(
        "".join(template.blocks["body"](template.new_context(_context(report))))
    )


def _context(report: Report) -> dict[str, Any]:
    return {
        "report": report,
        "counts": report.counts(),
        "replies_total": sum(report.replies.values()),
        "funnel": funnel_chart(report.funnel()),
        "funnel_text": funnel_text(report),
        "days": [(_long_day(d), n) for d, n in report.per_day],
        "day_chart": day_chart(report.per_day) if report.per_day else None,
        "day_text": day_text(report.per_day) if report.per_day else "",
        "rate": _rate(report),
        "kind_meanings": KIND_MEANINGS,
    }


def _rate(report: Report) -> str:
    rate = report.reply_rate
    return "none yet" if rate is None else f"{rate:.1f}%"


def save(text: str, path: Path) -> None:
    """Write the whole report to a temporary file beside `path`, then put it in place."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise EngageError(
            f"Cannot write the report to {path}: {exc.strerror}. Choose another file with --out."
        ) from None
