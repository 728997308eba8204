"""Fee payments end to end: an agency's payment.request through a real hub to the running gateway
simulators, the gateways' callbacks back into the hub's callback doors, and the payment.confirmation the
agency system receives by webhook (agency simulator) — for both gateways.

Each scenario states the exact answer the hub gave the gateway (as the gateway simulator recorded it)
and the exact messages the agency received. Refused callbacks are checked in the ledger at the moment
the gateway has its answer (the doors answer only after recording), so "no message" needs no waiting.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from cryptography import x509

from adapters.agency.simulator import create_app as create_agency_simulator
from adapters.bank.simulator import create_app as create_gateway
from adapters.bank.simulator.config import (
    DEV_PAYPLATFORM_CLIENT_ID,
    DEV_PAYPLATFORM_KEY1,
    DEV_PAYPLATFORM_KEY2,
    DEV_VNPAY_HASH_SECRET,
    DEV_VNPAY_TMN_CODE,
    PayPlatformConfig,
    RetryPolicy,
    VnpayConfig,
)
from hub.servers import RunningServer, run_in_thread
from tests.deliverytest import make_config, wait_for
from tests.hubtest import DEV_CERTS, RunningHub, running_hub
from tests.independent_verify import verify_detached_jws_independently
from tests.test_console_pages import login
from tests.test_intake_api import json_example

AGENCY = "000.01.02.H41"
GATEWAYS = {"vnpay": "bank.vnpay", "payplatform": "bank.payplatform"}
GMT7 = timezone(timedelta(hours=7))
FAST_CALLBACK_RETRY = RetryPolicy(max_attempts=3, interval_seconds=0.2, timeout_seconds=10)
VNPAY_ANSWERS = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid checksum",
}


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


@pytest.fixture(scope="module")
def gateways() -> Iterator[dict[str, RunningServer]]:
    vnpay = run_in_thread(create_gateway(VnpayConfig(retry=FAST_CALLBACK_RETRY)))
    platform = run_in_thread(create_gateway(PayPlatformConfig(retry=FAST_CALLBACK_RETRY)))
    try:
        yield {"vnpay": vnpay, "payplatform": platform}
    finally:
        vnpay.stop()
        platform.stop()


def bank_options(gateways: dict[str, RunningServer], **overrides: Any) -> dict[str, Any]:
    vnpay, platform = gateways["vnpay"].base_url, gateways["payplatform"].base_url
    return {
        "retry": {"max_attempts": 6, "initial_delay_seconds": 0.2, "multiplier": 1.5, "max_delay_seconds": 1},
        "timeout_seconds": 5,
        "vnpay": {
            "payment_url": f"{vnpay}/paymentv2/vpcpay.html",
            "api_url": f"{vnpay}/merchant_webapi/api/transaction",
            "return_url": "https://dichvucong.example/payment-return",
            "tmn_code": f"dev:{DEV_VNPAY_TMN_CODE}",
            "hash_secret": f"dev:{DEV_VNPAY_HASH_SECRET}",
        },
        "payplatform": {
            "base_url": platform,
            "return_url": "https://dichvucong.example/payment-return",
            "client_id": f"dev:{DEV_PAYPLATFORM_CLIENT_ID}",
            "key1": f"dev:{DEV_PAYPLATFORM_KEY1}",
            "key2": f"dev:{DEV_PAYPLATFORM_KEY2}",
        },
        **overrides,
    }


@pytest.fixture(scope="module")
def hub(
    agency_sim: RunningServer, gateways: dict[str, RunningServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """The hub the gateways call back; its status poller waits long enough never to race a callback."""
    base = tmp_path_factory.mktemp("bank-hub")
    config = make_config(
        base / "config",
        webhook_base=agency_sim.base_url,
        adapters={"bank": bank_options(gateways, query_after_seconds=600)},
    )
    with running_hub(base, config_dir=config, workers=2, poll_interval_seconds=0.1) as running:
        vnpay = gateways["vnpay"].server.config.app.state.simulator
        platform = gateways["payplatform"].server.config.app.state.simulator
        vnpay.config.merchants[0].ipn_url = f"{running.url}/adapters/bank/vnpay/ipn"
        platform.config.clients[0].merchant_url = f"{running.url}/adapters/bank/payplatform"
        yield running


@pytest.fixture(scope="module")
def polling_hub(
    agency_sim: RunningServer, gateways: dict[str, RunningServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """A hub that queries the gateways about payments without a callback after 0.3 s."""
    base = tmp_path_factory.mktemp("bank-polling-hub")
    options = bank_options(
        gateways, query_after_seconds=0.3, query_interval_seconds=0.1, expire_grace_seconds=0
    )
    config = make_config(base / "config", webhook_base=agency_sim.base_url, adapters={"bank": options})
    with running_hub(base, config_dir=config, workers=2, poll_interval_seconds=0.1) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_faults(gateways: dict[str, RunningServer]) -> Iterator[None]:
    yield
    for server in gateways.values():
        httpx.post(f"{server.base_url}/_sim/faults", json={}).raise_for_status()


# -- helpers -------------------------------------------------------------------------------------------
class Payment:
    """One payment.request sent by the agency, and what became of it."""

    def __init__(self, hub: RunningHub, gateway: str, **changes: Any) -> None:
        self.hub, self.gateway = hub, gateway
        body = json.loads(json_example("payment.request", recipients=[GATEWAYS[gateway]]))
        body.pop("expires_at", None)
        body.update(changes)
        self.body = body
        self.dossier = body["dossier_number"]
        response = hub.post(json.dumps(body).encode(), as_=AGENCY, content_type="application/json")
        assert response.status_code == 202, response.text
        self.message_id = response.json()["id"]
        self.reference = self.message_id.replace("-", "")

    def message(self) -> dict[str, Any]:
        return self.hub.get(f"/v1/messages/{self.message_id}", as_=AGENCY).json()

    def delivered(self) -> tuple[str, str]:
        """(peer reference, payment URL) once the gateway has the payment."""
        message = wait_for(
            lambda: (m := self.message())["deliveries"][0]["state"] == "delivered" and m,
            what=f"the payment request {self.message_id} to reach {self.gateway}",
        )
        (event,) = [e for e in message["events"] if e["kind"] == "delivery.delivered"]
        return message["deliveries"][0]["peer_reference"], event["data"]["detail"]

    def open_payment_page(self) -> str:
        """The citizen's browser opens the payment URL (VNPAY registers the payment only then)."""
        reference, url = self.delivered()
        assert httpx.get(url).status_code == 200
        return reference

    def play(self, gateways: dict[str, RunningServer], outcome: str, **body: Any) -> list[Any]:
        """Play the citizen at the gateway; the answers the hub gave to each callback, in order."""
        response = httpx.post(
            f"{gateways[self.gateway].base_url}/_sim/transactions/{self.reference}/{outcome}",
            json={"wait": True, **body},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        deliveries = response.json()["deliveries"]
        assert all(d["state"] == "answered" for d in deliveries), deliveries
        return [attempt["answer"] for d in deliveries for attempt in d["attempts"]]

    def timeline_types(self) -> list[str]:
        timeline = self.hub.get(f"/v1/timeline/{self.dossier}", as_=AGENCY).json()
        return [m["type"] for m in timeline["messages"]]

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.message()["events"] if e["kind"] == kind]


