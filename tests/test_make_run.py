"""What a newcomer does after `make run`: the hub and the simulators start and say where they listen,
and `lienthong send --wait` of a sample document shows it delivered to a local agency."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from adapters.agency.simulator import create_app as create_agency_simulator
from hub.servers import free_port, run_in_thread
from tests.deliverytest import wait_for
from tests.hubtest import FIXTURES, PROJECT_ROOT, running_hub
from tests.test_intake_api import AGENCY, fresh_document

LIENTHONG = str(Path(sys.executable).with_name("lienthong"))


def test_run_starts_hub_and_simulators_and_a_sent_document_is_delivered(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env["LIENTHONG_DATA_DIR"] = str(tmp_path / "data")
    # every server this test starts takes a free port: the simulators' (config/simulators.yaml of
    # its own) and the mail simulator's SMTP port, so a developer's `make run` is never in the way
    env["LIENTHONG_CONFIG_DIR"] = str(
        own_config(tmp_path / "config", {n: free_port() for n in SIMULATOR_PORTS})
    )
    env["LIENTHONG_SIM_SMTP_PORT"] = str(free_port())
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
    "notify.sms": 8096,
}


def own_config(target: Path, ports: dict[str, int]) -> Path:
    """config/ with the simulators on `ports` (what a second developer's checkout would have): only
    simulators.yaml changes, the one place their ports are configured."""
    shutil.copytree(PROJECT_ROOT / "config", target)
    simulators = target / "simulators.yaml"
    text = simulators.read_text(encoding="utf-8")
    for name, default in SIMULATOR_PORTS.items():
        assert f"{name}: {default}" in text
        text = text.replace(f"{name}: {default}", f"{name}: {ports[name]}")
    simulators.write_text(text, encoding="utf-8")
    return target


def test_no_other_configuration_file_repeats_a_simulator_port() -> None:
    for source in (PROJECT_ROOT / "config").glob("*.yaml"):
        if source.name != "simulators.yaml":
            text = source.read_text(encoding="utf-8")
            assert not [port for port in SIMULATOR_PORTS.values() if f":{port}" in text], source.name


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
        moved = printed.split("simulator agency")[1].split()[0]  # where the agency simulator went
        assert moved != f"http://127.0.0.1:{ports['agency']}", printed
        assert not (tmp_path / "data" / "run-config").exists(), "no rewritten copy of the configuration"
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


def test_an_unknown_simulator_name_is_one_line_naming_the_file_and_key(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SIMULATOR_PORTS}
    config = own_config(tmp_path / "config", ports)
    options = (config / "adapters.yaml").read_text(encoding="utf-8")
    (config / "adapters.yaml").write_text(
        options.replace("${simulator:vnpost}", "${simulator:vnpots}"), encoding="utf-8"
    )
    expected = f"{config / 'adapters.yaml'}: adapters.post_ems.base_url: unknown simulator 'vnpots'"
    (tmp_path / "run").mkdir()
    run, log = start_run(tmp_path / "run", free_port(), config)
    run.wait(60)
    printed = log.read_text()
    refusal = [line for line in printed.splitlines() if line.startswith("refused:")]
    assert run.returncode == 1 and "Traceback" not in printed and len(refusal) == 1, printed
    assert expected in refusal[0] and "lists: agency, bank.payplatform" in refusal[0], printed
    # `serve` resolves the same names from config/simulators.yaml, and refuses the same way
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(LIENTHONG_DATA_DIR=str(tmp_path / "serve"), LIENTHONG_CONFIG_DIR=str(config))
    serve = subprocess.run(
        [LIENTHONG, "serve", "--port", str(free_port()), "--workers", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert serve.returncode == 1 and "Traceback" not in serve.stderr, serve.stderr
    assert expected in " ".join(serve.stderr.split()), serve.stderr


def test_serve_resolves_simulator_names_from_simulators_yaml(tmp_path: Path) -> None:
    """A hub started as `serve` does (no `run`) delivers to the agency simulator on the port that
    config/simulators.yaml gives it: the participants' webhooks name the simulator, not a port."""
    ports = {name: free_port() for name in SIMULATOR_PORTS}
    config = own_config(tmp_path / "config", ports)
    with (
        run_in_thread(create_agency_simulator(), port=ports["agency"]) as agency,
        running_hub(tmp_path / "data", config_dir=config, workers=1, poll_interval_seconds=0.1) as hub,
    ):
        sent = hub.post(fresh_document(), as_=AGENCY)
        assert sent.status_code == 202, sent.text

        def to_the_agency() -> list[str]:
            detail = hub.get(f"/v1/messages/{sent.json()['id']}", as_=AGENCY).json()
            return [d["state"] for d in detail["deliveries"] if d["recipient"] == "000.00.00.H41"]

        wait_for(lambda: to_the_agency() == ["delivered"], what="delivery to the agency simulator")
        received = httpx.get(f"{agency.base_url}/_sim/received", params={"participant": "000.00.00.H41"})
        assert [i["message_id"] for i in received.json()["items"]] == [sent.json()["id"]]
