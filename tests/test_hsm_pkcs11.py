"""The hub's signing key in a hardware security module (PKCS#11), tested against SoftHSM2.

A key pair is generated *on* a fresh SoftHSM2 token (sensitive, not extractable), the development CA
issues the hub's certificate for its public half, and a hub configured with the token signs
edXML (XMLDSig), JSON (JWS) and receipts: every signature is checked by the independent verifiers
(and xmlsec1 when installed) against that certificate, and the key was never out of the token.
Skipped only when SoftHSM2 is absent (`make test` installs Debian's softhsm2 when it may).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from hub.context import HubContext
from hub.settings import Settings
from tests import independent_tlog as ind
from tests.hubtest import DEV_CERTS, EXAMPLES, FIXTURES, RunningHub, ledger_counts, running_hub
from tests.independent_verify import (
    XMLSEC1,
    verify_detached_jws_independently,
    verify_with_xmlsec1,
    verify_xmldsig_independently,
)
from tests.test_cli import LIENTHONG

SOFTHSM_LIBRARY = next(
    (
        Path(p)
        for p in ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
        if Path(p).exists()
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    SOFTHSM_LIBRARY is None or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is not installed (apt-get install softhsm2)",
)
TOKEN, KEY, PIN = "lienthong-test", "hub", "24681357"
AGENCY = "000.01.02.H41"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh SoftHSM2 token of this module's own (its own token directory and configuration)."""
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read by the library when the hub first opens it
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "13572468"],
        check=True,
        capture_output=True,
    )
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _generate_on_token() -> x509.Certificate:
    """Generate the hub's key pair on the token; return a certificate for it from the development CA."""
    import pkcs11
    from pkcs11 import Attribute, KeyType

    from hub.signing.pkcs11 import public_key_of

    session = pkcs11.lib(str(SOFTHSM_LIBRARY)).get_token(token_label=TOKEN).open(user_pin=PIN, rw=True)
    with session:
        _public, private = session.generate_keypair(
            KeyType.RSA,
            2048,
            label=KEY,
            store=True,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )
        public = public_key_of(private)
    ca_cert = x509.load_pem_x509_certificate((DEV_CERTS / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((DEV_CERTS / "ca.key").read_bytes(), None)
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "lienthong")]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def hsm_settings(token: Path) -> dict[str, object]:
    certificate = _generate_on_token()
    cert_file = token / "hub-hsm.crt"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pin_file = token / "pin"
    pin_file.write_text(PIN + "\n")
    return {
        "hub_cert_file": cert_file,
        "hub_key_file": token / "no-such.key",  # there is no key file: only the token has the key
        "hub_key_pkcs11_module": SOFTHSM_LIBRARY,
        "hub_key_pkcs11_token": TOKEN,
        "hub_key_pkcs11_key": KEY,
        "hub_key_pkcs11_pin_file": pin_file,
        "console_secret": "test-console-secret",
    }


