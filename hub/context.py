"""The process-wide context: everything loaded once per process (settings, participants, document
types, compiled schemas, trust store, the hub's signing key, the ledger)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from hub.directory import Directories
from hub.doctypes import DocTypeRegistry
from hub.hub_certificates import HubCertificates
from hub.ledger import Ledger
from hub.participants import Participants
from hub.routing import RouteTable
from hub.settings import Settings
from hub.signing.keys import SigningIdentity, load_identity
from hub.simulator_refs import configured_simulator_urls
from hub.trust import TrustStore
from hub.validation import Validator


@dataclass
class HubContext:
    settings: Settings

    @cached_property
    def simulator_urls(self) -> dict[str, str]:
        """What ``${simulator:NAME}`` in config/ stands for (hub.simulator_refs)."""
        return self.settings.simulator_urls or configured_simulator_urls(self.settings.simulators_file)

    @cached_property
    def participants(self) -> Participants:
        return Participants.load(self.settings.participants_file, self.simulator_urls)

    @cached_property
    def doctypes(self) -> DocTypeRegistry:
        return DocTypeRegistry.load(self.settings.doctypes_file, self.settings.schemas_dir)

    @cached_property
    def routes(self) -> RouteTable:
        table = RouteTable.load(self.settings.routes_file)
        table.check_types(set(self.doctypes.names()))
        return table

    @cached_property
    def directories(self) -> Directories:
        return Directories(self.ledger)

    @cached_property
    def validator(self) -> Validator:
        return Validator(self.doctypes)

    @cached_property
    def trust(self) -> TrustStore:
        known = [*self.participants.ids(), self.settings.hub_participant_id]
        revoked = self.settings.effective_revoked_serials_file
        return TrustStore.load(
            self.settings.effective_trust_anchor_files, known, revoked if revoked.exists() else None
        )

    @cached_property
    def identity(self) -> SigningIdentity:
        settings = self.settings
        if settings.hub_key_pkcs11_module is not None:  # the key stays in the HSM
            from hub.signing.pkcs11 import load_pkcs11_identity

            return load_pkcs11_identity(
                settings.hub_key_pkcs11_module,
                settings.hub_key_pkcs11_token,
                settings.hub_key_pkcs11_key,
                settings.hub_key_pkcs11_user_pin,
                settings.effective_hub_cert_file,
            )
        return load_identity(settings.effective_hub_key_file, settings.effective_hub_cert_file)

    @cached_property
    def hub_certificates(self) -> HubCertificates:
        """The hub's signing certificates (current and previous) with their CA chains, as published."""
        return HubCertificates.collect(
            self.identity.participant_id,
            self.identity.certificate,
            self.settings.hub_previous_cert_files,
            self.trust,
        )

    @cached_property
    def ledger(self) -> Ledger:
        if self.settings.effective_database_url.startswith("sqlite:"):
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        ledger = Ledger(self.settings.effective_database_url)
        ledger.migrate()
        return ledger

    def warm_up(self) -> None:
        """Load everything now (at start-up) rather than on the first request."""
        _ = (self.participants, self.doctypes, self.routes, self.validator, self.trust, self.identity)
        _ = self.ledger

    def close(self) -> None:
        if "ledger" in self.__dict__:
            self.ledger.dispose()
