"""Any SMTP relay, over STARTTLS, TLS or neither: one connection for the whole send, or
`[email.smtp] connections` at once (each carrying one batch at a time) if the relay allows.

Each message is its own SMTP transaction, and its own answer is the truth about it:

- 250 after the message body: sent;
- 5xx at any step: failed, with the server's words;
- 4xx at any step (421 included), or a connection lost before the body was complete: this
  message and the ones after it were not taken, so they are tried again on a fresh connection
  (`TryLater`, carrying the answers so far);
- the connection lost or timed out after the whole body went and before its answer came: the
  server may have taken it, so it is *unknown* (`LostAnswer`) and never sent again by itself.

When the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write and their
three answers are read after it, so a message takes two round trips instead of four. The body
still goes only after DATA's 354, so the answers are judged as above, one by one; in the odd
case of a 354 after a refused MAIL or RCPT, the line is dropped without ending the data, and a
server never delivers a message whose data did not end.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
from email.utils import parseaddr
from smtplib import quoteaddr

from ..config import secret
from ..email.base import Batch, Item, Outcome, Provider, SystemMessage, ascii_domain, needs_smtputf8
from ..errors import AuthFailed, LostAnswer, ProviderError, TryLater
from .base import Unit

TIMEOUT = 30


class _NotTaken(Exception):
    """The server did not take this message (a 4xx, or the line dropped before the end of the
    body); it and the rest may be tried again."""


class _SenderRefused(Exception):
    """The server will take nothing from this sender: no message can go until it is fixed."""


class _InDoubt(Exception):
    """The whole message went and the answer never came."""


class Smtp(Provider):
    name = "smtp"
    batch_size = 100
    unicode_addresses = True  # when the server offers SMTPUTF8; checked message by message

    def __init__(self, workspace) -> None:  # noqa: ANN001
        super().__init__(workspace)
        self.settings = self.config.smtp
        # Batches at once, each on its own connection: while the server answers one message,
        # the next is being written on the other.
        self.in_flight = self.settings.connections
        self._here = threading.local()  # each sending thread's own connection
        self._open: set[smtplib.SMTP] = set()  # every thread's, for close()
        self._lock = threading.Lock()

    @property
    def connection(self) -> smtplib.SMTP | None:
        """This thread's connection, when it has one."""
        return getattr(self._here, "connection", None)

    @connection.setter
    def connection(self, value: smtplib.SMTP | None) -> None:
        with self._lock:
            self._open.discard(self.connection)
            if value is not None:
                self._open.add(value)
        self._here.connection = value

    def address(self, address: str) -> str:
        """Any domain as punycode, which every server takes; letters beyond ASCII before the
        @ are checked against the server's SMTPUTF8 for each message."""
        return ascii_domain(address)

    def check(self) -> None:
        if self.settings.username:
            secret(self.settings.password_env, "email.smtp.password_env")

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"the SMTP server {s.host}:{s.port}"
        try:
            if s.security == "tls":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=TIMEOUT, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT)
                if s.security == "starttls":
                    connection.starttls(context=ssl.create_default_context())
            if s.username:
                connection.login(s.username, secret(s.password_env, "email.smtp.password_env"))
            connection.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthFailed(
                f"{where} refused the username {s.username} and password "
                f"({exc.smtp_code}). Check {s.password_env}."
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TryLater(f"Cannot reach {where}: {exc}") from None
        return connection

    def open(self) -> None:
        self.connection = None  # connect on the first batch, so a dry run never connects

    def close(self) -> None:
        """Every thread's connection: called once the send's calls have all ended."""
        self._drop(quit=True)
        with self._lock:
            left, self._open = list(self._open), set()
        for connection in left:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.quit()

    def _drop(self, quit: bool = False) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                if quit:
                    self.connection.quit()
                else:
                    self.connection.close()
            self.connection = None

    def send_batch(self, batch: Batch) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for item in batch.items:
            if self.connection is None:
                try:
                    self.connection = self._connect()
                except TryLater as exc:
                    raise TryLater(str(exc), exc.retry_after, outcomes) from None
            try:
                outcomes.append(self._send_one(batch, item))
            except _NotTaken as exc:
                self._drop()
                raise TryLater(str(exc), done=outcomes) from None
            except _InDoubt as exc:
                self._drop()
                raise LostAnswer(str(exc), [item.delivery_id], outcomes) from None
            except _SenderRefused as exc:
                refused = ProviderError(
                    f"The SMTP server {self.settings.host}:{self.settings.port} refused the "
                    f"sender {parseaddr(batch.sender)[1]} ({exc}), so nothing more can go. "
                    "Check from in [email] of engage.toml, and that the server lets it send."
                )
                refused.done = outcomes
                raise refused from None
        return outcomes

    def _send_one(self, batch: Batch, item: Item) -> Outcome:
        assert self.connection is not None
        utf8 = needs_smtputf8(item.email)
        if utf8 and not self.connection.has_extn("smtputf8"):
            return Outcome(
                item.delivery_id,
                False,
                error=f"{item.email} has letters beyond ASCII before the @, and the SMTP "
                "server does not offer SMTPUTF8, which such an address needs",
            )
        try:
            data = batch.raw(item)
        except (UnicodeError, ValueError) as exc:
            return Outcome(item.delivery_id, False, error=f"engage could not write it: {exc}")
        return self._transaction(
            parseaddr(batch.sender)[1], item.email, item.delivery_id, item.message_id, data, utf8
        )

    def _transaction(
        self, sender: str, to: str, delivery_id: int, message_id: str, data: bytes, utf8: bool
    ) -> Outcome:
        """MAIL, RCPT and DATA for one message, told apart by how far it got."""
        connection = self.connection
        assert connection is not None
        options = [f"SIZE={len(data)}"] if connection.has_extn("size") else []
        if utf8:
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        at_once = connection.has_extn("pipelining")
        envelope = _envelope_at_once if at_once else _envelope_step_by_step
        try:
            step, code, reply, waiting = envelope(connection, sender, to, options)
        except UnicodeError as exc:  # refused by smtplib before a byte of it went
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.rset()
            return Outcome(delivery_id, False, error=f"{to} cannot be written here: {exc}")
        except (OSError, smtplib.SMTPException) as exc:  # nothing of the body went yet
            raise _NotTaken(f"The SMTP connection was lost: {exc}") from None
        if waiting:  # for data after a refusal: it never ends, so the server delivers nothing
            self._drop()
        if step == "mail" and 500 <= code < 600 and code != 552:  # 552: too big, the rest may go
            raise _SenderRefused(f"{code} {_text(reply)}")
        if code not in (250, 251, 354):
            return self._refused(delivery_id, code, reply)
        body = smtplib._quote_periods(data)  # type: ignore[attr-defined]
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        try:
            connection.send(body + b".\r\n")
        except (OSError, smtplib.SMTPException) as exc:  # the end of the body never went
            raise _NotTaken(f"The SMTP connection was lost while sending: {exc}") from None
        try:
            code, reply = connection.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise _InDoubt(
                f"The SMTP connection was lost after the message to {to} went and "
                f"before the server answered ({exc})"
            ) from None
        if code == 250:
            return Outcome(delivery_id, True, provider_id=message_id)
        return self._refused(delivery_id, code, reply)

    def _refused(self, delivery_id: int, code: int, reply: bytes) -> Outcome:
        """A 5xx fails this message; anything else means try it again later."""
        words = f"{code} {_text(reply)}"
        if 500 <= code < 600:
            if self.connection is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    self.connection.rset()
            return Outcome(delivery_id, False, error=words)
        raise _NotTaken(f"The SMTP server said {words}")

    def send_system(self, message: SystemMessage) -> Outcome:
        """One message on a connection of its own, judged like a campaign's."""
        self.connection = self._connect()
        to = parseaddr(message.to)[1]
        data = message.raw()
        try:
            return self._transaction(
                parseaddr(message.sender)[1], to, 0, message.message_id, data, not data.isascii()
            )
        except _NotTaken as exc:
            raise TryLater(str(exc)) from None
        except _InDoubt as exc:
            raise LostAnswer(str(exc), [0]) from None
        except _SenderRefused as exc:
            return Outcome(0, False, error=f"the sender was refused: {exc}")
        finally:
            self._drop(quit=True)


def _envelope_step_by_step(
    connection: smtplib.SMTP, sender: str, to: str, options: list[str]
) -> tuple[str, int, bytes, bool]:
    """MAIL, then RCPT, then DATA, each after the one before said yes. Returns the step whose
    answer decides (the first that was not a yes, else DATA), that answer, and whether the
    server waits for data that must not go (never, here)."""
    code, reply = connection.mail(sender, options)
    if code != 250:
        return "mail", code, reply, False
    code, reply = connection.rcpt(to)
    if code not in (250, 251):
        return "rcpt", code, reply, False
    connection.putcmd("data")
    code, reply = connection.getreply()
    return "data", code, reply, False


def _envelope_at_once(
    connection: smtplib.SMTP, sender: str, to: str, options: list[str]
) -> tuple[str, int, bytes, bool]:
    """MAIL, RCPT and DATA in one write (PIPELINING), then their three answers, judged as
    `_envelope_step_by_step` judges them. A 354 to DATA after MAIL or RCPT was refused means
    the server waits for data that must not go."""
    if "SMTPUTF8" in options:
        connection.command_encoding = "utf-8"  # as smtplib's mail() does
    extra = "".join(f" {option}" for option in options)
    commands = [f"mail from:{quoteaddr(sender)}{extra}", f"rcpt to:{quoteaddr(to)}", "data"]
    if any("\r" in command or "\n" in command for command in commands):
        raise ValueError("an address with a line break")  # as smtplib's putcmd refuses it
    connection.send("".join(f"{command}\r\n" for command in commands))
    answers = [("mail", *connection.getreply())]
    answers.append(("rcpt", *connection.getreply()))
    answers.append(("data", *connection.getreply()))
    yes = {"mail": (250,), "rcpt": (250, 251), "data": (250, 251, 354)}
    step, code, reply = next((a for a in answers if a[1] not in yes[a[0]]), answers[2])
    return step, code, reply, step != "data" and answers[2][1] == 354


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


UNIT = Unit(
    name="smtp",
    sender=Smtp,
    reports_delivery=False,  # a server takes the message and never says it arrived
    sends_raw_message=True,
    reconciles=False,
)