@pytest.fixture(scope="module")
def hub(hsm_settings: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with running_hub(tmp_path_factory.mktemp("hub"), workers=0, **hsm_settings) as running:
        yield running


def hsm_certificate(hsm_settings: dict[str, object]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(hsm_settings["hub_cert_file"]).read_bytes())  # type: ignore[arg-type]


def test_intake_signs_edxml_with_the_token_key(hub: RunningHub, hsm_settings: dict[str, object]) -> None:
    text = (FIXTURES / "edxml" / "document_strict.edxml").read_bytes()
    body = text.replace(b"123/UBND-VP", f"{uuid.uuid4().int % 10**6}/UBND-VP".encode())
    accepted = hub.post(body, as_=AGENCY)
    assert accepted.status_code == 202, accepted.text
    document = hub.get(f"/v1/messages/{accepted.json()['id']}/document", as_=AGENCY).content
    assert verify_xmldsig_independently(document) == hsm_certificate(hsm_settings)
    if XMLSEC1:
        verify_with_xmlsec1(document, DEV_CERTS / "ca.crt")

    receipt = hub.get(f"/v1/messages/{accepted.json()['id']}/receipt", as_=AGENCY)
    assert json.loads(receipt.content)["hub"] == "lienthong"
    assert verify_detached_jws_independently(
        receipt.content, receipt.headers["x-jws-signature"], hsm_certificate(hsm_settings)
    )


def test_intake_signs_json_with_the_token_key(hub: RunningHub, hsm_settings: dict[str, object]) -> None:
    obj = json.loads((EXAMPLES / "ems.order.json").read_text(encoding="utf-8"))
    obj["dossier_number"] = obj["order"]["OrderNumber"] = f"H41-HSM-{uuid.uuid4().hex[:10]}"
    body = json.dumps(obj, ensure_ascii=False).encode()
    accepted = hub.post(body, as_=obj["sender"], content_type="application/json")
    assert accepted.status_code == 202, accepted.text
    document = hub.get(f"/v1/messages/{accepted.json()['id']}/document", as_=obj["sender"])
    assert verify_detached_jws_independently(
        document.content, document.headers["x-jws-signature"], hsm_certificate(hsm_settings)
    )


def test_the_key_never_leaves_the_token(hub: RunningHub, hsm_settings: dict[str, object]) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    from hub.signing.pkcs11 import Pkcs11RsaPrivateKey

    key = hub.app.state.hub.identity.private_key
    assert isinstance(key, Pkcs11RsaPrivateKey)
    with pytest.raises(TypeError, match="never leaves"):
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    with pytest.raises(TypeError, match="never leaves"):
        key.private_numbers()
    assert not Path(hsm_settings["hub_key_file"]).exists()  # type: ignore[arg-type]
    # This process is logged in already (the hub's session): PKCS#11 logins are per application.
    session = pkcs11.lib(str(SOFTHSM_LIBRARY)).get_token(token_label=TOKEN).open()
    with session:
        (on_token,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: KEY})
        assert on_token[Attribute.SENSITIVE] and not on_token[Attribute.EXTRACTABLE]
        assert on_token[Attribute.NEVER_EXTRACTABLE] and on_token[Attribute.ALWAYS_SENSITIVE]


def test_checkpoints_are_signed_on_the_token_and_verify_with_the_hub_certificate(
    hub: RunningHub, hsm_settings: dict[str, object]
) -> None:
    """The sequencer signs with the token's key; an outsider checks the checkpoint, a message's proof
    and the receipt's checkpoint with only the hub's certificate, and `lienthong ledger verify` needs
    neither the token nor its PIN."""
    from hub.signing.pkcs11 import Pkcs11RsaPrivateKey

    runtime = hub.app.state.runtime
    signer_key = runtime.sequencer.signer.key
    assert isinstance(signer_key, Pkcs11RsaPrivateKey) and signer_key is runtime.hub.identity.private_key
    origin = hub.settings.effective_ledger_origin
    hub_key = hsm_certificate(hsm_settings).public_key()
    dev_key = x509.load_pem_x509_certificate((DEV_CERTS / "hub.crt").read_bytes()).public_key()

    message_id = hub.post(_fresh_document(), as_=AGENCY).json()["id"]
    size = hub.wait_sequenced()
    note = hub.client.get("/v1/ledger/checkpoint").text
    assert ind.checkpoint_signed_by(note, origin, hub_key) is not None  # type: ignore[arg-type]
    assert ind.checkpoint_signed_by(note, origin, dev_key) is None, "signed by the token's key only"  # type: ignore[arg-type]
    assert ind.checkpoint_signed_by(note, origin, hub_key)[0] == size  # type: ignore[arg-type,index]

    proof = hub.get(f"/v1/messages/{message_id}/proof", as_=AGENCY).json()
    assert proof["pending"] == [] and ind.message_proof_ok(proof, origin, hub_key)  # type: ignore[arg-type]
    receipt = hub.get(f"/v1/messages/{message_id}/receipt", as_=AGENCY).json()
    assert ind.checkpoint_signed_by(receipt["ledger"]["checkpoint"], origin, hub_key) is not None  # type: ignore[arg-type]

    # An auditor's `ledger verify` needs only the certificate: every checkpoint (the database's and
    # the checkpoint file's) is checked against it.
    assert hub.settings.effective_checkpoint_file.read_text(encoding="utf-8").count(origin) >= 1
    env = _auditor_env(hub.settings.data_dir, hsm_settings["hub_cert_file"])
    verified = _ledger_verify(env)
    assert verified.returncode == 0 and "ledger intact" in verified.stdout, verified.stderr
    # The same ledger against another certificate (the development hub's): every checkpoint is forged.
    other = _ledger_verify(_auditor_env(hub.settings.data_dir, DEV_CERTS / "hub.crt"))
    assert other.returncode == 1 and "checkpoint-forged" in other.stderr, other.stderr


