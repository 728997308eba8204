"""Money safety of fee payments, end to end through a real hub, the gateway simulators and the agency
simulator (docs/adapters/bank.md, "The money rules"):

* a callback is a hint: a payment platform callback whose (status-less) checksum is replayed with
  status 0 is refused when the platform's transaction detail says otherwise;
* a request names exactly one gateway;
* a second successful payment is ``duplicate-payment``, a payment after expiry ``late-payment``, each with
  an alert on the console; never a second ``paid``;
* a confirmation carries only fields the gateway signed; nothing derived from a gateway secret leaves
  the hub (confirmations, evidence, log lines);
* IPNs the npm ``vnpay`` package signs are accepted, even with ``*`` in the order info.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import httpx
import pytest

from adapters.bank.simulator.config import (
    DEV_PAYPLATFORM_CLIENT_ID,
    DEV_PAYPLATFORM_KEY2,
    DEV_VNPAY_HASH_SECRET,
    DEV_VNPAY_TMN_CODE,
)
from hub.logging import make_handler
from hub.servers import RunningServer
from tests.deliverytest import wait_for
from tests.hubtest import RunningHub
from tests.test_bank_e2e import (  # noqa: F401 - the fixtures are used by name
    AGENCY,
    GMT7,
    Payment,
    agency_sim,
    clean_faults,
    gateways,
    hub,
    polling_hub,
    received,
    vnpay_answer,
)
from tests.test_console_pages import login
from tests.test_intake_api import json_example
from tests.vnpay_oracle import vnpay_npm

#: The IPN fields VNPAY signs, as the contract names them (docs/adapters/bank.md).
VNPAY_SIGNED = {
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
}
PLATFORM_SIGNED = {
    "transaction_id",
    "transaction_code",
    "trans_amount",
    "addition_fee",
    "command",
    "version",
    "status",
    "paid_at",
}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every line logged in this process (hub, adapter, libraries), as the hub's log handler writes it."""
    lines = io.StringIO()
    handler, root = make_handler("json", lines), logging.getLogger()
    level, root.level = root.level, logging.DEBUG
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def statuses(agency_sim: RunningServer, payment: Payment) -> list[str]:  # noqa: F811
    return [item["document"]["status"] for item in received(agency_sim, payment.dossier)]


def platform_checksum(reference: str, amount: int = 205000) -> str:
    """The callback check_sum of a transaction: the same whatever the status (it does not cover it)."""
    data = f"0|{DEV_PAYPLATFORM_CLIENT_ID}|PAY|{amount}|{reference}|3.0"
    return hmac.new(DEV_PAYPLATFORM_KEY2.encode(), data.encode(), hashlib.sha256).hexdigest()


def events(hub: RunningHub, kind: str) -> list[Any]:  # noqa: F811
    return hub.app.state.hub.ledger.events_of_kinds([kind], limit=500)


def paid_callback(payment: Payment) -> dict[str, object]:
    """The platform's paymentconfirm body saying `payment` (205,000 VND) is paid, with its true
    checksum (which does not cover the status)."""
    return {
        "client_id": DEV_PAYPLATFORM_CLIENT_ID,
        "transaction_id": payment.reference,
        "trans_amount": 205000,
        "addition_fee": 0,
        "command": "PAY",
        "version": "3.0",
        "status": 0,
        "check_sum": platform_checksum(payment.reference),
    }


# -- a callback is a hint --------------------------------------------------------------------------------
def test_a_platform_callback_claiming_paid_is_refused_when_the_detail_query_says_pending(
    hub: RunningHub,  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "payplatform")
    payment.delivered()
    forged = paid_callback(payment)
    answer = httpx.post(f"{hub.url}/adapters/bank/payplatform/paymentconfirm", json=forged).json()
    assert answer == {"return_code": -1, "return_msg": "the transaction detail says pending, not paid"}
    (refused,) = [
        e.data for e in events(hub, "adapter.callback-refused") if e.message_id == payment.message_id
    ]
    assert refused["reason"] == "callback says paid; the platform's transaction detail says pending"
    assert refused["query_answer"]["status"] == "pending"
    assert refused["callback"]["check_sum"] == "(withheld: derived from the gateway secret)"
    assert statuses(agency_sim, payment) == []


