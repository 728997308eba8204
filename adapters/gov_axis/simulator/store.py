"""The simulated axis's state: directory, system bindings, packets and their per-recipient status.

All access goes through one lock (FastAPI runs handlers on the event loop and in threads alike), and
every operation is short and free of I/O except the optional JSON snapshot written after each change.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import AxisSimConfig, Organisation
from .errors import AxisError, ErrorCode

STATUSES = ("initial", "processing", "done", "fail")
PENDING = frozenset({"initial", "processing"})
_ALLOWED = {
    "initial": {"processing", "done", "fail"},
    "processing": {"processing", "done", "fail"},
    "done": {"done"},
    "fail": {"fail"},
}
DEFAULT_DESC = {
    "initial": "waiting for the recipient",
    "processing": "the recipient is processing",
    "done": "received by the recipient",
    "fail": "the recipient could not process it",
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Delivery:
    """One packet's state for one recipient organ."""

    organ: str
    status: str = "initial"
    status_desc: str = DEFAULT_DESC["initial"]
    updated_time: datetime = field(default_factory=_now)


@dataclass
class Packet:
    doc_id: str
    from_organ: str
    to: list[str]
    service_type: str
    message_type: str
    content: bytes
    sent_by: str
    title: str = ""
    notation: str = ""
    created_time: datetime = field(default_factory=_now)
    deliveries: dict[str, Delivery] = field(default_factory=dict)

    @property
    def updated_time(self) -> datetime:
        return max([self.created_time, *(d.updated_time for d in self.deliveries.values())])

    def to_json(self, with_content: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "docId": self.doc_id,
            "from": self.from_organ,
            "to": self.to,
            "serviceType": self.service_type,
            "messageType": self.message_type,
            "sentBy": self.sent_by,
            "title": self.title,
            "notation": self.notation,
            "created_time": self.created_time.isoformat(),
            "size": len(self.content),
            "deliveries": {
                o: {
                    "status": d.status,
                    "status_desc": d.status_desc,
                    "updated_time": d.updated_time.isoformat(),
                }
                for o, d in self.deliveries.items()
            },
        }
        if with_content:
            data["content"] = base64.b64encode(self.content).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Packet:
        packet = cls(
            doc_id=data["docId"],
            from_organ=data["from"],
            to=list(data["to"]),
            service_type=data["serviceType"],
            message_type=data["messageType"],
            content=base64.b64decode(data["content"]),
            sent_by=data["sentBy"],
            title=data.get("title", ""),
            notation=data.get("notation", ""),
            created_time=datetime.fromisoformat(data["created_time"]),
        )
        for organ, d in data["deliveries"].items():
            packet.deliveries[organ] = Delivery(
                organ, d["status"], d["status_desc"], datetime.fromisoformat(d["updated_time"])
            )
        return packet


