"""Transport to the two gateways: create a payment, ask for its status, check a callback's checksum.

Each gateway's wire rules come from :mod:`adapters.bank.simulator.vnpay_protocol` and
:mod:`adapters.bank.simulator.payplatform_protocol` (the same pure functions the simulators use).
A gateway that cannot be reached or answers nonsense raises :class:`GatewayError`; whether it is worth
trying again is in ``retryable``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from adapters.bank.simulator import payplatform_protocol as pp
from adapters.bank.simulator import vnpay_protocol as vnp
from hub.spi import resolve_secret

from .mapping import (
    FeeRequest,
    PaymentRecord,
    payplatform_create_body,
    payplatform_paid_at,
    payplatform_signed_fields,
    payplatform_status,
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
    """What the gateway says of a payment when asked."""

    status: QueryStatus
    amount: int | None
    paid_at: str | None
    response: dict[str, Any]


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
        return Created(
            record.reference, vnp.build_payment_url(self.options.payment_url, params, self._secret)
        )

    def verify(self, params: Mapping[str, Any]) -> bool:
        return vnp.verify_params(params, self._secret)

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
        body["vnp_SecureHash"] = vnp.sign_querydr_request(body, self._secret)
        answer = _post_json(self.client, self.options.api_url, body)
        if not vnp.verify_querydr_response(answer, self._secret):
            raise GatewayError("the querydr answer's vnp_SecureHash does not verify")
        code = str(answer.get("vnp_ResponseCode", ""))
        if code == "91":
            return StatusAnswer("not-found", None, None, answer)
        if code != "00":
            raise GatewayError(f"querydr refused: {code} {answer.get('vnp_Message', '')}".strip())
        transaction_status = answer.get("vnp_TransactionStatus")
        status: QueryStatus = (
            "paid" if transaction_status == "00" else "pending" if transaction_status == "01" else "failed"
        )
        return StatusAnswer(status, vnpay_amount(answer), vnpay_paid_at(answer), answer)


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
        """Recompute the callback's check_sum (key2) from the transaction the hub registered."""
        given = body.get("check_sum")
        if pp.verify_transaction_checksum(
            payplatform_signed_fields(record, self.client_id), self._key2, given
        ):
            return "ok"
        try:
            own = pp.verify_transaction_checksum(body, self._key2, given)
        except ValueError:
            own = False
        return "amount-mismatch" if own else "invalid-checksum"

    def query(self, record: PaymentRecord, now: datetime) -> StatusAnswer:
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "transaction_id": record.reference,
            "command": pp.COMMAND_PAY,
        }
        body["check_sum"] = pp.detail_checksum(body, self._key1)
        answer = _post_json(self.client, self.detail_url, body)
        error = str(answer.get("error"))
        if error == "05":
            return StatusAnswer("not-found", None, None, answer)
        data = answer.get("data")
        if error != "0" or not isinstance(data, dict):
            raise GatewayError(f"detail refused: error {error}: {answer.get('msg', '')}".strip())
        verdict = self.check_callback(data, record)
        if verdict == "invalid-checksum":
            raise GatewayError("the detail answer's check_sum does not verify")
        amount = str(data.get("trans_amount", ""))
        return StatusAnswer(
            payplatform_status(data.get("status")),
            int(amount) if amount.isdigit() else None,
            payplatform_paid_at(data.get("paid_at")),
            data,
        )
