"""The two payment gateway simulators over real HTTP on loopback, against a small merchant server.

Checksums are recomputed here with ``hmac``/``hashlib``/``urllib`` directly (not with the modules
under test), and the merchant's wire traffic is compared exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adapters.bank.simulator import create_app, payplatform_protocol, vnpay_protocol
from adapters.bank.simulator.__main__ import build_config
from adapters.bank.simulator.config import (
    PayPlatformClient,
    PayPlatformConfig,
    RetryPolicy,
    VnpayConfig,
    VnpayMerchant,
)
from hub.servers import RunningServer, run_in_thread
from tests.vnpay_oracle import vnpay_npm

TMN = "TESTTMN1"
SECRET = "test-vnpay-secret-" + uuid.uuid4().hex
CLIENT = "test-client"
KEY1 = "test-key1-" + uuid.uuid4().hex
KEY2 = "test-key2-" + uuid.uuid4().hex
GMT7 = timezone(timedelta(hours=7))
RETRY = RetryPolicy(max_attempts=3, interval_seconds=0.02, timeout_seconds=5)


# -- independent checksums ---------------------------------------------------------------------------
def vnp_data(params: dict[str, str]) -> str:
    kept = {
        k: v
        for k, v in params.items()
        if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType")
    }
    return "&".join(f"{k}={quote_plus(v)}" for k, v in sorted(kept.items()) if v != "")


def hmac512(data: str, key: str = SECRET) -> str:
    return hmac.new(key.encode(), data.encode(), hashlib.sha512).hexdigest()


def hmac256(data: str, key: str) -> str:
    return hmac.new(key.encode(), data.encode(), hashlib.sha256).hexdigest()


# -- the merchant ------------------------------------------------------------------------------------
@dataclass
class Merchant:
    """A merchant that follows each gateway's rules, records its wire traffic, and can misbehave."""

    vnpay_orders: dict[str, int] = field(default_factory=dict)
    payplatform_orders: dict[str, int] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)
    scripted: list[tuple[int, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.vnpay_orders.clear()
            self.payplatform_orders.clear()
            self.confirmed.clear()
            self.received.clear()
            self.scripted.clear()

    def vnpay_answer(self, params: dict[str, str]) -> dict[str, str]:
        if not hmac.compare_digest(hmac512(vnp_data(params)), params.get("vnp_SecureHash", "").lower()):
            return {"RspCode": "97", "Message": "Invalid Checksum"}
        ref = params["vnp_TxnRef"]
        if ref not in self.vnpay_orders:
            return {"RspCode": "01", "Message": "Order not found"}
        if int(params["vnp_Amount"]) != self.vnpay_orders[ref] * 100:
            return {"RspCode": "04", "Message": "Invalid amount"}
        if ref in self.confirmed:
            return {"RspCode": "02", "Message": "Order already confirmed"}
        self.confirmed.add(ref)
        return {"RspCode": "00", "Message": "Confirm Success"}

    def payplatform_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        txn = body["transaction_id"]
        if txn not in self.payplatform_orders:
            return {"return_code": -1, "return_msg": "error: paymentfile null"}
        data = f"0|{CLIENT}|PAY|{self.payplatform_orders[txn]}|{txn}|3.0"
        if not hmac.compare_digest(hmac256(data, KEY2), str(body.get("check_sum"))):
            return {"return_code": -1, "return_msg": "error: check_sum invalid"}
        return {"return_code": 0, "return_msg": "success"}

    def app(self) -> FastAPI:
        app = FastAPI()

        def answer(kind: str, record: dict[str, Any], rule: Any) -> JSONResponse:
            with self.lock:
                self.received.append({"kind": kind, **record})
                if self.scripted:
                    status, body = self.scripted.pop(0)
                    return JSONResponse(body, status_code=status)
                return JSONResponse(rule())

        @app.get("/vnpay/ipn")
        def ipn(request: Request) -> JSONResponse:
            params = dict(request.query_params)
            return answer("ipn", {"query": params}, lambda: self.vnpay_answer(params))

        @app.post("/paymentconfirm")
        async def paymentconfirm(request: Request) -> JSONResponse:
            body = await request.json()
            return answer("paymentconfirm", {"body": body}, lambda: self.payplatform_answer(body))

        return app


@pytest.fixture(scope="module")
def merchant_server() -> Iterator[tuple[Merchant, RunningServer]]:
    merchant = Merchant()
    with run_in_thread(merchant.app()) as server:
        yield merchant, server


@pytest.fixture(scope="module")
def gateways(merchant_server: tuple[Merchant, RunningServer]) -> Iterator[dict[str, RunningServer]]:
    _, server = merchant_server
    vnpay_config = VnpayConfig(
        merchants=[VnpayMerchant(tmn_code=TMN, hash_secret=SECRET, ipn_url=server.base_url + "/vnpay/ipn")],
        retry=RETRY,
    )
    pp_config = PayPlatformConfig(
        clients=[PayPlatformClient(client_id=CLIENT, key1=KEY1, key2=KEY2, merchant_url=server.base_url)],
        retry=RETRY,
    )
    with run_in_thread(create_app(vnpay_config)) as vnpay, run_in_thread(create_app(pp_config)) as pp:
        yield {"vnpay": vnpay, "payplatform": pp}


@pytest.fixture
def merchant(merchant_server: tuple[Merchant, RunningServer], gateways: dict[str, RunningServer]) -> Merchant:
    m, _ = merchant_server
    m.reset()
    for server in gateways.values():
        httpx.post(server.base_url + "/_sim/reset").raise_for_status()
    return m


@pytest.fixture
def vnpay(gateways: dict[str, RunningServer]) -> str:
    return gateways["vnpay"].base_url


@pytest.fixture
def payplatform(gateways: dict[str, RunningServer]) -> str:
    return gateways["payplatform"].base_url


# -- helpers -----------------------------------------------------------------------------------------
def vnp_now() -> str:
    return datetime.now(GMT7).strftime("%Y%m%d%H%M%S")


def pay_params(ref: str, amount_vnd: int, create_date: str) -> dict[str, str]:
    return {
        "vnp_Version": "2.1.0",
        "vnp_Command": "pay",
        "vnp_TmnCode": TMN,
        "vnp_Amount": str(amount_vnd * 100),
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": ref,
        "vnp_OrderInfo": f"Nop le phi ho so {ref}",
        "vnp_OrderType": "billpayment",
        "vnp_Locale": "vn",
        "vnp_ReturnUrl": "https://motcua.example.gov.vn/payment/return",
        "vnp_IpAddr": "10.0.0.7",
        "vnp_CreateDate": create_date,
        "vnp_ExpireDate": create_date[:8] + "235959",
    }


def open_vnpay_payment(vnpay: str, merchant: Merchant, ref: str, amount_vnd: int = 15000) -> dict[str, str]:
    params = pay_params(ref, amount_vnd, vnp_now())
    merchant.vnpay_orders[ref] = amount_vnd
    url = vnpay_protocol.build_payment_url(vnpay + "/paymentv2/vpcpay.html", params, SECRET)
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert ref in response.text
    return params


def customer(base: str, ref: str, outcome: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/_sim/transactions/{ref}/{outcome}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def expected_ipn(txn: dict[str, Any], amount: int | None = None, key: str = SECRET) -> dict[str, str]:
    params = {
        "vnp_Amount": str(txn["amount"] if amount is None else amount),
        "vnp_BankCode": "NCB",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": txn["order_info"],
        "vnp_PayDate": txn["pay_date"],
        "vnp_ResponseCode": txn["response_code"],
        "vnp_TmnCode": TMN,
        "vnp_TransactionNo": txn["transaction_no"],
        "vnp_TransactionStatus": txn["transaction_status"],
        "vnp_TxnRef": txn["txn_ref"],
    }
    if txn["state"] == "paid":
        params["vnp_BankTranNo"] = "VNP" + txn["transaction_no"]
    params["vnp_SecureHash"] = hmac512(vnp_data(params), key)
    return params


def querydr(vnpay: str, ref: str, transaction_date: str, **overrides: str) -> httpx.Response:
    body = {
        "vnp_RequestId": uuid.uuid4().hex[:20],
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": TMN,
        "vnp_TxnRef": ref,
        "vnp_OrderInfo": f"Truy van GD {ref}",
        "vnp_TransactionDate": transaction_date,
        "vnp_CreateDate": vnp_now(),
        "vnp_IpAddr": "10.0.0.7",
    }
    order = [
        "vnp_RequestId",
        "vnp_Version",
        "vnp_Command",
        "vnp_TmnCode",
        "vnp_TxnRef",
        "vnp_TransactionDate",
        "vnp_CreateDate",
        "vnp_IpAddr",
        "vnp_OrderInfo",
    ]
    body["vnp_SecureHash"] = hmac512("|".join(body[name] for name in order))
    body.update(overrides)
    return httpx.post(vnpay + "/merchant_webapi/api/transaction", json=body)


QUERYDR_RESPONSE_ORDER = [
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
]


def querydr_response_hash(answer: dict[str, Any]) -> str:
    return hmac512("|".join(str(answer.get(name, "")) for name in QUERYDR_RESPONSE_ORDER))


# -- protocol vectors --------------------------------------------------------------------------------
def test_vnpay_hash_data_and_signature_follow_the_documented_rule() -> None:
    params = {
        "vnp_TxnRef": "HS-2025/001",
        "vnp_Amount": "1500000",
        "vnp_OrderInfo": "Lệ phí hồ sơ 000.00.00.H41",
        "vnp_ReturnUrl": "https://merchant.example/return?x=1",
        "vnp_BankCode": "",
        "vnp_SecureHashType": "HmacSHA512",
        "other": "ignored",
    }
    expected_data = (
        "vnp_Amount=1500000&vnp_OrderInfo=L%E1%BB%87+ph%C3%AD+h%E1%BB%93+s%C6%A1+000.00.00.H41"
        "&vnp_ReturnUrl=https%3A%2F%2Fmerchant.example%2Freturn%3Fx%3D1&vnp_TxnRef=HS-2025%2F001"
    )
    assert vnpay_protocol.hash_data(params) == expected_data
    signature = vnpay_protocol.sign_params(params, SECRET)
    assert signature == hmac512(expected_data)
    assert vnpay_protocol.verify_params({**params, "vnp_SecureHash": signature.upper()}, SECRET)
    assert not vnpay_protocol.verify_params({**params, "vnp_SecureHash": signature}, SECRET + "x")
    assert not vnpay_protocol.verify_params(
        {**params, "vnp_Amount": "1500100", "vnp_SecureHash": signature}, SECRET
    )
    url = vnpay_protocol.build_payment_url("https://gw.example/paymentv2/vpcpay.html", params, SECRET)
    assert url == f"https://gw.example/paymentv2/vpcpay.html?{expected_data}&vnp_SecureHash={signature}"


def test_vnpay_hash_data_encodes_as_vnpay_java_urlencoder() -> None:
    """The gateway hashes values as java.net.URLEncoder (and npm vnpay's URLSearchParams) do: '*' kept,
    '~' escaped; Python's quote_plus does the opposite."""
    params = {"vnp_OrderInfo": "a*b~c d", "vnp_TxnRef": "R1"}
    assert vnpay_protocol.hash_data(params) == "vnp_OrderInfo=a*b%7Ec+d&vnp_TxnRef=R1"
    signed = vnpay_npm("sign-ipn", tmn_code=TMN, secret=SECRET, params=params)
    assert signed["params"]["vnp_SecureHash"] == vnpay_protocol.sign_params(params, SECRET)


def test_vnpay_accepts_a_url_built_by_npm_vnpay_and_answers_its_querydr(
    vnpay: str, merchant: Merchant
) -> None:
    created = vnp_now()
    built = vnpay_npm(
        "build-url",
        tmn_code=TMN,
        secret=SECRET,
        host=vnpay,
        data={
            "vnp_Amount": 12000,
            "vnp_IpAddr": "127.0.0.1",
            "vnp_TxnRef": "HS-NPM-1",
            "vnp_OrderInfo": "Le phi *ban sao* ho so",
            "vnp_OrderType": "other",
            "vnp_ReturnUrl": "https://merchant.example/return",
            "vnp_CreateDate": int(created),
            "vnp_ExpireDate": int((datetime.now(GMT7) + timedelta(minutes=15)).strftime("%Y%m%d%H%M%S")),
        },
    )
    page = httpx.get(built["url"])
    assert page.status_code == 200 and "HS-NPM-1" in page.text
    customer(vnpay, "HS-NPM-1", "silent")
    answer = vnpay_npm(
        "querydr",
        tmn_code=TMN,
        secret=SECRET,
        host=vnpay,
        query={
            "vnp_RequestId": uuid.uuid4().hex,
            "vnp_IpAddr": "127.0.0.1",
            "vnp_TxnRef": "HS-NPM-1",
            "vnp_OrderInfo": "Truy van HS-NPM-1",
            "vnp_TransactionDate": int(created),  # the library sends its dates as numbers
            "vnp_CreateDate": int(vnp_now()),
        },
    )
    assert answer["isVerified"] is True and answer["isSuccess"] is True
    assert (answer["vnp_TransactionStatus"], answer["vnp_Amount"]) == ("00", "1200000")


def test_vnpay_querydr_pipe_orders() -> None:
    request = {name: f"v{i}" for i, name in enumerate(vnpay_protocol.QUERYDR_REQUEST_FIELDS)}
    assert vnpay_protocol.sign_querydr_request(request, SECRET) == hmac512("v0|v1|v2|v3|v4|v5|v6|v7|v8")
    response = {"vnp_ResponseId": "r", "vnp_Command": "querydr", "vnp_ResponseCode": "91", "vnp_Message": "m"}
    assert vnpay_protocol.querydr_response_data(response) == "r|querydr|91|m" + "|" * 11
    signed = {**response, "vnp_SecureHash": querydr_response_hash(response)}
    assert vnpay_protocol.verify_querydr_response(signed, SECRET)


def test_payplatform_checksums() -> None:
    fields = {
        "addition_fee": 0,
        "client_id": CLIENT,
        "command": "PAY",
        "trans_amount": 150000,
        "transaction_id": "TX-1",
        "version": "3.0",
    }
    data = f"0|{CLIENT}|PAY|150000|TX-1|3.0"
    assert payplatform_protocol.transaction_checksum_data(fields) == data
    assert payplatform_protocol.transaction_checksum(fields, KEY1) == hmac256(data, KEY1)
    as_text = {**fields, "trans_amount": "150000", "addition_fee": 0.0}
    assert payplatform_protocol.verify_transaction_checksum(as_text, KEY1, hmac256(data, KEY1).upper())
    assert not payplatform_protocol.verify_transaction_checksum(fields, KEY2, hmac256(data, KEY1))
    detail = {"client_id": CLIENT, "command": "PAY", "transaction_id": "TX-1"}
    assert payplatform_protocol.detail_checksum(detail, KEY1) == hmac256(f"{CLIENT}|PAY|TX-1", KEY1)


# -- VNPAY --------------------------------------------------------------------------------------------
def test_vnpay_refuses_bad_payment_urls(vnpay: str, merchant: Merchant) -> None:
    params = pay_params("HS-BAD", 15000, vnp_now())
    gateway = vnpay + "/paymentv2/vpcpay.html"

    def error_code(url: str) -> str:
        response = httpx.get(url)
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith("/paymentv2/Payment/Error.html?code=")
        assert httpx.get(vnpay + location).status_code == 200
        return location.rsplit("=", 1)[1]

    good = vnpay_protocol.build_payment_url(gateway, params, SECRET)
    assert error_code(good.replace("vnp_Amount=1500000", "vnp_Amount=1500100")) == "70"
    assert error_code(vnpay_protocol.build_payment_url(gateway, params, "wrong-secret")) == "70"
    unknown = {**params, "vnp_TmnCode": "NOSUCH01"}
    assert error_code(vnpay_protocol.build_payment_url(gateway, unknown, SECRET)) == "02"
    odd = {**params, "vnp_Amount": "1500050"}
    assert error_code(vnpay_protocol.build_payment_url(gateway, odd, SECRET)) == "03"
    assert httpx.get(good).status_code == 200
    assert error_code(good) == "01"  # the same TxnRef the same day
    state = httpx.get(vnpay + "/_sim/state").json()
    assert [t["txn_ref"] for t in state["transactions"]] == ["HS-BAD"]
    assert merchant.received == []


def test_vnpay_paid_sends_one_signed_ipn(vnpay: str, merchant: Merchant) -> None:
    open_vnpay_payment(vnpay, merchant, "HS-PAID", 15000)
    result = customer(vnpay, "HS-PAID", "pay")
    txn = result["transaction"]
    assert (txn["state"], txn["response_code"], txn["transaction_status"]) == ("paid", "00", "00")
    expected = expected_ipn(txn)
    assert merchant.received == [{"kind": "ipn", "query": expected}]
    assert vnpay_protocol.is_paid(expected)
    [delivery] = result["deliveries"]
    assert delivery["state"] == "answered"
    assert [(a["status"], a["answer"]) for a in delivery["attempts"]] == [
        (200, {"RspCode": "00", "Message": "Confirm Success"})
    ]
    assert result["return_url"].startswith("https://motcua.example.gov.vn/payment/return?vnp_Amount=1500000&")
    assert customer_conflict(vnpay, "HS-PAID") == 409


def customer_conflict(base: str, ref: str) -> int:
    return httpx.post(f"{base}/_sim/transactions/{ref}/pay", json={}).status_code


def test_vnpay_failed_payment(vnpay: str, merchant: Merchant) -> None:
    open_vnpay_payment(vnpay, merchant, "HS-FAIL")
    txn = customer(vnpay, "HS-FAIL", "fail", response_code="51")["transaction"]
    assert (txn["state"], txn["response_code"], txn["transaction_status"], txn["transaction_no"]) == (
        "failed",
        "51",
        "02",
        "0",
    )
    expected = expected_ipn(txn)
    assert "vnp_BankTranNo" not in expected
    assert merchant.received == [{"kind": "ipn", "query": expected}]
    assert not vnpay_protocol.is_paid(expected)


def test_vnpay_duplicate_ipn(vnpay: str, merchant: Merchant) -> None:
    open_vnpay_payment(vnpay, merchant, "HS-DUP")
    result = customer(vnpay, "HS-DUP", "duplicate")
    expected = expected_ipn(result["transaction"])
    assert merchant.received == [{"kind": "ipn", "query": expected}] * 2
    answers = [d["attempts"][-1]["answer"]["RspCode"] for d in result["deliveries"]]
    assert answers == ["00", "02"]


def test_vnpay_wrong_amount(vnpay: str, merchant: Merchant) -> None:
    open_vnpay_payment(vnpay, merchant, "HS-AMT", 15000)
    result = customer(vnpay, "HS-AMT", "wrong-amount", amount=1400000)
    assert merchant.received == [
        {"kind": "ipn", "query": expected_ipn(result["transaction"], amount=1400000)}
    ]
    [delivery] = result["deliveries"]
    assert [a["answer"]["RspCode"] for a in delivery["attempts"]] == ["04"]


def test_vnpay_bad_checksum(vnpay: str, merchant: Merchant) -> None:
    open_vnpay_payment(vnpay, merchant, "HS-SIG")
    result = customer(vnpay, "HS-SIG", "bad-checksum")
    [received] = merchant.received
    good = expected_ipn(result["transaction"])
    assert {k: v for k, v in received["query"].items() if k != "vnp_SecureHash"} == {
        k: v for k, v in good.items() if k != "vnp_SecureHash"
    }
    assert received["query"]["vnp_SecureHash"] != good["vnp_SecureHash"]
    assert [a["answer"]["RspCode"] for a in result["deliveries"][0]["attempts"]] == ["97"]


def test_vnpay_silent_then_querydr(vnpay: str, merchant: Merchant) -> None:
    params = open_vnpay_payment(vnpay, merchant, "HS-SILENT", 20000)
    response = querydr(vnpay, "HS-SILENT", params["vnp_CreateDate"])
    pending = response.json()
    assert (pending["vnp_ResponseCode"], pending["vnp_TransactionStatus"]) == ("00", "01")
    txn = customer(vnpay, "HS-SILENT", "silent")["transaction"]
    assert merchant.received == []
    answer = querydr(vnpay, "HS-SILENT", params["vnp_CreateDate"]).json()
    assert answer["vnp_SecureHash"] == querydr_response_hash(answer)
    assert {
        k: answer[k] for k in ("vnp_ResponseCode", "vnp_TransactionStatus", "vnp_Amount", "vnp_TxnRef")
    } == {
        "vnp_ResponseCode": "00",
        "vnp_TransactionStatus": "00",
        "vnp_Amount": "2000000",
        "vnp_TxnRef": "HS-SILENT",
    }
    assert (answer["vnp_TransactionNo"], answer["vnp_PayDate"]) == (txn["transaction_no"], txn["pay_date"])
    assert answer["vnp_PromotionCode"] == answer["vnp_PromotionAmount"] == ""


def test_vnpay_querydr_refusals(vnpay: str, merchant: Merchant) -> None:
    params = open_vnpay_payment(vnpay, merchant, "HS-Q")
    date = params["vnp_CreateDate"]
    assert querydr(vnpay, "HS-Q", date, vnp_SecureHash="00" * 64).json()["vnp_ResponseCode"] == "97"
    assert querydr(vnpay, "HS-NONE", date).json()["vnp_ResponseCode"] == "91"
    other_day = (datetime.now(GMT7) - timedelta(days=1)).strftime("%Y%m%d%H%M%S")
    assert querydr(vnpay, "HS-Q", other_day).json()["vnp_ResponseCode"] == "91"
    assert querydr(vnpay, "HS-Q", "2025-01-01").json()["vnp_ResponseCode"] == "03"
    unknown = querydr(vnpay, "HS-Q", date, vnp_TmnCode="NOSUCH01").json()
    assert unknown["vnp_ResponseCode"] == "02" and "vnp_SecureHash" not in unknown
    body = {  # signed by hand so that one request id can be sent twice
        "vnp_RequestId": "same-id",
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": TMN,
        "vnp_TxnRef": "HS-Q",
        "vnp_TransactionDate": date,
        "vnp_CreateDate": vnp_now(),
        "vnp_IpAddr": "10.0.0.7",
        "vnp_OrderInfo": "Truy van",
    }
    signed = {**body, "vnp_SecureHash": hmac512("|".join(body.values()))}
    codes = [httpx.post(vnpay + "/merchant_webapi/api/transaction", json=signed).json()["vnp_ResponseCode"]]
    codes.append(
        httpx.post(vnpay + "/merchant_webapi/api/transaction", json=signed).json()["vnp_ResponseCode"]
    )
    assert codes == ["00", "94"]


def test_vnpay_retries_until_a_valid_answer(vnpay: str, merchant: Merchant) -> None:
    open_vnpay_payment(vnpay, merchant, "HS-RETRY")
    merchant.scripted = [(500, {"error": "down"}), (200, {"RspCode": "99", "Message": "Unknown error"})]
    result = customer(vnpay, "HS-RETRY", "pay")
    expected = expected_ipn(result["transaction"])
    assert merchant.received == [{"kind": "ipn", "query": expected}] * 3
    [delivery] = result["deliveries"]
    assert delivery["state"] == "answered"
    assert [a["status"] for a in delivery["attempts"]] == [500, 200, 200]
    assert [a["valid"] for a in delivery["attempts"]] == [False, False, True]


def test_vnpay_gives_up_after_the_last_attempt(vnpay: str, merchant: Merchant) -> None:
    open_vnpay_payment(vnpay, merchant, "HS-GIVEUP")
    merchant.scripted = [(200, "OK")] * 5  # JSON, but no RspCode
    result = customer(vnpay, "HS-GIVEUP", "pay")
    assert len(merchant.received) == RETRY.max_attempts
    assert result["deliveries"][0]["state"] == "gave-up"
    state = httpx.get(vnpay + "/_sim/state").json()
    assert [d["state"] for d in state["deliveries"]] == ["gave-up"]


# -- faults -------------------------------------------------------------------------------------------
def test_faults_fail_next_calls_then_down_then_reset(vnpay: str, merchant: Merchant) -> None:
    httpx.post(vnpay + "/_sim/faults", json={"fail_next": 2, "fail_status": 502}).raise_for_status()
    params = pay_params("HS-FAULT", 1000, vnp_now())
    url = vnpay_protocol.build_payment_url(vnpay + "/paymentv2/vpcpay.html", params, SECRET)
    assert [httpx.get(url).status_code for _ in range(3)] == [502, 502, 200]
    httpx.post(vnpay + "/_sim/faults", json={"down": True}).raise_for_status()
    assert httpx.post(vnpay + "/merchant_webapi/api/transaction", json={}).status_code == 503
    faults = httpx.get(vnpay + "/_sim/state").json()["faults"]
    assert (faults["down"], faults["calls"], faults["refused"]) == (True, 4, 3)
    httpx.post(vnpay + "/_sim/reset").raise_for_status()
    state = httpx.get(vnpay + "/_sim/state").json()
    assert state["transactions"] == [] and state["faults"]["down"] is False
    assert httpx.post(vnpay + "/merchant_webapi/api/transaction", json={}).status_code == 200


def test_slow_gateway_still_answers(payplatform: str, merchant: Merchant) -> None:
    httpx.post(payplatform + "/_sim/faults", json={"delay_seconds": 1.0}).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):  # a client that waits five times less than the delay
        httpx.post(payplatform + "/api/transaction/create", json={}, timeout=0.2)
    response = httpx.post(payplatform + "/api/transaction/create", json={}, timeout=10)
    assert response.json()["error"] == "01"
    assert httpx.get(payplatform + "/_sim/state").json()["faults"]["calls"] == 2


# -- national payment platform ------------------------------------------------------------------------
def create_body(transaction_id: str, amount: int, key: str = KEY1) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": CLIENT,
        "transaction_id": transaction_id,
        "trans_amount": amount,
        "command": "PAY",
        "version": "3.0",
        "addition_fee": 0,
        "return_url": "https://motcua.example.gov.vn/payment/return",
        "bill_info": {
            "MaHoSo": "000.00.00.H41-250101-0001",
            "MaTTHC": "1.001234",
            "MaDonVi": "000.00.00.H41",
            "PhiLePhi": [{"LoaiPhiLePhi": "2", "MaPhiLePhi": "2", "TenPhiLePhi": "Lệ phí", "SoTien": amount}],
        },
    }
    body["check_sum"] = hmac256(f"0|{CLIENT}|PAY|{amount}|{transaction_id}|3.0", key)
    return body


def open_pp_payment(payplatform: str, merchant: Merchant, transaction_id: str, amount: int = 50000) -> dict:
    merchant.payplatform_orders[transaction_id] = amount
    answer = httpx.post(
        payplatform + "/api/transaction/create", json=create_body(transaction_id, amount)
    ).json()
    assert answer["error"] == "0", answer
    return answer


def detail(payplatform: str, transaction_id: str) -> dict[str, Any]:
    body = {"client_id": CLIENT, "transaction_id": transaction_id, "command": "PAY"}
    body["check_sum"] = hmac256(f"{CLIENT}|PAY|{transaction_id}", KEY1)
    return httpx.post(payplatform + "/api/transaction/detail", json=body).json()


def test_payplatform_create_and_refusals(payplatform: str, merchant: Merchant) -> None:
    answer = open_pp_payment(payplatform, merchant, "TX-CREATE")
    page = httpx.get(answer["payment_url"])
    assert page.status_code == 200 and "000.00.00.H41-250101-0001" in page.text
    create = payplatform + "/api/transaction/create"
    assert httpx.post(create, json=create_body("TX-CREATE", 50000)).json()["error"] == "04"
    assert httpx.post(create, json=create_body("TX-2", 50000, key=KEY2)).json()["error"] == "02"
    tampered = {**create_body("TX-2", 50000), "trans_amount": 5000}
    assert httpx.post(create, json=tampered).json()["error"] == "02"
    assert httpx.post(create, json={**create_body("TX-2", 1), "client_id": "nobody"}).json()["error"] == "01"
    no_fees = create_body("TX-3", 50000)
    no_fees["bill_info"]["PhiLePhi"] = []
    assert httpx.post(create, json=no_fees).json()["error"] == "03"
    assert httpx.post(create, content=b"not json").json()["error"] == "03"
    state = httpx.get(payplatform + "/_sim/state").json()
    assert [t["transaction_id"] for t in state["transactions"]] == ["TX-CREATE"]
    assert merchant.received == []


def expected_callback(txn: dict[str, Any], amount: int | None = None, key: str = KEY2) -> dict[str, Any]:
    stated = txn["trans_amount"] if amount is None else amount
    return {
        "client_id": CLIENT,
        "transaction_id": txn["transaction_id"],
        "transaction_code": txn["transaction_code"],
        "trans_amount": stated,
        "addition_fee": 0,
        "command": "PAY",
        "version": "3.0",
        "MaHoSo": "000.00.00.H41-250101-0001",
        "status": txn["status"],
        "check_sum": hmac256(f"0|{CLIENT}|PAY|{stated}|{txn['transaction_id']}|3.0", key),
    }


@pytest.mark.parametrize(
    ("outcome", "body", "copies", "status", "return_codes"),
    [
        ("pay", {}, 1, 0, [0]),
        ("fail", {"status": 2}, 1, 2, [0]),
        ("duplicate", {}, 2, 0, [0, 0]),
        ("wrong-amount", {"amount": 49000}, 1, 0, [-1]),
        ("bad-checksum", {}, 1, 0, [-1]),
    ],
)
def test_payplatform_callbacks(
    payplatform: str,
    merchant: Merchant,
    outcome: str,
    body: dict[str, Any],
    copies: int,
    status: int,
    return_codes: list[int],
) -> None:
    open_pp_payment(payplatform, merchant, "TX-" + outcome)
    result = customer(payplatform, "TX-" + outcome, outcome, **body)
    txn = result["transaction"]
    assert txn["status"] == status
    expected = expected_callback(txn, amount=body.get("amount"))
    if outcome == "bad-checksum":
        [received] = merchant.received
        assert received["body"]["check_sum"] != expected["check_sum"]
        expected["check_sum"] = received["body"]["check_sum"]
    assert merchant.received == [{"kind": "paymentconfirm", "body": expected}] * copies
    assert [d["attempts"][-1]["answer"]["return_code"] for d in result["deliveries"]] == return_codes
    assert all(len(d["attempts"]) == 1 for d in result["deliveries"])


def test_payplatform_silent_then_detail(payplatform: str, merchant: Merchant) -> None:
    open_pp_payment(payplatform, merchant, "TX-SILENT", 70000)
    assert detail(payplatform, "TX-SILENT")["data"]["status"] == 1
    customer(payplatform, "TX-SILENT", "silent")
    assert merchant.received == []
    answer = detail(payplatform, "TX-SILENT")
    assert answer["error"] == "0"
    data = answer["data"]
    assert (data["status"], data["trans_amount"]) == (0, 70000)
    assert data["check_sum"] == hmac256(f"0|{CLIENT}|PAY|70000|TX-SILENT|3.0", KEY2)
    assert detail(payplatform, "TX-NONE")["error"] == "05"
    bad = {"client_id": CLIENT, "transaction_id": "TX-SILENT", "command": "PAY", "check_sum": "00"}
    assert httpx.post(payplatform + "/api/transaction/detail", json=bad).json()["error"] == "02"


def test_payplatform_retries_callback(payplatform: str, merchant: Merchant) -> None:
    open_pp_payment(payplatform, merchant, "TX-RETRY")
    merchant.scripted = [(503, {"error": "busy"})]
    result = customer(payplatform, "TX-RETRY", "pay")
    assert len(merchant.received) == 2
    assert [a["status"] for a in result["deliveries"][0]["attempts"]] == [503, 200]
    assert result["deliveries"][0]["state"] == "answered"


def test_admin_problems(payplatform: str, vnpay: str, merchant: Merchant) -> None:
    missing = httpx.post(payplatform + "/_sim/transactions/TX-NOPE/pay", json={})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["type"] == "/problems/not-found"
    open_vnpay_payment(vnpay, merchant, "HS-ADMIN")
    assert httpx.post(vnpay + "/_sim/transactions/HS-ADMIN/explode", json={}).status_code == 404
    bad = httpx.post(vnpay + "/_sim/transactions/HS-ADMIN/fail", json={"response_code": "00"})
    assert bad.status_code == 400
    assert merchant.received == []


def test_cli_config_uses_development_credentials() -> None:
    import argparse

    args = argparse.Namespace(
        gateway="payplatform", callback_url="http://127.0.0.1:9/hub", retry_attempts=2, retry_interval=1.0
    )
    config = build_config(args)
    assert isinstance(config, PayPlatformConfig)
    client = config.clients[0]
    assert client.key1.get_secret_value().startswith("DEV-ONLY-")
    assert client.callback_url == "http://127.0.0.1:9/hub/paymentconfirm"
    vnpay_config = build_config(argparse.Namespace(**{**vars(args), "gateway": "vnpay"}))
    assert isinstance(vnpay_config, VnpayConfig)
    assert vnpay_config.merchants[0].ipn_url == "http://127.0.0.1:9/hub"
