"""The ledger's evidence through the hub's doors, checked by parties that are not the hub: a sender
holding its receipt, a witness that co-signs checkpoints (c2sp.org/tlog-witness), an RFC 3161
time-stamping authority served by `openssl ts`, and the offline `lienthong ledger verify-proof`."""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi import FastAPI, Request, Response
from typer.testing import CliRunner

from hub.cli import app as cli_app
from hub.servers import RunningServer, run_in_thread
from hub.settings import PROJECT_ROOT
from tests import independent_tlog as ind
from tests.hubtest import RunningHub, running_hub
from tests.test_cli import AGENCY, OTHER_AGENCY, fresh_document

ORIGIN = "lienthong/ledger"  # the default: "<hub participant id>/ledger"
HUB_CERT = PROJECT_ROOT / "certs" / "dev" / "hub.crt"
HUB_KEY = x509.load_pem_x509_certificate(HUB_CERT.read_bytes()).public_key()
WITNESS_NAME = "witness.test/w1"

# ---------------------------------------------------------------- a witness that is not the hub


class Witness:
    """Keeps the newest checkpoint it saw per log; co-signs a newer one only with a valid hub
    signature and a consistency proof from the size it holds (checked with the independent code)."""

    def __init__(self) -> None:
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.seen: dict[str, tuple[int, bytes]] = {}
        self.refused: list[str] = []
        self.app = FastAPI()
        self.app.post("/add-checkpoint")(self.add_checkpoint)

    async def add_checkpoint(self, request: Request) -> Response:
        body = (await request.body()).decode()
        head, _, note = body.partition("\n\n")
        old_line, *proof_lines = head.split("\n")
        old = int(old_line.removeprefix("old "))
        signed = ind.checkpoint_signed_by(note, ORIGIN, HUB_KEY)  # type: ignore[arg-type]
        if signed is None:
            self.refused.append("signature")
            return Response("bad signature", status_code=403)
        size, root = signed
        held_size, held_root = self.seen.get(ORIGIN, (0, b""))
        if old != held_size:
            return Response(str(held_size), status_code=409, media_type="text/x.tlog.size")
        proof = [base64.b64decode(line) for line in proof_lines if line]
        if old and not ind.consistency_ok(old, size, held_root, root, proof):
            self.refused.append("consistency")
            return Response("inconsistent", status_code=422)
        self.seen[ORIGIN] = (size, root)
        text = note.split("\n\n", 1)[0] + "\n"
        return Response(ind.cosign(text, WITNESS_NAME, self.key, int(time.time())), media_type="text/plain")


