"""Mapping for the bank adapter, without I/O: payment.request → the gateway's create data, a gateway's
answer or callback → a ``payment.confirmation``.

Amounts in hub documents are whole đồng; VNPAY wants them ×100, the payment platform as they are.
The gateway reference of a payment is made from the hub message id of its ``payment.request`` (32 hex
digits), so a redelivery of the same message creates nothing new and two agencies' request ids never
clash at the gateway.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from . import payplatform_wire as pp
from . import vnpay_wire as vnp

Gateway = Literal["vnpay", "payplatform"]
#: Where a payment stands in the hub: ``expired`` and ``failed`` are final for the agency, but a payment
#: the gateway later vouches for is still confirmed (as ``late-payment``).
PaymentStatus = Literal["pending", "paid", "failed", "expired", "disputed"]
#: ``status`` of a payment.confirmation.
Outcome = Literal["paid", "failed", "expired", "duplicate-payment", "late-payment"]

#: recipient participant id → gateway.
RECIPIENT_GATEWAYS: dict[str, Gateway] = {"bank.vnpay": "vnpay", "bank.payplatform": "payplatform"}
GATEWAY_PARTICIPANTS: dict[Gateway, str] = {v: k for k, v in RECIPIENT_GATEWAYS.items()}


class MappingError(ValueError):
    """The request cannot become a payment; sending it again will not help."""


@dataclass(frozen=True)
class FeeLine:
    code: str
    name: str
    amount: int


@dataclass(frozen=True)
class FeeRequest:
    """A ``payment.request`` as the adapter needs it."""

    agency: str
    dossier_number: str
    request_id: str
    procedure_code: str
    fees: tuple[FeeLine, ...]
    amount: int
    description: str
    expires_at: datetime | None


@dataclass
class PaymentRecord:
    """What the adapter remembers of one payment (adapter state, JSON)."""

    gateway: Gateway
    reference: str  # vnp_TxnRef / transaction_id: the hub's reference at the gateway
    message_id: str  # the payment.request's hub message id
    agency: str
    dossier_number: str
    request_id: str
    amount: int
    created_at: str  # ISO 8601, UTC
    expires_at: str  # ISO 8601
    status: PaymentStatus = "pending"
    payment_url: str = ""
    vnp_create_date: str = ""  # VNPAY: vnp_CreateDate, needed by querydr
    transaction_code: str = ""  # payment platform: its own code for the transaction
    confirmations: dict[str, str] = field(default_factory=dict)  # outcome[:payment no] → message id
    query_error: str = ""
    payment_no: str = ""  # the gateway's number of the payment confirmed paid (vnp_TransactionNo)

    @property
    def transaction_ref(self) -> str:
        """The reference the agency got back (peer_reference) and finds in the confirmation."""
        return self.transaction_code or self.reference

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PaymentRecord:
        return cls(**json.loads(text))


def gateway_of(recipient: str) -> Gateway:
    try:
        return RECIPIENT_GATEWAYS[recipient]
    except KeyError:
        raise MappingError(f"recipient {recipient!r} is not a payment gateway of this adapter") from None


def gateway_reference(message_id: str) -> str:
    """The payment's reference at the gateway: the request's message id without hyphens."""
    reference = message_id.replace("-", "").lower()
    if not reference.isalnum() or not 1 <= len(reference) <= 64:
        raise MappingError(f"message id {message_id!r} cannot make a gateway reference")
    return reference


def parse_request(document: bytes, *, sender: str) -> FeeRequest:
    """The request's fields; MappingError when the amount is not the sum of the fees (or not VND)."""
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MappingError(f"payment.request is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "payment.request":
        raise MappingError("not a payment.request document")
    try:
        fees = tuple(FeeLine(str(f["code"]), str(f["name"]), int(f["amount"])) for f in data["fees"])
        amount = int(data["amount"])
        request = FeeRequest(
            agency=str(data.get("sender") or sender),
            dossier_number=str(data["dossier_number"]),
            request_id=str(data["request_id"]),
            procedure_code=str(data["procedure_code"]),
            fees=fees,
            amount=amount,
            description=str(data["description"]),
            expires_at=_parse_time(data.get("expires_at")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MappingError(f"payment.request lacks or garbles a field: {exc}") from None
    if data.get("currency", "VND") != "VND":
        raise MappingError(f"currency {data.get('currency')!r} is not accepted; only VND")
    total = sum(f.amount for f in fees)
    if total != amount:
        raise MappingError(f"amount {amount} is not the sum of the fees ({total})")
    if amount <= 0:
        raise MappingError("amount must be positive")
    return request


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=vnp.VNP_TZ)


def expiry(request: FeeRequest, now: datetime, ttl_seconds: int) -> datetime:
    """When the payment stops being payable: the request's expires_at, capped at now + ttl."""
    latest = now + timedelta(seconds=ttl_seconds)
    if request.expires_at is None:
        return latest
    if request.expires_at <= now:
        raise MappingError(f"the payment request expired at {request.expires_at.isoformat()}")
    return min(request.expires_at, latest)


def new_record(
    request: FeeRequest, *, gateway: Gateway, message_id: str, now: datetime, expires: datetime
) -> PaymentRecord:
    return PaymentRecord(
        gateway=gateway,
        reference=gateway_reference(message_id),
        message_id=message_id,
        agency=request.agency,
        dossier_number=request.dossier_number,
        request_id=request.request_id,
        amount=request.amount,
        created_at=now.astimezone(UTC).isoformat(),
        expires_at=expires.isoformat(),
        vnp_create_date=vnp.format_datetime(now) if gateway == "vnpay" else "",
    )


# -- VNPAY -------------------------------------------------------------------------------------------
def vnpay_payment_params(
    request: FeeRequest,
    record: PaymentRecord,
    *,
    tmn_code: str,
    return_url: str,
    order_type: str,
    locale: str,
    ip_addr: str,
) -> dict[str, str]:
    """The payment URL's parameters (unsigned)."""
    return {
        "vnp_Version": vnp.VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": tmn_code,
        "vnp_Amount": str(request.amount * 100),
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": record.reference,
        "vnp_OrderInfo": vnp.order_info(f"{request.description} - ho so {request.dossier_number}"),
        "vnp_OrderType": order_type,
        "vnp_Locale": locale,
        "vnp_ReturnUrl": return_url,
        "vnp_IpAddr": ip_addr,
        "vnp_CreateDate": record.vnp_create_date,
        "vnp_ExpireDate": vnp.format_datetime(datetime.fromisoformat(record.expires_at)),
    }


def vnpay_paid_at(params: Mapping[str, Any]) -> str | None:
    text = str(params.get("vnp_PayDate") or "")
    try:
        return vnp.parse_datetime(text).isoformat()
    except ValueError:
        return None


def vnpay_amount(params: Mapping[str, Any]) -> int | None:
    """The amount a VNPAY message states, in whole đồng (None when it is not a multiple of 100)."""
    text = str(params.get("vnp_Amount") or "")
    if not text.isdigit() or int(text) % 100:
        return None
    return int(text) // 100


# -- payment platform --------------------------------------------------------------------------------
def payplatform_create_body(
    request: FeeRequest,
    record: PaymentRecord,
    *,
    client_id: str,
    return_url: str,
    fee_kind: str,
    key1: str,
) -> dict[str, Any]:
    """The create-transaction body, check_sum (key1) included."""
    body: dict[str, Any] = {
        "client_id": client_id,
        "transaction_id": record.reference,
        "trans_amount": request.amount,
        "command": pp.COMMAND_PAY,
        "version": pp.VERSION,
        "addition_fee": 0,
        "return_url": return_url,
        "bill_info": {
            "MaHoSo": request.dossier_number,
            "MaTTHC": request.procedure_code,
            "MaDonVi": request.agency,
            "NoiDung": request.description,
            "PhiLePhi": [
                {"LoaiPhiLePhi": fee_kind, "MaPhiLePhi": f.code, "TenPhiLePhi": f.name, "SoTien": f.amount}
                for f in request.fees
            ],
        },
    }
    body["check_sum"] = pp.transaction_checksum(body, key1)
    return body


def payplatform_signed_fields(record: PaymentRecord, client_id: str) -> dict[str, Any]:
    """The six checksum fields as the hub registered the transaction (the callback is checked on them)."""
    return {
        "addition_fee": 0,
        "client_id": client_id,
        "command": pp.COMMAND_PAY,
        "trans_amount": record.amount,
        "transaction_id": record.reference,
        "version": pp.VERSION,
    }


def payplatform_paid_at(text: Any) -> str | None:
    try:
        return vnp.parse_datetime(str(text or "")).isoformat()
    except ValueError:
        return None


# -- the confirmation --------------------------------------------------------------------------------
def confirmation_document(
    record: PaymentRecord,
    *,
    status: Outcome,
    paid_at: str | None,
    gateway_fields: Mapping[str, Any],
    payment_no: str | None = None,
) -> bytes:
    """The ``payment.confirmation`` the gateway's participant sends to the agency that asked.

    ``gateway_fields`` must hold only what the gateway vouched for (the signed fields named in
    :mod:`adapters.bank.vnpay_wire` / :mod:`adapters.bank.payplatform_wire`), never a checksum."""
    document: dict[str, Any] = {
        "type": "payment.confirmation",
        "sender": GATEWAY_PARTICIPANTS[record.gateway],
        "recipients": [record.agency],
        "dossier_number": record.dossier_number,
        "request_id": record.request_id,
        "gateway": record.gateway,
        "transaction_ref": record.transaction_ref,
        "amount": record.amount,
        "currency": "VND",
        "status": status,
    }
    if status in ("paid", "duplicate-payment", "late-payment"):
        document["paid_at"] = paid_at or datetime.now(vnp.VNP_TZ).replace(microsecond=0).isoformat()
    if payment_no and status in ("duplicate-payment", "late-payment"):
        document["payment_no"] = payment_no[:64]
    document["gateway_response"] = {
        str(k): v if v is None or isinstance(v, str | int | float | bool) else str(v)
        for k, v in gateway_fields.items()
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
