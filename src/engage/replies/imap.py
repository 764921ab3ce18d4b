"""`engage replies fetch --imap`: replies from a shared mailbox ([replies.imap]), each taken once.

Every message in the folder that does not carry our keyword ($EngageTaken) is read with
BODY.PEEK[], so its \\Seen flag is left alone: people read the shared mailbox by hand too, and
engage neither relies on \\Seen nor changes it. Each message is stored through
`Inbox.take_raw` in a transaction of its own and, only once that is committed, marked with the
keyword. So a fetch that stops half way (the server drops the connection, the machine stops)
loses nothing and takes nothing twice: what was stored stays stored; a message stored but not
yet marked comes back next time, is found by its Message-ID, and is marked then.

Bytes that are not a mail (`NotAMail`) are reported with their UID and marked too, so they do
not come back every night; they stay in the mailbox for a person to look at.

Some servers keep no keywords (Microsoft Exchange: PERMANENTFLAGS without `\\*`), and some
folders are read-only. There engage does not fall back to \\Flagged (people flag mail by hand
in a shared mailbox, and engage would then skip it, or unflag it) but asks for each message's
Message-ID and reads in full only those the store does not have yet. That costs a little more
each time and cannot mark anything, so a message that is not a mail is reported every time.
"""

from __future__ import annotations

import base64
import imaplib
import os
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser

import sqlalchemy as sa

from ..config import CONFIG_NAME, Imap, Workspace, secret
from ..errors import ConfigError, EngageError
from ..store import Store
from ..store.schema import inbound
from .inbox import Inbox, for_workspace
from .mime import NotAMail, header_text

KEYWORD = "$EngageTaken"
PROVIDER = "imap"


class ImapProblem(EngageError):
    """The server refused us, or the connection was lost; the message says which and what to do."""


@dataclass
class Fetched:
    where: str  # "replies@example.org at imap.example.org, folder INBOX"
    new: int = 0
    seen: int = 0  # already in engage: stored by an earlier fetch that stopped before marking
    refused: int = 0  # not a mail; reported (and marked, where the server keeps marks)
    failed: int = 0  # a fault in engage; left unmarked, so the next fetch tries again
    notes: list[str] = field(default_factory=list)
    problem: str = ""
    waiting: int | None = None  # messages to read when the fetch began
    marks: bool = True  # False: the server keeps no keyword here; Message-IDs are checked

    @property
    def kept(self) -> int:
        """Messages dealt with for good: stored (now or before), or refused as not mail."""
        return self.new + self.seen + self.refused


def fetch(
    store: Store, workspace: Workspace, inbox: Inbox | None = None, keyword: str = KEYWORD
) -> Fetched:
    """Take every message in the [replies.imap] folder that engage has not taken yet."""
    settings = workspace.config.replies.imap
    if settings is None:
        raise ConfigError(
            f"There is no [replies.imap] table in {CONFIG_NAME}, so there is no mailbox to "
            "fetch replies from. Add one with the host and user of the shared mailbox "
            "(see docs/configuration.md)."
        )
    inbox = inbox or for_workspace(workspace)
    result = Fetched(f"{settings.user} at {settings.host}, folder {settings.folder}")
    try:
        password = secret(settings.password_env, "replies.imap.password_env")
        with _session(settings, password) as imap:
            result.marks = _select(imap, settings, keyword)
            _take_all(store, inbox, imap, keyword, result)
    except EngageError as exc:
        result.problem = str(exc)
    except (imaplib.IMAP4.abort, OSError) as exc:  # imaplib wraps some socket errors, not all
        result.problem = _lost(settings, exc, result)
    except imaplib.IMAP4.error as exc:
        result.problem = (
            f"The IMAP server at {settings.host} refused a command engage sent: "
            f"{_reason(exc)}. Please report it."
        )
    if result.failed and not result.problem:
        result.problem = (
            f"{_count(result.failed, 'message')} could not be read because of a fault in "
            "engage; they stay unmarked, so the next fetch tries them again. Please report it."
        )
    return result


