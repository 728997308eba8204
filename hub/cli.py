"""The `lienthong` command line.

Exit codes: 0 success; 1 refused or invalid (the reason is printed); 2 usage error.
Participant commands (`send`) talk HTTP to a running hub. Operator commands (`status`, `fetch`,
`ledger verify`) read the ledger named by the settings (``LIENTHONG_*`` variables, `--data-dir`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from hub.logging import configure_logging
from hub.problems import Problem
from hub.settings import Settings

if TYPE_CHECKING:
    import httpx

app = typer.Typer(no_args_is_help=True, add_completion=False, help="lienthong — the province's hub")
ledger_app = typer.Typer(no_args_is_help=True, help="The ledger: the Merkle log, checkpoints, proofs.")
deliveries_app = typer.Typer(no_args_is_help=True, help="Deliveries (operators): list, retry.")
certs_app = typer.Typer(no_args_is_help=True, help="Certificates and keys.")
app.add_typer(ledger_app, name="ledger")
app.add_typer(certs_app, name="certs")
app.add_typer(deliveries_app, name="deliveries")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite ledger lives.")]
HubUrl = Annotated[str, typer.Option("--hub", envvar="LIENTHONG_HUB_URL", help="Base URL of a running hub.")]


def _settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def _refuse(message: str) -> typer.Exit:
    err.print(f"[red]refused:[/red] {message}", highlight=False)
    return typer.Exit(1)


def _problem_exit(problem: Problem) -> typer.Exit:
    for item in problem.errors[:20]:
        err.print(f"  {item.get('location', '')}: {item.get('message', '')}", highlight=False)
    return _refuse(f"{problem.slug}: {problem.detail}")


# -- running ---------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Delivery threads in this process (0: API only).")
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes sharing the port (each with its delivery threads); > 1 needs PostgreSQL.",
        ),
    ] = 1,
    data_dir: DataDir = None,
) -> None:
    """Run the hub's HTTP API (with delivery workers unless --workers 0)."""
    import os

    import uvicorn

    from hub.api import create_app
    from hub.startup_checks import StartupRefused

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    settings = _settings(data_dir, **overrides)
    configure_logging(settings.log_format, settings.log_level)
    if processes > 1 and settings.effective_database_url.startswith("sqlite"):
        raise _refuse(
            "--processes > 1 needs a PostgreSQL ledger (LIENTHONG_DATABASE_URL): processes sharing one"
            " SQLite file wait on its lock and are no faster than one"
        )
    try:
        api = create_app(settings)  # with several processes: checks and migrates once, here
    except StartupRefused as refused:
        raise _refuse(str(refused)) from None
    out.print(f"lienthong listening on http://{settings.host}:{settings.port} (docs at /docs)")
    options: dict[str, Any] = {"log_level": "info", "log_config": None, "access_log": settings.access_log}
    if processes == 1:
        uvicorn.run(api, host=settings.host, port=settings.port, **options)
        return
    api.state.runtime.close()
    # uvicorn starts each process afresh: it reads the same settings from the environment.
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    os.environ.update({f"LIENTHONG_{key.upper()}": str(value) for key, value in overrides.items()})
    uvicorn.run(
        "hub.api.app:app_from_environment",
        factory=True,
        workers=processes,
        host=settings.host,
        port=settings.port,
        **options,
    )


