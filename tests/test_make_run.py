"""What a newcomer does after `make run`: the hub and the simulators start and say where they listen,
and `lienthong send --wait` of a sample document shows it delivered to a local agency."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from hub.servers import free_port
from tests.deliverytest import wait_for
from tests.hubtest import FIXTURES, PROJECT_ROOT

LIENTHONG = str(Path(sys.executable).with_name("lienthong"))


def test_run_starts_hub_and_simulators_and_a_sent_document_is_delivered(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env["LIENTHONG_DATA_DIR"] = str(tmp_path / "data")
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        run = subprocess.Popen(
            [LIENTHONG, "run", "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        hub = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            try:
                return (
                    httpx.get(f"{hub}/healthz", timeout=2).status_code == 200 and "Ctrl-C" in log.read_text()
                )
            except httpx.HTTPError:
                return False

        wait_for(answering, timeout=60, what="`lienthong run` to start")
        printed = log.read_text()
        assert f"hub API {hub}" in printed and f"{hub}/docs" in printed
        for simulator in (
            "agency",
            "gov-axis",
            "vnpost",
            "bank.vnpay",
            "bank.payplatform",
            "notify.sms",
            "notify.smtp",
        ):
            assert f"simulator {simulator}" in printed, printed

        sent = subprocess.run(
            [
                LIENTHONG,
                "send",
                str(FIXTURES / "edxml" / "document_strict.edxml"),
                "--as",
                "000.01.02.H41",
                "--hub",
                hub,
                "--wait",
                "60",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "→ 000.00.00.H41: delivered via agency" in sent.stdout
        assert "→ 000.03.04.H41: queued via inbox (awaiting pickup from its inbox)" in sent.stdout
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    assert run.returncode == 0, log.read_text()


# -- two `make run` at once, every shipped example delivered, configuration errors in one line ------

SIMULATOR_PORTS = {
    "agency": 8091,
    "gov-axis": 8092,
    "vnpost": 8093,
    "bank.vnpay": 8094,
    "bank.payplatform": 8095,
}


def own_config(target: Path, ports: dict[str, int]) -> Path:
    """config/ with the simulators on `ports` (what a second developer's checkout would have)."""
    target.mkdir(parents=True)
    for source in (PROJECT_ROOT / "config").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        for name, default in SIMULATOR_PORTS.items():
            text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{ports[name]}")
            text = text.replace(f"{name}: {default}", f"{name}: {ports[name]}")
        (target / source.name).write_text(text, encoding="utf-8")
    return target


def start_run(tmp_path: Path, port: int, config: Path) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env["LIENTHONG_DATA_DIR"] = str(tmp_path / "data")
    env["LIENTHONG_CONFIG_DIR"] = str(config)
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        started = subprocess.Popen(
            [LIENTHONG, "run", "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return started, log


def stop(run: subprocess.Popen[bytes]) -> None:
    run.send_signal(signal.SIGINT)
    try:
        run.wait(30)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()


def test_a_busy_simulator_port_moves_and_every_shipped_example_ends_delivered(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SIMULATOR_PORTS}
    config = own_config(tmp_path / "config", ports)
    taken = socket.socket()  # another `make run` holds the agency simulator's port
    taken.bind(("127.0.0.1", ports["agency"]))
    taken.listen()
    port = free_port()
    run, log = start_run(tmp_path, port, config)
    hub = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: "Ctrl-C" in log.read_text() or run.poll() is not None, timeout=60, what="start")
        printed = log.read_text()
        assert run.poll() is None, printed
        assert f"{hub}/console" in printed and "operator / dev-password-operator" in printed
        assert f"{hub}/docs" in printed
        assert f"({ports['agency']} was busy)" in printed
        assert "Traceback" not in printed and "routed to but not installed" not in printed, printed
        for name in SIMULATOR_PORTS:
            assert f"simulator {name}" in printed

        sent = {}
        for example in sorted((PROJECT_ROOT / "schemas" / "examples").glob("*.json")):
            body = example.read_bytes()
            sender = json.loads(body)["sender"]
            answer = httpx.post(
                f"{hub}/v1/messages",
                content=body,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer dev-token-{sender}"},
                timeout=30,
            )
            assert answer.status_code == 202, (example.name, answer.text)
            sent[example.name] = (answer.json()["id"], sender)

        def states() -> dict[str, list[str]]:
            found = {}
            for name, (message_id, sender) in sent.items():
                detail = httpx.get(
                    f"{hub}/v1/messages/{message_id}", headers={"Authorization": f"Bearer dev-token-{sender}"}
                ).json()
                found[name] = [d["state"] for d in detail["deliveries"]]
            return found

        try:
            wait_for(
                lambda: all(s and set(s) == {"delivered"} for s in states().values()),
                timeout=60,
                what="every example delivered",
            )
        except AssertionError:
            raise AssertionError(f"not all delivered: {states()}") from None
    finally:
        stop(run)
        taken.close()
    assert run.returncode == 0, log.read_text()


def test_a_configuration_error_is_one_line_naming_the_file_and_key(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SIMULATOR_PORTS}
    config = own_config(tmp_path / "config", ports)
    options = (config / "adapters.yaml").read_text(encoding="utf-8")
    (config / "adapters.yaml").write_text(
        options.replace("timeout_seconds: 20", "timeout_seconds: soon"), encoding="utf-8"
    )
    assert "timeout_seconds: soon" in (config / "adapters.yaml").read_text(encoding="utf-8")
    run, log = start_run(tmp_path, free_port(), config)
    run.wait(60)
    printed = log.read_text()
    assert run.returncode == 1, printed
    assert "Traceback" not in printed
    refusal = [line for line in printed.splitlines() if line.startswith("refused:")]
    assert len(refusal) == 1, printed
    assert f"{config / 'adapters.yaml'}: adapters.post_ems.timeout_seconds:" in refusal[0], printed