def vnpay_answer(code: str) -> dict[str, str]:
    return {"RspCode": code, "Message": VNPAY_ANSWERS[code]}


def received(agency_sim: RunningServer, dossier: str) -> list[dict[str, Any]]:
    """The payment.confirmation documents the agency system received about `dossier` (repeats included)."""
    items = httpx.get(f"{agency_sim.base_url}/_sim/received", params={"participant": AGENCY}).json()["items"]
    found = []
    for item in items:
        document = json.loads(item["body_text"])
        if document.get("type") == "payment.confirmation" and document["dossier_number"] == dossier:
            found.append({**item, "document": document})
    return found


def one_confirmation(agency_sim: RunningServer, payment: Payment) -> dict[str, Any]:
    wait_for(lambda: received(agency_sim, payment.dossier), what=f"a confirmation for {payment.dossier}")
    (item,) = received(agency_sim, payment.dossier)
    assert payment.timeline_types().count("payment.confirmation") == 1
    return item


def hub_certificate() -> x509.Certificate:
    return x509.load_pem_x509_certificate((DEV_CERTS / "hub.crt").read_bytes())


# -- callbacks -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("gateway", ["vnpay", "payplatform"])
def test_paid_gives_the_agency_one_signed_confirmation(
    hub: RunningHub, gateways: dict[str, RunningServer], agency_sim: RunningServer, gateway: str
) -> None:
    payment = Payment(hub, gateway)
    reference = payment.open_payment_page()
    answers = payment.play(gateways, "pay")
    if gateway == "vnpay":
        assert reference == payment.reference
        assert answers == [vnpay_answer("00")]
    else:
        assert reference.startswith("KP")
        assert answers == [{"return_code": 0, "return_msg": "success"}]

    item = one_confirmation(agency_sim, payment)
    document = item["document"]
    assert {k: v for k, v in document.items() if k not in ("paid_at", "gateway_response")} == {
        "type": "payment.confirmation",
        "sender": GATEWAYS[gateway],
        "recipients": [AGENCY],
        "dossier_number": payment.dossier,
        "request_id": payment.body["request_id"],
        "gateway": gateway,
        "transaction_ref": reference,
        "amount": 205000,
        "currency": "VND",
        "status": "paid",
    }
    assert datetime.fromisoformat(document["paid_at"]).tzinfo is not None
    if gateway == "vnpay":
        assert document["gateway_response"]["vnp_Amount"] == "20500000"
        assert document["gateway_response"]["vnp_ResponseCode"] == "00"
    else:
        assert document["gateway_response"]["status"] == 0
    headers = {k.lower(): v for k, v in item["headers"].items()}
    body = item["body_text"].encode()
    assert verify_detached_jws_independently(body, headers["x-jws-signature"], hub_certificate())
    assert payment.timeline_types() == ["payment.request", "payment.confirmation"]


