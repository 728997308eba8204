"""The post_ems adapter through the adapter contract, against the running VNPost simulator, with an
in-memory HubServices; and its mapping without I/O."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import jsonschema_rs
import pytest

from adapters.post_ems import (
    ClientOption,
    OrderRecord,
    OverduePoller,
    PostEmsAdapter,
    PostEmsOptions,
    TrackingPoller,
    due_alerts,
    event_key,
    interpret_answer,
    overdue_document,
    parse_order,
    tracking_document,
)
from adapters.post_ems.simulator import ClientCredentials, SimulatorConfig, create_app
from hub.problems import Problem
from hub.servers import RunningServer, run_in_thread
from hub.settings import PROJECT_ROOT
from hub.spi import (
    Delivered,
    OutboundMessage,
    PermanentFailure,
    RetryableFailure,
    SubmitResult,
)
from tests.deliverytest import wait_for
from tests.fakehub import InMemoryHub

AGENCY = "000.01.02.H41"
OTHER_AGENCY = "000.00.00.H41"
CUSTOMER = "LIENTHONG"
SECOND = ClientCredentials(key="second-key", secret="second-secret", customer_code="SECOND")
EXAMPLE = json.loads((PROJECT_ROOT / "schemas" / "examples" / "ems.order.json").read_text("utf-8"))


# -- an in-memory hub ----------------------------------------------------------------------------------


@dataclass
class FakeHub(InMemoryHub):
    """HubServices in memory: state, events, and submits deduplicated like intake's natural key."""

    submitted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    duplicates: int = 0
    refuse: bool = False

    def submit(self, body: bytes, *, content_type: str, as_participant: str, **_: Any) -> SubmitResult:
        if self.refuse:
            raise Problem("schema-invalid", "refused for the test")
        document = json.loads(body)
        key = (as_participant, document["event"]["id"])
        if any((p, d["event"]["id"]) == key for p, d in self.submitted):
            self.duplicates += 1
            return SubmitResult(message_id="dup", duplicate=True, state="accepted")
        self.submitted.append((as_participant, document))
        return SubmitResult(message_id=str(uuid.uuid4()), duplicate=False, state="accepted")

    def tracking(self, dossier: str) -> list[dict[str, Any]]:
        return [d for _, d in self.submitted if d["dossier_number"] == dossier]


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vnpost() -> Iterator[RunningServer]:
    config = SimulatorConfig(
        time_scale=0, clients=[SimulatorConfig().clients[0], SECOND], token_ttl_seconds=3600
    )
    with run_in_thread(create_app(config)) as server:
        yield server


@pytest.fixture
def admin(vnpost: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=vnpost.base_url, timeout=10) as client:
        yield client
        client.post("/_sim/faults", json={"kind": "clear"})
        client.post("/_sim/faults", json={"kind": "up"})


def options_for(vnpost: RunningServer, **changes: Any) -> PostEmsOptions:
    clients = [
        ClientOption(customer_code=CUSTOMER, key="lienthong-dev", secret="dev:lienthong-dev-secret"),
        ClientOption(customer_code=SECOND.customer_code, key=SECOND.key, secret="env:POST_EMS_TEST_SECRET"),
    ]
    return PostEmsOptions(base_url=vnpost.base_url, clients=clients, timeout_seconds=1.0, **changes)


@pytest.fixture(autouse=True)
def second_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POST_EMS_TEST_SECRET", SECOND.secret)


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def adapter(vnpost: RunningServer, hub: FakeHub) -> Iterator[PostEmsAdapter]:
    made = PostEmsAdapter(options_for(vnpost), hub)
    yield made
    made.close()


def dossier() -> str:
    return f"{AGENCY}-{uuid.uuid4().hex[:12]}"