def test_a_failed_platform_payment_cannot_be_turned_into_paid_by_replaying_its_checksum(
    hub: RunningHub,  # noqa: F811
    gateways: dict[str, RunningServer],  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "payplatform")
    payment.open_payment_page()
    assert payment.play(gateways, "fail", status=2) == [{"return_code": 0, "return_msg": "success"}]
    wait_for(lambda: statuses(agency_sim, payment) == ["failed"], what="the failed confirmation")
    (failed,) = received(agency_sim, payment.dossier)
    assert "check_sum" not in failed["body_text"]  # the leak of the issue: gone
    assert set(failed["document"]["gateway_response"]) <= PLATFORM_SIGNED
    replay = paid_callback(payment)
    answer = httpx.post(f"{hub.url}/adapters/bank/payplatform/paymentconfirm", json=replay).json()
    assert answer == {"return_code": -1, "return_msg": "the transaction detail says failed, not paid"}
    assert statuses(agency_sim, payment) == ["failed"]


def test_a_platform_callback_is_answered_try_again_while_the_detail_query_fails(
    hub: RunningHub,  # noqa: F811
    gateways: dict[str, RunningServer],  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "payplatform")
    payment.open_payment_page()
    httpx.post(f"{gateways['payplatform'].base_url}/_sim/faults", json={"fail_next": 1}).raise_for_status()
    answers = payment.play(gateways, "pay")
    assert answers == [
        {"return_code": -99, "return_msg": "temporary error; send again"},  # HTTP 503: not decided
        {"return_code": 0, "return_msg": "success"},  # the platform's repeat, the detail query answered
    ]
    wait_for(lambda: statuses(agency_sim, payment) == ["paid"], what="the paid confirmation")


# -- one fee, one gateway, one paid ----------------------------------------------------------------------
def test_a_payment_request_naming_two_gateways_is_refused_at_intake(hub: RunningHub) -> None:  # noqa: F811
    document = json.loads(json_example("payment.request"))
    document["recipients"] = ["bank.vnpay", "bank.payplatform"]
    response = hub.post(json.dumps(document).encode(), as_=AGENCY, content_type="application/json")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/problems/too-many-recipients")
    assert "bank.vnpay, bank.payplatform" in problem["detail"]


def test_a_second_payment_of_a_paid_fee_is_a_duplicate_payment_with_an_alert_on_the_console(
    hub: RunningHub,  # noqa: F811
    gateways: dict[str, RunningServer],  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "vnpay")
    payment.open_payment_page()
    assert payment.play(gateways, "pay") == [vnpay_answer("00")]
    assert payment.play(gateways, "pay-again") == [vnpay_answer("00")]
    wait_for(lambda: len(statuses(agency_sim, payment)) == 2, what="two confirmations")
    assert sorted(statuses(agency_sim, payment)) == ["duplicate-payment", "paid"]
    documents = {
        item["document"]["status"]: item["document"] for item in received(agency_sim, payment.dossier)
    }
    duplicate = documents["duplicate-payment"]
    assert duplicate["payment_no"] == duplicate["gateway_response"]["vnp_TransactionNo"]
    assert duplicate["payment_no"] != documents["paid"]["gateway_response"]["vnp_TransactionNo"]
    (alert,) = [e for e in events(hub, "alert.payment-duplicate") if e.message_id == payment.message_id]
    assert alert.data["adapter"] == "bank" and alert.data["amount"] == 205000
    page = login(hub).get("/console/alerts")
    assert (
        page.status_code == 200 and "alert.payment-duplicate" in page.text and payment.reference in page.text
    )