@pytest.mark.parametrize(
    ("gateway", "play", "expected_answer"),
    [
        ("vnpay", {"response_code": "24"}, vnpay_answer("00")),
        ("payplatform", {"status": 2}, {"return_code": 0, "return_msg": "success"}),
    ],
)
def test_failed_gives_a_failed_confirmation(
    hub: RunningHub,
    gateways: dict[str, RunningServer],
    agency_sim: RunningServer,
    gateway: str,
    play: dict[str, Any],
    expected_answer: dict[str, Any],
) -> None:
    payment = Payment(hub, gateway)
    payment.open_payment_page()
    assert payment.play(gateways, "fail", **play) == [expected_answer]
    document = one_confirmation(agency_sim, payment)["document"]
    assert document["status"] == "failed" and "paid_at" not in document and document["amount"] == 205000
    if gateway == "vnpay":
        assert document["gateway_response"]["vnp_ResponseCode"] == "24"


@pytest.mark.parametrize(
    ("gateway", "expected_answers"),
    [
        ("vnpay", [vnpay_answer("00"), vnpay_answer("02")]),
        (
            "payplatform",
            [
                {"return_code": 0, "return_msg": "success"},
                {"return_code": 0, "return_msg": "already confirmed"},
            ],
        ),
    ],
)
def test_a_repeated_callback_never_makes_a_second_confirmation(
    hub: RunningHub,
    gateways: dict[str, RunningServer],
    agency_sim: RunningServer,
    gateway: str,
    expected_answers: list[Any],
) -> None:
    payment = Payment(hub, gateway)
    payment.open_payment_page()
    assert payment.play(gateways, "duplicate") == expected_answers
    item = one_confirmation(agency_sim, payment)
    confirmation = hub.get(f"/v1/messages/{item['message_id']}", as_=AGENCY).json()
    # the hub knew the payment was confirmed: the repeat was answered without a second submission
    assert [e["kind"] for e in confirmation["events"]].count("message.duplicate") == 0


