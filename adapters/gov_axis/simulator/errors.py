"""The simulator's error codes: one refusal, one code, on both faces (REST ``ErrorCode``, SOAP fault detail).

The real axis's code table is not public; these codes are the simulator's own and are documented in
docs/simulators/gov-axis.md. They are public for the adapter's tests: never renumber.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    OK = "0"
    MISSING_PARAMETER = "10"
    INVALID_PARAMETER = "11"
    UNKNOWN_SYSTEM = "20"
    SIGNATURE_INVALID = "21"
    TIMESTAMP_STALE = "22"
    HASH_FILE_MISMATCH = "23"
    AUTHENTICATION_FAILED = "24"
    UNKNOWN_ORGAN = "30"
    ORGAN_NOT_BOUND = "31"
    AGENCY_EXISTS = "32"
    DOCUMENT_NOT_FOUND = "40"
    STATUS_CONFLICT = "41"
    PAYLOAD_INVALID = "50"
    PAYLOAD_TOO_LARGE = "51"


class AxisError(Exception):
    """A refusal of the simulated axis; rendered as ``status: FAIL`` (REST) or a SOAP fault."""

    def __init__(self, code: ErrorCode, desc: str) -> None:
        super().__init__(f"{code.value}: {desc}")
        self.code = code
        self.desc = desc

    def to_json(self) -> dict[str, str]:
        return {"status": "FAIL", "ErrorCode": self.code.value, "ErrorDesc": self.desc}
