"""Transport to the two gateways: create a payment, ask for its status, check a callback's checksum.

Each gateway's wire rules are the hub's own (:mod:`adapters.bank.vnpay_wire`,
:mod:`adapters.bank.payplatform_wire`); the simulators have separate code, and the tests check both
against implementations the project did not write. A gateway that cannot be reached or answers nonsense
raises :class:`GatewayError`; whether it is worth trying again is in ``retryable``.

What a gateway vouches for comes back as a :class:`StatusAnswer` whose ``fields`` are only the fields
the gateway signed (named per gateway in the wire modules) — never a checksum — so it can be put in a
confirmation or in evidence as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

from hub.spi import resolve_secret

from . import payplatform_wire as pp
from . import vnpay_wire as vnp
from .mapping import (
    FeeRequest,
    PaymentRecord,
    payplatform_create_body,
    payplatform_paid_at,
    payplatform_signed_fields,
    vnpay_amount,
    vnpay_paid_at,
    vnpay_payment_params,
)
from .options import PayPlatformGatewayOptions, VnpayGatewayOptions

QueryStatus = Literal["paid", "failed", "pending", "not-found"]
CallbackVerdict = Literal["ok", "invalid-checksum", "amount-mismatch"]


class GatewayError(Exception):
    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class Created:
    peer_reference: str
    payment_url: str


@dataclass(frozen=True)
class StatusAnswer:
    """What the gateway vouches for about a payment (a verified IPN, a querydr or detail answer)."""

    status: QueryStatus
    amount: int | None
    paid_at: str | None
    fields: dict[str, Any] = field(default_factory=dict)  # signed fields only: no checksum
    payment_no: str = ""  # the gateway's own number of this payment, when it gives one


def _post_json(client: httpx.Client, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
    try:
        response = client.post(url, json=dict(body))
    except httpx.TimeoutException as exc:
        raise GatewayError(f"timeout: {type(exc).__name__} ({url})") from None
    except httpx.TransportError as exc:
        raise GatewayError(f"connection error: {type(exc).__name__} {exc} ({url})") from None
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise GatewayError(f"HTTP {response.status_code} from {url}")
    if response.status_code != 200:
        raise GatewayError(f"HTTP {response.status_code} from {url}", retryable=False)
    try:
        data = response.json()
    except ValueError:
        raise GatewayError(f"the answer of {url} is not JSON") from None
    if not isinstance(data, dict):
        raise GatewayError(f"the answer of {url} is not a JSON object")
    return data


class VnpayGateway:
    def __init__(self, options: VnpayGatewayOptions, client: httpx.Client) -> None:
        self.options = options
        self.client = client
        self.tmn_code = resolve_secret(options.tmn_code, "bank adapter option vnpay.tmn_code")
        self._secret = resolve_secret(options.hash_secret, "bank adapter option vnpay.hash_secret")

    def create(self, request: FeeRequest, record: PaymentRecord) -> Created:
        """A VNPAY payment is a signed URL the merchant makes: no call to the gateway is needed."""
        params = vnpay_payment_params(
            request,
            record,
            tmn_code=self.tmn_code,
            return_url=self.options.return_url,
            order_type=self.options.order_type,
            locale=self.options.locale,
            ip_addr=self.options.ip_addr,
        )
        return Created(record.reference, vnp.payment_url(self.options.payment_url, params, self._secret))

    def verify(self, params: Mapping[str, Any]) -> bool:
        """An IPN's hash (which covers vnp_ResponseCode and vnp_TransactionStatus) and terminal hold."""
        return vnp.verify_ipn(params, self._secret) and params.get("vnp_TmnCode") == self.tmn_code

    @staticmethod
    def vouched(params: Mapping[str, Any], names: tuple[str, ...] = vnp.IPN_SIGNED_FIELDS) -> StatusAnswer:
        """What a verified IPN (or querydr answer) states; only the signed fields are kept."""
        status = params.get("vnp_TransactionStatus")
        paid: QueryStatus = "paid" if vnp.is_paid(params) else "pending" if status == "01" else "failed"
        number = str(params.get("vnp_TransactionNo") or "")
        return StatusAnswer(
            paid,
            vnpay_amount(params),
            vnpay_paid_at(params),
            vnp.signed_fields(params, names),
            number if number not in ("", "0") else "",
        )

    def query(self, record: PaymentRecord, now: datetime) -> StatusAnswer:
        body = {
            "vnp_RequestId": uuid.uuid4().hex,
            "vnp_Version": vnp.VERSION,
            "vnp_Command": "querydr",
            "vnp_TmnCode": self.tmn_code,
            "vnp_TxnRef": record.reference,
            "vnp_TransactionDate": record.vnp_create_date,
            "vnp_CreateDate": vnp.format_datetime(now),
            "vnp_IpAddr": self.options.ip_addr,
            "vnp_OrderInfo": f"Truy van giao dich {record.reference}",
        }
        body[vnp.SECURE_HASH] = vnp.sign_querydr(body, self._secret)
        answer = _post_json(self.client, self.options.api_url, body)
        if not vnp.verify_querydr_answer(answer, self._secret):
            raise GatewayError("the querydr answer's vnp_SecureHash does not verify")
        if answer.get("vnp_TxnRef") != record.reference:
            raise GatewayError("the querydr answer is about another vnp_TxnRef")
        code = str(answer.get("vnp_ResponseCode", ""))
        if code == "91":
            return StatusAnswer("not-found", None, None, {"vnp_ResponseCode": code})
        if code != "00":
            raise GatewayError(f"querydr refused: {code} {answer.get('vnp_Message', '')}".strip())
        return self.vouched(answer, vnp.QUERYDR_RESPONSE_FIELDS)


