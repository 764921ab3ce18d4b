"""Which version of a campaign each person gets: one owner for the choice, used by the send,
`--dry-run`, the plan's counts and lint's warnings.

A campaign may have versions beside it (campaigns.versions): translations (slug.cy.md) and
Easy Read versions (slug.easy-read.md, slug.cy.easy-read.md). For a person, with their
format and language(s):

1. Language first. Someone who asked for two languages gets one email in both when the
   organisation sends bilingual emails ([languages] bilingual) and the campaign is in both.
   Otherwise each language they asked for is tried in their order; the first the campaign
   is in wins, else the original (in [organisation] lang).
2. Then the format. Easy Read: the Easy Read version in that language when there is one,
   else large print (lint warns, with how many people). Plain text: the text twin. Large
   print and the standard email as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import langs
from ..archive import page_key
from ..campaigns import EASY_READ, Campaign, versions
from ..config import Workspace
from ..render.build import Built, build

FALLBACK = {"html": "standard", "large-print": "large-print", "plain": "plain"}


@dataclass(frozen=True)
class Choice:
    """One person's version: the campaign file (or two, for both languages), the variant of
    it, and the language (two tags for both)."""

    key: tuple[str, str]  # (lang, form) of the Campaign in Editions.files; lang "a b" for both
    variant: str  # standard | large-print | easy-read | plain
    lang: str
    instead: bool = False  # they asked for Easy Read and get large print: there is none


@dataclass
class Editions:
    """Every version of one campaign, and each person's choice among them. Each version is
    built once; a send builds them all before anything goes (all_built), so a version that
    cannot be built stops it; a preview builds only the one it shows."""

    workspace: Workspace
    campaign: Campaign
    home: str = ""
    files: dict[tuple[str, str], Campaign] = field(default_factory=dict)
    both: list[str] = field(default_factory=list)  # [languages] bilingual, if the campaign has both
    _built: dict[tuple[str, str], Built] = field(default_factory=dict)

    @classmethod
    def of(cls, workspace: Workspace, campaign: Campaign) -> Editions:
        """The campaign (an original, not a version) and its versions beside it."""
        home = workspace.config.languages.offered[0]
        files = {(home, ""): campaign}
        for version in versions(workspace, campaign):
            files[(version.lang or home, version.form)] = version
        editions = cls(workspace, campaign, home, files)
        pair = workspace.config.languages.bilingual
        if pair and all(editions.language(tag, "") for tag in pair):
            editions.both = [editions.language(tag, "") or tag for tag in pair]
        return editions

    def language(self, tag: str, form: str) -> str | None:
        """The language of the version that serves `tag` in `form`, if the campaign has one."""
        return langs.best(tag, [lang for lang, f in self.files if f == form])

    def choose(self, fmt: str, stored_lang: str | None) -> Choice:
        wanted = langs.wanted(stored_lang, self.home)
        if len(wanted) == 2 and self.both and _same_pair(wanted, self.both):
            both = " ".join(self.both)
            if fmt == EASY_READ:  # no Easy Read in two languages at once
                return Choice((both, ""), "large-print", both, instead=True)
            return Choice((both, ""), FALLBACK.get(fmt, "standard"), both)
        found = [lang for tag in wanted if (lang := self.language(tag, "")) is not None]
        lang = found[0] if found else self.home
        if fmt == EASY_READ:
            for tag in wanted if found else [*wanted, self.home]:
                easy = self.language(tag, EASY_READ)
                if easy is not None:
                    return Choice((easy, EASY_READ), EASY_READ, easy)
                if langs.same(tag, lang):
                    break  # the campaign is in their language, but not in Easy Read
            return Choice((lang, ""), "large-print", lang, instead=True)
        return Choice((lang, ""), FALLBACK.get(fmt, "standard"), lang)

    def built(self, choice: Choice) -> Built:
        if choice.key not in self._built:
            if " " in choice.key[0]:
                first, second = (self.files[(tag, "")] for tag in self.both)
                self._built[choice.key] = build(self.workspace, first, second)
            else:
                self._built[choice.key] = build(self.workspace, self.files[choice.key])
        return self._built[choice.key]

    def subject(self, choice: Choice) -> str:
        """The subject line of the person's version (both, for a bilingual email)."""
        if " " in choice.key[0]:
            return " / ".join(self.files[(tag, "")].meta.subject for tag in self.both)
        return self.files[choice.key].meta.subject

    def page(self, choice: Choice) -> str:
        """The archive page of the person's version (archive.page_key): the slug, or slug.cy
        for a translation; a bilingual email links to its first language's."""
        lang = choice.key[0].split(" ")[0]
        return page_key(self.workspace, self.files.get((lang, ""), self.campaign))

    def all_built(self) -> list[Built]:
        """Every version built (a check that each one can be, before anything is sent)."""
        return [self.built(Choice(key, "standard", key[0])) for key in self.files]


def version_refusal(workspace: Workspace, campaign: Campaign) -> str:
    """Why a version is not sent on its own: the original's send sends it."""
    what = " ".join(
        part
        for part in (
            langs.english_name(campaign.lang) if campaign.lang else "",
            "Easy Read" if campaign.form else "",
        )
        if part
    )
    return (
        f"{workspace.relative(campaign.path)} is the {what} version of {campaign.slug}. Send "
        f"{campaign.slug} itself: each person gets the version that suits them."
    )


def _same_pair(wanted: list[str], both: list[str]) -> bool:
    return all(any(langs.same(tag, other) for other in both) for tag in wanted) and all(
        any(langs.same(tag, other) for other in wanted) for tag in both
    )


@dataclass(frozen=True)
class Shortfall:
    """People who will not get what they asked for: `lang` (a language the campaign is not
    in) or Easy Read (`lang` empty), and how many."""

    lang: str
    people: int


def shortfalls(editions: Editions, groups: list[tuple[str, str, int]]) -> list[Shortfall]:
    """From (format, language, how many) of the people a send would reach: how many asked for
    a language the campaign is not in (per language), and how many asked for Easy Read and
    get large print (lang "")."""
    missing: dict[str, int] = {}
    for fmt, stored, count in groups:
        choice = editions.choose(fmt, stored)
        if choice.instead:
            missing[""] = missing.get("", 0) + count
        for tag in langs.wanted(stored, editions.home):
            if editions.language(tag, "") is None and editions.language(tag, EASY_READ) is None:
                key = langs.tidy(tag) if langs.is_tag(tag) else tag
                missing[key] = missing.get(key, 0) + count
    return [Shortfall(lang, n) for lang, n in sorted(missing.items())]