def order_document(number: str, *, flow: str = "return", action: str = "create", **order: Any) -> bytes:
    document = json.loads(json.dumps(EXAMPLE))
    document.update(dossier_number=number, flow=flow, action=action)
    document["order"].update({"CustomerCode": CUSTOMER, "OrderNumber": number, **order})
    if action == "cancel":
        document["order"] = {k: document["order"][k] for k in ("CustomerCode", "OrderNumber")}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def message(
    document: bytes, *, sender: str = AGENCY, attempt: int = 1, message_id: str | None = None
) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id or str(uuid.uuid4()),
        delivery_id=str(uuid.uuid4()),
        doctype="ems.order",
        sender=sender,
        recipient="vnpost",
        correlation_key=json.loads(document)["dossier_number"],
        document=document,
        content_type="application/json",
        signature="e30..sig",
        attempt=attempt,
    )


def sim_order(admin: httpx.Client, number: str, customer: str = CUSTOMER) -> dict[str, Any]:
    return admin.get(f"/_sim/orders/{customer}/{number}").json()


def advance(admin: httpx.Client, number: str, to: str | None = None) -> None:
    answer = admin.post(f"/_sim/orders/{CUSTOMER}/{number}/advance", json={"to": to} if to else None)
    assert answer.status_code == 200, answer.text


def tracker(adapter: PostEmsAdapter, customer: str = CUSTOMER) -> TrackingPoller:
    return next(p for p in adapter.pollers() if isinstance(p, TrackingPoller) and p.customer_code == customer)


def drain(adapter: PostEmsAdapter, customer: str = CUSTOMER) -> None:
    """Read the feed up to its end (events of other tests' orders are skipped as unknown or routed)."""
    while tracker(adapter, customer).poll_once():
        pass


# -- orders --------------------------------------------------------------------------------------------


def test_an_order_is_created_with_the_item_code_as_reference_and_remembered(
    adapter: PostEmsAdapter, admin: httpx.Client
) -> None:
    number = dossier()
    outbound = message(order_document(number))
    result = adapter.deliver(outbound)
    assert isinstance(result, Delivered)
    order = sim_order(admin, number)
    assert result.peer_reference == order["ItemCode"] and order["state"] == "accepted"
    assert order["order"]["ReceiverName"] == EXAMPLE["order"]["ReceiverName"]
    record = adapter.orders.get(CUSTOMER, number)
    assert record is not None
    assert (record.agency, record.flow, record.dossier_number) == (AGENCY, "return", number)
    assert record.item_code == order["ItemCode"] and record.message_id == outbound.message_id
    assert number in adapter.orders.watched(CUSTOMER)


def test_a_resend_never_creates_a_second_order(adapter: PostEmsAdapter, admin: httpx.Client) -> None:
    number = dossier()
    outbound = message(order_document(number))
    first = adapter.deliver(outbound)
    again = adapter.deliver(replace(outbound, attempt=2))
    assert isinstance(first, Delivered) and isinstance(again, Delivered)
    assert first.peer_reference == again.peer_reference
    assert sim_order(admin, number)["duplicate_requests"] == 1
    orders = [o for o in admin.get("/_sim/state").json()["orders"] if o["OrderNumber"] == number]
    assert len(orders) == 1 and len(orders[0]["history"]) == 1


def test_the_same_order_number_from_another_agency_is_refused(adapter: PostEmsAdapter) -> None:
    number = dossier()
    assert isinstance(adapter.deliver(message(order_document(number))), Delivered)
    result = adapter.deliver(message(order_document(number), sender=OTHER_AGENCY))
    assert isinstance(result, PermanentFailure) and AGENCY in result.reason
    cancel = adapter.deliver(message(order_document(number, action="cancel"), sender=OTHER_AGENCY))
    assert isinstance(cancel, PermanentFailure) and "may not cancel" in cancel.reason


def test_the_token_is_cached_then_renewed_after_expiry_mid_run(
    adapter: PostEmsAdapter, admin: httpx.Client
) -> None:
    for _ in range(3):
        assert isinstance(adapter.deliver(message(order_document(dossier()))), Delivered)
    assert adapter.client.token_requests == 1
    admin.post("/_sim/faults", json={"kind": "expire_tokens"})
    assert isinstance(adapter.deliver(message(order_document(dossier()))), Delivered)
    assert adapter.client.token_requests == 2
    admin.post("/_sim/clock", json={"advance_seconds": 4000})  # past the token's lifetime
    assert isinstance(adapter.deliver(message(order_document(dossier()))), Delivered)
    assert adapter.client.token_requests == 3


