"""Checkpoints outside the database: an append-only file, witnesses that co-sign, an RFC 3161 TSA.

Once a checkpoint is out of the database, rewriting the log's history inside the database is
detectable by anyone holding that checkpoint: the rewritten log no longer has its root at its size.

- :class:`CheckpointFile`: one JSON object per line (``tree_size``, ``root_hash``, ``note``),
  appended and fsynced; ``lienthong ledger verify`` compares every line with the log.
- :class:`Witnesses`: each configured URL gets the checkpoint as in c2sp.org/tlog-witness
  (``POST <url>/add-checkpoint``, body ``old <size>``, the consistency proof from that size, a blank
  line, the signed note); a ``200`` answer's body is the witness's cosignature line(s), stored with
  the checkpoint. A ``409`` answer names the size the witness has: the request is repeated from it.
- :class:`TimestampAuthority`: an RFC 3161 time-stamp over the signed note (SHA-256), from the TSA
  at the configured URL; the whole TimeStampResp is stored (``openssl ts -verify`` reads it).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import httpx
from rfc3161_client import HashAlgorithm, PKIStatus, TimestampRequestBuilder, decode_timestamp_response

from hub.ledger.note import Checkpoint, NoteError
from hub.ledger.records import CheckpointRecord

log = logging.getLogger("hub.ledger.publish")

WITNESS_STATE = "ledger.witness"  # adapter_state owner: the tree size each witness has seen


class StateStore(Protocol):
    def get_state(self, adapter: str, key: str) -> str | None: ...
    def set_state(self, adapter: str, key: str, value: str) -> None: ...


class ConsistencyProver(Protocol):
    def consistency(
        self, first: int, second: int
    ) -> tuple[list[bytes], CheckpointRecord | None, CheckpointRecord]: ...


class CheckpointFile:
    """The append-only file of checkpoints (JSON lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def last_size(self) -> int:
        """Tree size of the last checkpoint in the file (0 when there is none); reads only its tail."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 64 * 1024))
            lines = [line for line in file.read().splitlines() if line.strip()]
        if not lines:
            return 0
        try:
            return int(json.loads(lines[-1])["tree_size"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{self.path}: the last line is not a checkpoint ({error})") from None

    def read(self) -> list[Checkpoint]:
        """Every checkpoint in the file, as (origin, size, root) — what `verify` compares."""
        if not self.path.exists():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record["note"].split("\n\n", 1)[0] + "\n"
                found.append(Checkpoint.parse(text))
            except (ValueError, KeyError, TypeError, NoteError) as error:
                raise ValueError(f"{self.path}:{number}: not a checkpoint line ({error})") from None
        return found

    def append(self, checkpoints: Sequence[CheckpointRecord]) -> None:
        if not checkpoints:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps(
                {"tree_size": c.tree_size, "root_hash": c.root_hash, "note": c.note}, ensure_ascii=False
            )
            + "\n"
            for c in checkpoints
        )
        with self.path.open("a", encoding="utf-8") as out:
            out.write(lines)
            out.flush()
            os.fsync(out.fileno())


class Witnesses:
    """POSTs checkpoints to witnesses (c2sp.org/tlog-witness) and returns their cosignature lines."""

    def __init__(self, urls: Sequence[str], state: StateStore, prover: ConsistencyProver) -> None:
        self.urls = list(urls)
        self.state = state
        self.prover = prover

    def cosign(self, checkpoint: CheckpointRecord) -> str:
        lines = ""
        for url in self.urls:
            try:
                lines += self._one(url, checkpoint)
            except (httpx.HTTPError, ValueError) as error:
                log.error("witness %s did not co-sign checkpoint %d: %s", url, checkpoint.tree_size, error)
        return lines

    def _one(self, url: str, checkpoint: CheckpointRecord) -> str:
        old = int(self.state.get_state(WITNESS_STATE, url) or 0)
        for _ in range(2):  # once more from the size a 409 names
            old = min(old, checkpoint.tree_size)
            proof, _, _ = self.prover.consistency(old, checkpoint.tree_size)
            body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n"
            answer = httpx.post(
                url.rstrip("/") + "/add-checkpoint", content=(body + checkpoint.note).encode(), timeout=10
            )
            if answer.status_code == 409 and answer.text.strip().isdigit():
                old = int(answer.text.strip())
                continue
            answer.raise_for_status()
            self.state.set_state(WITNESS_STATE, url, str(checkpoint.tree_size))
            return "".join(line + "\n" for line in answer.text.splitlines() if line.startswith("\u2014 "))
        raise ValueError("the witness keeps disagreeing about the size it has seen")


class TimestampAuthority:
    """An RFC 3161 time-stamping authority at a URL (``application/timestamp-query``)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stamp(self, note: str) -> bytes:
        """The TSA's TimeStampResp (DER) over SHA-256 of ``note``; ValueError when it is no grant."""
        request = (
            TimestampRequestBuilder().data(note.encode("utf-8")).hash_algorithm(HashAlgorithm.SHA256).build()
        )
        answer = httpx.post(
            self.url,
            content=request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=10,
        )
        answer.raise_for_status()
        response = decode_timestamp_response(answer.content)
        if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            raise ValueError(f"the TSA refused: status {response.status}")
        imprint = response.tst_info.message_imprint.message
        if imprint != request.message_imprint.message:
            raise ValueError("the TSA time-stamped something else")
        if response.tst_info.nonce != request.nonce:
            raise ValueError("the TSA's answer does not carry our nonce")
        return answer.content
