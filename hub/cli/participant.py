"""What an agency's system (or a person for it) does with the hub, over HTTP: `send`, `status`,
`fetch`, `receipt`, `inbox`, `timeline`.

Each names the hub with `--hub` (LIENTHONG_HUB_URL) and authenticates with `--token`
(LIENTHONG_TOKEN) or, in development, `--as PARTICIPANT` (its development token). The hub decides
what the participant may see, exactly as for any other client of the API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.common import (
    DEFAULT_HUB_URL,
    AsParticipant,
    HubClient,
    HubRefused,
    HubUrl,
    Token,
    authorization,
    err,
    hub_session,
    is_json,
    out,
    path_segment,
    plural,
    progress_bar,
    read_file,
    refuse,
    write_file,
)

app = typer.Typer()

AsJson = Annotated[bool, typer.Option("--json", help="Print the hub's JSON answer.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="File to write to.")]


def documents_in(paths: Sequence[Path]) -> list[Path]:
    """The files named, a directory standing for the files in it (sorted, not recursive)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            found.append(path)
    return found


def submit(client: HubClient, data: bytes, extra: dict[str, str]) -> dict[str, Any]:
    """POST one document to /v1/messages; the hub's answer (warnings printed), or HubRefused."""
    headers = {"Content-Type": "application/json" if is_json(data) else "application/xml", **extra}
    body = client.json("POST", "/v1/messages", content=data, headers=headers)
    if not isinstance(body, dict) or "id" not in body:
        raise HubRefused(f"the answer names no message: {str(body)[:200]}")
    for warning in body.get("warnings", []):
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    return body


def attempts_of(delivery: dict[str, Any]) -> str:
    """`3 attempts`: every attempt of the delivery, operator retries included (`attempts_total`),
    or the current round's count from a hub that does not give the total."""
    return plural(int(delivery.get("attempts_total", delivery.get("attempts", 0))), "attempt")


@app.command()
def send(
    files: Annotated[
        list[Path], typer.Argument(help="Documents to send; a directory sends every file in it.")
    ],
    hub_url: HubUrl = DEFAULT_HUB_URL,
    token: Token = None,
    as_participant: AsParticipant = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key header.")] = None,
    jws: Annotated[str | None, typer.Option(help="Detached JWS to send with a JSON document.")] = None,
    wait: Annotated[
        float,
        typer.Option(help="Seconds to wait for pushed deliveries to end (delivered or dead); 0: don't."),
    ] = 0,
) -> None:
    """Submit documents to a running hub; prints each message id.

    One document: with --wait, how its deliveries went. Many documents (or a directory): a progress
    bar and `id  file` lines."""
    documents = documents_in(files)
    credentials = authorization(token, as_participant)
    extra = {k: v for k, v in (("Idempotency-Key", idempotency_key), ("x-jws-signature", jws)) if v}
    if len(documents) != 1:
        if extra or wait:
            raise refuse("--idempotency-key, --jws and --wait go with one document only")
        send_many(documents, hub_url, credentials)
        return
    data = read_file(documents[0])
    with hub_session(hub_url, credentials) as client:
        body = submit(client, data, extra)
        if body.get("duplicate"):
            err.print("duplicate: the hub already had this document; its original message is returned")
        out.print(body["id"], highlight=False)
        if wait > 0:
            wait_for_deliveries(client, body["id"], wait)


def send_many(documents: list[Path], hub_url: str, credentials: str) -> None:
    if not documents:
        raise refuse("no documents to send")
    refused: list[str] = []
    with HubClient(hub_url, credentials) as client, progress_bar() as progress:
        task = progress.add_task("sending", total=len(documents))
        for path in documents:
            try:
                body = submit(client, read_file(path), {})
                note = "  (duplicate)" if body.get("duplicate") else ""
                out.print(f"{body['id']}  {path}{note}", highlight=False)
            except HubRefused as error:
                refused.append(str(path))
                err.print(f"[red]refused:[/red] {path}: {error}", highlight=False)
            except typer.Exit:  # unreadable: read_file said why
                refused.append(str(path))
            progress.advance(task)
    err.print(f"{len(documents) - len(refused)} sent, {len(refused)} refused")
    if refused:
        raise typer.Exit(1)


def wait_for_deliveries(client: HubClient, message_id: str, timeout: float) -> None:
    """Poll a message until its pushed deliveries are delivered or dead; print each delivery."""
    deadline = time.monotonic() + timeout
    path = f"/v1/messages/{path_segment(message_id)}"
    while True:
        deliveries = client.json("GET", path)["deliveries"]
        pushed = [d for d in deliveries if d["adapter"] != "inbox"]
        if all(d["state"] in ("delivered", "dead") for d in pushed) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for d in deliveries:
        note = "awaiting pickup from its inbox" if d["adapter"] == "inbox" else attempts_of(d)
        reference = f", reference {d['peer_reference']}" if d.get("peer_reference") else ""
        out.print(
            f"  → {d['recipient']}: {d['state']} via {d['adapter']} ({note}{reference})", highlight=False
        )
    if any(d["state"] == "dead" for d in pushed):
        raise refuse(
            "a delivery is dead: " + "; ".join(d["last_error"] or "" for d in pushed if d["state"] == "dead")
        )


