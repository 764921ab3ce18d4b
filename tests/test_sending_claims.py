"""Claiming batches: a batch of people who are all skipped when their turn comes does not end
the send early, however small the batch."""

from __future__ import annotations

from .test_send_rules import KEY, mixed


def test_a_batch_where_everyone_is_skipped_does_not_end_the_send(project, db_url, monkeypatch):
    """Six members, of whom only the first and the last can be mailed. One at a time
    (--limit 1): the first send takes Ann; the second steps over the four it must skip, each a
    batch of its own where nobody is left, and sends to Fay."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    mixed(project)
    first = project.run("send", "members", "--yes", "--now", "--limit", "1")
    assert first.exit_code == 0, first.output
    second = project.run("send", "members", "--yes", "--resume", "--limit", "1")
    assert (second.exit_code, second.stdout.splitlines()) == (
        0,
        [
            "members: 1 handed to outbox this time. Of 6: 2 sent, 0 failed, 4 skipped (1 not "
            "confirmed yet, 1 unsubscribed, 1 address bounced, 1 on the suppression list), "
            "0 unknown, 0 still to send.",
            "members is sent.",
        ],
    )
