"""Documents on the operator's disk: `validate`, `sign`, `verify` (no hub needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import err, is_json, make_settings, out, problem_exit, read_file, refuse
from hub.problems import Problem

app = typer.Typer()


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
    hub = HubContext(make_settings())
    data = read_file(file)
    try:
        if is_json(data):
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
        raise problem_exit(problem) from None
    for warning in warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    out.print(f"valid {doctype.name} ({profile})")


@app.command()
def sign(
    file: Path,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (default stdout).")
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="Private key (PEM) to sign with; goes with --cert.")
    ] = None,
    cert: Annotated[
        Path | None, typer.Option(help="Certificate (PEM) of that key, embedded in the signature.")
    ] = None,
    as_participant: Annotated[
        str | None,
        typer.Option("--as", help="Development: sign with this participant's development key."),
    ] = None,
) -> None:
    """Sign a document: edXML gets an enveloped XMLDSig; JSON gets a detached JWS (printed).

    The key is --key/--cert, or a participant's development key (--as), or by default the hub's."""
    from hub.doctypes import EDXML_NS
    from hub.parsing import parse_xml
    from hub.signing.jws import sign_detached
    from hub.signing.keys import load_identity
    from hub.signing.xmldsig import sign_enveloped

    if (key is None) != (cert is None):
        raise typer.BadParameter("--key and --cert go together", param_hint="--key/--cert")
    if key is not None and as_participant:
        raise typer.BadParameter("give --key/--cert or --as, not both", param_hint="--key/--as")
    settings = make_settings()
    if key is not None and cert is not None:
        key_file, cert_file, whose = key, cert, str(key)
    elif as_participant:
        key_file = settings.certs_dir / f"{as_participant}.key"
        cert_file = settings.certs_dir / f"{as_participant}.crt"
        whose = as_participant
    else:
        key_file, cert_file, whose = (
            settings.effective_hub_key_file,
            settings.effective_hub_cert_file,
            "the hub",
        )
    try:
        identity = load_identity(key_file, cert_file)
    except (OSError, ValueError) as error:
        raise refuse(f"no signing key for {whose}: {error}") from None
    data = read_file(file)
    try:
        if is_json(data):
            signature = sign_detached(data, identity)
            out.print(signature, highlight=False)
            return
        root = parse_xml(data).root
        headers = root.xpath("//e:edXMLHeader", namespaces={"e": EDXML_NS})
        signed = sign_enveloped(root, identity, parent=headers[0] if headers else root)
    except Problem as problem:
        raise problem_exit(problem) from None
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

    hub = HubContext(make_settings())
    data = read_file(file)
    try:
        if is_json(data):
            if not jws:
                raise refuse("a JSON document's signature is detached: pass --jws")
            verified = verify_detached(data, jws, hub.trust)
            signer, algorithm = verified.signer, verified.algorithm
        else:
            root = parse_xml(data).root
            if not find_signatures(root):
                raise refuse("the document carries no XMLDSig signature")
            result = verify_enveloped(root, hub.trust, allow_sha1=hub.settings.allow_sha1_signatures)
            signer, algorithm = result.signer, result.algorithm
    except Problem as problem:
        raise problem_exit(problem) from None
    out.print(f"valid signature by {signer} ({algorithm})")