# ---------------------------------------------------------------- a TSA served by `openssl ts -reply`


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(**on: bool) -> x509.KeyUsage:
    names = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment"]
    names += ["key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    flags = dict.fromkeys(names, False)
    return x509.KeyUsage(**{**flags, **on})


def make_tsa_pki(directory: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key, tsa_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    valid = {
        "not_valid_before": now - datetime.timedelta(days=1),
        "not_valid_after": now + datetime.timedelta(days=30),
    }
    ca = (
        x509.CertificateBuilder(subject_name=_name("Test TSA CA"), issuer_name=_name("Test TSA CA"), **valid)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa = (
        x509.CertificateBuilder(subject_name=_name("Test TSA"), issuer_name=ca.subject, **valid)
        .public_key(tsa_key.public_key())
        .serial_number(2)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_usage(digital_signature=True, content_commitment=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
    (directory / "tsa.key").write_bytes(
        tsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (directory / "serial").write_text("01\n")
    (directory / "tsa.cnf").write_text(
        "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\n"
        f"serial = {directory / 'serial'}\ncrypto_device = builtin\nsigner_digest = sha256\n"
        "default_policy = 1.3.6.1.4.1.99999.1\ndigests = sha256\naccuracy = secs:1\nordering = no\n"
        "tsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
    )


def tsa_app(directory: Path) -> FastAPI:
    tsa = FastAPI()
    lock = threading.Lock()

    @tsa.post("/tsa")
    async def reply(request: Request) -> Response:
        query = await request.body()
        with lock, tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "q.tsq").write_bytes(query)
            command = [
                "openssl",
                "ts",
                "-reply",
                "-queryfile",
                "q.tsq",
                "-config",
                str(directory / "tsa.cnf"),
            ]
            command += ["-signer", str(directory / "tsa.pem"), "-inkey", str(directory / "tsa.key")]
            subprocess.run([*command, "-out", "r.tsr"], cwd=tmp, check=True, capture_output=True)
            answer = (Path(tmp) / "r.tsr").read_bytes()
        return Response(answer, media_type="application/timestamp-reply")

    return tsa


# ---------------------------------------------------------------- the hub with both


@pytest.fixture(scope="module")
def outsiders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Witness, RunningServer, Path]]:
    """A running witness, and the PKI of a TSA (the TSA test starts `openssl ts` behind HTTP)."""
    pki = tmp_path_factory.mktemp("tsa")
    make_tsa_pki(pki)
    witness = Witness()
    server = run_in_thread(witness.app)
    try:
        yield witness, server, pki
    finally:
        server.stop()


@pytest.fixture(scope="module")
def hub(outsiders, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:  # type: ignore[no-untyped-def]
    _, witness_server, _ = outsiders
    with running_hub(
        tmp_path_factory.mktemp("hub"),
        workers=0,
        checkpoint_interval=0.1,
        witness_urls=[witness_server.base_url],
    ) as running:
        yield running


def published(hub: RunningHub, timeout: float = 15.0) -> dict:
    """The latest checkpoint once the sequencer has placed every event and published it."""
    size = hub.wait_sequenced()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = hub.client.get(f"/v1/ledger/checkpoints/{size}").json()
        if "\u2014 " + WITNESS_NAME in view["note"]:
            return view
        time.sleep(0.05)
    raise AssertionError("the checkpoint was not co-signed in time")


def test_a_sender_proves_its_message_is_in_the_log_with_only_its_receipt_and_the_hub_certificate(
    hub: RunningHub, tmp_path: Path
) -> None:
    assert hub.post(fresh_document(), as_=AGENCY).status_code == 202
    hub.wait_sequenced()
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    receipt = hub.get(f"/v1/messages/{message_id}/receipt", as_=AGENCY).json()
    held = receipt["ledger"]["checkpoint"]
    assert ind.checkpoint_signed_by(held, ORIGIN, HUB_KEY) is not None  # type: ignore[arg-type]
    assert receipt["ledger"]["proof"] == f"/v1/messages/{message_id}/proof"
    published(hub)

    proof = hub.get(f"/v1/messages/{message_id}/proof", as_=AGENCY).json()
    assert proof["pending"] == [] and len(proof["events"]) == 4
    assert [e["kind"] for e in proof["events"]][:2] == ["message.received", "message.accepted"]
    assert ind.message_proof_ok(proof, ORIGIN, HUB_KEY)  # type: ignore[arg-type]
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    result = CliRunner().invoke(cli_app, ["ledger", "verify-proof", str(path), "--cert", str(HUB_CERT)])
    assert result.exit_code == 0, result.output
    assert f"4 events of message {message_id} are in the log" in result.stdout

    forged = json.loads(json.dumps(proof))
    forged["events"][1]["entry"] = forged["events"][1]["entry"].replace(AGENCY, "000.99.99.H41")
    assert not ind.message_proof_ok(forged, ORIGIN, HUB_KEY)  # type: ignore[arg-type]
    path.write_text(json.dumps(forged))
    result = CliRunner().invoke(cli_app, ["ledger", "verify-proof", str(path), "--cert", str(HUB_CERT)])
    assert result.exit_code == 1 and "does not hash to its leaf" in result.stderr

    # the receipt's checkpoint is a prefix of today's log
    size = ind.checkpoint_signed_by(held, ORIGIN, HUB_KEY)[0]  # type: ignore[arg-type,index]
    consistency = hub.client.get("/v1/ledger/consistency", params={"from": size}).json()
    newer = ind.checkpoint_signed_by(consistency["checkpoint_to"], ORIGIN, HUB_KEY)  # type: ignore[arg-type]
    older = ind.checkpoint_signed_by(held, ORIGIN, HUB_KEY)  # type: ignore[arg-type]
    proof_hashes = [bytes.fromhex(h) for h in consistency["proof"]]
    assert ind.consistency_ok(older[0], newer[0], older[1], newer[1], proof_hashes)  # type: ignore[index]
    path.write_text(json.dumps(consistency))
    (tmp_path / "held.note").write_text(held)
    result = CliRunner().invoke(
        cli_app,
        [
            "ledger",
            "verify-proof",
            str(path),
            "--cert",
            str(HUB_CERT),
            "--checkpoint",
            str(tmp_path / "held.note"),
        ],
    )
    assert result.exit_code == 0 and "consistent" in result.stdout, result.output


def test_proofs_are_for_parties_only_and_bad_sizes_are_problems(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    assert hub.client.get(f"/v1/messages/{message_id}/proof").status_code == 401
    assert hub.get(f"/v1/messages/{message_id}/proof", as_=OTHER_AGENCY).status_code == 200, "a recipient"
    stranger = hub.get(f"/v1/messages/{message_id}/proof", as_="bank.vnpay")
    assert stranger.status_code == 404, "to anyone else the message does not exist"
    published(hub)
    bad = hub.client.get("/v1/ledger/consistency", params={"from": 10**9, "to": 1})
    assert bad.status_code in (400, 404) and bad.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert hub.client.get("/v1/ledger/checkpoints/999999999").status_code == 404


def test_checkpoints_are_published_to_a_file_and_cosigned_by_a_witness(outsiders, hub: RunningHub) -> None:  # type: ignore[no-untyped-def]
    witness = outsiders[0]
    for _ in range(2):
        assert hub.post(fresh_document(), as_=AGENCY).status_code == 202
        published(hub)
    served = hub.client.get("/v1/ledger/checkpoint")
    assert served.headers["content-type"].startswith("text/plain")
    note = served.text
    size, root = ind.checkpoint_signed_by(note, ORIGIN, HUB_KEY)  # type: ignore[arg-type,misc]
    assert ind.cosigned_by(note, WITNESS_NAME, witness.key.public_key())
    assert witness.seen[ORIGIN] == (size, root) and witness.refused == []
    lines = (hub.settings.data_dir / "checkpoints.jsonl").read_text().splitlines()
    sizes = [json.loads(line)["tree_size"] for line in lines]
    assert sizes == sorted(sizes) and sizes[-1] == size and len(sizes) >= 2
    assert json.loads(lines[-1])["note"].split("\n\n")[0] == note.split("\n\n")[0]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_checkpoints_are_time_stamped_by_a_tsa_and_openssl_verifies_the_token(
    outsiders, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, _, pki = outsiders
    tsa = run_in_thread(tsa_app(pki))
    try:
        with running_hub(
            tmp_path / "hub", workers=0, checkpoint_interval=0.1, tsa_url=f"{tsa.base_url}/tsa"
        ) as hub:
            assert hub.post(fresh_document(), as_=AGENCY).status_code == 202
            size = hub.wait_sequenced()
            deadline = time.monotonic() + 15
            view = hub.client.get(f"/v1/ledger/checkpoints/{size}").json()
            while view["timestamp"] is None and time.monotonic() < deadline:
                time.sleep(0.05)
                view = hub.client.get(f"/v1/ledger/checkpoints/{size}").json()
    finally:
        tsa.stop()
    assert view["timestamp"], "the checkpoint was not time-stamped"
    (tmp_path / "note.txt").write_text(view["timestamped_note"], encoding="utf-8", newline="")
    (tmp_path / "reply.tsr").write_bytes(base64.b64decode(view["timestamp"]))
    verified = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "note.txt", "-in", "reply.tsr", "-CAfile", str(pki / "ca.pem")],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified.stderr
    (tmp_path / "note.txt").write_text(view["timestamped_note"] + "x", encoding="utf-8")
    tampered = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "note.txt", "-in", "reply.tsr", "-CAfile", str(pki / "ca.pem")],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert tampered.returncode != 0
