"""The ledger as the hub's evidence: its sequencer signing with the hub's key, and verification with
the hub's certificates, the checkpoint file and checkpoints kept outside.

Apart from :mod:`hub.runtime` so that what checks the ledger (the CLI, the alert watcher, the console)
needs no running hub, and the runtime and the alerts import each other in no direction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography import x509

from hub.context import HubContext
from hub.ledger import ChainReport, Checkpoint, Fault, Ledger, LogSigner
from hub.ledger.publish import CheckpointFile, TimestampAuthority, Witnesses
from hub.ledger.sequencer import Sequencer
from hub.ledger.verify import KeyCheck
from hub.settings import Settings
from hub.signing.keys import SigningUnavailable


def ledger_key(settings: Settings) -> KeyCheck:
    """Who must have signed the ledger's checkpoints: its origin and the hub certificate's key, or for
    checkpoints from before a key rotation, the key of a previous certificate.

    Certificates only: verifying never needs the private key, so an auditor's machine (or a hub whose
    key is in an HSM) checks the ledger without the token or its PIN.
    """
    certificate = x509.load_pem_x509_certificate(settings.effective_hub_cert_file.read_bytes())
    previous = tuple(
        cert.public_key()
        for path in settings.hub_previous_cert_files
        for cert in x509.load_pem_x509_certificates(path.read_bytes())
    )
    return KeyCheck(settings.effective_ledger_origin, certificate.public_key(), previous)  # type: ignore[arg-type]


def verify_ledger(
    ledger: Ledger,
    settings: Settings,
    *,
    first: bool = False,
    progress: Callable[[int, int], None] | None = None,
    extra: Sequence[Checkpoint] = (),
) -> ChainReport:
    """Verify the ledger with the hub's key, against the checkpoint file and any `extra` checkpoints."""
    try:
        origin = settings.effective_ledger_origin  # the file may hold another log's lines: skip those
        kept = [c for c in CheckpointFile(settings.effective_checkpoint_file).read() if c.origin == origin]
        external = [*kept, *extra]
        file_faults: list[Fault] = []
    except ValueError as error:
        external, file_faults = list(extra), [Fault("checkpoint-file", None, str(error))]
    report = ledger.verify_chain(key=ledger_key(settings), external=external, first=first, progress=progress)
    if file_faults:
        return ChainReport.of(report.events_checked, [*file_faults, *report.faults])
    return report


def make_sequencer(hub: HubContext) -> Sequencer:
    """The ledger's sequencer, signing with the hub's key and publishing where the settings say."""
    settings = hub.settings
    ledger = hub.ledger
    return Sequencer(
        ledger,
        LogSigner(settings.effective_ledger_origin, hub.identity.private_key),
        checkpoint_file=CheckpointFile(settings.effective_checkpoint_file),
        witnesses=Witnesses(settings.witness_urls, ledger, ledger.log),
        tsa=TimestampAuthority(settings.tsa_url) if settings.tsa_url else None,
        interval=settings.checkpoint_interval,
        lease_seconds=settings.sequencer_lease_seconds,
        cannot_sign=(SigningUnavailable,),
    )
