"""Documents on the operator's disk: `validate`, `sign`, `verify` (no hub needed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

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
    expect_signer: Annotated[
        str | None,
        typer.Option(
            "--expect-signer",
            help="The participant id that must have signed. Default for a receipt: the hub itself.",
        ),
    ] = None,
    hub_certificates: Annotated[
        Path | None,
        typer.Option(
            "--hub-certificates",
            help="The hub's published certificates (GET /v1/hub/certificates.pem): the signer's"
            " certificate must be one of them, and their CAs are the trust anchors.",
        ),
    ] = None,
) -> None:
    """Verify a document's or a receipt's signature; prints the signer.

    A receipt (JSON with `receipt_version`) must be signed by the hub: a participant's signature,
    however valid, is refused unless `--expect-signer` names that participant.
    """
    from hub.context import HubContext
    from hub.parsing import parse_xml
    from hub.signing.jws import verify_detached
    from hub.signing.xmldsig import find_signatures, verify_enveloped

    hub = HubContext(make_settings())
    data = read_file(file)
    trust, pinned = hub.trust, None
    if hub_certificates is not None:
        trust, pinned = _pinned_trust(hub_certificates)
    try:
        if is_json(data):
            if not jws:
                raise refuse("a JSON document's signature is detached: pass --jws")
            verified = verify_detached(data, jws, trust)
            signer, algorithm, certificate = verified.signer, verified.algorithm, verified.certificate
            if expect_signer is None and _is_receipt(data):
                expect_signer = hub.settings.hub_participant_id
        else:
            root = parse_xml(data).root
            if not find_signatures(root):
                raise refuse("the document carries no XMLDSig signature")
            result = verify_enveloped(root, trust, allow_sha1=hub.settings.allow_sha1_signatures)
            signer, algorithm, certificate = result.signer, result.algorithm, result.certificate
    except Problem as problem:
        raise problem_exit(problem) from None
    if expect_signer is not None and signer != expect_signer:
        raise refuse(f"signed by {signer}, not by {expect_signer} (--expect-signer)")
    if pinned is not None and certificate not in pinned:
        raise refuse(f"signed by {signer} with a certificate that is not one of {hub_certificates}")
    out.print(f"valid signature by {signer} ({algorithm})")


def _is_receipt(data: bytes) -> bool:
    try:
        parsed = json.loads(data)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "receipt_version" in parsed


def _pinned_trust(path: Path) -> tuple[Any, list[Any]]:
    """A trust store of the CAs in the hub's published PEM, and its signing certificates to pin."""
    from cryptography import x509

    from hub.trust import TrustStore, common_name

    try:
        certificates = x509.load_pem_x509_certificates(read_file(path))
    except ValueError as error:
        raise refuse(f"{path}: no PEM certificates ({error})") from None
    leaves = [c for c in certificates if not _is_ca_certificate(c)]
    cas = [c for c in certificates if _is_ca_certificate(c)]
    if not leaves or not cas:
        raise refuse(
            f"{path}: expected the hub's signing certificates and their CA (as /v1/hub/certificates.pem)"
        )
    anchors = [c for c in cas if c.subject == c.issuer]
    intermediates = [c for c in cas if c.subject != c.issuer]
    if not anchors:
        raise refuse(f"{path}: no self-signed CA certificate to anchor the chain")
    known = [name for c in leaves if (name := common_name(c))]  # only the hub's own certificates
    return TrustStore(anchors, known, frozenset(), intermediates), leaves


def _is_ca_certificate(certificate: Any) -> bool:
    from cryptography import x509

    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
