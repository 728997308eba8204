"""National payment platform-style gateway ("KeyPay DVCQG" as OpenCPS calls it) on loopback.

Doors:

* ``POST /api/transaction/create`` — the merchant registers a fee payment (``client_id``,
  ``transaction_id``, ``trans_amount``, ``command`` PAY, ``version`` 3.0, ``bill_info``,
  ``return_url``, ``addition_fee``, ``check_sum`` with key1); answer ``{error: "0", msg,
  payment_url, transaction_code}`` or ``{error: <code>, msg}``.
* callback: ``POST <merchant_url>/paymentconfirm`` JSON ``{transaction_id, status, check_sum, …}``
  (check_sum with key2); the merchant answers ``{return_code: 0|-1, return_msg}``.
* ``POST /api/transaction/detail`` — status query ``{client_id, transaction_id, command, check_sum}``
  as OpenCPS sends it; the path and the answer's shape are a guess (see docs/simulators/payments.md).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from adapters.bank.simulator import payplatform_protocol as proto
from adapters.bank.simulator.admin import OUTCOMES, OutcomeRequest, install_admin
from adapters.bank.simulator.callbacks import Outbox
from adapters.bank.simulator.config import (
    PayPlatformClient,
    PayPlatformConfig,
    development_payplatform_config,
)
from adapters.bank.simulator.faults import Faults, install_faults
from adapters.bank.simulator.pages import html_page
from adapters.bank.simulator.problems import install_problem_handler
from adapters.bank.simulator.vnpay_protocol import VNP_TZ, format_datetime
from hub.problems import Problem

CREATE_PATH = "/api/transaction/create"
DETAIL_PATH = "/api/transaction/detail"
PAY_PAGE_PATH = "/pay/{transaction_code}"

#: ``error`` codes of the gateway's answers; only "0" = success is known from public code.
ERRORS: dict[str, str] = {
    "0": "success",
    "01": "unknown client_id",
    "02": "invalid check_sum",
    "03": "invalid data",
    "04": "transaction_id already used",
    "05": "transaction not found",
}
BILL_REQUIRED = ("MaHoSo", "MaTTHC", "MaDonVi")
FEE_REQUIRED = ("LoaiPhiLePhi", "MaPhiLePhi", "TenPhiLePhi", "SoTien")

TxnState = Literal["pending", "paid", "failed", "reversed"]


def _whole(value: Any) -> int | None:
    """A non-negative whole amount given as a JSON number or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _data_error(body: dict[str, Any]) -> str | None:
    """Why a create request's data is invalid, or None."""
    if body.get("command") != proto.COMMAND_PAY or body.get("version") != proto.VERSION:
        return "command must be PAY and version 3.0"
    transaction_id = body.get("transaction_id")
    if (
        not isinstance(transaction_id, str | int)
        or isinstance(transaction_id, bool)
        or str(transaction_id) == ""
    ):
        return "transaction_id is required"
    amount = _whole(body.get("trans_amount"))
    if amount is None or amount == 0:
        return "trans_amount must be a positive whole number of VND"
    if _whole(body.get("addition_fee", 0)) is None:
        return "addition_fee must be a whole number of VND"
    if not isinstance(body.get("return_url"), str) or not body["return_url"]:
        return "return_url is required"
    bill = body.get("bill_info")
    if not isinstance(bill, dict):
        return "bill_info is required"
    missing = [name for name in BILL_REQUIRED if not isinstance(bill.get(name), str) or not bill[name]]
    if missing:
        return f"bill_info lacks {', '.join(missing)}"
    fees = bill.get("PhiLePhi")
    if not isinstance(fees, list) or not fees:
        return "bill_info.PhiLePhi must list at least one fee"
    for index, fee in enumerate(fees):
        if not isinstance(fee, dict) or any(name not in fee for name in FEE_REQUIRED):
            return f"bill_info.PhiLePhi[{index}] needs {', '.join(FEE_REQUIRED)}"
        if _whole(fee["SoTien"]) is None:
            return f"bill_info.PhiLePhi[{index}].SoTien must be a whole number of VND"
    return None


