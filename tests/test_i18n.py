"""The message catalogues (engage/i18n.py): every marked message translated in Welsh with the
same placeholders, the fallbacks (cy-GB to cy to English), a workspace's own catalogue, a
catalogue with a mistake, and which language wins."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from engage import i18n
from engage.stories import coproduce, telling
from engage.web import stories as story_pages

REPO = Path(__file__).resolve().parent.parent
OURS = REPO / "src" / "engage" / "locales"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\{\s*(\w+)\s*\}\}")


def marked_messages() -> dict[str, tuple[str, ...]]:
    """Every message babel.cfg finds in engage's code and templates, as scripts/i18n extracts
    them: {msgid: (plural,) or ()}."""
    with open(REPO / "babel.cfg", encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found: dict[str, tuple[str, ...]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(REPO), method_map, options_map
    ):
        if isinstance(message, tuple):
            found[message[0]] = tuple(m for m in message[1:] if m)
        else:
            found[message] = ()
    return found


def welsh():
    with open(OURS / "cy" / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale="cy")


def test_every_marked_message_is_in_the_welsh_catalogue_and_translated() -> None:
    catalogue = welsh()
    marked = marked_messages()
    assert len(marked) > 150  # the pages, the emails and their subject lines
    missing = [m for m in marked if m not in catalogue]
    assert missing == []
    problems = []
    for msgid in marked:
        message = catalogue[msgid]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"{msgid!r}: fuzzy or not translated")
        wanted = sorted(PLACEHOLDER.findall(msgid))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"{msgid!r}: placeholders {PLACEHOLDER.findall(string)}")
    assert problems == []
    assert [str(e) for _m, errors in catalogue.check() for e in errors] == []
    # Nothing in the catalogue that no page or email says any more (scripts/i18n drops them).
    ids = [m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue if m.id]
    assert sorted(msgid for msgid in ids if msgid not in marked) == []


def test_the_welsh_catalogue_has_welsh_plural_forms() -> None:
    catalogue = welsh()
    assert catalogue.num_plurals == 6  # zero, one, two, few, many, other (CLDR, through Babel)
    words = i18n.translations("cy")
    days = "The link works for %(num)d day.", "The link works for %(num)d days."
    said = {n: words.ngettext(*days, n) % {"num": n} for n in (1, 2, 3, 7)}
    assert said == {
        1: "Mae'r ddolen yn gweithio am 1 diwrnod.",
        2: "Mae'r ddolen yn gweithio am 2 ddiwrnod.",  # dau ddiwrnod: the soft mutation
        3: "Mae'r ddolen yn gweithio am 3 diwrnod.",
        7: "Mae'r ddolen yn gweithio am 7 diwrnod.",
    }


def test_words_kept_elsewhere_are_marked_exactly() -> None:
    """Words the stories library keeps in its own tables are marked for the catalogues here;
    they must stay the same words, or the Welsh would never be found."""
    welsh = i18n.translations("cy")
    for words in telling.STATUS_WORDS.values():  # marked where they are kept (babel.cfg)
        assert welsh.gettext(words) != words, words
    labels = coproduce.channels({"x": "x", "mastodon": "mastodon", "bluesky": "bluesky"})
    assert set(labels.values()) <= set(story_pages.PLACES)


def test_a_region_falls_back_to_its_language_then_to_english() -> None:
    assert i18n.translations("cy").gettext("Sign up") == "Cofrestru"
    assert i18n.translations("cy-GB").gettext("Sign up") == "Cofrestru"
    assert i18n.translations("en-GB").gettext("Sign up") == "Sign up"
    assert i18n.translations("fr").gettext("Sign up") == "Sign up"
    assert i18n.translations("cy").gettext("Words no catalogue has") == "Words no catalogue has"


def test_the_languages_a_page_may_be_in(tmp_path) -> None:
    assert i18n.catalogue_tags() == ["cy"]
    assert i18n.languages(None, "en-GB") == ["en-GB", "cy"]
    assert i18n.languages(None, "cy", ["cy", "en-GB"]) == ["cy", "en-GB"]
    assert i18n.languages(None, "en") == ["en", "cy"]
    write_po(tmp_path / "locales" / "pl", {"Sign up": "Zarejestruj się"})
    assert i18n.languages(tmp_path, "en-GB", ["en-GB", "pl"]) == ["en-GB", "pl", "cy"]


def test_a_day_in_each_language() -> None:
    monday = dt.date(2026, 12, 14)
    assert i18n.day(monday, "en-GB") == "Monday 14 December" == monday.strftime("%A %-d %B")
    assert i18n.day(monday, "cy") == "Dydd Llun 14 Rhagfyr"
    assert i18n.day(monday, "zz") == "Monday 14 December"


def test_choosing_takes_the_first_wish_a_language_serves() -> None:
    available = ["en-GB", "cy"]
    assert i18n.choose(available, [None, "", "cy-GB"]) == "cy"
    assert i18n.choose(available, ["fr", "en-US"]) == "en-GB"
    assert i18n.choose(available, ["not a tag", "*"]) == "en-GB"
    assert i18n.choose(available, []) == "en-GB"


def write_po(folder: Path, messages: dict[str, str], header: str = "") -> Path:
    path = folder / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'\nmsgid "{k}"\nmsgstr "{v}"\n' for k, v in messages.items())
    path.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n' + header + body,
        encoding="utf-8",
    )
    return path


def test_a_workspaces_catalogue_comes_before_engages(tmp_path) -> None:
    write_po(tmp_path / "locales" / "cy", {"Sign up": "Ymunwch â ni"})
    words = i18n.translations("cy", tmp_path)
    assert words.gettext("Sign up") == "Ymunwch â ni"  # the workspace's words
    assert words.gettext("Your consent") == "Eich caniatâd"  # engage's, for the rest
    assert words.gettext("Walking") == "Walking"


def test_a_catalogue_with_a_mistake_names_its_file_and_line(tmp_path) -> None:
    path = write_po(tmp_path / "locales" / "cy", {"Sign up": "Ymunwch"})
    path.write_text(path.read_text(encoding="utf-8") + 'Helo "Hello"\n')
    with pytest.raises(i18n.CatalogueError) as bad:
        i18n.translations("cy", tmp_path)
    assert str(bad.value) == (
        f"{path}:7: Unknown or misformatted keyword: 'Helo \"Hello\"'. Fix the line, or check "
        "it with: pybabel compile --statistics -i FILE -o /dev/null"
    )

    write_po(tmp_path / "locales" / "cy", {"Hello %(name)s,": "Helo %(enw)s,"})
    with pytest.raises(i18n.CatalogueError) as wrong:
        i18n.translations("cy", tmp_path)
    assert "locales/cy/LC_MESSAGES/messages.po:5: the translation of 'Hello %(name)s,'" in str(
        wrong.value
    ), str(wrong.value)
    assert str(wrong.value).endswith("Use the same %(name)s placeholders as the English.")


def test_subject_lines_are_extracted_with_their_placeholders() -> None:
    path = REPO / "src" / "engage" / "templates" / "emails" / "subjects.toml"
    with open(path, "rb") as file:
        found = list(i18n.extract_subjects(file, [], [], {}))
    assert [(line, message) for line, _f, message, _c in found] == [
        (3, "Thank you for your story"),
        (4, "Your story is ready for you to check"),
        (5, "News about your story"),
        (6, "We have published your story"),
        (7, "We are not able to use your story this time"),
        (8, "Your story went out on {{ day }}"),
    ]  # the team's subject lines stay English
