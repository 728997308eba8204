"""Routing at intake, the pull inbox, the dossier timeline and the operators' door — over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from hub.problems import Problem
from tests.deliverytest import make_config
from tests.hubtest import EXAMPLES, RunningHub, running_hub
from tests.test_intake_api import AGENCY, OTHER_AGENCY, fresh_document, json_example

PULLING_AGENCY = OTHER_AGENCY  # routes.yaml: 000.03.04.H41 pulls from /v1/inbox


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("hub")
    with running_hub(
        base, config_dir=make_config(base / "config"), workers=1, poll_interval_seconds=0.1
    ) as hub:
        yield hub


def test_a_recipient_that_is_no_participant_and_no_route_reaches_is_refused(hub: RunningHub) -> None:
    body = json_example("ems.order", recipients=["vnpost.elsewhere"])
    response = hub.post(body, as_=json.loads(body)["sender"], content_type="application/json")
    assert response.status_code == 422 and response.json()["type"] == "/problems/unknown-recipient"


def test_a_type_no_route_carries_to_that_participant_is_refused(hub: RunningHub) -> None:
    body = json_example("ems.order", recipients=["000.00.00.H41"])  # orders go to VNPost, not agencies
    response = hub.post(body, as_=json.loads(body)["sender"], content_type="application/json")
    assert response.status_code == 403 and response.json()["type"] == "/problems/route-forbidden"


def test_each_recipient_gets_the_adapter_its_route_names(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    deliveries = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["deliveries"]
    assert {d["recipient"]: d["adapter"] for d in deliveries} == {
        "000.00.00.H41": "agency",
        PULLING_AGENCY: "inbox",
    }


def test_a_pulling_agency_lists_fetches_and_acknowledges_its_inbox(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    items = hub.get("/v1/inbox?limit=500", as_=PULLING_AGENCY).json()["items"]
    item = next(i for i in items if i["message_id"] == message_id)
    assert item["type"] == "edxml.document" and item["sender"] == AGENCY

    document = hub.get(item["document_url"], as_=PULLING_AGENCY)
    assert document.status_code == 200 and b"xmldsig" in document.content

    assert hub.get("/v1/inbox", as_="000.00.00.H41").json()["items"] == [], "a webhook agency has no inbox"
    stranger = hub.client.post(
        f"/v1/inbox/{item['delivery_id']}/ack", headers={"Authorization": "Bearer dev-token-000.00.00.H41"}
    )
    assert stranger.status_code == 404, "only the recipient may acknowledge"

    ack = hub.client.post(
        f"/v1/inbox/{item['delivery_id']}/ack",
        headers={"Authorization": f"Bearer dev-token-{PULLING_AGENCY}"},
    )
    assert ack.status_code == 200 and ack.json()["state"] == "delivered"
    again = hub.client.post(
        f"/v1/inbox/{item['delivery_id']}/ack",
        headers={"Authorization": f"Bearer dev-token-{PULLING_AGENCY}"},
    )
    assert again.status_code == 200, "acknowledging twice is harmless"
    remaining = hub.get("/v1/inbox?limit=500", as_=PULLING_AGENCY).json()["items"]
    assert all(i["delivery_id"] != item["delivery_id"] for i in remaining)
    events = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["events"]
    assert any(
        e["kind"] == "delivery.delivered" and e["data"].get("acknowledged_by") == PULLING_AGENCY
        for e in events
    )


def test_the_timeline_of_a_dossier_gathers_its_messages_in_order(hub: RunningHub) -> None:
    dossier = f"H41-{uuid.uuid4().hex[:10]}"
    tracking = json.loads((EXAMPLES / "ems.tracking.json").read_text(encoding="utf-8"))
    confirmation = json.loads((EXAMPLES / "payment.confirmation.json").read_text(encoding="utf-8"))
    ids = []
    for name, sender in (
        ("ems.tracking", tracking["sender"]),
        ("payment.confirmation", confirmation["sender"]),
    ):
        response = hub.post(
            json_example(name, dossier_number=dossier), as_=sender, content_type="application/json"
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])

    recipient = tracking["recipients"][0]
    timeline = hub.get(f"/v1/timeline/{dossier}", as_="operator").json()
    assert [m["id"] for m in timeline["messages"]] == ids
    assert [m["type"] for m in timeline["messages"]] == ["ems.tracking", "payment.confirmation"]
    order = [e["id"] for e in timeline["events"]]  # recording order; "seq" is the log position, later
    assert order == sorted(order) and {e["message_id"] for e in timeline["events"]} == set(ids)

    as_recipient = hub.get(f"/v1/timeline/{dossier}", as_=recipient)
    assert as_recipient.status_code == 200 and len(as_recipient.json()["messages"]) >= 1
    assert hub.get(f"/v1/timeline/{dossier}", as_="bank.payplatform").status_code in (200, 404)
    assert hub.get("/v1/timeline/no-such-dossier", as_="operator").status_code == 404


def test_operator_doors_are_closed_to_participants(hub: RunningHub) -> None:
    response = hub.get("/v1/deliveries?state=dead", as_=AGENCY)
    assert response.status_code == 403 and response.json()["type"] == "/problems/forbidden-operator"
    assert hub.get("/v1/deliveries?state=dead", as_="operator").status_code == 200
    bad_state = hub.get("/v1/deliveries?state=lost", as_="operator")
    assert bad_state.status_code == 400 and bad_state.json()["type"] == "/problems/invalid-request"


def test_an_operator_cannot_retry_a_delivery_that_is_not_dead(hub: RunningHub) -> None:
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    delivery = next(
        d
        for d in hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["deliveries"]
        if d["adapter"] == "inbox"
    )
    response = hub.client.post(
        f"/v1/deliveries/{delivery['id']}/retry", headers={"Authorization": "Bearer dev-token-operator"}
    )
    assert response.status_code == 409 and response.json()["type"] == "/problems/conflict"
    missing = hub.client.post(
        "/v1/deliveries/nope/retry", headers={"Authorization": "Bearer dev-token-operator"}
    )
    assert missing.status_code == 404


def test_an_adapters_inbound_door_feeds_the_same_intake_path(hub: RunningHub) -> None:
    services = hub.app.state.runtime.services  # what adapters' webhooks and pollers are given (hub.spi)
    data = fresh_document()
    first = services.submit(data, content_type="application/xml", as_participant=AGENCY)
    assert first.state == "accepted" and not first.duplicate
    seen = hub.get(f"/v1/messages/{first.message_id}", as_=AGENCY).json()
    assert seen["signer"] == "lienthong" and {d["adapter"] for d in seen["deliveries"]} == {"agency", "inbox"}
    again = services.submit(data, content_type="application/xml", as_participant=AGENCY)
    assert again.duplicate and again.message_id == first.message_id
    with pytest.raises(Problem) as refused:
        services.submit(b"<invoice/>", content_type="application/xml", as_participant=AGENCY)
    assert refused.value.slug == "unknown-type"
    with pytest.raises(Problem) as impersonation:
        services.submit(fresh_document(), content_type="application/xml", as_participant=PULLING_AGENCY)
    assert impersonation.value.slug == "forbidden-sender"


def test_the_agency_simulator_pulls_its_inbox_from_the_real_hub(hub: RunningHub) -> None:
    from adapters.agency.simulator.puller import InboxPuller

    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    puller = InboxPuller(hub.url, f"dev-token-{PULLING_AGENCY}", participant=PULLING_AGENCY, limit=500)
    taken = puller.pull_once()
    assert message_id in {item["message_id"] for item in taken}
    document = hub.get(f"/v1/messages/{message_id}/document", as_=AGENCY).content
    recorded = [i for i in puller.inbox.items(PULLING_AGENCY) if i.message_id == message_id]
    assert len(recorded) == 1 and recorded[0].body == document
    delivery = next(
        d
        for d in hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["deliveries"]
        if d["adapter"] == "inbox"
    )
    assert delivery["state"] == "delivered"
    again = puller.pull_once()
    assert message_id not in {item["message_id"] for item in again}, (
        "an acknowledged delivery is not offered again"
    )
    puller.close()