def test_a_token_near_its_end_is_renewed_before_use(hub: FakeHub) -> None:
    short_lived = SimulatorConfig(time_scale=0, token_ttl_seconds=1)
    with run_in_thread(create_app(short_lived)) as server:
        made = PostEmsAdapter(options_for(server, token_refresh_margin_seconds=60), hub)
        try:
            first = made.client.token(CUSTOMER)
            assert made.client.token(CUSTOMER) == first and made.client.token_requests == 1
            # a 1 s token is renewed half-way through its life, before VNPost would refuse it
            wait_for(lambda: made.client.token(CUSTOMER) != first, timeout=5, what="a renewed token")
            assert made.client.token_requests == 2
        finally:
            made.close()


def test_each_customer_code_uses_its_own_credentials(
    adapter: PostEmsAdapter, admin: httpx.Client, hub: FakeHub
) -> None:
    number = dossier()
    result = adapter.deliver(message(order_document(number, CustomerCode=SECOND.customer_code)))
    assert isinstance(result, Delivered)
    assert sim_order(admin, number, SECOND.customer_code)["ItemCode"] == result.peer_reference
    drain(adapter, SECOND.customer_code)
    assert [d["state"] for d in hub.tracking(number)] == ["accepted"]


def test_vnpost_errors_and_outages_are_retryable(adapter: PostEmsAdapter, admin: httpx.Client) -> None:
    admin.post("/_sim/faults", json={"kind": "error", "status": 503})
    failed = adapter.deliver(message(order_document(dossier())))
    assert isinstance(failed, RetryableFailure) and "503" in failed.reason

    admin.post("/_sim/faults", json={"kind": "down"})
    down = adapter.deliver(message(order_document(dossier())))
    assert isinstance(down, RetryableFailure) and down.reason.startswith("connection error")
    admin.post("/_sim/faults", json={"kind": "up"})

    admin.post("/_sim/faults", json={"kind": "slow", "seconds": 3})
    slow = adapter.deliver(message(order_document(dossier())))
    assert isinstance(slow, RetryableFailure) and slow.reason.startswith("timeout")


def test_refusals_are_permanent_with_vnpost_words(adapter: PostEmsAdapter, vnpost: RunningServer) -> None:
    bad = json.loads(order_document(dossier()))
    del bad["order"]["ReceiverTel"]  # intake's schema would refuse this; VNPost refuses it too
    refused = adapter.deliver(message(json.dumps(bad).encode()))
    assert (
        isinstance(refused, PermanentFailure) and "101" in refused.reason and "ReceiverTel" in refused.reason
    )

    unknown = adapter.deliver(message(order_document(dossier(), CustomerCode="NOBODY")))
    assert isinstance(unknown, PermanentFailure) and "NOBODY" in unknown.reason

    wrong = PostEmsOptions(
        base_url=vnpost.base_url,
        clients=[ClientOption(customer_code=CUSTOMER, key="lienthong-dev", secret="dev:wrong")],
    )
    other = PostEmsAdapter(wrong, FakeHub())
    try:
        denied = other.deliver(message(order_document(dossier())))
        assert isinstance(denied, PermanentFailure) and "invalid_client" in denied.reason
    finally:
        other.close()


def test_cancel_before_and_after_delivery(adapter: PostEmsAdapter, admin: httpx.Client, hub: FakeHub) -> None:
    number = dossier()
    created = adapter.deliver(message(order_document(number)))
    cancelled = adapter.deliver(message(order_document(number, action="cancel")))
    assert isinstance(cancelled, Delivered) and cancelled.peer_reference == created.peer_reference  # type: ignore[union-attr]
    assert sim_order(admin, number)["state"] == "cancelled"
    record = adapter.orders.get(CUSTOMER, number)
    assert record is not None and record.cancel_requested and number not in adapter.orders.watched(CUSTOMER)

    done = dossier()
    adapter.deliver(message(order_document(done)))
    for _ in range(3):
        advance(admin, done)
    too_late = adapter.deliver(message(order_document(done, action="cancel")))
    assert isinstance(too_late, PermanentFailure) and "103" in too_late.reason

    unknown = adapter.deliver(message(order_document(dossier(), action="cancel")))
    assert isinstance(unknown, PermanentFailure) and "102" in unknown.reason


