"""Refuse to start in production mode with development keys, certificates or tokens."""

from __future__ import annotations

from collections.abc import Iterable

from hub.context import HubContext
from hub.devpki import is_development_certificate, is_development_token_hash
from hub.operators import Operators, development_operators
from hub.spi import Adapter


class StartupRefused(RuntimeError):
    """The hub must not start; the message lists every reason."""


def production_hazards(hub: HubContext) -> list[str]:
    """Every reason this configuration is unfit for production (empty when fit)."""
    hazards: list[str] = []
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
    if hub.settings.mode != "production":
        return
    hazards = production_hazards(hub)
    for adapter in adapters:
        hazards += [
            f"adapter {adapter.name}: {name} has a development value"
            for name in adapter.development_secrets()
        ]
    if hazards:
        raise StartupRefused("refusing to start in production mode: " + "; ".join(hazards))
