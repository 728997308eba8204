"""Simulators of the notify adapter's peers, written from docs/adapters/notify.md (never from the
adapter's code): an SMS brandname gateway (HTTP, with delivery reports posted back) and a mail server
(a real SMTP server, aiosmtpd, offering STARTTLS) that keeps what it receives."""

from .sms import SmsGatewayConfig, create_sms_app
from .smtp import SmtpConfig, create_smtp_app

__all__ = ["SmsGatewayConfig", "SmtpConfig", "create_sms_app", "create_smtp_app"]
