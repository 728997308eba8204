"""VNPAY-style payment gateway (v2.1.0) on loopback.

Doors, as VNPAY has them:

* ``GET /paymentv2/vpcpay.html?vnp_…&vnp_SecureHash=…`` — the customer's browser arrives with the
  merchant's signed payment URL; the gateway verifies it and registers a pending transaction
  (``vnp_TxnRef`` unique per merchant per day of ``vnp_CreateDate``). A refused URL is redirected
  to ``/paymentv2/Payment/Error.html?code=…`` as VNPAY does.
* IPN: once the customer has paid or failed, a server-to-server ``GET <ipn_url>?vnp_…`` with the
  signed result; the merchant answers ``{"RspCode", "Message"}``.
* ``POST /merchant_webapi/api/transaction`` with ``vnp_Command=querydr`` — the status query.

The customer is played through the admin API (see :mod:`adapters.bank.simulator.admin`).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from adapters.bank.simulator import vnpay_protocol as proto
from adapters.bank.simulator.admin import OUTCOMES, OutcomeRequest, install_admin
from adapters.bank.simulator.callbacks import Outbox
from adapters.bank.simulator.config import VnpayConfig, VnpayMerchant, development_vnpay_config
from adapters.bank.simulator.faults import Faults, install_faults
from adapters.bank.simulator.pages import html_page
from adapters.bank.simulator.problems import install_problem_handler
from hub.problems import Problem

PAY_PATH = "/paymentv2/vpcpay.html"
ERROR_PATH = "/paymentv2/Payment/Error.html"
QUERYDR_PATH = "/merchant_webapi/api/transaction"

#: Codes of the gateway's error page for a refused payment URL.
PAY_ERRORS: dict[str, str] = {
    "01": "Giao dịch đã tồn tại (vnp_TxnRef already used today)",
    "02": "Merchant không hợp lệ (unknown vnp_TmnCode)",
    "03": "Dữ liệu gửi sang không đúng định dạng (invalid data format)",
    "70": "Sai chữ ký (invalid signature)",
}

#: ``vnp_ResponseCode`` of the querydr API.
QUERYDR_CODES: dict[str, str] = {
    "00": "Request successful",
    "02": "Merchant invalid",
    "03": "Invalid data format",
    "91": "Transaction not found",
    "94": "Duplicate request",
    "97": "Invalid checksum",
    "99": "Other errors",
}

#: Answers after which VNPAY stops repeating an IPN; anything else (99, no JSON, HTTP error) is retried.
FINAL_IPN_ANSWERS = frozenset({"00", "01", "02", "04", "97"})

PAY_REQUIRED = (
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_Amount",
    "vnp_CurrCode",
    "vnp_TxnRef",
    "vnp_OrderInfo",
    "vnp_OrderType",
    "vnp_Locale",
    "vnp_ReturnUrl",
    "vnp_IpAddr",
    "vnp_CreateDate",
    "vnp_ExpireDate",
)

TxnState = Literal["pending", "paid", "failed", "reversed"]
TRANSACTION_STATUS: dict[str, str] = {"paid": "00", "pending": "01", "failed": "02", "reversed": "04"}


@dataclass
class VnpayTransaction:
    tmn_code: str
    txn_ref: str
    amount: int
    order_info: str
    order_type: str
    locale: str
    return_url: str
    ip_addr: str
    create_date: str
    expire_date: str
    state: TxnState = "pending"
    outcome: str | None = None
    response_code: str = ""
    transaction_no: str = ""
    bank_code: str = ""
    bank_tran_no: str = ""
    card_type: str = ""
    pay_date: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tmn_code, self.txn_ref, self.create_date[:8])

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "transaction_status": TRANSACTION_STATUS[self.state]}


def ipn_answer_is_final(status: int, answer: Any) -> bool:
    return status == 200 and isinstance(answer, dict) and answer.get("RspCode") in FINAL_IPN_ANSWERS


def _pay_format_error(params: dict[str, str]) -> str | None:
    """Why the payment parameters are malformed, or None."""
    missing = [name for name in PAY_REQUIRED if not params.get(name)]
    if missing:
        return f"missing {', '.join(missing)}"
    if params["vnp_Version"] != proto.VERSION or params["vnp_Command"] != "pay":
        return "vnp_Version must be 2.1.0 and vnp_Command pay"
    if params["vnp_CurrCode"] != "VND":
        return "vnp_CurrCode must be VND"
    amount = params["vnp_Amount"]
    if not amount.isdigit() or int(amount) <= 0 or int(amount) % 100:
        return "vnp_Amount must be a positive whole number of VND times 100"
    for name in ("vnp_CreateDate", "vnp_ExpireDate"):
        try:
            proto.parse_datetime(params[name])
        except ValueError:
            return f"{name} must be yyyyMMddHHmmss"
    if params["vnp_Locale"] not in ("vn", "en"):
        return "vnp_Locale must be vn or en"
    return None


class VnpaySimulator:
    """The gateway's memory and rules; the HTTP layer is in :func:`create_app`."""

    def __init__(self, config: VnpayConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.outbox = Outbox(config.retry, ipn_answer_is_final)
        self._lock = threading.Lock()
        self._transactions: dict[tuple[str, str, str], VnpayTransaction] = {}
        self._request_ids: set[tuple[str, str, str]] = set()
        self._queries: list[dict[str, Any]] = []
        self._next_no = config.first_transaction_no

    # -- payment URL ---------------------------------------------------------------------------
    def register_payment(self, params: dict[str, str]) -> tuple[str, VnpayTransaction | None]:
        """Check a payment URL's parameters; ``("00", transaction)`` or ``(error page code, None)``."""
        merchant = self.config.merchant(params.get("vnp_TmnCode", ""))
        if merchant is None:
            return "02", None
        if not proto.verify_params(params, merchant.hash_secret.get_secret_value()):
            return "70", None
        if _pay_format_error(params) is not None:
            return "03", None
        txn = VnpayTransaction(
            tmn_code=merchant.tmn_code,
            txn_ref=params["vnp_TxnRef"],
            amount=int(params["vnp_Amount"]),
            order_info=params["vnp_OrderInfo"],
            order_type=params["vnp_OrderType"],
            locale=params["vnp_Locale"],
            return_url=params["vnp_ReturnUrl"],
            ip_addr=params["vnp_IpAddr"],
            create_date=params["vnp_CreateDate"],
            expire_date=params["vnp_ExpireDate"],
        )
        with self._lock:
            if txn.key in self._transactions:
                return "01", None
            self._transactions[txn.key] = txn
        return "00", txn

    # -- the customer ---------------------------------------------------------------------------
    def _find(self, reference: str, tmn_code: str | None) -> VnpayTransaction:
        candidates = [
            t
            for t in self._transactions.values()
            if t.txn_ref == reference and (tmn_code is None or t.tmn_code == tmn_code)
        ]
        if not candidates:
            raise Problem("not-found", f"no transaction with vnp_TxnRef {reference!r}")
        return max(candidates, key=lambda t: t.create_date)

    def _reverse(self, reference: str, request: OutcomeRequest) -> dict[str, Any]:
        """The bank reverses a paid transaction (no callback: the merchant learns it by asking)."""
        with self._lock:
            txn = self._find(reference, request.merchant)
            if txn.state != "paid":
                raise Problem("conflict", f"transaction {reference!r} is {txn.state}, not paid")
            txn.state, txn.outcome = "reversed", "reverse"
            return {"transaction": txn.to_dict(), "deliveries": []}

    def customer_outcome(self, reference: str, outcome: str, request: OutcomeRequest) -> dict[str, Any]:
        if outcome not in OUTCOMES:
            raise Problem("not-found", f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
        if outcome == "fail" and (request.response_code or "24") == "00":
            raise Problem("invalid-request", "a failed payment needs a response code other than 00")
        if outcome == "reverse":
            return self._reverse(reference, request)
        with self._lock:
            txn = self._find(reference, request.merchant)
            if outcome == "pay-again":
                if txn.state != "paid":
                    raise Problem("conflict", f"transaction {reference!r} is {txn.state}, not paid")
            elif txn.state != "pending":
                raise Problem("conflict", f"transaction {reference!r} is already {txn.state}")
            if outcome == "pay-other-amount":
                txn.amount = request.amount if request.amount is not None else txn.amount + 100_000
            self._settle(txn, outcome, request.response_code or "24")
        merchant = self.config.merchant(txn.tmn_code)
        assert merchant is not None
        params = self._ipn_params(txn, merchant, outcome, request.amount)
        query = proto.hash_data(params) + "&vnp_SecureHash=" + params["vnp_SecureHash"]
        copies = {"silent": 0, "duplicate": 2}.get(outcome, 1)
        deliveries = []
        if merchant.ipn_url and copies:
            url = merchant.ipn_url + ("&" if "?" in merchant.ipn_url else "?") + query
            deliveries = [
                self.outbox.new_delivery(
                    kind="ipn", reference=txn.txn_ref, method="GET", url=url, query=params
                )
                for _ in range(copies)
            ]
            thread = self.outbox.submit(deliveries)
            if request.wait:
                thread.join(request.wait_seconds)
        return {
            "transaction": txn.to_dict(),
            "ipn_url": merchant.ipn_url,
            "return_url": txn.return_url + ("&" if "?" in txn.return_url else "?") + query,
            "deliveries": self.outbox.snapshot(deliveries),
        }

    def _settle(self, txn: VnpayTransaction, outcome: str, failure_code: str) -> None:
        txn.outcome = outcome
        txn.bank_code = self.config.bank_code
        txn.card_type = self.config.card_type
        txn.pay_date = proto.format_datetime(datetime.now(proto.VNP_TZ))
        if outcome == "fail":
            txn.state, txn.response_code, txn.transaction_no = "failed", failure_code, "0"
            return
        txn.state, txn.response_code = "paid", "00"
        txn.transaction_no = str(self._next_no)
        txn.bank_tran_no = f"VNP{self._next_no}"
        self._next_no += 1

    def _ipn_params(
        self, txn: VnpayTransaction, merchant: VnpayMerchant, outcome: str, stated_amount: int | None
    ) -> dict[str, str]:
        amount = txn.amount
        if outcome == "wrong-amount":
            amount = stated_amount if stated_amount is not None else txn.amount + 100_000
        params = {
            "vnp_Amount": str(amount),
            "vnp_BankCode": txn.bank_code,
            "vnp_BankTranNo": txn.bank_tran_no,
            "vnp_CardType": txn.card_type,
            "vnp_OrderInfo": txn.order_info,
            "vnp_PayDate": txn.pay_date,
            "vnp_ResponseCode": txn.response_code,
            "vnp_TmnCode": txn.tmn_code,
            "vnp_TransactionNo": txn.transaction_no,
            "vnp_TransactionStatus": TRANSACTION_STATUS[txn.state],
            "vnp_TxnRef": txn.txn_ref,
        }
        params = {k: v for k, v in params.items() if v != ""}
        secret = merchant.hash_secret.get_secret_value()
        if outcome == "bad-checksum":
            secret = "not-the-merchant-secret:" + secret
        params["vnp_SecureHash"] = proto.sign_params(params, secret)
        return params

    # -- querydr -------------------------------------------------------------------------------
    def querydr(self, body: Any) -> dict[str, Any]:
        answer = self._querydr(body if isinstance(body, dict) else {})
        with self._lock:
            self._queries.append(
                {
                    "request_id": body.get("vnp_RequestId") if isinstance(body, dict) else None,
                    "txn_ref": body.get("vnp_TxnRef") if isinstance(body, dict) else None,
                    "response_code": answer["vnp_ResponseCode"],
                }
            )
        return answer

    def _querydr(self, body: dict[str, Any]) -> dict[str, Any]:
        tmn_code = str(body.get("vnp_TmnCode", ""))
        answer: dict[str, Any] = {
            "vnp_ResponseId": uuid.uuid4().hex,
            "vnp_Command": "querydr",
            "vnp_TmnCode": tmn_code,
            "vnp_TxnRef": str(body.get("vnp_TxnRef", "")),
        }
        merchant = self.config.merchant(tmn_code)
        code = self._querydr_check(body, merchant)
        txn = None
        if code == "00":
            assert merchant is not None
            with self._lock:
                txn = self._transactions.get(
                    (tmn_code, answer["vnp_TxnRef"], body["vnp_TransactionDate"][:8])
                )
            if txn is None or txn.create_date != body["vnp_TransactionDate"]:
                code, txn = "91", None
        answer["vnp_ResponseCode"] = code
        answer["vnp_Message"] = QUERYDR_CODES[code]
        if txn is not None:
            answer.update(
                {
                    "vnp_Amount": str(txn.amount),
                    "vnp_OrderInfo": txn.order_info,
                    "vnp_BankCode": txn.bank_code,
                    "vnp_PayDate": txn.pay_date,
                    "vnp_TransactionNo": txn.transaction_no,
                    "vnp_TransactionType": "01",
                    "vnp_TransactionStatus": TRANSACTION_STATUS[txn.state],
                    "vnp_PromotionCode": "",
                    "vnp_PromotionAmount": "",
                }
            )
        if merchant is not None:
            answer["vnp_SecureHash"] = proto.sign_querydr_response(
                answer, merchant.hash_secret.get_secret_value()
            )
        return answer

    def _querydr_check(self, body: dict[str, Any], merchant: VnpayMerchant | None) -> str:
        if merchant is None:
            return "02"
        for name in ("vnp_TransactionDate", "vnp_CreateDate"):  # npm vnpay sends these as numbers
            if isinstance(body.get(name), int) and not isinstance(body.get(name), bool):
                body[name] = str(body[name])
        if any(
            not isinstance(body.get(name), str) or not body[name] for name in proto.QUERYDR_REQUEST_FIELDS
        ):
            return "03"
        if body["vnp_Command"] != "querydr" or body["vnp_Version"] != proto.VERSION:
            return "03"
        try:
            proto.parse_datetime(body["vnp_TransactionDate"])
            proto.parse_datetime(body["vnp_CreateDate"])
        except ValueError:
            return "03"
        if not proto.verify_querydr_request(body, merchant.hash_secret.get_secret_value()):
            return "97"
        request_key = (merchant.tmn_code, body["vnp_RequestId"], body["vnp_CreateDate"][:8])
        with self._lock:
            if request_key in self._request_ids:
                return "94"
            self._request_ids.add(request_key)
        return "00"

    # -- admin ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self._lock:
            transactions = [t.to_dict() for t in self._transactions.values()]
            queries = list(self._queries)
        return {
            "gateway": "vnpay",
            "transactions": transactions,
            "deliveries": self.outbox.snapshot(),
            "queries": queries,
            "faults": self.faults.snapshot(),
        }

    def reset(self) -> None:
        self.outbox.reset()
        self.faults.reset()
        with self._lock:
            self._transactions.clear()
            self._request_ids.clear()
            self._queries.clear()
            self._next_no = self.config.first_transaction_no


def _payment_page(txn: VnpayTransaction) -> HTMLResponse:
    return html_page(
        "Thanh toán (VNPAY simulator)",
        f"vnp_TxnRef: {txn.txn_ref}",
        f"Số tiền: {txn.amount // 100} VND",
        f"Nội dung: {txn.order_info}",
        f"Play the customer: POST /_sim/transactions/{txn.txn_ref}/pay "
        "(or fail, duplicate, wrong-amount, bad-checksum, silent, pay-other-amount, pay-again, reverse).",
    )


def create_app(config: VnpayConfig | None = None) -> FastAPI:
    """The VNPAY-style gateway as an ASGI app; the simulator object is ``app.state.simulator``.

    Without `config`: development credentials, callbacks to the development hub (``lienthong run``).
    """
    simulator = VnpaySimulator(config or development_vnpay_config())
    app = FastAPI(title="VNPAY-style gateway (simulator)", docs_url=None, redoc_url=None)
    app.state.simulator = simulator
    install_faults(app, simulator.faults)
    install_problem_handler(app)
    install_admin(app, simulator)

    @app.get(PAY_PATH, response_model=None)
    def pay(request: Request) -> HTMLResponse | RedirectResponse:
        code, txn = simulator.register_payment(dict(request.query_params))
        if txn is None:
            return RedirectResponse(f"{ERROR_PATH}?code={code}", status_code=302)
        return _payment_page(txn)

    @app.get(ERROR_PATH)
    def error_page(code: str = "99") -> HTMLResponse:
        return html_page("Thông báo", f"Mã lỗi: {code}", PAY_ERRORS.get(code, "Lỗi không xác định"))

    @app.post(QUERYDR_PATH)
    async def transaction_api(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        return JSONResponse(simulator.querydr(body))

    @app.post("/_sim/transactions/{reference}/{outcome}")
    def customer(reference: str, outcome: str, request: OutcomeRequest | None = None) -> dict[str, Any]:
        return simulator.customer_outcome(reference, outcome, request or OutcomeRequest())

    return app
