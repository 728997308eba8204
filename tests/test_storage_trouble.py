"""Storage trouble is answered clearly: with the ledger's disk full, intake answers 503
storage-unavailable with Retry-After (one log line a failure, no traceback), /readyz is not ready,
the hub keeps serving, and everything comes back by itself once space returns. Tested on a small
tmpfs of the test's own (root mounts it; CI runs as root)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.documents import edxml_set
from tests.hubtest import RunningHub, running_hub
from tests.test_intake_api import AGENCY, fresh_document


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.fail("mounting a small tmpfs needs root (CI and the development machines run as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte with one file; delete it to give the space back."""
    filler = disk / f"filler-{uuid.uuid4().hex}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512, 1):  # big writes, then the last few bytes: not even a page is free
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_a_clear_503_and_the_hub_recovers_by_itself(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub: RunningHub
    with running_hub(small_disk / "data", workers=0) as hub:
        assert hub.post(fresh_document(), as_=AGENCY).status_code == 202
        filler = fill(small_disk)
        caplog.clear()
        caplog.set_level(logging.INFO)
        answers = [hub.post(fresh_document(), as_=AGENCY) for _ in range(5)]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            problem = answer.json()
            assert problem["type"] == "/problems/storage-unavailable"
            assert "full" in problem["detail"]
            assert int(answer.headers["Retry-After"]) > 0
        trouble = [r for r in caplog.records if "storage unavailable" in r.getMessage()]
        assert len(trouble) == 5 and all(r.exc_info is None for r in trouble)  # one line each, no traceback
        assert not [r for r in caplog.records if r.exc_info]
        assert hub.client.get("/readyz").status_code == 503
        assert hub.client.get("/healthz").status_code == 200  # still serving

        filler.unlink()  # space returns
        assert hub.client.get("/readyz").status_code == 200
        accepted = hub.post(fresh_document(), as_=AGENCY)
        assert accepted.status_code == 202, accepted.text
        assert hub.get(f"/v1/messages/{accepted.json()['id']}", as_=AGENCY).json()["state"] == "accepted"


def test_a_big_document_the_disk_cannot_hold_is_a_503_and_leaves_nothing_behind(small_disk: Path) -> None:
    """A big document is written into its row after the row (in place, hub.ledger.blobs), in the same
    transaction: when the disk fills up on the way, intake answers 503 storage-unavailable and nothing
    of it stays — once space returns the same document is accepted whole, not found as a duplicate
    of a row without its bytes."""
    [document] = edxml_set("big", 1, 4 * 1024 * 1024, first_serial=int(time.time()) % 10**6).bodies
    with running_hub(small_disk / "data", workers=0) as hub:
        assert hub.post(fresh_document(), as_=AGENCY).status_code == 202
        filler = fill(small_disk)
        os.truncate(filler, filler.stat().st_size - 1024 * 1024)  # 1 MiB left: a quarter of the document
        refused = hub.post(document, as_=AGENCY)
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"] == "/problems/storage-unavailable"

        filler.unlink()
        accepted = hub.post(document, as_=AGENCY)
        assert accepted.status_code == 202, accepted.text
        assert not accepted.json()["duplicate"]
        stored = hub.get(f"/v1/messages/{accepted.json()['id']}/document", as_=AGENCY)
        assert hashlib.sha256(stored.content).digest() == hashlib.sha256(document).digest()