@app.command()
def worker(
    workers: Annotated[int | None, typer.Option(help="Delivery threads (default from settings).")] = None,
    pollers: Annotated[bool, typer.Option(help="Run the adapters' pollers in this process.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Run delivery workers (and pollers) without the HTTP API: for scale-out beside `serve`."""
    import signal
    import threading

    from hub.runtime import Runtime
    from hub.startup_checks import StartupRefused

    settings = _settings(data_dir)
    configure_logging(settings.log_format, settings.log_level)
    try:
        runtime = Runtime.build(settings)
    except StartupRefused as refused:
        raise _refuse(str(refused)) from None
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    runtime.start_workers(workers=workers, pollers=pollers)
    queue = runtime.hub.settings.queue_url if runtime.queue is not None else "embedded (ledger)"
    out.print(
        f"lienthong worker {runtime.engine.worker_id}: adapters {runtime.adapters.names()}, queue {queue}"
    )
    stopped.wait()
    runtime.close()


SIMULATOR_ENTRY_POINTS = "lienthong.simulators"


def _simulator_ports(path: Path) -> dict[str, int]:
    import yaml

    if not path.exists():
        return {}
    return {str(k): int(v) for k, v in (yaml.safe_load(path.read_text()) or {}).get("simulators", {}).items()}


@app.command()
def run(
    port: Annotated[int, typer.Option(help="Port of the hub's API.")] = 8080,
    data_dir: DataDir = None,
) -> None:
    """Development: the hub (embedded SQLite ledger) plus the bundled simulators of outside systems.

    Simulators are found through the `lienthong.simulators` entry points (each names a callable that
    returns an ASGI app), so an integrator's own package can add one without touching the core.
    """
    import time
    from importlib.metadata import entry_points

    from hub.api import create_app
    from hub.servers import run_in_thread
    from hub.startup_checks import StartupRefused

    settings = _settings(data_dir, port=port)
    configure_logging(settings.log_format, settings.log_level)
    servers = []
    ports = _simulator_ports(settings.config_dir / "simulators.yaml")
    lines = []
    for entry in sorted(entry_points(group=SIMULATOR_ENTRY_POINTS), key=lambda e: e.name):
        simulator = run_in_thread(entry.load()(), host=settings.host, port=ports.get(entry.name, 0))
        servers.append(simulator)
        lines.append(f"  simulator {entry.name:<20} {simulator.base_url}")
    try:
        hub_server = run_in_thread(create_app(settings), host=settings.host, port=port)
    except (StartupRefused, RuntimeError) as refused:
        for server in servers:
            server.stop()
        raise _refuse(str(refused)) from None
    servers.insert(0, hub_server)
    out.print(
        f"[bold]lienthong[/bold] hub API {hub_server.base_url}  (OpenAPI docs: {hub_server.base_url}/docs)"
    )
    out.print(f"  ledger: {settings.effective_database_url}   queue: {settings.queue_url}", highlight=False)
    for line in lines:
        out.print(line, highlight=False)
    out.print("Development tokens: 'Authorization: Bearer dev-token-<participant id>'. Ctrl-C stops.")
    try:
        while all(server.thread.is_alive() for server in servers):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for server in reversed(servers):
            server.stop()


# -- documents -------------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise _refuse(f"cannot read {path}: {error.strerror}") from None


def _is_json(data: bytes) -> bool:
    return data.lstrip()[:1] in (b"{", b"[")


@app.command()
def validate(
    file: Path,
    profile: Annotated[
        str, typer.Option(help="strict (what the hub emits) or lenient (from the axis).")
    ] = "strict",
) -> None:
    """Check a document: hardened parse, type, schema. Prints warnings (lenient) or errors."""
    from hub.context import HubContext
    from hub.parsing import parse_json, parse_xml

    if profile not in ("strict", "lenient"):
        raise typer.BadParameter("profile must be strict or lenient")
    hub = HubContext(_settings())
    data = _read(file)
    try:
        if _is_json(data):
            obj = parse_json(data)
            doctype = hub.doctypes.identify_json(obj)
            hub.validator.validate_json(doctype, obj)
            warnings: list[str] = []
        else:
            parsed = parse_xml(data, lenient=profile == "lenient")
            doctype = hub.doctypes.identify_xml(parsed.root)
            issues = hub.validator.validate_xml(doctype, parsed.root, profile=profile)  # type: ignore[arg-type]
            warnings = parsed.warnings + [f"{i.location}: {i.message}" for i in issues]
    except Problem as problem:
        raise _problem_exit(problem) from None
    for warning in warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    out.print(f"valid {doctype.name} ({profile})")


@app.command()
def sign(
    file: Path,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (default stdout).")
    ] = None,
    as_participant: Annotated[
        str | None,
        typer.Option("--as", help="Sign with this participant's development key instead of the hub's."),
    ] = None,
) -> None:
    """Sign a document: edXML gets an enveloped XMLDSig; JSON gets a detached JWS (printed)."""
    from hub.doctypes import EDXML_NS
    from hub.parsing import parse_xml
    from hub.signing.jws import sign_detached
    from hub.signing.keys import load_identity
    from hub.signing.xmldsig import sign_enveloped

    settings = _settings()
    if as_participant:
        key_file = settings.certs_dir / f"{as_participant}.key"
        cert_file = settings.certs_dir / f"{as_participant}.crt"
    else:
        key_file, cert_file = settings.effective_hub_key_file, settings.effective_hub_cert_file
    try:
        identity = load_identity(key_file, cert_file)
    except OSError as error:
        raise _refuse(f"no signing key for {as_participant or 'the hub'}: {error}") from None
    data = _read(file)
    try:
        if _is_json(data):
            signature = sign_detached(data, identity)
            out.print(signature, highlight=False)
            return
        root = parse_xml(data).root
        headers = root.xpath("//e:edXMLHeader", namespaces={"e": EDXML_NS})
        signed = sign_enveloped(root, identity, parent=headers[0] if headers else root)
    except Problem as problem:
        raise _problem_exit(problem) from None
    if output:
        output.write_bytes(signed)
        err.print(f"signed by {identity.participant_id} → {output}")
    else:
        sys.stdout.buffer.write(signed)


@app.command()
def verify(
    file: Path,
    jws: Annotated[str | None, typer.Option(help="Detached JWS of a JSON document.")] = None,
) -> None:
    """Verify a document's signature against the trust store; prints the signer."""
    from hub.context import HubContext
    from hub.parsing import parse_xml
    from hub.signing.jws import verify_detached
    from hub.signing.xmldsig import find_signatures, verify_enveloped

    hub = HubContext(_settings())
    data = _read(file)
    try:
        if _is_json(data):
            if not jws:
                raise _refuse("a JSON document's signature is detached: pass --jws")
            verified = verify_detached(data, jws, hub.trust)
            signer, algorithm = verified.signer, verified.algorithm
        else:
            root = parse_xml(data).root
            if not find_signatures(root):
                raise _refuse("the document carries no XMLDSig signature")
            result = verify_enveloped(root, hub.trust, allow_sha1=hub.settings.allow_sha1_signatures)
            signer, algorithm = result.signer, result.algorithm
    except Problem as problem:
        raise _problem_exit(problem) from None
    out.print(f"valid signature by {signer} ({algorithm})")


class _SendRefused(Exception):
    """One document the hub (or the way to it) refused; the message says why."""


def _progress():  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


def _documents(paths: Sequence[Path]) -> list[Path]:
    """The files named, a directory standing for the files in it (sorted, not recursive)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            found.append(path)
    return found


def _submit(
    client: httpx.Client, hub_url: str, data: bytes, authorization: str, extra: dict[str, str]
) -> dict[str, Any]:
    """POST one document; its answer, or _SendRefused with the hub's reason (errors printed)."""
    import httpx

    headers = {
        "Authorization": authorization,
        "Content-Type": "application/json" if _is_json(data) else "application/xml",
        **extra,
    }
    try:
        response = client.post(
            f"{hub_url.rstrip('/')}/v1/messages", content=data, headers=headers, timeout=60
        )
    except httpx.HTTPError as error:
        raise _SendRefused(f"cannot reach the hub at {hub_url}: {error}") from None
    try:
        body = response.json() if response.content else {}
    except ValueError:  # not the hub's JSON: a proxy's error page, or another server
        body = None
    if not isinstance(body, dict):
        body = {"detail": f"HTTP {response.status_code}: {response.text[:200]}"}
    if response.status_code >= 400 or "id" not in body:
        for item in body.get("errors", [])[:20]:
            err.print(f"  {item.get('location', '')}: {item.get('message', '')}", highlight=False)
        slug = str(body.get("type", "")).rsplit("/", 1)[-1]
        raise _SendRefused(f"{slug or response.status_code}: {body.get('detail', response.text)}")
    for warning in body.get("warnings", []):
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    return body


@app.command()
def send(
    files: Annotated[
        list[Path], typer.Argument(help="Documents to send; a directory sends every file in it.")
    ],
    as_participant: Annotated[
        str, typer.Option("--as", help="Send as this participant (development token).")
    ],
    hub_url: HubUrl = "http://127.0.0.1:8080",
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key header.")] = None,
    jws: Annotated[str | None, typer.Option(help="Detached JWS to send with a JSON document.")] = None,
    wait: Annotated[
        float,
        typer.Option(help="Seconds to wait for pushed deliveries to end (delivered or dead); 0: don't."),
    ] = 0,
) -> None:
    """Submit documents to a running hub; prints each message id (one document: with --wait, how
    delivery went). Many documents show a progress bar and print `id  file` lines."""
    import httpx

    from hub.devpki import dev_token

    documents = _documents(files)
    authorization = f"Bearer {dev_token(as_participant)}"
    extra = {k: v for k, v in (("Idempotency-Key", idempotency_key), ("x-jws-signature", jws)) if v}
    if len(documents) != 1:
        if extra or wait:
            raise _refuse("--idempotency-key, --jws and --wait go with one document only")
        _send_many(documents, hub_url, authorization)
        return
    data = _read(documents[0])
    try:
        with httpx.Client() as client:
            body = _submit(client, hub_url, data, authorization, extra)
    except _SendRefused as refused:
        raise _refuse(str(refused)) from None
    if body.get("duplicate"):
        err.print("duplicate: the hub already had this document; its original message is returned")
    out.print(body["id"], highlight=False)
    if wait > 0:
        _wait_for_deliveries(f"{hub_url.rstrip('/')}/v1/messages/{body['id']}", authorization, wait)


def _send_many(documents: list[Path], hub_url: str, authorization: str) -> None:
    import httpx

    if not documents:
        raise _refuse("no documents to send")
    refused: list[str] = []
    with httpx.Client() as client, _progress() as progress:
        task = progress.add_task("sending", total=len(documents))
        for path in documents:
            try:
                body = _submit(client, hub_url, _read(path), authorization, {})
                note = "  (duplicate)" if body.get("duplicate") else ""
                out.print(f"{body['id']}  {path}{note}", highlight=False)
            except _SendRefused as error:
                refused.append(str(path))
                err.print(f"[red]refused:[/red] {path}: {error}", highlight=False)
            except typer.Exit:  # unreadable: _read said why
                refused.append(str(path))
            progress.advance(task)
    err.print(f"{len(documents) - len(refused)} sent, {len(refused)} refused")
    if refused:
        raise typer.Exit(1)


def _wait_for_deliveries(message_url: str, authorization: str, timeout: float) -> None:
    """Poll a message until its pushed deliveries are delivered or dead; print each delivery."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        deliveries = httpx.get(message_url, headers={"Authorization": authorization}, timeout=30).json()[
            "deliveries"
        ]
        pushed = [d for d in deliveries if d["adapter"] != "inbox"]
        if all(d["state"] in ("delivered", "dead") for d in pushed) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for d in deliveries:
        note = "awaiting pickup from its inbox" if d["adapter"] == "inbox" else f"{d['attempts']} attempt(s)"
        reference = f", reference {d['peer_reference']}" if d.get("peer_reference") else ""
        out.print(
            f"  → {d['recipient']}: {d['state']} via {d['adapter']} ({note}{reference})", highlight=False
        )
    if any(d["state"] == "dead" for d in pushed):
        raise _refuse(
            "a delivery is dead: " + "; ".join(d["last_error"] or "" for d in pushed if d["state"] == "dead")
        )


# -- operator views of the ledger ------------------------------------------------------------------


def _ledger(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from hub.context import HubContext

    return HubContext(_settings(data_dir)).ledger


@app.command()
def status(
    message_id: str,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A message's state, deliveries and events (operator view, from the ledger)."""
    ledger = _ledger(data_dir)
    message = ledger.get_message(message_id)
    if message is None:
        raise _refuse(f"no message {message_id}")
    events = ledger.list_events(message_id)
    if as_json:
        from hub.api.views import message_detail

        out.print_json(json.dumps(message_detail(message, events), ensure_ascii=False))
        return
    out.print(f"{message.id}  {message.doctype}  [bold]{message.state}[/bold]", highlight=False)
    out.print(f"  from {message.sender} about {message.correlation_key}", highlight=False)
    for delivery in message.deliveries:
        out.print(
            f"  → {delivery.recipient}: {delivery.state} ({delivery.attempts} attempts)", highlight=False
        )
    for event in events:
        out.print(f"  #{event.id} {event.at.isoformat()} {event.kind}", highlight=False)


@app.command()
def fetch(
    message_id: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write the document to.")],
    data_dir: DataDir = None,
) -> None:
    """Write a message's document (as delivered, hub-signed) to a file."""
    found = _ledger(data_dir).get_document(message_id)
    if found is None:
        raise _refuse(f"no message {message_id}")
    document, _content_type, signature = found
    try:
        output.write_bytes(document)
        if signature:
            output.with_name(output.name + ".jws").write_text(signature)
    except OSError as error:
        raise _refuse(f"cannot write {output}: {error.strerror}") from None
    err.print(f"{len(document)} bytes → {output}")


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

    from hub.ledger.proofs import signed_checkpoint
    from hub.runtime import ledger_key, verify_ledger

    settings = _settings(data_dir)
    key = ledger_key(settings)
    held = []
    for path in checkpoint or []:
        try:
            held.append(signed_checkpoint(_read(path).decode("utf-8"), key.origin, key.key))
        except ValueError as error:
            raise _refuse(f"{path} is not a checkpoint signed by {key.origin}: {error}") from None
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
            raise _refuse(f"ledger broken{where}: {result.reason}")
        for fault in result.faults:
            err.print(f"  {fault}", highlight=False)
        raise _refuse(f"ledger broken: {len(result.faults)} fault(s), the first {result.faults[0]}")
    out.print(f"ledger intact: {result.events_checked} events verified")


@ledger_app.command("checkpoint")
def ledger_checkpoint(data_dir: DataDir = None) -> None:
    """Print the latest signed checkpoint (keep it: it pins the ledger's history up to now)."""
    found = _ledger(data_dir).latest_checkpoint()
    if found is None:
        raise _refuse("the ledger has signed no checkpoint yet")
    out.print(found.signed_note, end="", highlight=False, markup=False)


@ledger_app.command("sequence")
def ledger_sequence(data_dir: DataDir = None) -> None:
    """Run the sequencer once (if no running hub holds its lease): place new events, sign checkpoints."""
    from hub.context import HubContext
    from hub.runtime import make_sequencer

    hub = HubContext(_settings(data_dir))
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

    settings = _settings()
    try:
        document = json.loads(_read(proof))
        certificate = x509.load_pem_x509_certificate(_read(cert or settings.effective_hub_cert_file))
    except ValueError as error:
        raise _refuse(f"cannot read the proof or the certificate: {error}") from None
    key = certificate.public_key()
    log_origin = origin or settings.effective_ledger_origin
    if "events" in document:
        verdict = check_message_proof(document, key, origin or document.get("origin") or log_origin)  # type: ignore[arg-type]
    else:
        held = _read(checkpoint).decode("utf-8") if checkpoint else None
        verdict = check_consistency_proof(document, key, log_origin, held)  # type: ignore[arg-type]
    for problem in verdict.problems:
        err.print(f"  {problem}", highlight=False)
    if not verdict.ok:
        raise _refuse(verdict.summary)
    out.print(verdict.summary, highlight=False)


def _announce_deliveries(settings: Settings, deliveries: Sequence[Any]) -> None:
    """Embedded workers find queued deliveries in the ledger; RabbitMQ workers need tickets."""
    from hub.queue import QueueUnavailable, Ticket
    from hub.runtime import make_queue

    queue = make_queue(settings)
    if queue is None:
        return
    tickets = [
        Ticket(d.id, d.message_id, d.adapter or "") for d in deliveries if d.adapter not in (None, "inbox")
    ]
    try:
        queue.publish(tickets)
    except QueueUnavailable:
        err.print("queue unavailable: the sweeper will publish the deliveries")
    finally:
        queue.close()


@deliveries_app.command("list")
def deliveries_list(
    state: Annotated[
        str | None, typer.Option(help="queued, delivering, delivered, retrying or dead.")
    ] = None,
    limit: int = 50,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Deliveries, most recently changed first (`--state dead` for the dead ones)."""
    found = _ledger(data_dir).list_deliveries(state=state, limit=limit)
    if as_json:
        from hub.api.views import delivery_view

        out.print_json(json.dumps([delivery_view(d) for d in found], ensure_ascii=False))
        return
    for d in found:
        out.print(
            f"{d.id}  {d.state:<10} {d.recipient:<16} {d.adapter or '-':<10} attempts={d.attempts}"
            f"  {d.last_error or ''}",
            highlight=False,
        )


@deliveries_app.command("retry")
def deliveries_retry(delivery_id: str, data_dir: DataDir = None) -> None:
    """Send a dead (or retrying) delivery again now, with a fresh attempt budget."""
    from hub.context import HubContext

    hub = HubContext(_settings(data_dir))
    try:
        delivery = hub.ledger.requeue(delivery_id, by="cli")
    except Problem as problem:
        raise _problem_exit(problem) from None
    _announce_deliveries(hub.settings, [delivery])
    out.print(f"{delivery.id} queued again for {delivery.recipient}")


@app.command()
def replay(
    message_ids: Annotated[list[str], typer.Argument(help="Ids of the messages to replay.")],
    data_dir: DataDir = None,
) -> None:
    """Operators: run recorded messages through the path again, each as a new, linked message
    (prints the new id; many show a progress bar and print `new  original` lines)."""
    from hub.context import HubContext
    from hub.intake import Intake

    hub = HubContext(_settings(data_dir))
    intake = Intake(hub)
    if len(message_ids) == 1:
        try:
            result = intake.replay(message_ids[0], by="cli")
        except Problem as problem:
            raise _problem_exit(problem) from None
        _announce_deliveries(hub.settings, result.message.deliveries)
        out.print(result.message.id, highlight=False)
        return
    refused = 0
    with _progress() as progress:
        task = progress.add_task("replaying", total=len(message_ids))
        for message_id in message_ids:
            try:
                result = intake.replay(message_id, by="cli")
                _announce_deliveries(hub.settings, result.message.deliveries)
                out.print(f"{result.message.id}  {message_id}", highlight=False)
            except Problem as problem:
                refused += 1
                err.print(
                    f"[red]refused:[/red] {message_id}: {problem.slug}: {problem.detail}", highlight=False
                )
            progress.advance(task)
    err.print(f"{len(message_ids) - refused} replayed, {refused} refused")
    if refused:
        raise typer.Exit(1)


@certs_app.command("dev")
def certs_dev(
    target: Annotated[Path | None, typer.Option(help="Directory (default: the settings' certs_dir).")] = None,
) -> None:
    """Regenerate the development PKI (CA, hub, participants). Development only."""
    from hub.devpki import generate_dev_pki

    settings = _settings()
    if settings.mode == "production":
        raise _refuse("the development PKI is never generated in production mode")
    written = generate_dev_pki(target or settings.certs_dir)
    out.print(f"development PKI written: {len(written)} files in {target or settings.certs_dir}")


def with_adapter_commands() -> typer.Typer:
    """The CLI with the installed adapters' command groups added (e.g. `lienthong payments`).

    Loading every adapter costs about a second, so the core's own commands run without it."""
    from hub.adapters import add_adapter_commands

    if not getattr(app, "_adapter_commands_added", False):
        add_adapter_commands(app, _settings)
        app._adapter_commands_added = True  # type: ignore[attr-defined]
    return app


def main() -> None:
    core = {
        command.name or command.callback.__name__ for command in app.registered_commands if command.callback
    }
    core |= {group.name for group in app.registered_groups if group.name}
    if len(sys.argv) > 1 and sys.argv[1] in core:
        app()
    else:
        with_adapter_commands()()


if __name__ == "__main__":
    main()
