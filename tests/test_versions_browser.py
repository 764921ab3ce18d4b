"""The Welsh call for stories and an email in both languages pass axe-core in Chromium, fit
320 px, and say their language on every part: the page's `lang`, and each half of a bilingual
email its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage import campaigns
from engage.config import load_workspace
from engage.render.build import sample_recipient
from engage.sending.editions import Editions

from .browser import axe, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401

BILINGUAL = '[languages]\noffered = ["cy"]\nbilingual = ["cy", "en-GB"]'


def _email(project, fmt: str, lang: str) -> str:
    ws = load_workspace(project.root / "engage.toml")
    campaign = campaigns.load(ws, "share-your-story")
    editions = Editions.of(ws, campaign)
    choice = editions.choose(fmt, lang)
    return editions.built(choice).html[choice.variant].render(sample_recipient(ws, campaign))


@pytest.mark.parametrize(
    ("fmt", "lang", "page_lang"),
    [("html", "cy", "cy"), ("large-print", "cy", "cy"), ("html", "cy en-GB", "cy")],
)
def test_welsh_and_bilingual_emails_have_no_axe_violations(
    project, page, tmp_path: Path, fmt: str, lang: str, page_lang: str
) -> None:
    project.replace("engage.toml", '[languages]\noffered = ["cy"]', BILINGUAL)
    path = tmp_path / f"{fmt}-{lang.replace(' ', '+')}.html"
    path.write_text(_email(project, fmt, lang), encoding="utf-8")
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(path.as_uri())
    violations = axe(page, email=True)
    assert not violations, format_violations(violations, title=f"{fmt} in {lang}")
    assert page.evaluate("document.documentElement.lang") == page_lang
    assert page.evaluate("document.documentElement.scrollWidth <= 320")
    page.screenshot(path=str(tmp_path / f"{fmt}-{lang.replace(' ', '+')}-320.png"), full_page=True)
    # Every heading and paragraph says its language: Welsh words are read in a Welsh voice,
    # and in a bilingual email the English half in an English one.
    spoken = page.evaluate(
        """() => [...document.querySelectorAll('h1, h2, p, li')]
            .filter(e => e.innerText.trim())
            .map(e => [e.closest('[lang]').getAttribute('lang'), e.innerText.trim()])"""
    )
    said = {text: part for part, text in spoken}
    assert said["Rhannwch eich stori gyda ni"] == "cy"
    # engage's own words around the campaign are Welsh too: the greeting and the footer
    assert said["Helo Sam,"] == "cy"
    assert said["Darllenwch yr e-bost hwn yn eich porwr gwe"] == "cy"
    assert said["Dad-danysgrifio o'n negeseuon e-bost"] == "cy"
    if " " in lang:
        assert said["Share your story with us"] == "en-GB"
    else:
        assert "Share your story with us" not in said