@pytest.mark.parametrize(
    ("gateway", "outcome", "expected_answer", "reason"),
    [
        (
            "vnpay",
            "wrong-amount",
            vnpay_answer("04"),
            "amount '20600000' (×100) is not the requested 205000 VND",
        ),
        ("vnpay", "bad-checksum", vnpay_answer("97"), "invalid checksum"),
        (
            "payplatform",
            "wrong-amount",
            {"return_code": -1, "return_msg": "amount 206000 is not the requested 205000 VND"},
            "amount 206000 is not the requested 205000 VND",
        ),
        (
            "payplatform",
            "bad-checksum",
            {"return_code": -1, "return_msg": "invalid check_sum"},
            "invalid check_sum",
        ),
    ],
)
def test_a_forged_or_mismatched_callback_makes_no_message_and_is_recorded(
    hub: RunningHub,
    gateways: dict[str, RunningServer],
    agency_sim: RunningServer,
    gateway: str,
    outcome: str,
    expected_answer: dict[str, Any],
    reason: str,
) -> None:
    payment = Payment(hub, gateway)
    payment.open_payment_page()
    body = {"amount": 20600000 if gateway == "vnpay" else 206000} if outcome == "wrong-amount" else {}
    assert payment.play(gateways, outcome, **body) == [expected_answer]
    assert payment.timeline_types() == ["payment.request"]
    (refused,) = payment.events("adapter.callback-refused")
    assert refused["adapter"] == "bank" and refused["gateway"] == gateway and refused["reason"] == reason
    assert refused["answer"] == expected_answer and refused["reference"] == payment.reference
    assert received(agency_sim, payment.dossier) == []


def test_an_ipn_for_an_unknown_order_is_answered_01(
    hub: RunningHub, gateways: dict[str, RunningServer]
) -> None:
    from adapters.bank.simulator.vnpay_protocol import sign_params

    params = {
        "vnp_Amount": "100000",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": DEV_VNPAY_TMN_CODE,
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": uuid.uuid4().hex,
    }
    params["vnp_SecureHash"] = sign_params(params, DEV_VNPAY_HASH_SECRET)
    response = hub.client.get("/adapters/bank/vnpay/ipn", params=params)
    assert response.status_code == 200 and response.json() == vnpay_answer("01")
    forged = {**params, "vnp_Amount": "200000"}
    assert hub.client.get("/adapters/bank/vnpay/ipn", params=forged).json() == vnpay_answer("97")


def test_a_request_whose_amount_is_not_the_sum_of_its_fees_goes_dead(hub: RunningHub) -> None:
    payment = Payment(hub, "vnpay", amount=205001)
    wait_for(
        lambda: payment.message()["deliveries"][0]["state"] == "dead", what="the mis-summed request to die"
    )
    delivery = payment.message()["deliveries"][0]
    assert (
        delivery["attempts"] == 1
        and "amount 205001 is not the sum of the fees (205000)" in delivery["last_error"]
    )


def test_a_down_gateway_delays_the_request_until_it_is_up(
    hub: RunningHub, gateways: dict[str, RunningServer]
) -> None:
    httpx.post(f"{gateways['payplatform'].base_url}/_sim/faults", json={"fail_next": 2}).raise_for_status()
    payment = Payment(hub, "payplatform")
    reference, url = payment.delivered()
    assert reference.startswith("KP") and url.endswith(f"/pay/{reference}")
    delivery = payment.message()["deliveries"][0]
    assert delivery["attempts"] == 3
    assert [e["error"] for e in payment.events("delivery.retrying")] == [
        f"payplatform: HTTP 503 from {gateways['payplatform'].base_url}/api/transaction/create"
    ] * 2