@app.command()
def status(
    message_id: str,
    hub_url: HubUrl = DEFAULT_HUB_URL,
    token: Token = None,
    as_participant: AsParticipant = None,
    as_json: AsJson = False,
) -> None:
    """A message's state, its deliveries (with every attempt so far) and its events."""
    with hub_session(hub_url, authorization(token, as_participant)) as client:
        message = client.json("GET", f"/v1/messages/{path_segment(message_id)}")
    if as_json:
        out.print_json(json.dumps(message, ensure_ascii=False))
        return
    out.print(f"{message['id']}  {message['type']}  [bold]{message['state']}[/bold]", highlight=False)
    out.print(f"  from {message['sender']} about {message['correlation_key']}", highlight=False)
    for d in message["deliveries"]:
        via = f" via {d['adapter']}" if d.get("adapter") else ""
        out.print(f"  → {d['recipient']}: {d['state']}{via} ({attempts_of(d)})", highlight=False)
    for event in message["events"]:
        out.print(f"  #{event['id']} {event['at']} {event['kind']}", highlight=False)


@app.command()
def fetch(
    message_id: str,
    output: Output,
    hub_url: HubUrl = DEFAULT_HUB_URL,
    token: Token = None,
    as_participant: AsParticipant = None,
) -> None:
    """Write a message's document (as delivered, hub-signed) to a file.

    A JSON document's detached JWS goes beside it, in FILE.jws."""
    with hub_session(hub_url, authorization(token, as_participant)) as client:
        response = client.request("GET", f"/v1/messages/{path_segment(message_id)}/document")
    write_file(output, response.content)
    signature = response.headers.get("x-jws-signature")
    if signature:
        write_file(output.with_name(output.name + ".jws"), signature.encode())
    err.print(f"{len(response.content)} bytes → {output}")


@app.command()
def receipt(
    message_id: str,
    output: Output,
    hub_url: HubUrl = DEFAULT_HUB_URL,
    token: Token = None,
    as_participant: AsParticipant = None,
) -> None:
    """Write the hub's signed receipt of a message to a file (its JWS in FILE.jws).

    `lienthong verify --jws "$(cat FILE.jws)" FILE` checks it against the trust store."""
    with hub_session(hub_url, authorization(token, as_participant)) as client:
        response = client.request("GET", f"/v1/messages/{path_segment(message_id)}/receipt")
    signature = response.headers.get("x-jws-signature")
    if not signature:
        raise refuse("the hub's answer carries no x-jws-signature: not a signed receipt")
    write_file(output, response.content)
    write_file(output.with_name(output.name + ".jws"), signature.encode())
    err.print(f"receipt → {output} (signature in {output.name}.jws)")


@app.command()
def inbox(
    hub_url: HubUrl = DEFAULT_HUB_URL,
    token: Token = None,
    as_participant: AsParticipant = None,
    ack: Annotated[
        list[str] | None,
        typer.Option(help="Acknowledge this delivery (taken: it becomes delivered); repeatable."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many items.")] = 50,
    as_json: AsJson = False,
) -> None:
    """What awaits this participant in its pull inbox, oldest first; --ack takes one.

    Prints `delivery  message  type  from` lines. Fetch each document (`lienthong fetch MESSAGE`),
    then acknowledge its delivery with --ack DELIVERY."""
    with hub_session(hub_url, authorization(token, as_participant)) as client:
        if ack:
            for delivery_id in ack:
                done = client.json("POST", f"/v1/inbox/{path_segment(delivery_id)}/ack")
                out.print(f"{done['id']} {done['state']}", highlight=False)
            return
        items = client.json("GET", "/v1/inbox", params={"limit": limit})["items"]
    if as_json:
        out.print_json(json.dumps(items, ensure_ascii=False))
        return
    for item in items:
        out.print(
            f"{item['delivery_id']}  {item['message_id']}  {item['type']}  from {item['sender']}",
            highlight=False,
        )
    err.print(f"{plural(len(items), 'document')} waiting")


@app.command()
def timeline(
    correlation_key: Annotated[str, typer.Argument(help="A dossier number or an edXML DocumentId.")],
    hub_url: HubUrl = DEFAULT_HUB_URL,
    token: Token = None,
    as_participant: AsParticipant = None,
    as_json: AsJson = False,
) -> None:
    """Every message about one dossier or document, in order, with deliveries and events.

    A participant sees the messages it sent, submitted or receives; an operator sees all."""
    with hub_session(hub_url, authorization(token, as_participant)) as client:
        found = client.json("GET", f"/v1/timeline/{path_segment(correlation_key, safe='/')}")
    if as_json:
        out.print_json(json.dumps(found, ensure_ascii=False))
        return
    out.print(f"[bold]{found['correlation_key']}[/bold]", highlight=False)
    for message in found["messages"]:
        out.print(
            f"  {message['id']}  {message['type']}  {message['state']}  from {message['sender']}",
            highlight=False,
        )
        for d in message["deliveries"]:
            out.print(f"    → {d['recipient']}: {d['state']} ({attempts_of(d)})", highlight=False)
    for event in found["events"]:
        out.print(f"  #{event['id']} {event['at']} {event['kind']}", highlight=False)
