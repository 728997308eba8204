"""E-mail over SMTP (smtplib): STARTTLS whenever the server offers it (or required), then AUTH if
configured. The Message-ID is derived from the hub message id, so a receiver can drop a repeat."""

from __future__ import annotations

import smtplib
import ssl
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr

from hub.spi import Delivered, DeliveryResult, PermanentFailure, RetryableFailure, resolve_secret

from .options import EmailOptions


def message_id_header(message_id: str) -> str:
    return f"<{message_id}.notify@lienthong.invalid>"


class EmailSender:
    def __init__(self, options: EmailOptions, timeout: float) -> None:
        self.options = options
        self.timeout = timeout

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.options.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def send(self, *, to: str, subject: str, body: str, message_id: str) -> DeliveryResult:
        # The legacy Header/MIMEText API on purpose: the newer EmailMessage folds a long Vietnamese
        # Subject into encoded words and drops the space at the fold ("có kết" → "cókết").
        mail = MIMEText(body, "plain", "utf-8")
        mail["From"] = formataddr(parseaddr(self.options.from_address), charset="utf-8")
        mail["To"] = to
        mail["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # compat32 takes a Header
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = message_id_header(message_id)
        try:
            with smtplib.SMTP(self.options.host, self.options.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.options.starttls != "never" and smtp.has_extn("starttls"):
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                elif self.options.starttls == "required":
                    return RetryableFailure(
                        reason=f"smtp {self.options.host}: STARTTLS required, not offered"
                    )
                if self.options.username and self.options.password:
                    smtp.login(
                        resolve_secret(self.options.username, "email.username"),
                        resolve_secret(self.options.password, "email.password"),
                    )
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            return _answer(code, text)
        except smtplib.SMTPResponseException as error:
            return _answer(error.smtp_code, error.smtp_error)
        except (TimeoutError, OSError, smtplib.SMTPException) as error:
            return RetryableFailure(reason=f"smtp {self.options.host}:{self.options.port}: {error}")
        if refused:
            code, text = next(iter(refused.values()))
            return _answer(code, text)
        return Delivered(
            peer_reference=message_id_header(message_id), detail=f"e-mail accepted by {self.options.host}"
        )


def _answer(code: int, text: bytes | str) -> DeliveryResult:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    reason = f"smtp {code}: {words}"
    return PermanentFailure(reason=reason) if 500 <= code < 600 else RetryableFailure(reason=reason)
