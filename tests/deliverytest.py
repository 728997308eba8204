"""Helpers for delivery tests: a private copy of config/ pointed at the test's simulators, and waiting."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hub.settings import PROJECT_ROOT

DEV_WEBHOOK_BASE = "${simulator:agency}"  # what config/participants.yaml's webhook URLs start with
T = TypeVar("T")


def make_config(
    target: Path,
    *,
    webhook_base: str = DEV_WEBHOOK_BASE,
    agency_retry: dict[str, Any] | None = None,
    adapters: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """A copy of config/ whose webhooks point at `webhook_base`, whose agency retries are fast, and
    whose adapter options are updated with `adapters` (name → options merged over config/adapters.yaml)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in (PROJECT_ROOT / "config").glob("*.yaml"):
        shutil.copy(source, target / source.name)
    participants = (target / "participants.yaml").read_text(encoding="utf-8")
    (target / "participants.yaml").write_text(
        participants.replace(DEV_WEBHOOK_BASE, webhook_base), encoding="utf-8"
    )
    retry = {
        "max_attempts": 3,
        "initial_delay_seconds": 0.2,
        "multiplier": 2,
        "max_delay_seconds": 1,
        "jitter": 0.1,
    }
    retry.update(agency_retry or {})
    options = yaml.safe_load((target / "adapters.yaml").read_text(encoding="utf-8")) or {}
    configured = options.get("adapters") or {}
    options["adapters"] = configured
    configured["agency"] = {**(configured.get("agency") or {}), "retry": retry, "timeout_seconds": 5}
    for name, overrides in (adapters or {}).items():
        configured[name] = {**(configured.get(name) or {}), **overrides}
    (target / "adapters.yaml").write_text(yaml.safe_dump(options, allow_unicode=True), encoding="utf-8")
    return target


def wait_for(
    check: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
