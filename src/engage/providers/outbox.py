"""The default provider: each message is written as an .eml file under outbox/<campaign>/.

Nothing leaves the machine, so the whole job can be tried with no account anywhere. Each file
is written whole under a temporary name first, then renamed. A campaign email's file is named
by its delivery and recorded as its provider id (outbox/<campaign>/<file>); engage's own emails
(confirmations, story emails, notes to the team) are under outbox/system/<kind>/.
"""

from __future__ import annotations

import contextlib
import quopri
import re
import time
from collections.abc import Iterable
from pathlib import Path

from ..email.base import Batch, Outcome, Provider, Reconciled, SystemMessage, Unknown
from .base import Unit


class Outbox(Provider):
    name = "outbox"
    batch_size = 500
    unicode_addresses = True  # a file takes any address

    def reconcile(self, unknown: list[Unknown]) -> Reconciled:
        """A message went when its file is there: each is written whole, then renamed."""
        found = Reconciled()
        for campaign in {each.campaign for each in unknown}:
            written = {
                int(number): f"outbox/{campaign}/{path.name}"
                for path in (self.workspace.root / "outbox" / campaign).glob("*.eml")
                if (number := path.name.partition("-")[0]).isdigit()
            }
            for each in unknown:
                if each.campaign != campaign:
                    continue
                if each.delivery_id in written:
                    found.sent[each.delivery_id] = written[each.delivery_id]
                else:
                    found.not_sent.add(each.delivery_id)
        return found

    def send_batch(self, batch: Batch) -> list[Outcome]:
        folder = (
            self.workspace.root
            / "outbox"
            / (batch.campaign + ("-test" if not batch.send_id else ""))
        )
        folder.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for item in batch.items:
            data = batch.raw(item)
            name = f"{item.delivery_id:07d}-{_safe(item.email)}.eml"
            temporary = folder / f".{name}.tmp"
            temporary.write_bytes(data)
            temporary.replace(folder / name)
            outcomes.append(
                Outcome(item.delivery_id, True, provider_id=f"outbox/{folder.name}/{name}")
            )
        return outcomes

    def send_system(self, message: SystemMessage) -> Outcome:
        folder = self.workspace.root / "outbox" / "system" / message.kind
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{_safe(message.to)}.eml"
        temporary = folder / f".{name}.tmp"
        temporary.write_bytes(message.raw())
        temporary.replace(folder / name)
        return Outcome(0, True, provider_id=f"outbox/system/{message.kind}/{name}")


def _safe(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address)[:100]


def remove_mail_for(root: Path, spellings: list[str], named: Iterable[str] = ()) -> int:
    """Remove a person's mail from the workspace's outbox: the files named (their deliveries'
    provider ids), and every file with any spelling of their address in it: to them, copied to
    them, or to the team about them. Returns how many files were removed."""
    outbox = (root / "outbox").resolve()
    if not outbox.is_dir():
        return 0
    theirs = {
        path
        for relative in named
        if outbox in (path := (root / relative).resolve()).parents and path.is_file()
    }
    found = _finder(spellings) if spellings else None
    for path in outbox.rglob("*") if found else ():
        if path not in theirs and path.is_file() and found and _mentions(path, found):
            theirs.add(path)
    for path in theirs:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            if path.parent != outbox:
                path.parent.rmdir()  # only once empty
    return len(theirs)


def _finder(spellings: Iterable[str]) -> re.Pattern[str]:
    """Any spelling as a whole address (not the end of a longer one), without case."""
    either = "|".join(re.escape(s) for s in sorted(set(spellings), key=len, reverse=True))
    return re.compile(rf"(?<![\w.!#$%&'*+/=?^`{{|}}~-])(?:{either})(?![\w-]|\.\w)", re.I)


def _mentions(path: Path, found: re.Pattern[str]) -> bool:
    """Whether the file names the address: as written, or in a quoted-printable part (where a
    long line is broken and letters beyond ASCII are written as =XX)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return any(
        found.search(text.decode("utf-8", "replace")) for text in (data, quopri.decodestring(data))
    )


UNIT = Unit(
    name="outbox",
    sender=Outbox,
    reports_delivery=False,  # a folder never says an email arrived
    sends_raw_message=True,
    reconciles=True,  # the files are its records
)
