"""VNPost end to end: an agency posts ems.order to a real hub on loopback, the post_ems adapter places
the order with the VNPost simulator, and the tracking feed comes back to that agency as hub-signed
ems.tracking messages (by webhook to the agency simulator, or through the pull inbox), visible in the
dossier's timeline; with token expiry, VNPost down, repeated feed events, a restart, overdue alerts
and an invalid order refused at intake."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.agency.simulator import create_app as create_agency_simulator
from adapters.post_ems import PostEmsAdapter
from adapters.post_ems.simulator import SimulatorConfig
from adapters.post_ems.simulator import create_app as create_vnpost_simulator
from hub.servers import RunningServer, run_in_thread
from tests.deliverytest import make_config, wait_for
from tests.hubtest import EXAMPLES, RunningHub, running_hub

WEBHOOK_AGENCY = "000.01.02.H41"  # pushed by the agency adapter
PULLING_AGENCY = "000.03.04.H41"  # pulls /v1/inbox
CUSTOMER = "LIENTHONG"
FULL_PATH = ["accepted", "picked_up", "in_transit", "delivered"]
FAST_RETRY = {"max_attempts": 6, "initial_delay_seconds": 0.2, "multiplier": 2, "max_delay_seconds": 1}


@pytest.fixture(scope="module")
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


@pytest.fixture(scope="module")
def vnpost() -> Iterator[RunningServer]:
    with run_in_thread(create_vnpost_simulator(SimulatorConfig(time_scale=0))) as server:
        yield server


@pytest.fixture
def admin(vnpost: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=vnpost.base_url, timeout=10) as client:
        yield client
        client.post("/_sim/faults", json={"kind": "up"})
        client.post("/_sim/faults", json={"kind": "clear"})


def post_ems_options(vnpost: RunningServer, **changes: Any) -> dict[str, Any]:
    return {
        "base_url": vnpost.base_url,
        "retry": FAST_RETRY,
        "timeout_seconds": 2,
        "tracking_interval_seconds": 0.1,
        "overdue_interval_seconds": 0.1,
        **changes,
    }


def start_hub(base: Path, agency_sim: RunningServer, vnpost: RunningServer, **changes: Any) -> Any:
    config = make_config(
        base / "config",
        webhook_base=agency_sim.base_url,
        adapters={"post_ems": post_ems_options(vnpost, **changes)},
    )
    return running_hub(base, config_dir=config, workers=2, poll_interval_seconds=0.1)


@pytest.fixture(scope="module")
def hub(
    agency_sim: RunningServer, vnpost: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    with start_hub(tmp_path_factory.mktemp("hub"), agency_sim, vnpost) as running:
        yield running


def new_dossier(agency: str) -> str:
    return f"{agency}-{uuid.uuid4().hex[:12]}"


def order(
    agency: str, dossier: str, *, flow: str = "collect", action: str = "create", **fields: Any
) -> bytes:
    document = json.loads((EXAMPLES / "ems.order.json").read_text("utf-8"))
    document.update(sender=agency, dossier_number=dossier, flow=flow, action=action)
    document["order"].update({"CustomerCode": CUSTOMER, "OrderNumber": dossier, **fields})
    if action == "cancel":
        document["order"] = {k: document["order"][k] for k in ("CustomerCode", "OrderNumber")}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def send_order(hub: RunningHub, agency: str, dossier: str, *, duplicate: bool = False, **kwargs: Any) -> str:
    answer = hub.post(order(agency, dossier, **kwargs), as_=agency, content_type="application/json")
    assert answer.status_code == (200 if duplicate else 202), answer.text
    assert answer.json()["duplicate"] is duplicate
    return str(answer.json()["id"])


def vnpost_delivery(hub: RunningHub, message_id: str, agency: str) -> dict[str, Any]:
    deliveries = hub.get(f"/v1/messages/{message_id}", as_=agency).json()["deliveries"]
    return next(d for d in deliveries if d["recipient"] == "vnpost")


def wait_delivered(hub: RunningHub, message_id: str, agency: str, timeout: float = 20) -> dict[str, Any]:
    return wait_for(
        lambda: (d := vnpost_delivery(hub, message_id, agency))["state"] == "delivered" and d,
        timeout=timeout,
        what=f"ems.order {message_id} delivered to VNPost",
    )


def advance(admin: httpx.Client, dossier: str, steps: int = 1) -> None:
    for _ in range(steps):
        answer = admin.post(f"/_sim/orders/{CUSTOMER}/{dossier}/advance")
        assert answer.status_code == 200, answer.text


def timeline(hub: RunningHub, dossier: str, agency: str) -> dict[str, Any]:
    answer = hub.get(f"/v1/timeline/{dossier}", as_=agency)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def tracking_documents(hub: RunningHub, dossier: str, agency: str) -> list[dict[str, Any]]:
    """The ems.tracking documents of the dossier's timeline, in order."""
    messages = [m for m in timeline(hub, dossier, agency)["messages"] if m["type"] == "ems.tracking"]
    return [hub.get(f"/v1/messages/{m['id']}/document", as_=agency).json() for m in messages]


