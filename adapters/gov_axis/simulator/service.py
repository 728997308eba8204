"""The axis's operations, shared by the REST and SOAP faces: who may do what, for which organ ids.

A caller is a system (already authenticated by its face); a system acts only for the organ ids bound
to it: it sends from them and reads and acknowledges what is addressed to them.
"""

from __future__ import annotations

from .config import Organisation
from .errors import AxisError, ErrorCode
from .payload import inspect_edxml
from .store import AxisStore, Delivery, Packet

SERVICE_TYPE = "eDoc"
MESSAGE_TYPES = ("edoc", "status")


class AxisService:
    def __init__(self, store: AxisStore) -> None:
        self.store = store

    def _organs(self, systemid: str, organ: str | None = None) -> set[str]:
        organs = self.store.organs_of(systemid)
        if organ is None:
            return organs
        self.store.require_organ(organ)
        if organ not in organs:
            raise AxisError(ErrorCode.ORGAN_NOT_BOUND, f"system {systemid} may not act for organ {organ!r}")
        return {organ}

    @staticmethod
    def check_types(service_type: str | None, message_type: str | None, *, required: bool) -> None:
        if service_type is not None and service_type != SERVICE_TYPE:
            raise AxisError(
                ErrorCode.INVALID_PARAMETER, f"servicetype must be {SERVICE_TYPE}, not {service_type!r}"
            )
        if message_type is None:
            if required:
                raise AxisError(ErrorCode.MISSING_PARAMETER, "messagetype is missing")
        elif message_type not in MESSAGE_TYPES:
            raise AxisError(
                ErrorCode.INVALID_PARAMETER, f"messagetype must be edoc or status, not {message_type!r}"
            )

    def send(
        self, systemid: str, from_organ: str, to: list[str], message_type: str, content: bytes
    ) -> Packet:
        self.check_types(SERVICE_TYPE, message_type, required=True)
        if not to:
            raise AxisError(ErrorCode.MISSING_PARAMETER, "to lists no recipient")
        self._organs(systemid, from_organ)
        for organ in to:
            self.store.require_organ(organ)
        if len(content) > self.store.config.max_body_bytes:
            raise AxisError(ErrorCode.PAYLOAD_TOO_LARGE, "the packet exceeds the size limit")
        summary = inspect_edxml(content, self.store.config.xml_max_depth)
        return self.store.add_packet(
            sent_by=systemid,
            from_organ=from_organ,
            to=to,
            service_type=SERVICE_TYPE,
            message_type=message_type,
            content=content,
            title=summary.title,
            notation=summary.notation,
        )

    def received(
        self, systemid: str, message_type: str | None = None, organ: str | None = None
    ) -> list[tuple[Packet, Delivery]]:
        self.check_types(None, message_type, required=False)
        return self.store.received(self._organs(systemid, organ), message_type)

    def get(self, systemid: str, doc_id: str) -> Packet:
        return self.store.packet_for(doc_id, self._organs(systemid))

    def update_status(
        self, systemid: str, doc_id: str, status: str, reason: str | None = None, organ: str | None = None
    ) -> list[Delivery]:
        return self.store.update_status(doc_id, self._organs(systemid, organ), status, reason, organ)

    def sent(self, systemid: str, doc_id: str | None = None) -> list[tuple[Packet, Delivery]]:
        return self.store.sent(self._organs(systemid), doc_id)

    def agencies(self) -> list[Organisation]:
        return self.store.organisations()

    def register(
        self, systemid: str, code: str, name: str, mail: str = "", parent_code: str | None = None
    ) -> Organisation:
        if not code or not name:
            raise AxisError(ErrorCode.MISSING_PARAMETER, "an agency needs a code and a name")
        return self.store.register(systemid, code, name, mail, parent_code)

    def delete(self, systemid: str, code: str) -> None:
        self.store.delete(systemid, code)