class AxisStore:
    """Thread-safe in-memory state with an optional JSON snapshot (``config.snapshot_file``)."""

    def __init__(self, config: AxisSimConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._secrets = {s.systemid: s.secret for s in config.systems}
        self.calls: Counter[str] = Counter()
        self._reset_locked()
        if config.snapshot_file and config.snapshot_file.exists():
            self._load(json.loads(config.snapshot_file.read_text(encoding="utf-8")))

    # --- lifecycle ---------------------------------------------------------------------------------
    def _reset_locked(self) -> None:
        self._organisations: dict[str, Organisation] = {
            o.code: o.model_copy() for o in self.config.organisations
        }
        self._bindings: dict[str, set[str]] = {s.systemid: set(s.organs) for s in self.config.systems}
        self._packets: dict[str, Packet] = {}
        self.calls.clear()

    def reset(self) -> None:
        """Forget every packet and registration; back to the configured directory."""
        with self._lock:
            self._reset_locked()
            self._save()

    def _load(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._organisations = {o["code"]: Organisation.model_validate(o) for o in data["organisations"]}
            for systemid, organs in data["bindings"].items():
                if systemid in self._bindings:
                    self._bindings[systemid] = set(organs)
            self._packets = {p["docId"]: Packet.from_json(p) for p in data["packets"]}

    def _save(self) -> None:
        path = self.config.snapshot_file
        if path is None:
            return
        data = {
            "organisations": [o.model_dump() for o in self._organisations.values()],
            "bindings": {k: sorted(v) for k, v in self._bindings.items()},
            "packets": [p.to_json(with_content=True) for p in self._packets.values()],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)
        os.replace(tmp, path)

    # --- systems and directory ---------------------------------------------------------------------
    def secret_of(self, systemid: str) -> str | None:
        return self._secrets.get(systemid)

    def organs_of(self, systemid: str) -> set[str]:
        with self._lock:
            return set(self._bindings.get(systemid, ()))

    def record_call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1

    def organisations(self) -> list[Organisation]:
        with self._lock:
            return list(self._organisations.values())

    def require_organ(self, code: str) -> Organisation:
        with self._lock:
            org = self._organisations.get(code)
        if org is None:
            raise AxisError(ErrorCode.UNKNOWN_ORGAN, f"organ {code!r} is not in the axis directory")
        return org

    def register(
        self, systemid: str, code: str, name: str, mail: str, parent_code: str | None
    ) -> Organisation:
        """Add an organ to the directory and bind it to the registering system; re-registering updates it."""
        with self._lock:
            existing = self._organisations.get(code)
            if existing is not None and code not in self._bindings.get(systemid, set()):
                raise AxisError(ErrorCode.AGENCY_EXISTS, f"organ {code!r} belongs to another system")
            pid = ""
            if parent_code:
                pid = self.require_organ(parent_code).id
            org_id = (
                existing.id
                if existing
                else str(
                    max((int(o.id) for o in self._organisations.values() if o.id.isdigit()), default=0) + 1
                )
            )
            org = Organisation(id=org_id, code=code, pid=pid, name=name, mail=mail)
            self._organisations[code] = org
            self._bindings.setdefault(systemid, set()).add(code)
            self._save()
            return org

    def delete(self, systemid: str, code: str) -> None:
        with self._lock:
            self.require_organ(code)
            if code not in self._bindings.get(systemid, set()):
                raise AxisError(
                    ErrorCode.ORGAN_NOT_BOUND, f"system {systemid} does not manage organ {code!r}"
                )
            del self._organisations[code]
            for organs in self._bindings.values():
                organs.discard(code)
            self._save()

    # --- packets -----------------------------------------------------------------------------------
    def add_packet(
        self,
        *,
        sent_by: str,
        from_organ: str,
        to: list[str],
        service_type: str,
        message_type: str,
        content: bytes,
        title: str = "",
        notation: str = "",
    ) -> Packet:
        packet = Packet(
            doc_id=str(uuid.uuid4()),
            from_organ=from_organ,
            to=list(dict.fromkeys(to)),
            service_type=service_type,
            message_type=message_type,
            content=content,
            sent_by=sent_by,
            title=title,
            notation=notation,
        )
        packet.deliveries = {organ: Delivery(organ, updated_time=packet.created_time) for organ in packet.to}
        with self._lock:
            self._packets[packet.doc_id] = packet
            self._save()
        return packet

    def received(
        self, organs: set[str], message_type: str | None = None, *, pending_only: bool = True
    ) -> list[tuple[Packet, Delivery]]:
        """(packet, delivery) pairs addressed to ``organs``, oldest first; by default only unconsumed ones."""
        with self._lock:
            rows = [
                (p, d)
                for p in self._packets.values()
                for organ, d in p.deliveries.items()
                if organ in organs
                and (message_type is None or p.message_type == message_type)
                and (not pending_only or d.status in PENDING)
            ]
        return sorted(rows, key=lambda row: row[0].created_time)

    def sent(self, organs: set[str], doc_id: str | None = None) -> list[tuple[Packet, Delivery]]:
        with self._lock:
            rows = [
                (p, d)
                for p in self._packets.values()
                if p.from_organ in organs and (doc_id is None or p.doc_id == doc_id)
                for d in p.deliveries.values()
            ]
        return sorted(rows, key=lambda row: row[0].created_time)

    def packet_for(self, doc_id: str, organs: set[str]) -> Packet:
        """The packet if one of ``organs`` sent or receives it (others get 'not found', not 'forbidden')."""
        with self._lock:
            packet = self._packets.get(doc_id)
        if packet is None or not (packet.from_organ in organs or organs & set(packet.deliveries)):
            raise AxisError(ErrorCode.DOCUMENT_NOT_FOUND, f"no packet {doc_id!r} for this system")
        return packet

    def update_status(
        self, doc_id: str, organs: set[str], status: str, reason: str | None, organ: str | None = None
    ) -> list[Delivery]:
        """Set the recipient status of ``doc_id`` for the caller's organs (or just ``organ``)."""
        if status not in ("processing", "done", "fail"):
            raise AxisError(
                ErrorCode.INVALID_PARAMETER, f"status must be processing, fail or done, not {status!r}"
            )
        with self._lock:
            packet = self._packets.get(doc_id)
            targets = (
                []
                if packet is None
                else [
                    d for o, d in packet.deliveries.items() if o in organs and (organ is None or o == organ)
                ]
            )
            if not targets:
                raise AxisError(
                    ErrorCode.DOCUMENT_NOT_FOUND, f"no received packet {doc_id!r} for this system"
                )
            for delivery in targets:
                if status not in _ALLOWED[delivery.status]:
                    raise AxisError(
                        ErrorCode.STATUS_CONFLICT,
                        f"packet {doc_id} is already {delivery.status} for {delivery.organ}",
                    )
            now = _now()
            for delivery in targets:
                if delivery.status != status or reason:
                    delivery.status, delivery.status_desc = status, reason or DEFAULT_DESC[status]
                    delivery.updated_time = now
            self._save()
            return targets

    def state(self) -> dict[str, Any]:
        """Everything, for ``/_sim/state`` (contents as base64)."""
        with self._lock:
            return {
                "organisations": [o.model_dump() for o in self._organisations.values()],
                "bindings": {k: sorted(v) for k, v in self._bindings.items()},
                "packets": [p.to_json(with_content=True) for p in self._packets.values()],
                "calls": dict(self.calls),
            }
