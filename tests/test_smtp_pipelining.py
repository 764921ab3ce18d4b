"""SMTP with PIPELINING (RFC 2920): MAIL, RCPT and DATA go in one write, and every answer is
judged as when they go one by one. The faults of tests/test_faults.py run against both kinds
of server; these are the cases only pipelining has."""

from __future__ import annotations

import collections

import pytest

from .smtp_sink import SmtpSink
from .test_faults import EVERYONE, N, address, copies, counts, many, send, states  # noqa: F401
from .test_sending import smtp_config


@pytest.fixture
def sink():
    server = SmtpSink(password="pw", pipelining=True).start()
    yield server
    server.stop()


def test_each_message_goes_with_its_envelope_in_one_write(many, sink) -> None:  # noqa: F811
    smtp_config(many, sink.port)
    report = send(many)
    assert (report.sent, report.unknown, report.problems) == (N, 0, [])
    assert copies(sink) == collections.Counter(EVERYONE)
    assert sink.pipelined == N
    assert len(sink.sessions) == 1


def test_a_refused_recipient_fails_that_message_only(many, sink) -> None:  # noqa: F811
    smtp_config(many, sink.port)
    sink.refuse.add(address(7))
    report = send(many)
    assert (report.sent, report.failed, report.unknown) == (N - 1, 1, 0)
    assert states(many)[address(7)] == ("failed", "550 5.1.1 No such mailbox here")
    assert copies(sink) == collections.Counter(EVERYONE - {address(7)})
    assert len(sink.sessions) == 1


def test_a_354_after_a_refused_recipient_sends_no_data(many, sink) -> None:  # noqa: F811
    """A broken server refuses RCPT and still says 354 to DATA: engage drops the line rather
    than end the data, so nothing is delivered; that person is failed with the server's
    words, and the rest go on a fresh connection, each once."""
    smtp_config(many, sink.port)
    sink.faults[address(7)] = "550-but-354"
    report = send(many)
    assert (report.sent, report.failed, report.unknown) == (N - 1, 1, 0)
    assert states(many)[address(7)] == ("failed", "550 5.1.1 No such mailbox here")
    assert copies(sink) == collections.Counter(EVERYONE - {address(7)})
    assert counts(many) == {"sent": N - 1, "failed": 1}
    assert len(sink.sessions) == 2  # the line was dropped at the 354, and a fresh one opened
