"""engage's clock: fixed by tests with clock.set, or started at ENGAGE_NOW in a process a test
runs (where clock.set cannot reach)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from engage import clock as engage_clock

KEY = "test-secret-key"


def test_engage_now_decides_what_is_due(project) -> None:
    # the example newsletter's send_at is 2026-12-03T09:00:00Z; 09:30 in UTC+1 is before it
    assert project.run("contacts", "add", "ann@example.org", "--tag", "newsletter").exit_code == 0
    before = project.run("run", env={"ENGAGE_NOW": "2026-12-03T09:30:00+01:00"})
    assert (before.exit_code, before.stdout) == (0, "engage run: nothing was due.\n")
    due = project.run("run", env={"ENGAGE_NOW": "2026-12-03T09:00:00Z", "ENGAGE_SECRET_KEY": KEY})
    assert (due.exit_code, due.stdout) == (
        0,
        "engage run: 1 campaign(s) worked on, 1 message(s) handed over.\n",
    )


def test_engage_now_starts_the_clock_which_then_runs_on(monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_NOW", "2026-12-01T10:00:00+01:00")
    first = engage_clock.now()
    assert dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC) <= first
    time.sleep(0.01)
    second = engage_clock.now()
    assert first < second < dt.datetime(2026, 12, 1, 9, 1, tzinfo=dt.UTC)
    assert second.tzinfo == dt.UTC


def test_clock_set_wins_over_engage_now(monkeypatch, clock) -> None:
    monkeypatch.setenv("ENGAGE_NOW", "2030-01-01T00:00:00Z")
    assert clock.now() == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["next tuesday", "2026-12-01T09:00", "2026-12-01"])
def test_a_malformed_engage_now_is_a_clear_error(project, value) -> None:
    result = project.run("run", env={"ENGAGE_NOW": value})
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: ENGAGE_NOW is {value!r}, which is not a date and time with a zone. Set it "
        "like ENGAGE_NOW=2026-12-01T09:00:00Z, or unset it to follow the computer's clock.\n"
    )


def test_an_empty_engage_now_follows_the_computer(monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_NOW", "")
    assert abs(engage_clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
