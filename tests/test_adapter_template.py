"""`lienthong adapter new NAME`: the package it writes installs and passes its own tests at once, as an
integrator outside this repository would run them (the CLI, pip, pytest, in a temporary folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LIENTHONG = str(Path(sys.executable).with_name("lienthong"))


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_a_new_adapter_package_installs_and_passes_the_conformance_suite(tmp_path: Path) -> None:
    made = run(LIENTHONG, "adapter", "new", "demo_peer", "--output", str(tmp_path), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "lienthong-demo-peer"
    package = ["adapter.py", "options.py", "simulator.py", "conformance.py", "py.typed"]
    for part in ["pyproject.toml", "README.md", "tests/test_conformance.py"] + [
        f"lienthong_demo_peer/{name}" for name in package
    ]:
        assert (root / part).is_file(), part
    for check in (["check", "."], ["format", "--check", "."]):  # the code it writes is lint-clean
        linted = run(sys.executable, "-m", "ruff", *check, cwd=root)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    site = tmp_path / "site"
    installed = run(
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
        "--target", str(site), str(root), cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    own_tests = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root, env=env)
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    assert "9 passed" in own_tests.stdout
    plugin = run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--lienthong-adapter", "demo_peer",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert plugin.returncode == 0, plugin.stdout + plugin.stderr
    assert "9 passed" in plugin.stdout


def test_reserved_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    reserved = run(LIENTHONG, "adapter", "new", "inbox", "--output", str(tmp_path), cwd=tmp_path)
    assert reserved.returncode == 1 and "reserved" in reserved.stdout + reserved.stderr
    assert run(LIENTHONG, "adapter", "new", "twice", "-o", str(tmp_path), cwd=tmp_path).returncode == 0
    again = run(LIENTHONG, "adapter", "new", "twice", "-o", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stdout + again.stderr
