"""A real IMAP server on loopback for the tests: a private Dovecot, or a small fake where
Dovecot cannot start.

Use the fixture from a test module::

    from .imap_server import imap_server as imap_server_fixture  # noqa: F401

    def test_something(imap_server):
        uid = imap_server.append(raw_mail)
        ... engage fetches from imap_server.host, imap_server.port ...
        assert imap_server.flags()[uid] == {"$EngageTaken"}

**Dovecot** (Debian's dovecot-imapd; ``scripts/lib/dovecot.sh`` installs it and exports
``ENGAGE_DOVECOT``) runs as a private instance for each test: its own configuration, sockets,
logs and Maildir in a new folder, one user with a plain-text password in a passwd-file, no TLS,
listening on a free port on 127.0.0.1, started with ``dovecot -F -c CONF`` and stopped after the
test. As root it runs as ``nobody`` (Dovecot never lets root read mail), so its folder is made
with :func:`tempfile.mkdtemp` rather than in pytest's ``tmp_path``, which only root can enter;
the folder is short, too, because Dovecot's sockets must fit in 108 bytes.

**The fake** (:class:`FakeImapServer`) is a thread on 127.0.0.1 speaking just enough IMAP4rev1
for imaplib and engage: LOGIN, SELECT, UID SEARCH, UID FETCH, UID STORE, APPEND, NOOP, LOGOUT.
When the fixture has to use it, it says why with a :class:`DovecotNotUsed` warning (in pytest's
warnings summary), and ``test_the_real_dovecot_answers`` in test_imap.py is skipped with the
same reason. With the ``CI`` environment variable set, that is a failure instead.

:class:`CuttingProxy` sits in front of either server and closes the connection at a chosen
point (the n-th ``UID FETCH``, or part way through its answer), as a server that goes away
would.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "replies@example.org"
PASSWORD = "imap-test-password"
DEFAULT_DOVECOT = "/usr/sbin/dovecot"
START_TIMEOUT = 15.0


class DovecotNotUsed(UserWarning):
    """The IMAP tests ran against the in-process fake, not Dovecot."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- talking to either server as a mail program would ---------------------------------------


class Mailbox:
    """Helpers that put messages into the INBOX and read flags back, over IMAP itself."""

    host = "127.0.0.1"
    port: int
    kind: str  # "dovecot" or "fake"

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        imap.login(USER, PASSWORD)
        try:
            imap.select("INBOX")
        except imaplib.IMAP4.readonly:
            imap.select("INBOX", readonly=True)
        return imap

    def append(self, raw: bytes, flags: str = "") -> int:
        """Put a message into INBOX; its UID."""
        imap = self.client()
        try:
            typ, data = imap.append("INBOX", f"({flags})" if flags else None, None, raw)
            assert typ == "OK", data
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0])
            assert found, data
            return int(found.group(1))
        finally:
            imap.logout()

    def flags(self) -> dict[int, set[str]]:
        """Every message's UID and its flags (\\Recent left out: it depends on who looked)."""
        imap = self.client()
        try:
            typ, data = imap.uid("FETCH", "1:*", "(FLAGS)")
            assert typ == "OK", data
        finally:
            imap.logout()
        found = {}
        for line in data:
            if not line:
                continue
            text = line.decode() if isinstance(line, bytes) else line[0].decode()
            uid = re.search(r"UID (\d+)", text)
            flags = re.search(r"FLAGS \(([^)]*)\)", text)
            if uid and flags:
                found[int(uid.group(1))] = set(flags.group(1).split()) - {"\\Recent"}
        return found

    def unflag(self, uid: int, flag: str) -> None:
        """Take a flag off, as a person might by hand in their mail program."""
        imap = self.client()
        try:
            typ, data = imap.uid("STORE", str(uid), "-FLAGS.SILENT", f"({flag})")
            assert typ == "OK", data
        finally:
            imap.logout()


# -- Dovecot --------------------------------------------------------------------------------


class DovecotFailed(Exception):
    """Dovecot is missing or would not start; the message says why."""


def dovecot_path() -> str:
    return os.environ.get("ENGAGE_DOVECOT") or DEFAULT_DOVECOT