def _lost(settings: Imap, exc: BaseException, result: Fetched) -> str:
    lost = f"The connection to the IMAP server at {settings.host} was lost"
    why = _reason(exc)
    if result.waiting is None:
        return f"{lost} ({why}) before any message was fetched. Run it again later."
    return (
        f"{lost} after {result.kept} of {_count(result.waiting, 'message')} ({why}); those "
        f"{result.kept} are kept, run it again to fetch the rest."
    )


# -- the session: connect, log in, choose the folder ----------------------------------------


@contextmanager
def _session(settings: Imap, password: str) -> Iterator[imaplib.IMAP4]:
    imap = _connect(settings)
    try:
        _login(imap, settings, password)
        yield imap
    finally:
        # When the connection is already gone, nothing is lost by not saying goodbye.
        with suppress(imaplib.IMAP4.error, OSError):
            imap.logout()


def _connect(settings: Imap) -> imaplib.IMAP4:
    where = f"{settings.host} port {settings.port}"
    try:
        if settings.security == "tls":
            return imaplib.IMAP4_SSL(
                settings.host,
                settings.port,
                ssl_context=ssl.create_default_context(),
                timeout=settings.timeout,
            )
        imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            imap.starttls(ssl.create_default_context())
        return imap
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapProblem(
            f"Could not connect to the IMAP server at {where} with security = "
            f'"{settings.security}": {_reason(exc)}. Check [replies.imap] host, port and '
            "security."
        ) from None


def _login(imap: imaplib.IMAP4, settings: Imap, password: str) -> None:
    try:
        imap.login(settings.user, password)
    except imaplib.IMAP4.abort as exc:
        raise ImapProblem(
            f"The IMAP server at {settings.host} closed the connection while logging in: "
            f"{_reason(exc)}. Try again later."
        ) from None
    except imaplib.IMAP4.error as exc:
        raise ImapProblem(
            f"The IMAP server refused the login for {settings.user}: {_reason(exc)}; check "
            f"[replies.imap] user and the password in ${settings.password_env}."
        ) from None


def _select(imap: imaplib.IMAP4, settings: Imap, keyword: str) -> bool:
    """Open the folder; whether engage can mark messages in it with `keyword`."""
    folder = _quoted(settings.folder)
    try:
        typ, data = imap.select(folder)
    except imaplib.IMAP4.readonly:
        typ, data = imap.select(folder, readonly=True)
        writable = False
    else:
        writable = True
    if typ != "OK":
        raise ImapProblem(
            f"The IMAP server has no folder {settings.folder} for {settings.user} "
            f"({_text(data)}); check [replies.imap] folder."
        )
    _, permanent = imap.response("PERMANENTFLAGS")
    if not permanent or permanent[0] is None:
        return writable  # not said: every flag is kept (RFC 3501, 7.1)
    allowed = re.findall(r"[^\s()]+", _text(permanent))
    return writable and ("\\*" in allowed or keyword in allowed)


# -- taking each message --------------------------------------------------------------------


def _take_all(
    store: Store, inbox: Inbox, imap: imaplib.IMAP4, keyword: str, result: Fetched
) -> None:
    if result.marks:
        uids = _waiting(imap, keyword)
    else:
        uids = _not_stored(store, imap)
        result.notes.append(
            f"This folder does not keep engage's mark ({keyword}), so engage compared each "
            "message's Message-ID with the replies it has, and read only the others."
        )
    result.waiting = len(uids)
    for uid in uids:
        raw = _read(imap, uid)
        if raw is None:
            continue  # deleted from the mailbox while we were reading it
        if _take(store, inbox, uid, raw, result, keyword) and result.marks:
            _mark(imap, uid, keyword)


def _waiting(imap: imaplib.IMAP4, keyword: str) -> list[str]:
    typ, data = imap.uid("SEARCH", "UNKEYWORD", keyword)
    if typ != "OK":
        raise ImapProblem(f"The IMAP server would not list the messages: {_text(data)}.")
    return sorted({uid for line in data if line for uid in line.decode().split()}, key=int)