# -- tracking ------------------------------------------------------------------------------------------


def test_tracking_events_go_to_the_agency_that_placed_the_order(
    adapter: PostEmsAdapter, admin: httpx.Client, hub: FakeHub
) -> None:
    drain(adapter)
    number = dossier()
    item = adapter.deliver(message(order_document(number, flow="collect"))).peer_reference  # type: ignore[union-attr]
    for _ in range(3):
        advance(admin, number)
    drain(adapter)
    events = hub.tracking(number)
    assert [d["state"] for d in events] == ["accepted", "picked_up", "in_transit", "delivered"]
    assert [d["event"]["status_code"] for d in events] == [100, 200, 300, 500]
    assert all(d["sender"] == "vnpost" and d["recipients"] == [AGENCY] for d in events)
    assert all(d["event"]["item_code"] == item for d in events)
    assert events[-1]["event"]["notes"].startswith("Người nhận")
    assert events[0]["event"]["event_time"].endswith("+07:00")
    record = adapter.orders.get(CUSTOMER, number)
    assert record is not None and record.closed and record.picked_up and record.state == "delivered"
    assert number not in adapter.orders.watched(CUSTOMER)


def test_the_cursor_survives_a_restart_without_loss_or_repeat(
    vnpost: RunningServer, admin: httpx.Client, hub: FakeHub
) -> None:
    first = PostEmsAdapter(options_for(vnpost, page_size=2), hub)
    drain(first)
    number = dossier()
    first.deliver(message(order_document(number)))
    advance(admin, number)
    drain(first)
    cursor = hub.get_state("post_ems", f"cursor:{CUSTOMER}")
    first.close()

    for _ in range(2):
        advance(admin, number)  # in transit, delivered: while "the hub" is down
    second = PostEmsAdapter(options_for(vnpost, page_size=2), hub)  # a restart: only the state is kept
    try:
        assert tracker(second).poll_once() == 2
        assert hub.get_state("post_ems", f"cursor:{CUSTOMER}") != cursor
    finally:
        second.close()
    assert [d["state"] for d in hub.tracking(number)] == ["accepted", "picked_up", "in_transit", "delivered"]
    assert hub.duplicates == 0


def test_a_repeated_feed_event_maps_to_the_same_event_id(
    adapter: PostEmsAdapter, admin: httpx.Client, hub: FakeHub
) -> None:
    drain(adapter)
    number = dossier()
    admin.post("/_sim/faults", json={"kind": "duplicate_events", "count": 2})
    adapter.deliver(message(order_document(number)))
    advance(admin, number)
    assert tracker(adapter).poll_once() == 4  # the feed gave two events twice, under four _ids
    assert [d["state"] for d in hub.tracking(number)] == ["accepted", "picked_up"]
    assert hub.duplicates == 2


def test_the_status_mapping_is_configuration(
    vnpost: RunningServer, admin: httpx.Client, hub: FakeHub
) -> None:
    made = PostEmsAdapter(options_for(vnpost, status_states={100: "accepted", 200: "in_transit"}), hub)
    try:
        drain(made)
        number = dossier()
        made.deliver(message(order_document(number)))
        advance(admin, number)
        advance(admin, number)
        drain(made)
    finally:
        made.close()
    assert [d["state"] for d in hub.tracking(number)] == ["accepted", "in_transit", "in_transit"]
    unmapped = [data for kind, data in hub.events if kind == "tracking-unmapped-status"]
    assert [e["status_code"] for e in unmapped if e["order_number"] == number] == [300]


