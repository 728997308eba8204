"""Refuse to start in production mode with development keys, certificates or tokens, or with a
delivery lease shorter than an adapter's timeout; warn of the latter in development."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hub.context import HubContext
from hub.devpki import is_development_certificate, is_development_token_hash
from hub.operators import Operators, development_operators
from hub.spi import Adapter

log = logging.getLogger("hub.startup")


class StartupRefused(RuntimeError):
    """The hub must not start; the message lists every reason."""


def lease_hazards(lease_seconds: float, adapters: Iterable[Adapter]) -> list[str]:
    """Adapters whose one attempt may outlast the delivery lease: another worker would reclaim the
    delivery while the first is still sending it, and the peer would get it twice at once."""
    return [
        f"adapter {adapter.name}: timeout_seconds {adapter.options.timeout_seconds:g} is not shorter than "
        f"the delivery lease (LIENTHONG_LEASE_SECONDS {lease_seconds:g}): two workers could send one "
        "delivery at the same time"
        for adapter in adapters
        if adapter.options.timeout_seconds >= lease_seconds
    ]


def production_hazards(hub: HubContext) -> list[str]:
    """Every reason this configuration is unfit for production (empty when fit)."""
    hazards: list[str] = []
    if hub.settings.hub_key_pkcs11_module is not None and not hub.settings.console_secret:
        hazards.append(
            "the hub's key is in an HSM but LIENTHONG_CONSOLE_SECRET is not set: console sessions would be"
            " signed with a secret derived from a key file"
        )
    if hub.settings.require_client_certificate and hub.settings.tls_cert_file is None:
        hazards.append(
            "LIENTHONG_REQUIRE_CLIENT_CERTIFICATE is set but the hub serves no TLS (LIENTHONG_TLS_CERT_FILE):"
            " no participant could authenticate"
        )
    if is_development_certificate(hub.identity.certificate):
        hazards.append(
            f"the hub's certificate {hub.settings.effective_hub_cert_file} is from the development PKI"
        )
    for anchor in hub.trust.anchors:
        if is_development_certificate(anchor):
            hazards.append("a trust anchor is the development CA")
    for participant in hub.participants:
        if participant.token_sha256 and is_development_token_hash(participant.id, participant.token_sha256):
            hazards.append(f"participant {participant.id} still has its development token")
    for operator_id in development_operators(Operators.load(hub.settings.operators_file)):
        hazards.append(f"operator {operator_id} is the development operator or has its development password")
    return hazards


def check_production_safety(hub: HubContext, adapters: Iterable[Adapter] = ()) -> None:
    adapters = list(adapters)
    leases = lease_hazards(hub.settings.lease_seconds, adapters)
    if hub.settings.mode != "production":
        for hazard in leases:
            log.warning("%s (production mode refuses to start with this)", hazard)
        return
    hazards = production_hazards(hub) + leases
    for adapter in adapters:
        hazards += [
            f"adapter {adapter.name}: {name} has a development value"
            for name in adapter.development_secrets()
        ]
    if hazards:
        raise StartupRefused("refusing to start in production mode: " + "; ".join(hazards))
