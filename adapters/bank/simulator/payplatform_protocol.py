"""National payment platform ("KeyPay DVCQG" in OpenCPS) checksums as pure functions.

* create transaction: ``check_sum = hex(HMAC-SHA256(key1, "addition_fee|client_id|command|trans_amount|
  transaction_id|version"))`` — the values, joined by ``|``, in that order.
* payment confirmation callback (``POST …/paymentconfirm``): the same six values signed with key2;
  the merchant recomputes it from the transaction it stored.
* transaction detail (status query): ``hex(HMAC-SHA256(key1, "client_id|command|transaction_id"))``.

Amounts are written as plain integers ("150000"), as Java's ``String.valueOf(long)`` writes them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

VERSION = "3.0"
COMMAND_PAY = "PAY"
TRANSACTION_FIELDS: tuple[str, ...] = (
    "addition_fee",
    "client_id",
    "command",
    "trans_amount",
    "transaction_id",
    "version",
)
DETAIL_FIELDS: tuple[str, ...] = ("client_id", "command", "transaction_id")

#: ``status`` in the callback and the detail answer. Only 0 = paid is known from public code.
STATUS_PAID = 0
STATUS_PENDING = 1
STATUS_FAILED = 2


def field_text(value: Any) -> str:
    """How a field's value enters the checksum string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a checksum field value")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _hmac_sha256(key: str, data: str) -> str:
    return hmac.new(key.encode("utf-8"), data.encode("utf-8"), hashlib.sha256).hexdigest()


def _same(expected: str, given: Any) -> bool:
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.lower(), given.strip().lower())


def transaction_checksum_data(fields: Mapping[str, Any]) -> str:
    """``addition_fee|client_id|command|trans_amount|transaction_id|version`` from ``fields``."""
    return "|".join(field_text(fields.get(name)) for name in TRANSACTION_FIELDS)


def transaction_checksum(fields: Mapping[str, Any], key: str) -> str:
    """The create request's check_sum (key1) or the callback's check_sum (key2)."""
    return _hmac_sha256(key, transaction_checksum_data(fields))


def verify_transaction_checksum(fields: Mapping[str, Any], key: str, check_sum: Any) -> bool:
    return _same(transaction_checksum(fields, key), check_sum)


def detail_checksum_data(fields: Mapping[str, Any]) -> str:
    return "|".join(field_text(fields.get(name)) for name in DETAIL_FIELDS)


def detail_checksum(fields: Mapping[str, Any], key: str) -> str:
    """The transaction detail request's check_sum (key1)."""
    return _hmac_sha256(key, detail_checksum_data(fields))


def verify_detail_checksum(fields: Mapping[str, Any], key: str, check_sum: Any) -> bool:
    return _same(detail_checksum(fields, key), check_sum)
