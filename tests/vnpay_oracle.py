"""The npm ``vnpay`` package (tests/oracles/vnpay, installed by ``make oracles``) as an oracle.

An implementation of VNPAY's merchant rules the project did not write: URLs the hub builds must verify
in it, IPNs it signs must be accepted by the hub, its querydr must be answered by the simulator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ORACLE_DIR = Path(__file__).parent / "oracles" / "vnpay"
SCRIPT = ORACLE_DIR / "oracle.mjs"


def vnpay_npm(op: str, *, tmn_code: str, secret: str, host: str | None = None, **fields: Any) -> Any:
    """Run one operation of tests/oracles/vnpay/oracle.mjs; AssertionError when it cannot run."""
    node = shutil.which("node")
    assert node, "node is not installed: the VNPAY oracle needs node and npm"
    assert (ORACLE_DIR / "node_modules" / "vnpay").is_dir(), "run `make oracles` (npm ci) first"
    config: dict[str, Any] = {"tmnCode": tmn_code, "secureSecret": secret}
    if host:
        config["vnpayHost"] = host
    request = {"op": op, "config": config, **fields}
    done = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(request), capture_output=True, text=True, timeout=60
    )
    answer = json.loads(done.stdout or "{}")
    assert done.returncode == 0 and "error" not in answer, f"oracle failed: {answer} {done.stderr}"
    return answer
