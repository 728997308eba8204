"""What a newcomer does after `make run`: the hub and the simulators start and say where they listen,
and `lienthong send --wait` of a sample document shows it delivered to a local agency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from hub.servers import free_port
from tests.deliverytest import wait_for
from tests.hubtest import FIXTURES

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