class PayPlatformGateway:
    def __init__(self, options: PayPlatformGatewayOptions, client: httpx.Client) -> None:
        self.options = options
        self.client = client
        self.client_id = resolve_secret(options.client_id, "bank adapter option payplatform.client_id")
        self._key1 = resolve_secret(options.key1, "bank adapter option payplatform.key1")
        self._key2 = resolve_secret(options.key2, "bank adapter option payplatform.key2")
        base = options.base_url.rstrip("/")
        self.create_url = f"{base}/api/transaction/create"
        self.detail_url = f"{base}/api/transaction/detail"

    def create(self, request: FeeRequest, record: PaymentRecord) -> Created:
        body = payplatform_create_body(
            request,
            record,
            client_id=self.client_id,
            return_url=self.options.return_url,
            fee_kind=self.options.fee_kind,
            key1=self._key1,
        )
        answer = _post_json(self.client, self.create_url, body)
        if str(answer.get("error")) != "0":
            raise GatewayError(
                f"create refused: error {answer.get('error')}: {answer.get('msg', '')}".strip(),
                retryable=False,
            )
        code, url = answer.get("transaction_code"), answer.get("payment_url")
        if not isinstance(url, str) or not url:
            raise GatewayError("create answered success without a payment_url", retryable=False)
        return Created(str(code or record.reference), url)

    def check_callback(self, body: Mapping[str, Any], record: PaymentRecord) -> CallbackVerdict:
        """Recompute the check_sum (key2) from the transaction the hub registered.

        This proves only which transaction the message is about: ``status`` is not covered."""
        given = body.get(pp.CHECKSUM)
        if str(body.get("client_id", self.client_id)) != self.client_id:
            return "invalid-checksum"
        if pp.checksum_matches(payplatform_signed_fields(record, self.client_id), self._key2, given):
            return "ok"
        own = pp.checksum_matches(body, self._key2, given)
        return "amount-mismatch" if own else "invalid-checksum"

    def query(self, record: PaymentRecord, now: datetime) -> StatusAnswer:
        """The transaction detail: the hub's own authenticated request, the platform's word on status."""
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "transaction_id": record.reference,
            "command": pp.COMMAND_PAY,
        }
        body[pp.CHECKSUM] = pp.detail_checksum(body, self._key1)
        answer = _post_json(self.client, self.detail_url, body)
        error = str(answer.get("error"))
        if error == "05":
            return StatusAnswer("not-found", None, None, {"error": error})
        data = answer.get("data")
        if error != "0" or not isinstance(data, dict):
            raise GatewayError(f"detail refused: error {error}: {answer.get('msg', '')}".strip())
        if str(data.get("transaction_id")) != record.reference:
            raise GatewayError("the detail answer is about another transaction")
        if self.check_callback(data, record) == "invalid-checksum":
            raise GatewayError("the detail answer's check_sum does not verify")
        amount = str(data.get("trans_amount", ""))
        paid_at = payplatform_paid_at(data.get("paid_at"))
        status = pp.status_of(data.get("status"))
        return StatusAnswer(
            status,
            int(amount) if amount.isdigit() else None,
            paid_at,
            pp.signed_fields(data),
            str(data.get("paid_at") or "") if status == "paid" else "",
        )
