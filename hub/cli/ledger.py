"""`lienthong ledger`: check the whole ledger, print the latest checkpoint, run the sequencer once,
check a proof offline. These read the ledger of the local settings (`--data-dir`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli.common import DataDir, err, existing_ledger_settings, make_settings, out, read_file, refuse

if TYPE_CHECKING:
    from hub.ledger import Ledger

ledger_app = typer.Typer(no_args_is_help=True, help="The ledger: the Merkle log, checkpoints, proofs.")


def _ledger(data_dir: Path | None) -> Ledger:
    """The ledger of the local settings; "no ledger at …" where there is none (never a new one)."""
    from hub.context import HubContext

    return HubContext(existing_ledger_settings(data_dir)).ledger


@ledger_app.command("verify")
def ledger_verify(
    data_dir: DataDir = None,
    first: Annotated[
        bool, typer.Option("--first", help="Stop at the first fault (the v1 behaviour).")
    ] = False,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", help="A signed checkpoint kept outside (a file holding the note)."),
    ] = None,
) -> None:
    """Check the whole ledger: every leaf, every checkpoint (and the checkpoint file), the v1 chain,
    the messages' bytes and every state row; report every fault with its kind and position."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hub.evidence import ledger_key, verify_ledger
    from hub.ledger.proofs import signed_checkpoint

    settings = existing_ledger_settings(data_dir)
    key = ledger_key(settings)
    held = []
    for path in checkpoint or []:
        note = read_file(path).decode("utf-8")
        for candidate in (key.key, *key.previous):  # a checkpoint kept from before a key rotation
            try:
                held.append(signed_checkpoint(note, key.origin, candidate))
                break
            except ValueError as error:
                refusal = error
        else:
            raise refuse(f"{path} is not a checkpoint signed by {key.origin}: {refusal}") from None
    ledger = _ledger(data_dir)
    with Progress(
        TextColumn("verifying ledger"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("verify", total=None)

        def report(checked: int, total: int) -> None:
            progress.update(task, completed=checked, total=total)

        result = verify_ledger(ledger, settings, first=first, progress=report, extra=held)
    if not result.ok:
        if first:
            where = f" at event #{result.first_bad_seq}" if result.first_bad_seq is not None else ""
            raise refuse(f"ledger broken{where}: {result.reason}")
        for fault in result.faults:
            err.print(f"  {fault}", highlight=False)
        raise refuse(f"ledger broken: {len(result.faults)} fault(s), the first {result.faults[0]}")
    out.print(f"ledger intact: {result.events_checked} events verified")


@ledger_app.command("checkpoint")
def ledger_checkpoint(data_dir: DataDir = None) -> None:
    """Print the latest signed checkpoint (keep it: it pins the ledger's history up to now)."""
    found = _ledger(data_dir).latest_checkpoint()
    if found is None:
        raise refuse("the ledger has signed no checkpoint yet")
    out.print(found.signed_note, end="", highlight=False, markup=False)


@ledger_app.command("sequence")
def ledger_sequence(data_dir: DataDir = None) -> None:
    """Run the sequencer once (if no running hub holds its lease): place new events, sign checkpoints."""
    from hub.context import HubContext
    from hub.evidence import make_sequencer

    hub = HubContext(existing_ledger_settings(data_dir))
    signed = make_sequencer(hub).run_once()
    latest = hub.ledger.latest_checkpoint()
    out.print(
        f"{len(signed)} checkpoint(s) signed; the log has {latest.tree_size if latest else 0} events placed"
    )


@ledger_app.command("verify-proof")
def ledger_verify_proof(
    proof: Annotated[Path, typer.Argument(help="JSON of /v1/messages/{id}/proof or /v1/ledger/consistency.")],
    cert: Annotated[
        Path | None, typer.Option(help="The hub's certificate (PEM); default the configured one.")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="The log's origin; default the configured one.")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Consistency: the older signed checkpoint you kept.")
    ] = None,
) -> None:
    """Check an inclusion or consistency proof offline, with only the checkpoint and the hub's certificate."""
    from cryptography import x509

    from hub.ledger.proofs import check_consistency_proof, check_message_proof

    settings = make_settings()
    try:
        document = json.loads(read_file(proof))
        certificate = x509.load_pem_x509_certificate(read_file(cert or settings.effective_hub_cert_file))
    except ValueError as error:
        raise refuse(f"cannot read the proof or the certificate: {error}") from None
    key = certificate.public_key()
    log_origin = origin or settings.effective_ledger_origin
    if "events" in document:
        verdict = check_message_proof(document, key, origin or document.get("origin") or log_origin)  # type: ignore[arg-type]
    else:
        held = read_file(checkpoint).decode("utf-8") if checkpoint else None
        verdict = check_consistency_proof(document, key, log_origin, held)  # type: ignore[arg-type]
    for problem in verdict.problems:
        err.print(f"  {problem}", highlight=False)
    if not verdict.ok:
        raise refuse(verdict.summary)
    out.print(verdict.summary, highlight=False)
