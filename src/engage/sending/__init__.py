"""Sending a campaign exactly once per person.

- journal.py: the deliveries journal, the only writer of `sends` and `deliveries` (snapshot,
  claim, mark sending, record outcomes, recover what a dead sender left, reconcile unknowns);
- loop.py: the Sender, batch by batch under the campaign's lock, with the shared pace, stop
  signals and --stop; handover.py: one batch to the provider, in the sending thread;
- messages.py: each person's message (links, reply address, Message-ID) and `send_test`;
- plan.py: who a send goes to, and who it skips; results.py: Options, Report and their words.
- stopping.py: `engage send CAMPAIGN --stop` from another terminal.

Reading where a send stands is engage/send_status.py's. The caller checks the campaign (lint:
pass `check`) and acts when `Report.finished` says the send is complete (stories.usage's
record_sent): sending imports neither, so lint and stories can read sends.
"""

from .journal import Reconciliation
from .loop import Progress, Sender, Stop
from .messages import send_test
from .plan import Plan
from .results import Options, Report, SendError

__all__ = [
    "Options",
    "Plan",
    "Progress",
    "Reconciliation",
    "Report",
    "SendError",
    "Sender",
    "Stop",
    "send_test",
]
