"""VNPAY v2.1.0 as the merchant (the hub) speaks it: payment URL, IPN, querydr.

Written from VNPAY's merchant documentation, independently of the gateway simulator (which has its own
code for the gateway's side) and checked in the tests against the npm ``vnpay`` package.

Checksums:

* payment URL, IPN and return URL: the ``vnp_*`` parameters except ``vnp_SecureHash`` /
  ``vnp_SecureHashType``, with a non-empty value, sorted by name, joined ``name=encode(value)`` with
  ``&``; hex(HMAC-SHA512(hash secret, that)). VNPAY's Java sample and the npm library encode the value as
  HTML forms do (Java ``URLEncoder``, WHATWG ``URLSearchParams``: space → ``+``, ``*-._`` kept, every
  other byte ``%XX``); VNPAY's Python sample uses ``quote_plus`` (``*`` → ``%2A``, ``~`` kept). The hub
  signs with the form encoding and accepts an IPN hashed under either.
* querydr: HMAC-SHA512 over fixed lists of values joined by ``|`` (one list for the request, another for
  the response).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

VERSION = "2.1.0"
SECURE_HASH = "vnp_SecureHash"
NOT_HASHED = frozenset({SECURE_HASH, "vnp_SecureHashType"})
VNP_TZ = timezone(timedelta(hours=7), "GMT+7")
DATETIME_FORMAT = "%Y%m%d%H%M%S"
ORDER_INFO_LIMIT = 255

#: The IPN fields VNPAY signs and the hub keeps as evidence in a confirmation.
IPN_SIGNED_FIELDS: tuple[str, ...] = (
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_BankTranNo",
    "vnp_CardType",
    "vnp_OrderInfo",
    "vnp_PayDate",
    "vnp_ResponseCode",
    "vnp_TmnCode",
    "vnp_TransactionNo",
    "vnp_TransactionStatus",
    "vnp_TxnRef",
)

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

#: The querydr answer's hashed values, in order (the same list is what a confirmation keeps).
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

IPN_ANSWERS: dict[str, str] = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid checksum",
    "99": "Unknown error",
}


def form_encode(value: str) -> str:
    """HTML form encoding (Java ``URLEncoder``, ``URLSearchParams``): ``quote_plus`` keeps ``~`` and
    escapes ``*``, the form encoding does the opposite."""
    return quote_plus(value, safe="*").replace("~", "%7E")


def python_encode(value: str) -> str:
    """VNPAY's Python sample: ``urllib.parse.quote_plus``."""
    return quote_plus(value)


ENCODINGS: tuple[Callable[[str], str], ...] = (form_encode, python_encode)


def _hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def _matches(expected: str, given: Any) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected, given.strip().lower())


def hash_data(params: Mapping[str, Any], encode: Callable[[str], str] = form_encode) -> str:
    """The string signed for a payment URL, an IPN or a return URL."""
    items = sorted(
        (key, str(value))
        for key, value in params.items()
        if key.startswith("vnp_") and key not in NOT_HASHED and value is not None and str(value) != ""
    )
    return "&".join(f"{key}={encode(value)}" for key, value in items)


def payment_url(gateway_url: str, params: Mapping[str, Any], secret: str) -> str:
    """``gateway_url?<sorted, form-encoded params>&vnp_SecureHash=…`` (what ``vnpay`` on npm builds)."""
    data = hash_data(params)
    separator = "&" if "?" in gateway_url else "?"
    return f"{gateway_url}{separator}{data}&{SECURE_HASH}={_hmac_sha512(secret, data)}"


def verify_ipn(params: Mapping[str, Any], secret: str) -> bool:
    """True when ``vnp_SecureHash`` matches the parameters under either common encoding."""
    given = params.get(SECURE_HASH)
    return any(_matches(_hmac_sha512(secret, hash_data(params, encode)), given) for encode in ENCODINGS)


def _pipe(body: Mapping[str, Any], names: tuple[str, ...]) -> str:
    return "|".join("" if body.get(name) is None else str(body[name]) for name in names)


def sign_querydr(body: Mapping[str, Any], secret: str) -> str:
    return _hmac_sha512(secret, _pipe(body, QUERYDR_REQUEST_FIELDS))


def verify_querydr_answer(answer: Mapping[str, Any], secret: str) -> bool:
    return _matches(_hmac_sha512(secret, _pipe(answer, QUERYDR_RESPONSE_FIELDS)), answer.get(SECURE_HASH))


def signed_fields(params: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The named fields present in a verified message (what a confirmation may carry)."""
    return {name: str(params[name]) for name in names if params.get(name) not in (None, "")}


def is_paid(fields: Mapping[str, Any]) -> bool:
    """VNPAY's rule: paid only when both the response code and the transaction status are ``00``."""
    return fields.get("vnp_ResponseCode") == "00" and fields.get("vnp_TransactionStatus") == "00"


def format_datetime(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` in GMT+7 (naive datetimes are taken as already in GMT+7)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(VNP_TZ)
    return moment.strftime(DATETIME_FORMAT)


def parse_datetime(text: str) -> datetime:
    """``yyyyMMddHHmmss`` (GMT+7); ValueError on anything else."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"not a yyyyMMddHHmmss time: {text!r}")
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=VNP_TZ)


_NOT_ALLOWED_IN_ORDER_INFO = re.compile(r"[^A-Za-z0-9 .,:_-]+")


def order_info(text: str, limit: int = ORDER_INFO_LIMIT) -> str:
    """What VNPAY asks ``vnp_OrderInfo`` to be: Vietnamese without diacritics, no special characters.

    Letters are transliterated (``Lệ phí đăng ký`` → ``Le phi dang ky``); what is left outside letters,
    digits, space and ``.,:_-`` is dropped, so the form and the ``quote_plus`` encodings (and every
    merchant library) produce the same hash data."""
    text = text.replace("đ", "d").replace("Đ", "D")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join(_NOT_ALLOWED_IN_ORDER_INFO.sub(" ", folded).split())
    return cleaned[:limit].strip() or "Thanh toan phi"
