"""A mail server for development and tests: a real SMTP server (aiosmtpd) that offers STARTTLS with a
certificate for 127.0.0.1/localhost issued by the development CA (certs/dev), keeps every message it
receives, and refuses recipients in the domain `refused.example` (550). The returned ASGI app shows
what it received under /_sim and runs the SMTP server for its lifetime (port: `smtp_port`, else
LIENTHONG_SIM_SMTP_PORT, else 2525)."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import ssl
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from pydantic import BaseModel

REFUSED_DOMAIN = "refused.example"


class SmtpConfig(BaseModel):
    smtp_port: int | None = None
    host: str = "127.0.0.1"
    ca_cert: str = "certs/dev/ca.crt"
    ca_key: str = "certs/dev/ca.key"


@dataclass
class Mailbox:
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # aiosmtpd handler hooks
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower().endswith("@" + REFUSED_DOMAIN):
            return f"550 5.1.1 <{address}>: Recipient address rejected: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        parsed = message_from_bytes(data, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        with self.lock:
            self.received.append(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": list(envelope.rcpt_tos),
                    "tls": session.ssl is not None,
                    "message_id": parsed.get("Message-ID"),
                    "subject": str(parsed.get("Subject", "")),
                    "from": str(parsed.get("From", "")),
                    "to": str(parsed.get("To", "")),
                    "body": body.get_content() if body is not None else "",
                }
            )
        return "250 2.0.0 OK: queued"


def _tls_context(config: SmtpConfig, workdir: Path) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 and localhost, from the development CA when it is there."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp simulator")])
    ca_cert, ca_key = Path(config.ca_cert), Path(config.ca_key)
    if ca_cert.is_file() and ca_key.is_file():
        issuer_cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        issuer, signer = issuer_cert.subject, serialization.load_pem_private_key(ca_key.read_bytes(), None)
    else:
        issuer, signer = subject, key
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_file, key_file = workdir / "smtp.crt", workdir / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def create_smtp_app(config: SmtpConfig | None = None) -> FastAPI:
    config = config or SmtpConfig()
    port = config.smtp_port or int(os.environ.get("LIENTHONG_SIM_SMTP_PORT", "2525"))
    mailbox = Mailbox()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with tempfile.TemporaryDirectory(prefix="smtp-sim-") as workdir:
            controller = Controller(
                mailbox,
                hostname=config.host,
                port=port,
                tls_context=_tls_context(config, Path(workdir)),
                require_starttls=False,
            )
            controller.start()
            try:
                yield
            finally:
                controller.stop()

    app = FastAPI(title="lienthong SMTP simulator (inspection)", version="1", lifespan=lifespan)
    app.state.mailbox = mailbox
    app.state.smtp_port = port

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"service": "SMTP simulator", "smtp": f"{config.host}:{port}", "starttls": True}

    @app.get("/_sim/messages")
    def messages() -> dict[str, Any]:
        with mailbox.lock:
            return {"messages": list(mailbox.received)}

    @app.post("/_sim/reset")
    def reset() -> dict[str, str]:
        with mailbox.lock:
            mailbox.received.clear()
        return {"status": "reset"}

    return app