def test_moving_the_key_into_the_hsm_keeps_the_older_checkpoints_verifiable(
    hsm_settings: dict[str, object], tmp_path: Path
) -> None:
    """A hub that signed with a key file moves its key into the HSM (a new key, a new certificate):
    the checkpoints signed before verify with the previous certificate, those after with the new one,
    and the retired key cannot vouch for anything signed after the rotation."""
    import sqlalchemy as sa
    from cryptography.hazmat.primitives.asymmetric import rsa

    from hub.ledger.note import Checkpoint, sign_note

    data_dir = tmp_path / "hub"
    with running_hub(data_dir, workers=0) as before:  # the development key file
        assert before.post(_fresh_document(), as_=AGENCY).status_code == 202
        before.wait_sequenced()
        held = before.client.get("/v1/ledger/checkpoint").text
    dev_cert = DEV_CERTS / "hub.crt"
    with running_hub(data_dir, workers=0, **hsm_settings, hub_previous_cert_files=[dev_cert]) as after:
        for _ in range(2):  # two checkpoints signed on the token
            message_id = after.post(_fresh_document(), as_=AGENCY).json()["id"]
            after.wait_sequenced()
        origin = after.settings.effective_ledger_origin
        hub_key = hsm_certificate(hsm_settings).public_key()
        proof = after.get(f"/v1/messages/{message_id}/proof", as_=AGENCY).json()
        assert ind.message_proof_ok(proof, origin, hub_key)  # type: ignore[arg-type]
        database_url = after.settings.effective_database_url

    (tmp_path / "held.note").write_text(held)
    rotated = _auditor_env(data_dir, hsm_settings["hub_cert_file"], dev_cert)
    verified = _ledger_verify(rotated, "--checkpoint", str(tmp_path / "held.note"))
    assert verified.returncode == 0 and "ledger intact" in verified.stdout, verified.stderr
    without_previous = _ledger_verify(_auditor_env(data_dir, hsm_settings["hub_cert_file"]))
    assert without_previous.returncode == 1 and "checkpoint-forged" in without_previous.stderr

    # The latest checkpoint re-signed with the retired key: refused, though that key is trusted for
    # the checkpoints from before the rotation (the current key signed an earlier one).
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        size, root = conn.execute(
            sa.text("SELECT tree_size, root_hash FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
        ).one()
        retired = serialization.load_pem_private_key((DEV_CERTS / "hub.key").read_bytes(), None)
        assert isinstance(retired, rsa.RSAPrivateKey)
        note = sign_note(Checkpoint(origin, size, bytes.fromhex(root)).text(), origin, retired)
        conn.execute(sa.text("UPDATE checkpoints SET note = :n WHERE tree_size = :s"), {"n": note, "s": size})
    engine.dispose()
    forged = _ledger_verify(rotated)
    assert forged.returncode == 1 and "signed by a retired key after the current key" in forged.stderr, (
        forged.stderr
    )


def _auditor_env(data_dir: Path, cert_file: object, *previous: Path) -> dict[str, str]:
    """`lienthong ledger verify`'s environment on an auditor's machine: the hub's certificates and
    its production settings' HSM module, but no PIN, no SoftHSM configuration and no key file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIENTHONG_", "SOFTHSM2_"))}
    return env | {
        "LIENTHONG_DATA_DIR": str(data_dir),
        "LIENTHONG_HUB_CERT_FILE": str(cert_file),
        "LIENTHONG_HUB_KEY_FILE": str(data_dir / "no-such.key"),
        "LIENTHONG_HUB_KEY_PKCS11_MODULE": str(SOFTHSM_LIBRARY),
        "LIENTHONG_HUB_PREVIOUS_CERT_FILES": json.dumps([str(p) for p in previous]),
    }


def _ledger_verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LIENTHONG), "ledger", "verify", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_wrong_token_or_key_label_is_a_clear_refusal(
    hsm_settings: dict[str, object], tmp_path: Path
) -> None:
    from hub.signing.pkcs11 import HsmError

    wrong_key = {**hsm_settings, "hub_key_pkcs11_key": "nobody"}
    with pytest.raises(HsmError, match="0 private keys labelled 'nobody'"):
        _ = HubContext(Settings(data_dir=tmp_path, **wrong_key)).identity  # type: ignore[arg-type]
    wrong_token = {**hsm_settings, "hub_key_pkcs11_token": "no-such-token"}
    with pytest.raises(HsmError, match="cannot open token 'no-such-token'"):
        _ = HubContext(Settings(data_dir=tmp_path, **wrong_token)).identity  # type: ignore[arg-type]


def test_a_lost_session_is_reopened_and_a_lost_key_answers_503(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    """Runs last: it destroys the hub's key on the token."""
    import pkcs11
    from pkcs11 import Attribute

    from hub.signing import pkcs11 as hsm

    for session in list(hsm._sessions.values()):  # the HSM dropped the hub's session
        session.close()
    again = hub.post(_fresh_document(), as_=AGENCY)
    assert again.status_code == 202, "a new session was opened and the key found again"
    hub.wait_sequenced()  # and the sequencer signs its checkpoint on the new session

    with pkcs11.lib(str(SOFTHSM_LIBRARY)).get_token(token_label=TOKEN).open(rw=True) as session:
        for key in session.get_objects({Attribute.LABEL: KEY}):  # the key is gone from the token
            key.destroy()
    _, refused_before = ledger_counts(hub)
    gone = hub.post(_fresh_document(), as_=AGENCY)
    assert gone.status_code == 503 and gone.json()["type"] == "/problems/not-ready", gone.text
    assert "HSM cannot sign" in gone.json()["detail"] and gone.headers["Retry-After"]
    assert ledger_counts(hub)[1] == refused_before, (
        "the hub's trouble is not recorded as the document's refusal"
    )
    assert hub.client.get("/healthz").status_code == 200

    # A document the agency signed itself needs no signature of the hub's: accepted. Its events wait
    # unplaced (no checkpoint without the hub's signature); the sequencer says so once, no traceback.
    ledger = hub.app.state.runtime.hub.ledger
    checkpoint_before = hub.client.get("/v1/ledger/checkpoint").text
    with caplog.at_level(logging.ERROR, logger="hub.ledger.sequencer"):
        assert hub.post(_signed_by_the_agency(), as_=AGENCY).status_code == 202
        time.sleep(3 * hub.settings.checkpoint_interval + 0.5)
    assert ledger.log.unsequenced() > 0
    assert hub.client.get("/v1/ledger/checkpoint").text == checkpoint_before
    said = [r for r in caplog.records if r.name == "hub.ledger.sequencer"]
    assert len(said) == 1 and said[0].exc_info is None, [r.getMessage() for r in said]
    assert "cannot sign checkpoints" in said[0].getMessage() and "HSM cannot sign" in said[0].getMessage()


def _signed_by_the_agency() -> bytes:
    from lxml import etree

    from hub.signing import load_identity, sign_enveloped

    identity = load_identity(DEV_CERTS / f"{AGENCY}.key", DEV_CERTS / f"{AGENCY}.crt")
    root = etree.fromstring(_fresh_document())
    header = next(e for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("}edXMLHeader"))
    return sign_enveloped(root, identity, parent=header)


def _fresh_document() -> bytes:
    text = (FIXTURES / "edxml" / "document_strict.edxml").read_bytes()
    return text.replace(b"123/UBND-VP", f"{uuid.uuid4().int % 10**6}/UBND-VP".encode())