@dataclass
class PayPlatformTransaction:
    client_id: str
    transaction_id: str
    transaction_code: str
    trans_amount: int
    addition_fee: int
    command: str
    version: str
    return_url: str
    bill_info: dict[str, Any] = field(default_factory=dict)
    state: TxnState = "pending"
    status: int = proto.STATUS_PENDING
    outcome: str | None = None
    paid_at: str = ""

    def signed_fields(self, trans_amount: int | None = None) -> dict[str, Any]:
        return {
            "addition_fee": self.addition_fee,
            "client_id": self.client_id,
            "command": self.command,
            "trans_amount": self.trans_amount if trans_amount is None else trans_amount,
            "transaction_id": self.transaction_id,
            "version": self.version,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def confirm_answer_is_final(status: int, answer: Any) -> bool:
    """A merchant's ``{return_code: 0|-1}`` ends the delivery; anything else is retried."""
    if status != 200 or not isinstance(answer, dict):
        return False
    return str(answer.get("return_code")) in ("0", "-1")


class PayPlatformSimulator:
    """The gateway's memory and rules; the HTTP layer is in :func:`create_app`."""

    def __init__(self, config: PayPlatformConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.outbox = Outbox(config.retry, confirm_answer_is_final)
        self._lock = threading.Lock()
        self._codes = itertools.count(1)
        self._transactions: dict[tuple[str, str], PayPlatformTransaction] = {}
        self._queries: list[dict[str, Any]] = []

    # -- create --------------------------------------------------------------------------------
    def create(self, body: Any, base_url: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            return self._error("03", "the body must be a JSON object")
        client = self.config.client(str(body.get("client_id", "")))
        if client is None:
            return self._error("01")
        try:
            valid = proto.verify_transaction_checksum(
                body, client.key1.get_secret_value(), body.get("check_sum")
            )
        except ValueError:
            valid = False
        if not valid:
            return self._error("02")
        problem = _data_error(body)
        if problem is not None:
            return self._error("03", problem)
        txn = PayPlatformTransaction(
            client_id=client.client_id,
            transaction_id=str(body["transaction_id"]),
            transaction_code="",
            trans_amount=_whole(body["trans_amount"]) or 0,
            addition_fee=_whole(body.get("addition_fee", 0)) or 0,
            command=body["command"],
            version=body["version"],
            return_url=body["return_url"],
            bill_info=body["bill_info"],
        )
        with self._lock:
            key = (txn.client_id, txn.transaction_id)
            if key in self._transactions:
                return self._error("04")
            txn.transaction_code = f"KP{next(self._codes):010d}"
            self._transactions[key] = txn
        return {
            "error": "0",
            "msg": ERRORS["0"],
            "transaction_id": txn.transaction_id,
            "transaction_code": txn.transaction_code,
            "payment_url": base_url.rstrip("/") + PAY_PAGE_PATH.format(transaction_code=txn.transaction_code),
        }

    @staticmethod
    def _error(code: str, detail: str | None = None) -> dict[str, Any]:
        return {"error": code, "msg": ERRORS[code] + (f": {detail}" if detail else "")}

    # -- the customer ----------------------------------------------------------------------------
    def _find(self, reference: str, client_id: str | None) -> PayPlatformTransaction:
        for txn in self._transactions.values():
            if txn.transaction_id == reference and client_id in (None, txn.client_id):
                return txn
        raise Problem("not-found", f"no transaction with transaction_id {reference!r}")

    def by_code(self, transaction_code: str) -> PayPlatformTransaction | None:
        with self._lock:
            return next(
                (t for t in self._transactions.values() if t.transaction_code == transaction_code), None
            )

    def _reverse(self, reference: str, request: OutcomeRequest) -> dict[str, Any]:
        """The bank reverses a paid transaction (no callback: the merchant learns it by asking)."""
        with self._lock:
            txn = self._find(reference, request.merchant)
            if txn.state != "paid":
                raise Problem("conflict", f"transaction {reference!r} is {txn.state}, not paid")
            txn.state, txn.outcome = "reversed", "reverse"
            txn.status = proto.STATUS_FAILED
            return {"transaction": txn.to_dict(), "deliveries": []}

    def customer_outcome(self, reference: str, outcome: str, request: OutcomeRequest) -> dict[str, Any]:
        if outcome not in OUTCOMES:
            raise Problem("not-found", f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
        failure_status = proto.STATUS_FAILED if request.status is None else request.status
        if outcome == "fail" and failure_status == proto.STATUS_PAID:
            raise Problem("invalid-request", "a failed payment needs a status other than 0")
        if outcome == "pay-again":
            raise Problem("conflict", "the payment platform collects a transaction once")
        if outcome == "reverse":
            return self._reverse(reference, request)
        with self._lock:
            txn = self._find(reference, request.merchant)
            if txn.state != "pending":
                raise Problem("conflict", f"transaction {reference!r} is already {txn.state}")
            if outcome == "pay-other-amount":
                txn.trans_amount = request.amount if request.amount is not None else txn.trans_amount + 1_000
            txn.outcome = outcome
            txn.paid_at = format_datetime(datetime.now(VNP_TZ))
            if outcome == "fail":
                txn.state, txn.status = "failed", failure_status
            else:
                txn.state, txn.status = "paid", proto.STATUS_PAID
        client = self.config.client(txn.client_id)
        assert client is not None
        body = self._callback_body(txn, client, outcome, request.amount)
        copies = {"silent": 0, "duplicate": 2}.get(outcome, 1)
        deliveries = []
        if client.callback_url and copies:
            deliveries = [
                self.outbox.new_delivery(
                    kind="paymentconfirm",
                    reference=txn.transaction_id,
                    method="POST",
                    url=client.callback_url,
                    body=body,
                )
                for _ in range(copies)
            ]
            thread = self.outbox.submit(deliveries)
            if request.wait:
                thread.join(request.wait_seconds)
        return {
            "transaction": txn.to_dict(),
            "callback_url": client.callback_url,
            "deliveries": self.outbox.snapshot(deliveries),
        }

    @staticmethod
    def _callback_body(
        txn: PayPlatformTransaction, client: PayPlatformClient, outcome: str, stated_amount: int | None
    ) -> dict[str, Any]:
        amount = txn.trans_amount
        if outcome == "wrong-amount":
            amount = stated_amount if stated_amount is not None else txn.trans_amount + 1_000
        key = client.key2.get_secret_value()
        if outcome == "bad-checksum":
            key = "not-the-merchant-key2:" + key
        return {
            "client_id": txn.client_id,
            "transaction_id": txn.transaction_id,
            "transaction_code": txn.transaction_code,
            "trans_amount": amount,
            "addition_fee": txn.addition_fee,
            "command": txn.command,
            "version": txn.version,
            "MaHoSo": txn.bill_info.get("MaHoSo", ""),
            "status": txn.status,
            "check_sum": proto.transaction_checksum(txn.signed_fields(amount), key),
        }

    # -- detail ----------------------------------------------------------------------------------
    def detail(self, body: Any) -> dict[str, Any]:
        answer = self._detail(body if isinstance(body, dict) else {})
        with self._lock:
            self._queries.append(
                {
                    "transaction_id": body.get("transaction_id") if isinstance(body, dict) else None,
                    "error": answer["error"],
                }
            )
        return answer

    def _detail(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self.config.client(str(body.get("client_id", "")))
        if client is None:
            return self._error("01")
        try:
            valid = proto.verify_detail_checksum(body, client.key1.get_secret_value(), body.get("check_sum"))
        except ValueError:
            valid = False
        if not valid:
            return self._error("02")
        with self._lock:
            txn = self._transactions.get((client.client_id, str(body.get("transaction_id", ""))))
            data = None if txn is None else txn.to_dict()
        if txn is None or data is None:  # data: a copy taken under the lock
            return self._error("05")
        return {
            "error": "0",
            "msg": ERRORS["0"],
            "data": {
                "client_id": txn.client_id,
                "transaction_id": txn.transaction_id,
                "transaction_code": txn.transaction_code,
                "trans_amount": txn.trans_amount,
                "addition_fee": txn.addition_fee,
                "command": txn.command,
                "version": txn.version,
                "MaHoSo": txn.bill_info.get("MaHoSo", ""),
                "status": data["status"],
                "paid_at": data["paid_at"],
                "check_sum": proto.transaction_checksum(txn.signed_fields(), client.key2.get_secret_value()),
            },
        }

    # -- admin -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self._lock:
            transactions = [t.to_dict() for t in self._transactions.values()]
            queries = list(self._queries)
        return {
            "gateway": "payplatform",
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
            self._queries.clear()
            self._codes = itertools.count(1)


def create_app(config: PayPlatformConfig | None = None) -> FastAPI:
    """The payment platform-style gateway as an ASGI app; the simulator is ``app.state.simulator``.

    Without `config`: development credentials, callbacks to the development hub (``lienthong run``).
    """
    simulator = PayPlatformSimulator(config or development_payplatform_config())
    app = FastAPI(title="National payment platform-style gateway (simulator)", docs_url=None, redoc_url=None)
    app.state.simulator = simulator
    install_faults(app, simulator.faults)
    install_problem_handler(app)
    install_admin(app, simulator)

    async def _json(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    @app.post(CREATE_PATH)
    async def create_transaction(request: Request) -> JSONResponse:
        return JSONResponse(simulator.create(await _json(request), str(request.base_url)))

    @app.post(DETAIL_PATH)
    async def transaction_detail(request: Request) -> JSONResponse:
        return JSONResponse(simulator.detail(await _json(request)))

    @app.get(PAY_PAGE_PATH)
    def payment_page(transaction_code: str) -> HTMLResponse:
        txn = simulator.by_code(transaction_code)
        if txn is None:
            return html_page("Không tìm thấy giao dịch", transaction_code, status_code=404)
        return html_page(
            "Thanh toán phí, lệ phí (payment platform simulator)",
            f"Mã hồ sơ: {txn.bill_info.get('MaHoSo', '')}",
            f"Số tiền: {txn.trans_amount} VND",
            f"Play the customer: POST /_sim/transactions/{txn.transaction_id}/pay "
            "(or fail, duplicate, wrong-amount, bad-checksum, silent, pay-other-amount, reverse).",
        )

    @app.post("/_sim/transactions/{reference}/{outcome}")
    def customer(reference: str, outcome: str, request: OutcomeRequest | None = None) -> dict[str, Any]:
        return simulator.customer_outcome(reference, outcome, request or OutcomeRequest())

    return app