def test_a_payment_after_the_request_expired_is_a_late_payment_with_an_alert(
    polling_hub: RunningHub,  # noqa: F811
    gateways: dict[str, RunningServer],  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    expires = datetime.now(GMT7) + timedelta(seconds=2)
    payment = Payment(polling_hub, "vnpay", expires_at=expires.isoformat())
    payment.open_payment_page()
    wait_for(
        lambda: statuses(agency_sim, payment) == ["expired"], what="the expired confirmation", timeout=15
    )
    merchant = gateways["vnpay"].server.config.app.state.simulator.config.merchants[0]
    ipn_url, merchant.ipn_url = merchant.ipn_url, f"{polling_hub.url}/adapters/bank/vnpay/ipn"
    try:
        assert payment.play(gateways, "pay") == [vnpay_answer("00")]
    finally:
        merchant.ipn_url = ipn_url
    (expired,) = [
        e for e in events(polling_hub, "alert.payment-expired") if e.message_id == payment.message_id
    ]
    wait_for(lambda: len(statuses(agency_sim, payment)) == 2, what="the late payment")
    assert statuses(agency_sim, payment) == ["expired", "late-payment"]
    assert [e for e in events(polling_hub, "alert.payment-late") if e.message_id == payment.message_id]
    # the fee came after all: the expiry alert resolves (once), the late payment's is the one to act on
    (resolved,) = [e for e in events(polling_hub, "alert-resolved") if e.data["raised_event"] == expired.id]
    assert resolved.data["alert"] == "alert.payment-expired" and resolved.data["reason"] == "paid late"
    row = login(polling_hub).get("/console/alerts").text.split(f'data-testid="alert-{expired.id}"')[1]
    assert 'data-status="resolved"' in row.split("</tr>")[0]


def successful_ipn(payment: Payment, transaction_no: str, order_info: str) -> dict[str, str]:
    """The fields of VNPAY's IPN for a successful payment of `payment` (205,000 VND), not yet signed."""
    return {
        "vnp_Amount": "20500000",
        "vnp_OrderInfo": order_info,
        "vnp_PayDate": datetime.now(GMT7).strftime("%Y%m%d%H%M%S"),
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": DEV_VNPAY_TMN_CODE,
        "vnp_TransactionNo": transaction_no,
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": payment.reference,
    }


def npm_signed_ipn(ipn: dict[str, str]) -> dict[str, Any]:
    """`ipn` signed by the npm `vnpay` library with the development merchant's secret."""
    return vnpay_npm("sign-ipn", tmn_code=DEV_VNPAY_TMN_CODE, secret=DEV_VNPAY_HASH_SECRET, params=ipn)


def test_twenty_concurrent_identical_ipns_confirm_once(
    hub: RunningHub,  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "vnpay")
    payment.delivered()
    ipn = successful_ipn(payment, "88880003", "Le phi ho so")
    signed = npm_signed_ipn(ipn)
    url = f"{hub.url}/adapters/bank/vnpay/ipn?{signed['query']}"
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, timeout=30).json()["RspCode"], range(20)))
    assert sorted(answers) == ["00"] + ["02"] * 19
    wait_for(lambda: statuses(agency_sim, payment) == ["paid"], what="the paid confirmation")
    assert payment.timeline_types().count("payment.confirmation") == 1


# -- only signed fields; no secret-derived value anywhere ------------------------------------------------
def test_unsigned_ipn_parameters_never_reach_the_signed_confirmation(
    hub: RunningHub,  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "vnpay")
    _, url = payment.delivered()
    sent = dict(parse_qsl(urlsplit(url).query))
    ipn = {
        "vnp_Amount": sent["vnp_Amount"],
        "vnp_BankCode": "NCB",
        "vnp_OrderInfo": sent["vnp_OrderInfo"],
        "vnp_PayDate": datetime.now(GMT7).strftime("%Y%m%d%H%M%S"),
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": DEV_VNPAY_TMN_CODE,
        "vnp_TransactionNo": "88880001",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": payment.reference,
        "vnp_Surprise": "signed but not a field VNPAY defines",
    }
    signed = npm_signed_ipn(ipn)
    query = signed["query"] + "&extra=unsigned&note=added+on+the+way"
    answer = httpx.get(f"{hub.url}/adapters/bank/vnpay/ipn?{query}").json()
    assert answer == vnpay_answer("00")
    wait_for(lambda: statuses(agency_sim, payment) == ["paid"], what="the paid confirmation")
    (item,) = received(agency_sim, payment.dossier)
    assert set(item["document"]["gateway_response"]) == VNPAY_SIGNED - {"vnp_BankTranNo", "vnp_CardType"}


