"""The example newsletters pass axe-core (WCAG 2.2 A/AA and best practice) in headless Chromium.

axe runs in email mode: webmail supplies the landmarks, so `region` and `landmark-one-main`
are off. What axe cannot check (alt text quality, "click here", font size and the like) is
covered by our own lint rules in test_lint.py and test_readability.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engage import campaigns
from engage.render.build import build, sample_recipient

from .browser import axe, axe_results, blocked_requests, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401

SLUGS = ["doing-with-not-doing-to", "share-your-story"]
VARIANTS = ["standard", "large-print"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("slug", SLUGS)
def test_example_newsletter_has_no_axe_violations(
    project, page, tmp_path: Path, slug: str, variant: str
) -> None:
    ws = project.workspace
    campaign = campaigns.load(ws, slug)
    message = build(ws, campaign).personalise(sample_recipient(ws, campaign), variant)
    path = tmp_path / f"{slug}-{variant}.html"
    path.write_text(message.html, encoding="utf-8")

    page.goto(path.as_uri())
    violations = axe(page, email=True)

    assert not violations, format_violations(violations, title=f"{slug} ({variant})")


BROKEN = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Broken on purpose</title></head>
<body>
  <h1>Our team</h1>
  <img src="https://images.example.org/team.jpg" width="200" height="100">
  <p style="color: #bbbbbb; background: #ffffff">Pale grey text on white.</p>
</body>
</html>
"""


def test_axe_reports_a_missing_alt_and_low_contrast(page, tmp_path: Path) -> None:
    path = tmp_path / "broken.html"
    path.write_text(BROKEN, encoding="utf-8")
    page.goto(path.as_uri())

    violations = axe(page, email=True)

    assert {v["id"] for v in violations} == {"image-alt", "color-contrast"}, format_violations(
        violations
    )
    by_id = {v["id"]: v for v in violations}
    assert [n["target"] for n in by_id["image-alt"]["nodes"]] == ["img"]
    assert [n["target"] for n in by_id["color-contrast"]["nodes"]] == ["p"]
    report = format_violations(violations, title="broken.html")
    assert "- image-alt (critical): Images must have alternative text" in report
    assert "- color-contrast (serious):" in report
    # The remote image never left the machine.
    assert blocked_requests(page) == ["https://images.example.org/team.jpg"]


def test_email_mode_turns_off_only_the_landmark_rules(page, tmp_path: Path) -> None:
    path = tmp_path / "no-landmarks.html"
    path.write_text(
        '<!doctype html><html lang="en"><head><title>Hi</title></head>'
        "<body><h1>Hello</h1><p>Some words.</p></body></html>",
        encoding="utf-8",
    )
    page.goto(path.as_uri())

    as_page = {v["id"] for v in axe_results(page).violations}
    as_email = {v["id"] for v in axe_results(page, email=True).violations}

    assert as_page == {"region", "landmark-one-main"}
    assert as_email == set()
