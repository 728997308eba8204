"""TLS for the hub's HTTP door, and participants authenticated by TLS client certificate (mutual TLS).

X-Road authenticates member systems by TLS client certificate; the hub does the same, beside the
bearer tokens. The TLS layer asks for a client certificate (``CERT_OPTIONAL``: adapters' callbacks
from banks and the console's browsers have none) and checks its chain against the client CA file;
the HTTP layer maps the certificate to a participant through the trust store (chain, validity,
revocation, CN = participant id), exactly like a signer.

Why a protocol subclass: uvicorn verifies the client certificate but does not put it in the ASGI
scope. The ASGI TLS extension (``scope["extensions"]["tls"]``, asgiref's spec) is the standard place
for it; :class:`TlsScopeMixin` adds it from the connection's ``ssl_object`` when the connection is
made (after the handshake), by wrapping the app for that one connection. Nothing else of uvicorn
changes, and an app behind another ASGI server that fills the extension works the same.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.settings import Settings

TLS_EXTENSION = "tls"


def client_certificate(scope: Mapping[str, Any]) -> x509.Certificate | None:
    """The TLS client certificate of the request's connection (ASGI TLS extension), if any."""
    tls = (scope.get("extensions") or {}).get(TLS_EXTENSION) or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    return x509.load_pem_x509_certificate(chain[0].encode("ascii"))


def _tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> dict[str, Any]:
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
        "tls_version_name": ssl_object.version(),  # informative, beside the spec's numeric fields
        "cipher_name": cipher[0] if cipher else None,
    }


class _WithTls:
    """The app, for one connection: each request's scope gains the connection's TLS extension."""

    def __init__(self, app: Any, extension: dict[str, Any]) -> None:
        self.app = app
        self.extension = extension

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope = {**scope, "extensions": {**(scope.get("extensions") or {}), TLS_EXTENSION: self.extension}}
        await self.app(scope, receive, send)


class TlsScopeMixin:
    """For a uvicorn HTTP protocol class: put the peer's certificate in the ASGI TLS extension."""

    app: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _WithTls(self.app, _tls_extension(ssl_object))


class TlsH11Protocol(TlsScopeMixin, H11Protocol):
    pass


class TlsHttpToolsProtocol(TlsScopeMixin, HttpToolsProtocol):
    pass


def uvicorn_tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config options for HTTPS with optional client certificates; empty without TLS."""
    if settings.tls_cert_file is None:
        return {}
    client_ca = settings.tls_client_ca_file or settings.effective_trust_anchor_files[0]
    return {
        "ssl_certfile": str(settings.tls_cert_file),
        "ssl_keyfile": str(settings.tls_key_file or settings.tls_cert_file),
        "ssl_ca_certs": str(Path(client_ca)),
        "ssl_cert_reqs": ssl.CERT_OPTIONAL,
        "http": TlsHttpToolsProtocol,
    }
