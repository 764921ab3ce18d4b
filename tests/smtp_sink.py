"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests and
benchmarks. It can refuse chosen recipients, require a login, and count connections."""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from . import mailcheck


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: ANN001, N802
        limit = self.sink.refuse_sender_after
        if limit is not None and len(self.sink.received) >= limit:
            return "550 5.7.1 Sender not allowed to send here"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: ANN001, N802
        if address in self.sink.refuse:
            return "550 5.1.1 No such mailbox here"
        if self.sink.fault(address, ("550-but-354",)):  # a broken server: DATA will say 354
            envelope.rcpt_tos.append(address)
            return "550 5.1.1 No such mailbox here"
        fault = self.sink.fault(address, ("drop-at-rcpt", "451-at-rcpt"))
        if fault == "drop-at-rcpt":
            server.transport.close()
            return "421 gone"  # never arrives: the connection is closed
        if fault == "451-at-rcpt":
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        fault = None
        for address in envelope.rcpt_tos:
            fault = fault or self.sink.fault(address, ("451", "421", "554", "drop-after-data"))
        if fault == "451":
            return "451 4.3.0 Temporary failure, try again later"
        if fault == "554":
            return "554 5.6.0 Message refused"
        if fault == "421":  # answer, then close the connection
            asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return "421 4.3.2 Service shutting down"
        mailcheck.note(envelope.original_content, f"the SMTP message to {envelope.rcpt_tos}")
        with self.sink.lock:
            self.sink.sessions.add(id(session))
            for address in envelope.rcpt_tos:
                self.sink.received.append((address, envelope.content))
        if fault == "drop-after-data":  # it has the message; the answer never leaves
            server.transport.close()
            return "250 never heard"
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        return "250 Message accepted"


class _PipeliningHandler(_Handler):
    """Offers PIPELINING (RFC 2920), and counts the MAIL commands that came with their RCPT
    and DATA already sent behind them."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, N802
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: ANN001, N802
        waiting = bytes(server._reader._buffer).lower()  # what the client sent after MAIL
        if b"rcpt to:" in waiting and b"data\r\n" in waiting:
            with self.sink.lock:
                self.sink.pipelined += 1
        return await super().handle_MAIL(server, session, envelope, address, options)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    def __init__(
        self,
        password: str | None = None,
        delay: float = 0.0,
        smtputf8: bool = False,
        pipelining: bool = False,
    ) -> None:
        # Faults to inject, once each, keyed by recipient address: "451-at-rcpt" or
        # "drop-at-rcpt" (at RCPT), or "550-but-354" (refuse at RCPT, then say 354 to DATA
        # all the same, as a broken server might); "451", "421" (then close), "554" or
        # "drop-after-data" (take the message, then close without answering) at the end of DATA.
        self.faults: dict[str, str] = {}
        self.refuse_sender_after: int | None = None  # refuse MAIL FROM once it has this many
        self.received: list[tuple[str, bytes]] = []
        self.sessions: set[int] = set()
        self.refuse: set[str] = set()
        self.lock = threading.Lock()
        self.pipelined = 0  # MAIL commands sent with their RCPT and DATA (with pipelining=True)
        self.delay = delay
        self.password = password
        kwargs = {}
        if password is not None:
            kwargs = {"authenticator": self._auth, "auth_require_tls": False, "auth_required": True}
        self.port = _free_port()
        self.controller = Controller(
            (_PipeliningHandler if pipelining else _Handler)(self),
            hostname="127.0.0.1",
            port=self.port,
            enable_SMTPUTF8=smtputf8,
            **kwargs,
        )

    def fault(self, address: str, kinds: tuple[str, ...]) -> str | None:
        """The fault set for this address, if it is one of `kinds`; used once."""
        with self.lock:
            if self.faults.get(address) in kinds:
                return self.faults.pop(address)
        return None

    def _auth(self, server: SMTP, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        ok = getattr(auth_data, "password", b"") == (self.password or "").encode()
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def messages(self):  # noqa: ANN201
        with self.lock:
            return [
                (to, message_from_bytes(data, policy=policy.default)) for to, data in self.received
            ]