def webhook_tracking(agency_sim: RunningServer, dossier: str) -> list[dict[str, Any]]:
    """What the agency system received by webhook for this dossier (repeats included)."""
    items = httpx.get(f"{agency_sim.base_url}/_sim/received", params={"participant": WEBHOOK_AGENCY}).json()
    documents = [(i, json.loads(i["body_text"])) for i in items["items"]]
    return [
        {**d, "_headers": i["headers"]}
        for i, d in documents
        if d.get("type") == "ems.tracking" and d.get("dossier_number") == dossier
    ]


def states_of(documents: list[dict[str, Any]]) -> list[str]:
    return [d["state"] for d in documents]


def adapter_of(hub: RunningHub) -> PostEmsAdapter:
    adapter = hub.app.state.runtime.adapters.get("post_ems")
    assert isinstance(adapter, PostEmsAdapter)
    return adapter


# -- flows ---------------------------------------------------------------------------------------------


def test_collect_flow_from_the_agency_to_tracking_back_at_its_webhook(
    hub: RunningHub, admin: httpx.Client, agency_sim: RunningServer
) -> None:
    dossier = new_dossier(WEBHOOK_AGENCY)
    message_id = send_order(hub, WEBHOOK_AGENCY, dossier, flow="collect")
    delivery = wait_delivered(hub, message_id, WEBHOOK_AGENCY)
    item_code = admin.get(f"/_sim/orders/{CUSTOMER}/{dossier}").json()["ItemCode"]
    assert delivery["peer_reference"] == item_code and delivery["attempts"] == 1

    advance(admin, dossier, steps=3)
    received = wait_for(
        lambda: len(r := webhook_tracking(agency_sim, dossier)) >= 4 and r, what="four tracking events"
    )
    assert states_of(received) == FULL_PATH
    assert all(d["sender"] == "vnpost" and d["recipients"] == [WEBHOOK_AGENCY] for d in received)
    assert all(d["event"]["item_code"] == item_code for d in received)
    assert all({k.lower() for k in d["_headers"]} >= {"x-jws-signature"} for d in received)

    # the dossier's timeline: the order, then every tracking event, each delivered to the agency
    story = timeline(hub, dossier, WEBHOOK_AGENCY)
    assert [m["type"] for m in story["messages"]] == ["ems.order"] + ["ems.tracking"] * 4
    assert all(m["correlation_key"] == dossier for m in story["messages"])
    wait_for(
        lambda: all(
            d["state"] == "delivered"
            for m in timeline(hub, dossier, WEBHOOK_AGENCY)["messages"]
            for d in m["deliveries"]
        ),
        what="every delivery of the dossier delivered",
    )
    assert states_of(tracking_documents(hub, dossier, WEBHOOK_AGENCY)) == FULL_PATH


def test_return_flow_to_a_pulling_agency_including_a_returned_parcel(
    hub: RunningHub, admin: httpx.Client
) -> None:
    dossier = new_dossier(PULLING_AGENCY)
    admin.put(f"/_sim/orders/{CUSTOMER}/{dossier}/scenario", json={"scenario": "returned"})
    message_id = send_order(hub, PULLING_AGENCY, dossier, flow="return")
    wait_delivered(hub, message_id, PULLING_AGENCY)
    advance(admin, dossier, steps=4)

    def inbox() -> list[dict[str, Any]]:
        items = hub.get("/v1/inbox?limit=500", as_=PULLING_AGENCY).json()["items"]
        return [i for i in items if i["correlation_key"] == dossier and i["type"] == "ems.tracking"]

    items = wait_for(lambda: len(found := inbox()) >= 5 and found, what="five tracking events in the inbox")
    documents = [hub.client.get(i["document_url"], headers=_auth(PULLING_AGENCY)).json() for i in items]
    assert sorted(d["event"]["event_time"] for d in documents) == [
        d["event"]["event_time"] for d in documents
    ]
    assert states_of(documents) == ["accepted", "picked_up", "in_transit", "in_transit", "returned"]
    assert documents[3]["event"]["status_code"] == 400  # the failed attempt: still on its way
    assert all(i["sender"] == "vnpost" and i["signature"] for i in items)
    for item in items:
        assert hub.client.post(
            f"/v1/inbox/{item['delivery_id']}/ack", headers=_auth(PULLING_AGENCY)
        ).is_success


