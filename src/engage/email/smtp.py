"""Any SMTP relay: one connection for the whole send, STARTTLS, TLS or neither."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.utils import parseaddr

from ..config import secret
from .base import AuthFailed, Batch, Outcome, Provider, SystemMessage, TryLater

TIMEOUT = 30


class Smtp(Provider):
    name = "smtp"
    batch_size = 100

    def __init__(self, workspace) -> None:  # noqa: ANN001
        super().__init__(workspace)
        self.settings = self.config.smtp
        self.connection: smtplib.SMTP | None = None

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
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
            self.connection = None

    def send_batch(self, batch: Batch) -> list[Outcome]:
        if self.connection is None:
            self.connection = self._connect()
        outcomes = []
        for item in batch.items:
            outcomes.append(self._send_one(batch, item))
        return outcomes

    def _send_one(self, batch: Batch, item) -> Outcome:  # noqa: ANN001
        assert self.connection is not None
        try:
            envelope_from = parseaddr(batch.sender)[1]
            refused = self.connection.sendmail(envelope_from, [item.email], batch.raw(item))
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = exc.recipients.get(item.email, (0, b""))
            return Outcome(item.delivery_id, False, error=f"{code} {_text(reason)}")
        except smtplib.SMTPDataError as exc:
            if 500 <= exc.smtp_code < 600:
                return Outcome(
                    item.delivery_id, False, error=f"{exc.smtp_code} {_text(exc.smtp_error)}"
                )
            raise TryLater(
                f"The SMTP server said {exc.smtp_code}: {_text(exc.smtp_error)}"
            ) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            self.connection = None
            raise TryLater(f"The SMTP connection was lost: {exc}") from None
        if refused:
            code, reason = refused[item.email]
            return Outcome(item.delivery_id, False, error=f"{code} {_text(reason)}")
        return Outcome(item.delivery_id, True, provider_id=item.message_id)

    def send_system(self, message: SystemMessage) -> Outcome:
        connection = self._connect()
        try:
            to = parseaddr(message.to)[1]
            refused = connection.sendmail(parseaddr(message.sender)[1], [to], message.raw())
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()), (0, b""))
            return Outcome(0, False, error=f"{code} {_text(reason)}")
        except (smtplib.SMTPException, OSError) as exc:
            raise TryLater(f"The SMTP server did not take the message: {exc}") from None
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.quit()
        return Outcome(0, not refused, provider_id=message.message_id)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
