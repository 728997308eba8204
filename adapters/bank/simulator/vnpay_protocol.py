"""VNPAY v2.1.0 wire rules as pure functions, for the simulator and for a merchant alike.

Two checksums exist:

* payment URL, IPN and return URL: drop ``vnp_SecureHash``/``vnp_SecureHashType``, keep the other
  ``vnp_*`` parameters with a non-empty value, sort them by name, join ``name=encode(value)``
  with ``&`` and take hex(HMAC-SHA512(hash_secret, that)); compared case-insensitively. ``encode`` is
  what VNPAY's own (Java) code does, ``java.net.URLEncoder``: letters, digits and ``.-*_`` kept, space
  as ``+``, every other UTF-8 byte as ``%XX`` (so ``*`` stays ``*`` and ``~`` becomes ``%7E``).
* querydr (``POST /merchant_webapi/api/transaction``): HMAC-SHA512 over the values joined by ``|``
  in a fixed order, one order for the request and another for the response.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

VERSION = "2.1.0"
HASH_FIELDS = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
VNP_TZ = timezone(timedelta(hours=7), "GMT+7")
DATETIME_FORMAT = "%Y%m%d%H%M%S"

#: Order of the values in the querydr request's hash data.
QUERYDR_REQUEST_FIELDS: tuple[str, ...] = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)

#: Order of the values in the querydr response's hash data (absent fields count as "").
QUERYDR_RESPONSE_FIELDS: tuple[str, ...] = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)

#: The merchant's answers to an IPN ``{"RspCode", "Message"}``.
IPN_ANSWERS: dict[str, str] = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid checksum",
    "99": "Unknown error",
}


def _hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def _same_hash(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.lower(), given.strip().lower())


_URLENCODER_KEEPS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


def url_encode(value: str) -> str:
    """``java.net.URLEncoder.encode(value, "UTF-8")``, byte by byte."""
    out = []
    for byte in value.encode("utf-8"):
        if byte in _URLENCODER_KEEPS:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def hash_data(params: Mapping[str, Any]) -> str:
    """The string VNPAY signs for a payment URL, an IPN or a return URL."""
    items = sorted(
        (key, str(value))
        for key, value in params.items()
        if key.startswith("vnp_") and key not in HASH_FIELDS and value is not None and str(value) != ""
    )
    return "&".join(f"{key}={url_encode(value)}" for key, value in items)


def sign_params(params: Mapping[str, Any], hash_secret: str) -> str:
    """Hex HMAC-SHA512 of :func:`hash_data` (lower case)."""
    return _hmac_sha512(hash_secret, hash_data(params))


def verify_params(params: Mapping[str, Any], hash_secret: str) -> bool:
    """True when ``params['vnp_SecureHash']`` matches the other parameters."""
    given = params.get("vnp_SecureHash")
    return _same_hash(sign_params(params, hash_secret), None if given is None else str(given))


def build_payment_url(gateway_url: str, params: Mapping[str, Any], hash_secret: str) -> str:
    """The URL the merchant redirects the customer to: ``gateway_url?<sorted params>&vnp_SecureHash=…``.

    ``gateway_url`` is the full address of ``/paymentv2/vpcpay.html``.
    """
    data = hash_data(params)
    separator = "&" if "?" in gateway_url else "?"
    return f"{gateway_url}{separator}{data}&vnp_SecureHash={_hmac_sha512(hash_secret, data)}"


def querydr_request_data(body: Mapping[str, Any]) -> str:
    return "|".join(str(body.get(name, "") or "") for name in QUERYDR_REQUEST_FIELDS)


def sign_querydr_request(body: Mapping[str, Any], hash_secret: str) -> str:
    return _hmac_sha512(hash_secret, querydr_request_data(body))


def verify_querydr_request(body: Mapping[str, Any], hash_secret: str) -> bool:
    given = body.get("vnp_SecureHash")
    return _same_hash(sign_querydr_request(body, hash_secret), None if given is None else str(given))


def querydr_response_data(body: Mapping[str, Any]) -> str:
    return "|".join(str(body.get(name, "") or "") for name in QUERYDR_RESPONSE_FIELDS)


def sign_querydr_response(body: Mapping[str, Any], hash_secret: str) -> str:
    return _hmac_sha512(hash_secret, querydr_response_data(body))


def verify_querydr_response(body: Mapping[str, Any], hash_secret: str) -> bool:
    given = body.get("vnp_SecureHash")
    return _same_hash(sign_querydr_response(body, hash_secret), None if given is None else str(given))


def format_datetime(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` in GMT+7 (naive datetimes are taken as already in GMT+7)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(VNP_TZ)
    return moment.strftime(DATETIME_FORMAT)


def parse_datetime(text: str) -> datetime:
    """Parse ``yyyyMMddHHmmss`` (GMT+7); raises ValueError on anything else."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"not a yyyyMMddHHmmss time: {text!r}")
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=VNP_TZ)


def is_paid(params: Mapping[str, Any]) -> bool:
    """VNPAY's rule: paid only if both the response code and the transaction status are ``00``."""
    return params.get("vnp_ResponseCode") == "00" and params.get("vnp_TransactionStatus") == "00"