def test_events_of_unknown_orders_and_refused_documents_are_recorded_and_passed(
    adapter: PostEmsAdapter, admin: httpx.Client, hub: FakeHub
) -> None:
    drain(adapter)
    number = dossier()
    adapter.deliver(message(order_document(number)))
    hub.state = {k: v for k, v in hub.state.items() if not k[1].startswith("order:")}
    hub.refuse = False
    drain(adapter)
    assert any(k == "tracking-unknown-order" and d["event"]["OrderNumber"] == number for k, d in hub.events)

    other = dossier()
    adapter.deliver(message(order_document(other)))
    hub.refuse = True
    drain(adapter)
    assert any(k == "tracking-refused" and d["event"]["OrderNumber"] == other for k, d in hub.events)
    assert hub.tracking(other) == []
    assert tracker(adapter).poll_once() == 0  # the cursor went past both


# -- overdue -------------------------------------------------------------------------------------------


def test_overdue_alerts_are_raised_once_per_order_and_kind(
    adapter: PostEmsAdapter, admin: httpx.Client, hub: FakeHub
) -> None:
    now = [0.0]
    watch = OverduePoller(
        adapter.options.model_copy(update={"pickup_deadline_seconds": 100, "delivery_deadline_seconds": 500}),
        adapter.orders,
        hub,
        clock=lambda: now[0],
    )
    drain(adapter)
    stuck, moving = dossier(), dossier()
    for number in (stuck, moving):
        adapter.deliver(message(order_document(number)))
        adapter.orders.update(CUSTOMER, number, lambda r: replace(r, placed_at=0.0))
    advance(admin, moving)
    drain(adapter)

    now[0] = 50
    assert watch.poll_once() == 0
    now[0] = 150
    watch.poll_once()
    watch.poll_once()
    assert [d["event"]["notes"].split(";")[0] for d in hub.tracking(stuck) if d["state"] == "overdue"] == [
        "overdue:pickup"
    ]
    assert [d for d in hub.tracking(moving) if d["state"] == "overdue"] == []
    now[0] = 600
    watch.poll_once()
    watch.poll_once()
    alerts = [(p, d) for p, d in hub.submitted if d["state"] == "overdue"]
    kinds = sorted((d["dossier_number"], d["event"]["notes"].split(";")[0]) for _, d in alerts)
    assert kinds == sorted(
        [(stuck, "overdue:pickup"), (stuck, "overdue:delivery"), (moving, "overdue:delivery")]
    )
    assert all(
        p == "lienthong" and d["sender"] == "lienthong" and d["recipients"] == [AGENCY] for p, d in alerts
    )
    assert stuck not in adapter.orders.watched(CUSTOMER) and moving not in adapter.orders.watched(CUSTOMER)


# -- mapping without I/O --------------------------------------------------------------------------------


SCHEMAS = PROJECT_ROOT / "schemas"


def tracking_validator() -> Any:
    resources = []
    for path in SCHEMAS.rglob("*.schema.json"):
        schema = json.loads(path.read_text("utf-8"))
        resources.append((schema["$id"], schema))
    schema = json.loads((SCHEMAS / "ems" / "tracking-1.0.schema.json").read_text("utf-8"))
    return jsonschema_rs.validator_for(
        schema, registry=jsonschema_rs.Registry(resources), validate_formats=True
    )


ENTRY = {
    "_id": {"$oid": "66a1f0c2a1b2c3d4e5000001"},
    "CustomerCode": CUSTOMER,
    "OrderNumber": "HS-2024-0001",
    "EventTime": 1721888962000,
    "POSID": "404120",
    "ItemCode": "EL100000017VN",
    "StatusCode": 200,
    "StatusMessage": "Đã thu gom",
    "Notes": "",
}
RECORD = OrderRecord(
    customer_code=CUSTOMER,
    order_number="HS-2024-0001",
    dossier_number="HS-2024-0001",
    flow="collect",
    agency=AGENCY,
    message_id="m-1",
    item_code="EL100000017VN",
    placed_at=1000.0,
    status_code=100,
    state="accepted",
)