def test_an_ipn_signed_by_npm_vnpay_with_a_star_in_the_order_info_is_accepted(
    hub: RunningHub,  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "vnpay")
    payment.delivered()
    # '*' and '~': the encodings disagree on both
    ipn = successful_ipn(payment, "88880002", "Le phi *ho so* ~ban sao~")
    signed = npm_signed_ipn(ipn)
    assert "%2A" not in signed["query"] and "*" in signed["query"]  # the npm library keeps '*'
    assert httpx.get(f"{hub.url}/adapters/bank/vnpay/ipn?{signed['query']}").json() == vnpay_answer("00")


def test_an_ipn_hashed_as_vnpay_python_sample_does_with_quote_plus_is_accepted(
    hub: RunningHub,  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
) -> None:
    payment = Payment(hub, "vnpay")
    payment.delivered()
    ipn = successful_ipn(payment, "88880004", "Le phi *ho so* ~ban sao~")
    data = "&".join(f"{k}={quote_plus(v)}" for k, v in sorted(ipn.items()))  # '*' -> %2A, '~' kept
    assert "%2A" in data and "~" in data
    digest = hmac.new(DEV_VNPAY_HASH_SECRET.encode(), data.encode(), hashlib.sha512).hexdigest()
    answer = httpx.get(f"{hub.url}/adapters/bank/vnpay/ipn?{data}&vnp_SecureHash={digest}").json()
    assert answer == vnpay_answer("00")
    wait_for(lambda: statuses(agency_sim, payment) == ["paid"], what="the paid confirmation")


def test_no_secret_derived_value_leaves_the_hub(
    hub: RunningHub,  # noqa: F811
    gateways: dict[str, RunningServer],  # noqa: F811
    agency_sim: RunningServer,  # noqa: F811
    log_lines: io.StringIO,
) -> None:
    """Every checksum and secure hash the gateways sent (or the hub computed) in this module's bank
    scenarios, searched for in every confirmation the agency received, every ledger event and every
    captured log line."""
    for gateway, outcome in (
        ("vnpay", "pay"),
        ("vnpay", "fail"),
        ("payplatform", "pay"),
        ("payplatform", "fail"),
    ):
        payment = Payment(hub, gateway)
        payment.open_payment_page()
        payment.play(gateways, outcome)
    secrets: set[str] = set()
    for server in gateways.values():
        for delivery in server.server.config.app.state.simulator.outbox.snapshot():
            secrets.add((delivery.get("query") or {}).get("vnp_SecureHash", ""))
            secrets.add((delivery.get("body") or {}).get("check_sum", ""))
    secrets.discard("")
    assert len(secrets) >= 4
    ledger = hub.app.state.hub.ledger
    haystack = [
        json.dumps(e.data)
        for prefix in ("adapter.", "alert.", "message.", "delivery.")
        for e in ledger.events_of_kinds([], prefix=prefix, limit=5000)
    ]
    items = httpx.get(f"{agency_sim.base_url}/_sim/received", params={"participant": AGENCY}).json()["items"]
    haystack += [item["body_text"] for item in items]
    haystack += log_lines.getvalue().splitlines()
    assert len(haystack) > 100
    leaks = [text[:300] for s in secrets for text in haystack if s.lower() in text.lower()]
    assert leaks == []


def test_the_access_log_line_of_an_ipn_withholds_its_secure_hash() -> None:
    """``lienthong serve`` logs every request (uvicorn's access log): an IPN's query string has the hash."""
    lines = io.StringIO()
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "10.0.0.1:5000",
            "GET",
            "/adapters/bank/vnpay/ipn?vnp_Amount=100&vnp_SecureHash=9f8e7d&b=1",
            "1.1",
            200,
        ),
        None,
    )
    make_handler("text", lines).handle(access)
    assert "9f8e7d" not in lines.getvalue()
    assert "vnp_Amount=100&vnp_SecureHash=(withheld)&b=1" in lines.getvalue()