def _not_stored(store: Store, imap: imaplib.IMAP4) -> list[str]:
    """Messages whose Message-ID the store does not have (or that have none)."""
    typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    if typ != "OK":
        raise ImapProblem(f"The IMAP server would not list the messages: {_text(data)}.")
    found: dict[str, str] = {}  # UID -> Message-ID, or "" when it has none
    for part in data:
        uid = re.search(rb"UID (\d+)", part[0]) if isinstance(part, tuple) else None
        if uid:
            headers = BytesParser(policy=policy.compat32).parsebytes(part[1], headersonly=True)
            found[uid.group(1).decode()] = header_text(headers.get("Message-ID", ""))
    wanted = [key for key in found.values() if key]
    have: set[str] = set()
    with store.connect() as connection:
        for start in range(0, len(wanted), 500):
            have.update(
                connection.execute(
                    sa.select(inbound.c.dedupe_key).where(
                        inbound.c.dedupe_key.in_(wanted[start : start + 500])
                    )
                ).scalars()
            )
    return sorted((uid for uid, key in found.items() if key not in have), key=int)


def _read(imap: imaplib.IMAP4, uid: str) -> bytes | None:
    typ, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        raise ImapProblem(f"The IMAP server would not give message UID {uid}: {_text(data)}.")
    return next((part[1] for part in data if isinstance(part, tuple)), None)


def _take(store: Store, inbox: Inbox, uid: str, raw: bytes, result: Fetched, keyword: str) -> bool:
    """Store one message; True when it should be marked as taken."""
    try:
        with store.begin() as connection:
            taken = inbox.take_raw(connection, raw, PROVIDER)
    except NotAMail as exc:
        result.refused += 1
        stays = (
            f"marked {keyword} so it is not read again"
            if result.marks
            else "and is reported each time, as engage cannot mark it"
        )
        result.notes.append(
            f"UID {uid}: not a mail, so engage did not take it: {exc} It stays in the "
            f"mailbox, {stays}."
        )
        return True
    except EngageError:
        raise  # not about this message (the secret key is missing, ...): stop here
    except sa.exc.SQLAlchemyError:
        raise  # the database, not the message
    except Exception as exc:  # a fault in engage; one odd mail must not stop the others
        if os.environ.get("ENGAGE_DEBUG") == "1":
            raise
        result.failed += 1
        result.notes.append(
            f"UID {uid}: engage could not read it ({type(exc).__name__}: {exc}); it stays "
            "unmarked, so the next fetch tries again."
        )
        return False
    if taken.new:
        result.new += 1
        result.notes += [f"UID {uid}, reply {taken.id}: {note}" for note in taken.notes]
    else:
        result.seen += 1
    return True


def _mark(imap: imaplib.IMAP4, uid: str, keyword: str) -> None:
    typ, data = imap.uid("STORE", uid, "+FLAGS.SILENT", f"({keyword})")
    if typ != "OK":
        raise ImapProblem(
            f"The IMAP server would not mark message UID {uid} as taken: {_text(data)}. It is "
            "stored in engage; the next fetch finds it there and tries to mark it again."
        )


# -- words and names ------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _text(data: list) -> str:
    """The server's words from a response, as text."""
    parts = [p.decode(errors="replace") if isinstance(p, bytes) else str(p) for p in data if p]
    return _words(" ".join(parts))


def _reason(exc: BaseException) -> str:
    """An imaplib or socket error as words: imaplib puts the server's bytes in the message."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    arg = exc.args[-1] if exc.args else ""
    if isinstance(exc, OSError) and exc.strerror:
        arg = exc.strerror
    text = arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)
    text = _words(re.sub(r"^b'(.*)'$", r"\1", text))
    text = re.sub(r"^(?:command: \w+ => )?socket error: ", "", text)
    if text == "EOF":
        return "the server closed it"
    return text or type(exc).__name__


def _words(text: str) -> str:
    """Without the timings Dovecot adds ("(0.001 + 0.000 secs)") and the final full stop."""
    text = re.sub(r"\s*\((?:[\d.]+ \+ )*[\d.]+ secs\)", "", text)
    return text.strip().rstrip(".")


def _quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII names in modified UTF-7 (RFC 3501)."""
    encoded = "".join(_utf7_run(run) for run in re.findall(r"[\x20-\x7e]+|[^\x20-\x7e]+", folder))
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _utf7_run(run: str) -> str:
    if run.isascii():
        return run.replace("&", "&-")
    packed = base64.b64encode(run.encode("utf-16-be")).decode().rstrip("=")
    return "&" + packed.replace("/", ",") + "-"