def test_tracking_and_overdue_documents_follow_the_schema() -> None:
    validator = tracking_validator()
    document = json.loads(tracking_document(ENTRY, RECORD, "picked_up", utc_offset_hours=7))
    validator.validate(document)
    assert document["event"]["event_time"] == "2024-07-25T13:29:22.000+07:00"
    assert "notes" not in document["event"] and document["event"]["pos_id"] == "404120"
    alert = json.loads(
        overdue_document(RECORD, "pickup", deadline_seconds=7200, now=5000, utc_offset_hours=7)
    )
    validator.validate(alert)
    assert alert["state"] == "overdue" and "2 h" in alert["event"]["status_message"]


def test_the_event_id_comes_from_the_content_not_the_feed_id() -> None:
    repeat = {**ENTRY, "_id": {"$oid": "66a1f0c2a1b2c3d4e5000002"}, "Notes": "again"}
    assert event_key(repeat) == event_key(ENTRY)
    assert event_key({**ENTRY, "StatusCode": 300}) != event_key(ENTRY)
    assert event_key({**ENTRY, "EventTime": ENTRY["EventTime"] + 1}) != event_key(ENTRY)


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (200, {"Status": "100", "Message": "ok", "ItemCode": "EL1VN"}, Delivered, "ok"),
        (200, {"Status": "101", "Message": "thiếu SenderTel"}, PermanentFailure, "SenderTel"),
        (400, {"Status": "101", "Message": "Body must be a JSON object"}, PermanentFailure, "101"),
        (503, {"error": "server_error"}, RetryableFailure, "503"),
        (429, {}, RetryableFailure, "429"),
        (200, "<html>proxy</html>", RetryableFailure, "proxy"),
        (404, "<html>gone</html>", PermanentFailure, "404"),
    ],
)
def test_answers_map_to_results(status: int, body: Any, kind: type, words: str) -> None:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
    result = interpret_answer(status, raw)
    assert isinstance(result, kind)
    text = result.detail if isinstance(result, Delivered) else result.reason
    assert words in (text or "")


def test_answer_codes_are_configuration() -> None:
    busy = json.dumps({"Status": "105", "Message": "hệ thống bận"}).encode()
    assert isinstance(interpret_answer(200, busy), PermanentFailure)
    assert isinstance(interpret_answer(200, busy, retryable=["105"]), RetryableFailure)


def test_parse_order_reads_the_example() -> None:
    request = parse_order(json.dumps(EXAMPLE).encode())
    assert (request.action, request.flow, request.customer_code) == ("create", "return", "LIENTHONG")
    assert request.order_number == EXAMPLE["order"]["OrderNumber"] and request.order == EXAMPLE["order"]


def test_due_alerts_rules() -> None:
    rules = {"pickup_deadline": 10.0, "delivery_deadline": 20.0}
    assert due_alerts(RECORD, now=1005, **rules) == []
    assert due_alerts(RECORD, now=1010, **rules) == [("pickup", 10.0)]
    assert due_alerts(replace(RECORD, picked_up=True), now=1030, **rules) == [("delivery", 20.0)]
    assert due_alerts(replace(RECORD, alerts=("pickup",)), now=1030, **rules) == [("delivery", 20.0)]
    assert due_alerts(replace(RECORD, closed=True), now=5000, **rules) == []
    assert due_alerts(replace(RECORD, placed_at=None), now=5000, **rules) == []


def test_development_secrets_are_reported(vnpost: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    made = PostEmsAdapter(options_for(vnpost), FakeHub())
    try:
        assert made.development_secrets() == [f"clients[{CUSTOMER}].secret"]
    finally:
        made.close()
    with pytest.raises(ValueError, match="env:VARIABLE"):
        ClientOption(customer_code="X", key="k", secret="plain-secret")
    monkeypatch.delenv("POST_EMS_TEST_SECRET")
    with pytest.raises(ValueError, match="POST_EMS_TEST_SECRET"):
        PostEmsAdapter(options_for(vnpost), FakeHub())