def _auth(participant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer dev-token-{participant}"}


def test_a_cancelled_order_is_tracked_as_cancelled(hub: RunningHub, admin: httpx.Client) -> None:
    dossier = new_dossier(WEBHOOK_AGENCY)
    wait_delivered(hub, send_order(hub, WEBHOOK_AGENCY, dossier), WEBHOOK_AGENCY)
    cancel_id = send_order(hub, WEBHOOK_AGENCY, dossier, action="cancel")
    assert wait_delivered(hub, cancel_id, WEBHOOK_AGENCY)["peer_reference"].startswith("EL")
    assert admin.get(f"/_sim/orders/{CUSTOMER}/{dossier}").json()["state"] == "cancelled"
    wait_for(
        lambda: states_of(tracking_documents(hub, dossier, WEBHOOK_AGENCY)) == ["accepted", "cancelled"],
        what="accepted then cancelled",
    )


def test_a_resent_order_is_one_message_and_one_vnpost_order(hub: RunningHub, admin: httpx.Client) -> None:
    dossier = new_dossier(WEBHOOK_AGENCY)
    first = send_order(hub, WEBHOOK_AGENCY, dossier)
    again = send_order(hub, WEBHOOK_AGENCY, dossier, duplicate=True)
    assert again == first
    wait_delivered(hub, first, WEBHOOK_AGENCY)
    orders = [o for o in admin.get("/_sim/state").json()["orders"] if o["OrderNumber"] == dossier]
    assert len(orders) == 1


# -- faults --------------------------------------------------------------------------------------------


def test_token_expiry_mid_run_is_invisible_to_the_agency(hub: RunningHub, admin: httpx.Client) -> None:
    before = send_order(hub, WEBHOOK_AGENCY, first := new_dossier(WEBHOOK_AGENCY))
    wait_delivered(hub, before, WEBHOOK_AGENCY)
    tokens = adapter_of(hub).client.token_requests
    admin.post("/_sim/faults", json={"kind": "expire_tokens"})
    after = send_order(hub, WEBHOOK_AGENCY, second := new_dossier(WEBHOOK_AGENCY))
    assert wait_delivered(hub, after, WEBHOOK_AGENCY)["attempts"] == 1
    assert adapter_of(hub).client.token_requests > tokens
    advance(admin, first)
    advance(admin, second)
    for dossier in (first, second):
        wait_for(
            lambda d=dossier: (
                states_of(tracking_documents(hub, d, WEBHOOK_AGENCY)) == ["accepted", "picked_up"]
            ),
            what=f"tracking of {dossier} after the token expired",
        )


def test_vnpost_down_is_retried_then_delivered(hub: RunningHub, admin: httpx.Client) -> None:
    admin.post("/_sim/faults", json={"kind": "down"})
    dossier = new_dossier(WEBHOOK_AGENCY)
    message_id = send_order(hub, WEBHOOK_AGENCY, dossier)

    def failed_twice() -> bool:  # two attempts ended (not merely begun) while VNPost was down
        events = hub.get(f"/v1/messages/{message_id}", as_=WEBHOOK_AGENCY).json()["events"]
        retrying = [e for e in events if e["kind"] == "delivery.retrying"]
        return len(retrying) >= 2 and vnpost_delivery(hub, message_id, WEBHOOK_AGENCY)["state"] == "retrying"

    wait_for(failed_twice, what="two failed attempts while VNPost is down")
    admin.post("/_sim/faults", json={"kind": "up"})
    delivery = wait_delivered(hub, message_id, WEBHOOK_AGENCY)
    assert delivery["attempts"] >= 3
    events = hub.get(f"/v1/messages/{message_id}", as_=WEBHOOK_AGENCY).json()["events"]
    retries = [e for e in events if e["kind"] == "delivery.retrying"]
    assert retries and all("connection error" in e["data"]["error"] for e in retries)
    wait_for(
        lambda: tracking_documents(hub, dossier, WEBHOOK_AGENCY), what="the accepted event after the outage"
    )


def test_repeated_feed_events_reach_the_agency_once(
    hub: RunningHub, admin: httpx.Client, agency_sim: RunningServer
) -> None:
    dossier = new_dossier(WEBHOOK_AGENCY)
    admin.post("/_sim/faults", json={"kind": "duplicate_events", "count": 4})
    wait_delivered(hub, send_order(hub, WEBHOOK_AGENCY, dossier), WEBHOOK_AGENCY)
    advance(admin, dossier, steps=3)
    wait_for(lambda: len(webhook_tracking(agency_sim, dossier)) >= 4, what="four tracking events")
    story = wait_for(
        lambda: (
            (t := timeline(hub, dossier, WEBHOOK_AGENCY))
            and sum(e["kind"] == "message.duplicate" for e in t["events"]) >= 4
            and t
        ),
        what="the four repeats dropped at intake",
    )
    assert sum(m["type"] == "ems.tracking" for m in story["messages"]) == 4
    assert states_of(webhook_tracking(agency_sim, dossier)) == FULL_PATH  # each once, repeats included


def test_an_invalid_order_is_refused_at_intake_with_its_errors(hub: RunningHub) -> None:
    dossier = new_dossier(WEBHOOK_AGENCY)
    document = json.loads(order(WEBHOOK_AGENCY, dossier))
    del document["order"]["ReceiverTel"]
    document["order"]["SenderTel"] = "12345"
    answer = hub.post(json.dumps(document).encode(), as_=WEBHOOK_AGENCY, content_type="application/json")
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("schema-invalid")
    locations = " ".join(json.dumps(e) for e in problem["errors"])
    assert "ReceiverTel" in locations and "SenderTel" in locations
    assert hub.get(f"/v1/timeline/{dossier}", as_=WEBHOOK_AGENCY).status_code == 404


# -- restart and overdue (hubs of their own) -------------------------------------------------------------


def test_the_tracking_cursor_survives_a_hub_restart(
    tmp_path: Path, agency_sim: RunningServer, vnpost: RunningServer, admin: httpx.Client
) -> None:
    dossier = new_dossier(PULLING_AGENCY)
    with start_hub(tmp_path, agency_sim, vnpost) as first:
        wait_delivered(first, send_order(first, PULLING_AGENCY, dossier), PULLING_AGENCY)
        wait_for(lambda: tracking_documents(first, dossier, PULLING_AGENCY), what="the accepted event")
    advance(admin, dossier, steps=3)  # while the hub is stopped
    with start_hub(tmp_path, agency_sim, vnpost) as second:
        wait_for(
            lambda: states_of(tracking_documents(second, dossier, PULLING_AGENCY)) == FULL_PATH,
            what="the events that happened while the hub was stopped",
        )
        last = admin.get("/_sim/state").json()["last_event_id"]
        services = second.app.state.runtime.services
        wait_for(
            lambda: services.get_state("post_ems", f"cursor:{CUSTOMER}") == last, what="cursor at the end"
        )
        story = timeline(second, dossier, PULLING_AGENCY)
        assert not [e for e in story["events"] if e["kind"] == "message.duplicate"]  # nothing read twice


def test_a_parcel_never_picked_up_raises_one_overdue_alert(
    tmp_path: Path, agency_sim: RunningServer, vnpost: RunningServer, admin: httpx.Client
) -> None:
    dossier = new_dossier(WEBHOOK_AGENCY)
    admin.put(f"/_sim/orders/{CUSTOMER}/{dossier}/scenario", json={"scenario": "never_picked_up"})
    with start_hub(
        tmp_path, agency_sim, vnpost, pickup_deadline_seconds=1, delivery_deadline_seconds=3600
    ) as hub:
        wait_delivered(hub, send_order(hub, WEBHOOK_AGENCY, dossier), WEBHOOK_AGENCY)
        alerts = wait_for(
            lambda: [m for m in webhook_tracking(agency_sim, dossier) if m["state"] == "overdue"],
            what="the overdue alert at the agency",
        )
        (alert,) = alerts
        assert alert["sender"] == "lienthong" and alert["recipients"] == [WEBHOOK_AGENCY]
        assert alert["event"]["notes"].startswith("overdue:pickup")
        story = timeline(hub, dossier, WEBHOOK_AGENCY)
        senders = [(m["type"], m["sender"]) for m in story["messages"]]
        assert senders == [
            ("ems.order", WEBHOOK_AGENCY),
            ("ems.tracking", "vnpost"),
            ("ems.tracking", "lienthong"),
        ]
        record = adapter_of(hub).orders.get(CUSTOMER, dossier)
        assert record is not None and record.alerts == ("pickup",)
        # The operators are told too, once: an alert in the ledger (console, webhook) ...
        ledger = hub.app.state.runtime.hub.ledger
        stalled = ledger.events_of_kinds(["alert.parcel-stalled"], limit=10)
        assert [(a.data["order_number"], a.data["deadline"]) for a in stalled] == [(dossier, "pickup")]
        assert stalled[0].message_id == record.message_id
        # ... which clears by itself, once, when the parcel moves again.
        moved = admin.post(f"/_sim/orders/{CUSTOMER}/{dossier}/advance", json={"to": "picked_up"})
        assert moved.status_code == 200, moved.text
        resolved = wait_for(
            lambda: ledger.events_of_kinds(["alert-resolved"], limit=10),
            what="the stalled parcel's resolution",
        )
        assert [(r.data["alert"], r.data["raised_event"]) for r in resolved] == [
            ("alert.parcel-stalled", stalled[0].id)
        ]
        assert len(ledger.events_of_kinds(["alert.parcel-stalled"], limit=10)) == 1