# -- missing callbacks: the status poller ----------------------------------------------------------------
@pytest.mark.parametrize("gateway", ["vnpay", "payplatform"])
def test_a_payment_without_callback_is_resolved_by_a_status_query(
    polling_hub: RunningHub, gateways: dict[str, RunningServer], agency_sim: RunningServer, gateway: str
) -> None:
    payment = Payment(polling_hub, gateway)
    payment.open_payment_page()
    assert payment.play(gateways, "silent") == []
    document = one_confirmation(agency_sim, payment)["document"]
    assert document["status"] == "paid" and document["amount"] == 205000
    state = httpx.get(f"{gateways[gateway].base_url}/_sim/state").json()
    queries = [
        q for q in state["queries"] if payment.reference in (q.get("txn_ref"), q.get("transaction_id"))
    ]
    assert queries
    if gateway == "vnpay":
        assert (
            document["gateway_response"]["vnp_TransactionStatus"] == "00"
            and "vnp_ResponseId" in (document["gateway_response"])
        )


@pytest.mark.parametrize("gateway", ["vnpay", "payplatform"])
def test_a_payment_never_made_is_expired_after_its_expiry(
    polling_hub: RunningHub, gateways: dict[str, RunningServer], agency_sim: RunningServer, gateway: str
) -> None:
    expires = datetime.now(GMT7) + timedelta(seconds=2)
    payment = Payment(polling_hub, gateway, expires_at=expires.isoformat())
    payment.delivered()  # VNPAY: the citizen never even opens the page, the gateway does not know it
    document = one_confirmation(agency_sim, payment)["document"]
    assert document["status"] == "expired" and "paid_at" not in document  # not a declined card
    if gateway == "vnpay":
        assert document["gateway_response"] == {"vnp_ResponseCode": "91"}
    else:
        assert document["gateway_response"]["status"] == 1  # still pending at the platform
    # The operators are told once: an open alert on the console, naming the dossier and the agency.
    time.sleep(0.5)  # several more polls: the expiry is not raised again
    (alert,) = expired_alerts(polling_hub, payment)
    assert alert.data["condition"] == f"bank:{gateway}/{payment.reference}"
    assert alert.data["dossier_number"] == payment.dossier and alert.data["agency"] == AGENCY
    assert alert.data["amount"] == 205000 and alert.data["expires_at"] == payment.body["expires_at"]
    console = login(polling_hub)
    row = console.get("/console/alerts").text.split(f'data-testid="alert-{alert.id}"')[1].split("</tr>")[0]
    assert 'data-status="open"' in row and "Yêu cầu thanh toán đã hết hạn" in row and payment.dossier in row
    console.get("/console/lang/en", params={"next": "/console/alerts"})
    assert "Payment request expired" in console.get("/console/alerts").text


def expired_alerts(hub: RunningHub, payment: Payment) -> list[Any]:
    """The alert.payment-expired events the hub recorded about `payment`."""
    found = hub.app.state.hub.ledger.events_of_kinds(["alert.payment-expired"], limit=500)
    return [e for e in found if e.message_id == payment.message_id]


def test_a_down_gateway_at_query_time_is_recorded_then_resolved(
    polling_hub: RunningHub, gateways: dict[str, RunningServer], agency_sim: RunningServer
) -> None:
    payment = Payment(polling_hub, "vnpay")
    payment.open_payment_page()
    httpx.post(f"{gateways['vnpay'].base_url}/_sim/faults", json={"down": True}).raise_for_status()
    assert payment.play(gateways, "silent") == []
    failures = wait_for(
        lambda: payment.events("adapter.status-query-failed"), what="the failed query evidence"
    )
    assert (
        failures[0]["reason"].startswith("HTTP 503 from ") and failures[0]["reference"] == payment.reference
    )
    assert payment.timeline_types() == ["payment.request"]
    httpx.post(f"{gateways['vnpay'].base_url}/_sim/faults", json={}).raise_for_status()
    assert one_confirmation(agency_sim, payment)["document"]["status"] == "paid"
    assert len(payment.events("adapter.status-query-failed")) == 1  # once per spell, not once per poll
