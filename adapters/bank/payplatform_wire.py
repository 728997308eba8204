"""The national payment platform ("KeyPay DVCQG" in OpenCPS) as the merchant (the hub) speaks it.

Written from the platform's integration notes, independently of the gateway simulator:

* create transaction: ``check_sum = hex(HMAC-SHA256(key1, "addition_fee|client_id|command|trans_amount|
  transaction_id|version"))``;
* payment callback: the same six values with key2 — note that ``status`` is NOT covered, so the
  callback's checksum is one fixed value per transaction and proves nothing about the outcome: the
  hub asks the transaction detail before believing a callback;
* transaction detail (the hub's own request, key1): ``hex(HMAC-SHA256(key1, "client_id|command|
  transaction_id"))``.

Amounts are plain integers ("150000"), as Java's ``String.valueOf(long)`` writes them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Literal

VERSION = "3.0"
COMMAND_PAY = "PAY"
CHECKSUM = "check_sum"
TRANSACTION_FIELDS: tuple[str, ...] = (
    "addition_fee",
    "client_id",
    "command",
    "trans_amount",
    "transaction_id",
    "version",
)
DETAIL_FIELDS: tuple[str, ...] = ("client_id", "command", "transaction_id")

#: What a confirmation keeps of the detail answer: the signed transaction fields (without the hub's
#: client id, a credential) and the status the detail query vouches for.
CONFIRMATION_FIELDS: tuple[str, ...] = (
    "transaction_id",
    "transaction_code",
    "trans_amount",
    "addition_fee",
    "command",
    "version",
    "status",
    "paid_at",
)

STATUS_PAID = "0"
STATUS_PENDING = "1"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a checksum value")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _hmac_sha256(key: str, data: str) -> str:
    return hmac.new(key.encode("utf-8"), data.encode("utf-8"), hashlib.sha256).hexdigest()


def transaction_checksum(fields: Mapping[str, Any], key: str) -> str:
    return _hmac_sha256(key, "|".join(_text(fields.get(name)) for name in TRANSACTION_FIELDS))


def detail_checksum(fields: Mapping[str, Any], key: str) -> str:
    return _hmac_sha256(key, "|".join(_text(fields.get(name)) for name in DETAIL_FIELDS))


def checksum_matches(fields: Mapping[str, Any], key: str, given: Any) -> bool:
    """Whether ``given`` is the transaction checksum of ``fields`` (False for any malformed value)."""
    if not isinstance(given, str) or not given:
        return False
    try:
        expected = transaction_checksum(fields, key)
    except ValueError:
        return False
    return hmac.compare_digest(expected, given.strip().lower())


def status_of(value: Any) -> Literal["paid", "pending", "failed"]:
    text = str(value).strip()
    return "paid" if text == STATUS_PAID else "pending" if text == STATUS_PENDING else "failed"


def signed_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in CONFIRMATION_FIELDS if data.get(name) not in (None, "")}
