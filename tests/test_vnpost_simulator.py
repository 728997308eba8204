"""The VNPost EMS simulator, over real HTTP on loopback (httpx against uvicorn)."""

from __future__ import annotations

import base64
import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.post_ems.simulator import (
    TRACKING_STATUS_CODES,
    ZERO_OBJECT_ID,
    ClientCredentials,
    OrderState,
    SimulatorConfig,
    create_app,
    s10_check_digit,
)
from hub.servers import RunningServer, free_port, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
ALICE = ClientCredentials(key="alice-key", secret="alice-secret", customer_code="C-ALICE")
BOB = ClientCredentials(key="bob-key", secret="bob-secret", customer_code="C-BOB")
ITEM_CODE = re.compile(r"^EL(\d{8})(\d)VN$")

ACCEPTED, PICKED_UP, IN_TRANSIT, DELIVERED = 100, 200, 300, 500
DELIVERY_FAILED, RETURNED, CANCELLED = 400, 600, 700


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def order_body(number: str, customer: str = ALICE.customer_code, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "CustomerCode": customer,
        "OrderNumber": number,
        "CODAmount": 0,
        "SenderProvince": 40,
        "SenderDistrict": 412,
        "SenderAddress": "Số 1 Lê Lợi, TP Vinh",
        "SenderName": "Nguyễn Văn A",
        "SenderEmail": "a@example.vn",
        "SenderTel": "0912345678",
        "SenderDesc": "Hồ sơ đăng ký kinh doanh",
        "Description": "Thu gom hồ sơ",
        "ReceiverName": "Bộ phận một cửa tỉnh",
        "ReceiverAddress": "Số 3 Trường Thi, TP Vinh",
        "ReceiverTel": "02383555555",
        "ReceiverProvince": "40",
        "ReceiverDistrict": "412",
        "ReceiverEmail": "motcua@example.vn",
    }
    body.update(changes)
    return body


class Api:
    """A caller of the simulator, as one client."""

    def __init__(self, base_url: str, client: ClientCredentials = ALICE, timeout: float = 10.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.client = client
        self.token = ""

    def close(self) -> None:
        self.http.close()

    def get_token(self) -> httpx.Response:
        return self.http.post(
            "/token",
            headers={"Authorization": basic(self.client.key, self.client.secret)},
            data={"grant_type": "client_credentials"},
        )

    def login(self) -> Api:
        response = self.get_token()
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def create(self, number: str, **changes: Any) -> httpx.Response:
        body = order_body(number, self.client.customer_code, **changes)
        return self.http.post("/api/order/post", json=body, headers=self.auth)

    def cancel(self, number: str) -> httpx.Response:
        params = {"CustomerCode": self.client.customer_code, "OrderNumber": number}
        return self.http.get("/api/order/cancel", params=params, headers=self.auth)

    def page(self, last_id: str = ZERO_OBJECT_ID, pagesize: int = 100) -> httpx.Response:
        return self.http.get(
            "/api/tracking", params={"pagesize": pagesize, "lastId": last_id}, headers=self.auth
        )

    def events(self, pagesize: int = 1000) -> list[dict[str, Any]]:
        """Every event of the feed, following the cursor to the end."""
        docs: list[dict[str, Any]] = []
        last = ZERO_OBJECT_ID
        while True:
            response = self.page(last, pagesize)
            assert response.status_code == 200, response.text
            page = response.json()["_embedded"]["rh:doc"]
            if not page:
                return docs
            docs.extend(page)
            last = page[-1]["_id"]["$oid"]

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, "/_sim" + path, **kwargs)

    def order_state(self, number: str) -> dict[str, Any]:
        response = self.admin("GET", f"/orders/{self.client.customer_code}/{number}")
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, number: str, to: str | None = None) -> httpx.Response:
        body = {"to": to} if to else None
        return self.admin("POST", f"/orders/{self.client.customer_code}/{number}/advance", json=body)

    def fault(self, kind: str, **options: Any) -> dict[str, Any]:
        response = self.admin("POST", "/faults", json={"kind": kind, **options})
        assert response.status_code == 200, response.text
        return response.json()