def dovecot_version(binary: str) -> tuple[tuple[int, ...], str]:
    """(major, minor) and the whole version, like ((2, 3), "2.3.19.1")."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    found = re.match(r"(\d+)\.(\d+)\S*", out.stdout.strip())
    if out.returncode != 0 or not found:
        said = (out.stdout + out.stderr).strip() or f"nothing, exit {out.returncode}"
        raise DovecotFailed(f"`{binary} --version` said: {said}")
    return (int(found.group(1)), int(found.group(2))), found.group(0)


def _config(version: tuple[int, ...], root: Path, port: int, user: pwd.struct_passwd) -> str:
    """A whole dovecot.conf: no includes from /etc/dovecot, so the machine's settings don't
    matter. 2.4 renamed many settings; both forms are here."""
    group = _group_name(user.pw_gid)
    common = f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
instance_name = engage-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user.pw_name}
default_internal_group = {group}
default_login_user = {user.pw_name}
first_valid_uid = {user.pw_uid}
first_valid_gid = {user.pw_gid}
mail_fsync = never
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""
    if version >= (2, 4):
        return f"""\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
{common}auth_allow_cleartext = yes
mail_driver = maildir
mail_path = ~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb passwd-file {{
  passwd_file_path = {root}/passwd
}}
userdb passwd-file {{
  passwd_file_path = {root}/passwd
}}
"""
    return f"""\
{common}disable_plaintext_auth = no
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
"""


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@dataclass
class Dovecot(Mailbox):
    root: Path
    version: str = ""
    kind: str = "dovecot"
    port: int = 0
    process: subprocess.Popen | None = None

    @classmethod
    def start(cls) -> Dovecot:
        binary = dovecot_path()
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise DovecotFailed(
                f"Dovecot is not installed at {binary}; run `source scripts/lib/dovecot.sh` "
                "(as root it installs Debian's dovecot-imapd package)"
            )
        version, full_version = dovecot_version(binary)
        # Dovecot never lets root read mail: as root, run the whole server as nobody.
        user = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        root = Path(tempfile.mkdtemp(prefix="engage-imap-"))
        server = cls(root=root, version=full_version)
        try:
            server._launch(binary, version, user)
        except BaseException:
            server.stop()
            raise
        return server

    def _launch(self, binary: str, version: tuple[int, ...], user: pwd.struct_passwd) -> None:
        home = self.root / "home"
        for folder in (self.root / "run", self.root / "state", home):
            folder.mkdir()
        (self.root / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{user.pw_uid}:{user.pw_gid}::{home}::\n"
        )
        self.port = free_port()
        conf = self.root / "dovecot.conf"
        conf.write_text(_config(version, self.root, self.port, user))
        if os.geteuid() == 0:
            for path in (self.root, *self.root.rglob("*")):
                os.chown(path, user.pw_uid, user.pw_gid)
        as_other = os.geteuid() == 0 and user.pw_uid != 0
        self.process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            user=user.pw_uid if as_other else None,
            group=user.pw_gid if as_other else None,
            extra_groups=[] if as_other else None,
            start_new_session=True,
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                out = (
                    self.process.stdout.read().decode(errors="replace")
                    if self.process.stdout
                    else ""
                )
                raise DovecotFailed(
                    f"Dovecot {self.version} stopped at once (exit {self.process.returncode}): "
                    f"{(out + self.log()).strip()[-1500:]}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise DovecotFailed(
            f"Dovecot {self.version} did not answer on port {self.port} within "
            f"{START_TIMEOUT:.0f} seconds: {self.log()[-1500:]}"
        )

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # The master and all its children are in a session of their own, whose id is the
            # master's: stopping them together takes 0.01 s, the master alone a second.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)


# -- the fake -------------------------------------------------------------------------------


@dataclass
class _Message:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


class FakeImapServer(Mailbox):
    """One mailbox (INBOX) for USER/PASSWORD; enough IMAP4rev1 for imaplib and engage.

    `keywords=False` makes it a server that keeps no keywords (PERMANENTFLAGS without \\*), as
    Microsoft Exchange; `read_only=True` gives USER only read access to INBOX."""

    kind = "fake"
    version = ""

    def __init__(self, keywords: bool = True, read_only: bool = False) -> None:
        self.keywords = keywords
        self.read_only = read_only
        self.messages: list[_Message] = []
        self.next_uid = 1
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=_FakeSession(self, conn).run, daemon=True).start()


_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\()|(\))|\{(\d+)\}$|([^\s()]+)')
_PERMANENT = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class _FakeSession:
    def __init__(self, server: FakeImapServer, conn: socket.socket) -> None:
        self.server = server
        self.conn = conn
        self.file = conn.makefile("rb")
        self.logged_in = False
        self.selected = False
        self.examined = False

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def run(self) -> None:
        try:
            self.send(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS AUTH=PLAIN] Fake IMAP ready.\r\n")
            while True:
                line = self.file.readline()
                if not line:
                    return
                words = self.read_words(line)
                if len(words) < 2:
                    self.send(b"* BAD What?\r\n")
                    continue
                tag, command, args = words[0], words[1].upper(), words[2:]
                if not self.answer(tag, command, args):
                    return
        except OSError:
            return
        finally:
            self.conn.close()

    def read_words(self, line: bytes) -> list:
        """A command as nested lists of words; a literal {n} is read and kept as bytes."""
        stack: list[list] = [[]]
        while True:
            for quoted, opened, closed, literal, atom in _TOKEN.findall(line.rstrip(b"\r\n")):
                if opened:
                    stack.append([])
                elif closed:
                    inner = stack.pop()
                    stack[-1].append(inner)
                elif literal:
                    self.send(b"+ Ready for the literal\r\n")
                    stack[-1].append(self.file.read(int(literal)))
                    line = self.file.readline()
                    break
                elif atom:
                    stack[-1].append(atom.decode())
                else:
                    stack[-1].append(re.sub(rb"\\(.)", rb"\1", quoted).decode())
            else:
                return stack[0]

    def answer(self, tag: str, command: str, args: list) -> bool:
        ok = f"{tag} OK {command} completed.\r\n".encode()
        if command == "CAPABILITY":
            self.send(b"* CAPABILITY IMAP4rev1 UIDPLUS AUTH=PLAIN\r\n" + ok)
        elif command == "NOOP":
            self.send(ok)
        elif command == "LOGOUT":
            self.send(b"* BYE Logging out\r\n" + ok)
            return False
        elif command == "LOGIN":
            if args[:2] == [USER, PASSWORD]:
                self.logged_in = True
                self.send(ok)
            else:
                self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n".encode())
        elif not self.logged_in:
            self.send(f"{tag} BAD Log in first.\r\n".encode())
        elif command in ("SELECT", "EXAMINE"):
            self.select(tag, command, args)
        elif command == "APPEND":
            self.append(tag, args)
        elif command == "UID" and self.selected and args:
            self.uid(tag, args[0].upper(), args[1:])
        else:
            self.send(f"{tag} BAD Not something this fake knows: {command}\r\n".encode())
        return True

    def select(self, tag: str, command: str, args: list) -> None:
        if not args or args[0].upper() != "INBOX":
            self.send(f"{tag} NO Mailbox doesn't exist: {args[0] if args else ''}\r\n".encode())
            return
        self.selected = True
        server = self.server
        self.examined = command == "EXAMINE"
        permanent = " ".join(_PERMANENT + (("\\*",) if server.keywords else ()))
        access = "READ-ONLY" if server.read_only or self.examined else "READ-WRITE"
        with server.lock:
            exists, next_uid = len(server.messages), server.next_uid
        self.send(
            f"* FLAGS ({' '.join(_PERMANENT)})\r\n"
            f"* OK [PERMANENTFLAGS ({permanent})] Flags permitted.\r\n"
            f"* {exists} EXISTS\r\n* 0 RECENT\r\n"
            f"* OK [UIDVALIDITY 1] UIDs valid\r\n* OK [UIDNEXT {next_uid}] Predicted next UID\r\n"
            f"{tag} OK [{access}] Select completed.\r\n".encode()
        )

    def append(self, tag: str, args: list) -> None:
        flags = next((a for a in args[1:] if isinstance(a, list)), [])
        raw = args[-1]
        server = self.server
        with server.lock:
            uid = server.next_uid
            server.next_uid += 1
            server.messages.append(_Message(uid, raw, self.kept(flags)))
        self.send(f"{tag} OK [APPENDUID 1 {uid}] Append completed.\r\n".encode())

    def kept(self, flags: list[str]) -> set[str]:
        """The flags this server keeps: system flags, and keywords when it allows them."""
        return {f for f in flags if f in _PERMANENT or (self.server.keywords and f[0] != "\\")}

    def uid(self, tag: str, command: str, args: list) -> None:
        server = self.server
        with server.lock:
            numbered = list(enumerate(server.messages, start=1))
        if command == "SEARCH":
            found = [m.uid for _, m in numbered if self.matches(m, args)]
            self.send(f"* SEARCH {' '.join(map(str, found))}\r\n".encode())
        elif command == "FETCH":
            for seq, message in self.chosen(numbered, args[0]):
                self.send(self.fetched(seq, message, args[1]))
        elif command == "STORE" and (self.server.read_only or self.examined):
            self.send(f"{tag} NO Mailbox is read-only.\r\n".encode())
            return
        elif command == "STORE":
            how, flags = args[1].upper(), args[2] if isinstance(args[2], list) else [args[2]]
            for seq, message in self.chosen(numbered, args[0]):
                with server.lock:
                    if how.startswith("+"):
                        message.flags |= self.kept(flags)
                    elif how.startswith("-"):
                        message.flags -= set(flags)
                    else:
                        message.flags = self.kept(flags)
                if not how.endswith(".SILENT"):
                    self.send(self.fetched(seq, message, ["FLAGS"]))
        else:
            self.send(f"{tag} BAD Not something this fake knows: UID {command}\r\n".encode())
            return
        self.send(f"{tag} OK UID {command} completed.\r\n".encode())

    @staticmethod
    def matches(message: _Message, criteria: list) -> bool:
        words = [str(w) for w in criteria]
        if words[:1] == ["UNKEYWORD"]:
            return words[1] not in message.flags
        if words[:1] == ["KEYWORD"]:
            return words[1] in message.flags
        return True  # ALL, or anything else: every message

    @staticmethod
    def chosen(numbered: list[tuple[int, _Message]], wanted: str) -> list[tuple[int, _Message]]:
        uids: set[int] = set()
        last = max((m.uid for _, m in numbered), default=0)
        for part in wanted.split(","):
            low, _, high = part.partition(":")
            first = last if low == "*" else int(low)
            end = first if not high else last if high == "*" else int(high)
            uids |= set(range(min(first, end), max(first, end) + 1))
        return [(seq, m) for seq, m in numbered if m.uid in uids]

    @staticmethod
    def fetched(seq: int, message: _Message, items: list | str) -> bytes:
        names = [str(i).upper() for i in (items if isinstance(items, list) else [items])]
        parts = [f"UID {message.uid}".encode()]
        body = [n for n in names if n.startswith("BODY") or n == "RFC822"]
        if body and "HEADER.FIELDS" in body[0]:  # only BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]
            head = message.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            ids = b"".join(h + b"\r\n" for h in head if h.lower().startswith(b"message-id:"))
            ids += b"\r\n"
            parts.append(b"BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n" % len(ids) + ids)
        elif body:
            parts.append(b"BODY[] {%d}\r\n" % len(message.raw) + message.raw)
        if "FLAGS" in names:
            parts.append(f"FLAGS ({' '.join(sorted(message.flags))})".encode())
        return b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n"


# -- a proxy that goes away -----------------------------------------------------------------


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of an IMAP server that closes the connection, once,
    when the client sends its `nth` command containing `command`: before the server sees it,
    or, with `answer_bytes`, after that many bytes of the server's answer have gone through.
    Later connections pass through untouched."""

    def __init__(
        self, target_port: int, command: bytes, nth: int, answer_bytes: int | None = None
    ) -> None:
        self.target_port = target_port
        self.command = command.upper()
        self.nth = nth
        self.answer_bytes = answer_bytes
        self.seen = 0
        self.cut = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def stop(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            state = {"budget": None}
            args = (client, server, state)
            threading.Thread(target=self._client_to_server, args=args, daemon=True).start()
            threading.Thread(target=self._server_to_client, args=args, daemon=True).start()

    def _close(self, *sockets: socket.socket) -> None:
        self.cut.set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _client_to_server(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        pending = b""
        try:
            while chunk := client.recv(65536):
                pending += chunk
                *lines, pending = pending.split(b"\r\n")
                for line in lines:
                    if not self.cut.is_set() and self.command in line.upper():
                        self.seen += 1
                        if self.seen == self.nth and self.answer_bytes is None:
                            self._close(client, server)
                            return
                        if self.seen == self.nth:
                            state["budget"] = self.answer_bytes
                    server.sendall(line + b"\r\n")
                if pending and b"\r\n" not in pending and len(pending) > 4096:
                    server.sendall(pending)  # a literal's middle: no command in it
                    pending = b""
        except OSError:
            pass
        finally:
            self._close(client, server)

    def _server_to_client(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        try:
            while chunk := server.recv(65536):
                budget = state["budget"]
                if budget is not None:
                    client.sendall(chunk[:budget])
                    state["budget"] = budget - len(chunk[:budget])
                    if state["budget"] <= 0:
                        self._close(client, server)
                        return
                    continue
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            self._close(client, server)


# -- the fixture ----------------------------------------------------------------------------

_why_not: dict[str, str] = {}  # Dovecot's failure, found once per session


def start_server() -> Mailbox:
    """Dovecot if it starts; else the fake, with a DovecotNotUsed warning saying why."""
    if "reason" not in _why_not:
        for _ in range(2):  # a second try, in case another program took the free port first
            try:
                return Dovecot.start()
            except DovecotFailed as exc:
                _why_not["reason"] = str(exc)
            if not os.path.exists(dovecot_path()):
                break
    reason = _why_not["reason"]
    if os.environ.get("CI"):
        pytest.fail(f"{reason} [CI is set, so this fails rather than using the fake server]")
    warnings.warn(DovecotNotUsed(f"{reason}; used the in-process fake IMAP server"), stacklevel=2)
    return FakeImapServer()


def why_not_dovecot() -> str | None:
    return _why_not.get("reason")


@pytest.fixture(name="imap_server")
def imap_server() -> Iterator[Mailbox]:
    """A private IMAP server on loopback with one empty INBOX for USER / PASSWORD."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()  # type: ignore[attr-defined]