Start = Callable[..., Api]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start a simulator with the given config options; returns a logged-out Api for ALICE."""
    servers: list[RunningServer] = []
    apis: list[Api] = []

    def _start(client: ClientCredentials = ALICE, **options: Any) -> Api:
        options.setdefault("clients", [ALICE, BOB])
        options.setdefault("time_scale", 0)
        server = run_in_thread(create_app(SimulatorConfig(**options)))
        servers.append(server)
        api = Api(server.base_url, client)
        apis.append(api)
        return api

    yield _start
    for api in apis:
        api.close()
    for server in servers:
        server.stop()


def statuses(events: list[dict[str, Any]], number: str) -> list[int]:
    return [e["StatusCode"] for e in events if e["OrderNumber"] == number]


# ---- token -------------------------------------------------------------------------------------


def test_token_flow(start: Start) -> None:
    api = start()
    response = api.get_token()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert len(body["access_token"]) >= 20

    wrong = api.http.post(
        "/token",
        headers={"Authorization": basic(ALICE.key, "nope")},
        data={"grant_type": "client_credentials"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    anonymous = api.http.post("/token", data={"grant_type": "client_credentials"})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    bad_grant = api.http.post(
        "/token", headers={"Authorization": basic(ALICE.key, ALICE.secret)}, data={"grant_type": "password"}
    )
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"

    assert api.create("HS-1").status_code == 401  # no token yet
    api.token = "made-up"
    assert api.page().status_code == 401
    api.token = body["access_token"]
    assert api.page().status_code == 200


def test_token_expires_with_the_clock(start: Start) -> None:
    api = start(token_ttl_seconds=60).login()
    assert api.page().status_code == 200
    assert api.admin("POST", "/clock", json={"advance_seconds": 59}).status_code == 200
    assert api.page().status_code == 200
    api.admin("POST", "/clock", json={"advance_seconds": 2})
    expired = api.page()
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"
    assert api.login().page().status_code == 200


def test_token_expires_in_real_time(start: Start) -> None:
    api = start(token_ttl_seconds=0.05).login()
    time.sleep(0.2)
    assert api.create("HS-1").status_code == 401


# ---- create and cancel ---------------------------------------------------------------------------


def test_create_order_answers_item_code_and_emits_accepted(start: Start) -> None:
    api = start().login()
    response = api.create("HS-2024-0001")
    assert response.status_code == 200
    body = response.json()
    assert body["Status"] == "100"
    match = ITEM_CODE.match(body["ItemCode"])
    assert match and s10_check_digit(int(match[1])) == int(match[2])
    assert body["ItemCode"] in body["Message"]

    state = api.order_state("HS-2024-0001")
    assert state["state"] == "accepted" and state["ItemCode"] == body["ItemCode"]
    events = api.events()
    assert len(events) == 1
    event = events[0]
    assert event["StatusCode"] == ACCEPTED and event["ItemCode"] == body["ItemCode"]
    assert event["CustomerCode"] == ALICE.customer_code and event["OrderNumber"] == "HS-2024-0001"
    assert isinstance(event["EventTime"], int) and event["EventTime"] > 1_600_000_000_000
    assert re.fullmatch(r"[0-9a-f]{24}", event["_id"]["$oid"])
    assert event["POSID"] == "404120"

    second = api.create("HS-2024-0002").json()
    assert second["ItemCode"] != body["ItemCode"]


def test_create_again_names_the_existing_order(start: Start) -> None:
    api = start().login()
    first = api.create("HS-7").json()
    again = api.create("HS-7")
    assert again.status_code == 200
    assert again.json()["Status"] == "100"
    assert again.json()["ItemCode"] == first["ItemCode"]
    assert first["ItemCode"] in again.json()["Message"]
    api.create("HS-7", ReceiverName="Someone else")

    state = api.admin("GET", "/state").json()
    assert len(state["orders"]) == 1
    assert state["orders"][0]["duplicate_requests"] == 2
    assert state["orders"][0]["duplicate_mismatches"] == 1
    assert statuses(api.events(), "HS-7") == [ACCEPTED]


def test_create_refuses_incomplete_or_foreign_orders(start: Start) -> None:
    api = start().login()
    missing = api.create("HS-8", ReceiverName="", SenderTel=None, SenderProvince="Nghệ An").json()
    assert missing["Status"] == "101"
    for name in ("ReceiverName", "SenderTel", "SenderProvince"):
        assert name in missing["Message"]
    foreign = api.http.post("/api/order/post", json=order_body("HS-9", BOB.customer_code), headers=api.auth)
    assert foreign.json()["Status"] == "104"
    not_json = api.http.post("/api/order/post", content=b"[1, 2", headers=api.auth)
    assert not_json.status_code == 400 and not_json.json()["Status"] == "101"
    assert api.admin("GET", "/state").json()["orders"] == []


def test_cancel_only_before_delivery(start: Start) -> None:
    api = start().login()
    api.create("HS-10")
    cancelled = api.cancel("HS-10").json()
    assert cancelled["Status"] == "100"
    assert api.order_state("HS-10")["state"] == "cancelled"
    assert api.cancel("HS-10").json()["Status"] == "100"  # again: nothing changes
    assert statuses(api.events(), "HS-10") == [ACCEPTED, CANCELLED]

    api.create("HS-11")
    api.advance("HS-11")
    api.advance("HS-11")
    assert api.cancel("HS-11").json()["Status"] == "100"  # in transit is still before delivery

    api.create("HS-12")
    for _ in range(3):
        assert api.advance("HS-12").status_code == 200
    refused = api.cancel("HS-12").json()
    assert refused["Status"] == "103"
    assert api.order_state("HS-12")["state"] == "delivered"
    assert api.cancel("HS-404").json()["Status"] == "102"
    missing = api.http.get("/api/order/cancel", params={"OrderNumber": "HS-10"}, headers=api.auth)
    assert missing.json()["Status"] == "101"


# ---- tracking feed -------------------------------------------------------------------------------


def test_feed_pages_by_last_id_without_repeats_or_gaps(start: Start) -> None:
    api = start().login()
    bob = Api(str(api.http.base_url), BOB).login()
    try:
        for n in range(5):
            api.create(f"HS-{n}")
            bob.create(f"B-{n}")
        for n in range(3):
            api.advance(f"HS-{n}")
        # Alice has 8 events, Bob 5.
        first = api.page(pagesize=3).json()
        assert (first["_returned"], first["_size"], first["_total_pages"]) == (3, 8, 3)

        seen: list[dict[str, Any]] = []
        last = ZERO_OBJECT_ID
        pages = 0
        while True:
            body = api.page(last, pagesize=3).json()
            docs = body["_embedded"]["rh:doc"]
            assert body["_returned"] == len(docs)
            if not docs:
                assert (body["_size"], body["_total_pages"]) == (0, 0)
                break
            pages += 1
            seen.extend(docs)
            last = docs[-1]["_id"]["$oid"]
            if pages == 2:  # events appear while the reader is in the middle of the feed
                api.advance("HS-3")
                api.create("HS-5")
        ids = [d["_id"]["$oid"] for d in seen]
        assert ids == sorted(ids) and len(set(ids)) == len(ids) == 10
        assert ids == [d["_id"]["$oid"] for d in api.events()]
        assert {d["CustomerCode"] for d in seen} == {ALICE.customer_code}
        assert len(bob.events()) == 5

        # Uppercase hex is the same cursor; bad cursors and sizes are refused.
        assert api.page(ids[4].upper(), 100).json()["_returned"] == 5
        assert api.page("xyz", 10).status_code == 400
        assert api.page(ZERO_OBJECT_ID, 0).status_code == 400
        assert api.page(ZERO_OBJECT_ID, 1001).status_code == 400
    finally:
        bob.close()


# ---- lifecycle -----------------------------------------------------------------------------------


def test_manual_advance_follows_scenarios(start: Start) -> None:
    api = start().login()
    api.create("HS-D")
    for expected in ("picked_up", "in_transit", "delivered"):
        response = api.advance("HS-D")
        assert response.status_code == 200 and response.json()["state"] == expected
    assert api.advance("HS-D").status_code == 409

    api.admin("PUT", f"/orders/{ALICE.customer_code}/HS-R/scenario", json={"scenario": "returned"})
    api.create("HS-R")  # the preset scenario applies at creation
    assert api.order_state("HS-R")["scenario"] == "returned"
    while api.advance("HS-R").status_code == 200:
        pass
    assert api.order_state("HS-R")["state"] == "returned"

    api.create("HS-N")
    scenario = api.admin(
        "PUT", f"/orders/{ALICE.customer_code}/HS-N/scenario", json={"scenario": "never_picked_up"}
    )
    assert scenario.json()["scenario"] == "never_picked_up"
    assert api.advance("HS-N").status_code == 409
    assert api.advance("HS-N", to="delivered").status_code == 409  # illegal jump
    assert api.advance("HS-N", to="picked_up").json()["state"] == "picked_up"
    assert api.advance("HS-404").status_code == 404

    events = api.events()
    assert statuses(events, "HS-D") == [ACCEPTED, PICKED_UP, IN_TRANSIT, DELIVERED]
    assert statuses(events, "HS-R") == [ACCEPTED, PICKED_UP, IN_TRANSIT, DELIVERY_FAILED, RETURNED]
    assert statuses(events, "HS-N") == [ACCEPTED, PICKED_UP]
    times = [e["EventTime"] for e in events if e["OrderNumber"] == "HS-D"]
    assert times == sorted(times)


def test_orders_move_by_themselves_in_compressed_time(start: Start) -> None:
    # Default delays sum to 30 simulated hours; at this scale they pass in about 0.1 s.
    api = start(time_scale=1_000_000).login()
    api.admin("PUT", f"/orders/{ALICE.customer_code}/HS-STAY/scenario", json={"scenario": "never_picked_up"})
    api.create("HS-GO")
    api.create("HS-STAY")
    deadline = time.monotonic() + 20
    while api.order_state("HS-GO")["state"] != "delivered":
        assert time.monotonic() < deadline, "the order never got delivered"
        time.sleep(0.02)
    events = api.events()
    assert statuses(events, "HS-GO") == [ACCEPTED, PICKED_UP, IN_TRANSIT, DELIVERED]
    assert statuses(events, "HS-STAY") == [ACCEPTED]
    go = [e for e in events if e["OrderNumber"] == "HS-GO"]
    # EventTime is the due time of each step: 2 h, 4 h and 24 h simulated apart, compressed.
    gaps = [b["EventTime"] - a["EventTime"] for a, b in itertools.pairwise(go)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]
    assert api.order_state("HS-STAY")["state"] == "accepted"


def test_orders_move_when_the_clock_is_pushed(start: Start) -> None:
    api = start(time_scale=1, delays={"accepted": 3600, "picked_up": 3600, "in_transit": 7200}).login()
    api.create("HS-C")
    api.admin("POST", "/clock", json={"advance_seconds": 3599})
    assert api.order_state("HS-C")["state"] == "accepted"
    api.admin("POST", "/clock", json={"advance_seconds": 2})
    assert api.order_state("HS-C")["state"] == "picked_up"
    api.admin("POST", "/clock", json={"advance_seconds": 100_000})
    api.login()  # the token expired meanwhile
    events = api.events()
    assert statuses(events, "HS-C") == [ACCEPTED, PICKED_UP, IN_TRANSIT, DELIVERED]
    times = [e["EventTime"] for e in events]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(gap - want) <= 1 for gap, want in zip(gaps, [3600_000, 3600_000, 7200_000], strict=True))


# ---- faults --------------------------------------------------------------------------------------


def test_fault_server_errors_for_the_next_calls(start: Start) -> None:
    api = start().login()
    assert api.fault("error", count=2, status=502)["error_calls"] == 2
    assert api.get_token().status_code == 502
    assert api.create("HS-E").status_code == 502
    assert api.create("HS-E").json()["Status"] == "100"
    assert api.admin("GET", "/state").json()["faults"]["error_calls"] == 0


def test_fault_slow_answers(start: Start) -> None:
    api = start().login()
    api.fault("slow", count=1, seconds=1.0)
    impatient = httpx.Client(base_url=api.http.base_url, timeout=0.2)
    try:
        with pytest.raises(httpx.ReadTimeout):
            impatient.get("/api/tracking", headers=api.auth)
        assert impatient.get("/api/tracking", headers=api.auth).status_code == 200
    finally:
        impatient.close()


def test_fault_expire_all_tokens(start: Start) -> None:
    api = start().login()
    other = Api(str(api.http.base_url), BOB).login()
    try:
        api.fault("expire_tokens")
        assert api.page().status_code == 401
        assert other.page().status_code == 401
        assert api.login().page().status_code == 200
    finally:
        other.close()


def test_fault_duplicate_tracking_events(start: Start) -> None:
    api = start().login()
    api.fault("duplicate_events", count=1)
    api.create("HS-DUP")
    api.advance("HS-DUP")
    events = api.events()
    assert statuses(events, "HS-DUP") == [ACCEPTED, ACCEPTED, PICKED_UP]
    original, copy = events[0], events[1]
    assert original["_id"] != copy["_id"]
    assert {k: v for k, v in original.items() if k != "_id"} == {k: v for k, v in copy.items() if k != "_id"}


def test_fault_down_and_up(start: Start) -> None:
    api = start().login()
    api.fault("down")
    with pytest.raises(httpx.TransportError):
        api.page()
    with pytest.raises(httpx.TransportError):
        api.get_token()
    assert api.admin("GET", "/state").json()["faults"]["down"] is True  # the admin door stays open
    api.fault("up")
    assert api.page().status_code == 200


def test_fault_clear_and_validation(start: Start) -> None:
    api = start().login()
    api.fault("error", count=5)
    api.fault("duplicate_events", count=3)
    cleared = api.fault("clear")
    assert cleared["error_calls"] == 0 and cleared["duplicate_events"] == 0
    assert api.page().status_code == 200
    assert api.admin("POST", "/faults", json={"kind": "meteor"}).status_code == 422
    assert api.admin("POST", "/faults", json={"kind": "error", "status": 200}).status_code == 422


# ---- admin and packaging -------------------------------------------------------------------------


def test_reset_forgets_everything_but_keeps_ids_increasing(start: Start) -> None:
    api = start().login()
    api.create("HS-OLD")
    old_last = api.events()[-1]["_id"]["$oid"]
    api.admin("POST", "/clock", json={"advance_seconds": 10})
    assert api.admin("POST", "/reset").status_code == 200
    state = api.admin("GET", "/state").json()
    assert state["orders"] == [] and state["events"] == 0 and state["clock"]["offset_seconds"] == 0
    assert api.page().status_code == 401  # tokens are gone too
    api.login().create("HS-NEW")
    new_events = api.events()
    assert [e["OrderNumber"] for e in new_events] == ["HS-NEW"]
    assert new_events[0]["_id"]["$oid"] > old_last


def test_status_code_table_is_exposed_as_data(start: Start) -> None:
    assert set(TRACKING_STATUS_CODES.values()) == set(OrderState)
    api = start()
    table = api.admin("GET", "/status-codes").json()
    assert {row["StatusCode"]: row["state"] for row in table} == {
        code: state.value for code, state in TRACKING_STATUS_CODES.items()
    }


def test_s10_check_digit_matches_the_upu_example() -> None:
    assert s10_check_digit(47312482) == 9  # RA 47312482 9 GB


def test_runs_alone_from_the_command_line() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.post_ems.simulator", "--port", str(port), "--client", "k:s:C-CLI"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/token",
                    headers={"Authorization": basic("k", "s")},
                    data={"grant_type": "client_credentials"},
                )
                break
            except httpx.TransportError:
                assert process.poll() is None, "the simulator exited"
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["token_type"] == "Bearer"
    finally:
        process.terminate()
        process.wait(10)
