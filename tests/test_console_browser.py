"""The console in a real browser: Debian's headless Chromium driven by Playwright (no browser is
downloaded; .ci/run installs the `chromium` package). An operator logs in, finds a message by its
dossier number, opens it, sees its signature verdict and its dossier timeline, retries a dead
delivery and sees it delivered. Screenshots of the main pages are written to
``$LIENTHONG_SCREENSHOT_DIR`` (docs/console to refresh the documentation's pictures).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.agency.simulator import create_app as create_agency_simulator
from hub.servers import RunningServer, free_port, run_in_thread
from tests.conftest import REQUIRE_SERVICES
from tests.deliverytest import make_config, wait_for
from tests.hubtest import RunningHub, auth, running_hub
from tests.test_intake_api import json_example

CHROMIUM = os.environ.get("LIENTHONG_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WEBHOOK_AGENCY = "000.00.00.H41"
TOKEN_REFUSING_AGENCY = "000.01.02.H41"  # its webhook answers 401 in the 2 a.m. test


def _need_browser() -> None:
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if problem is None and not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if problem is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(problem + " (LIENTHONG_REQUIRE_SERVICES=1)")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


@pytest.fixture(scope="module")
def hub(agency_sim: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("hub")
    config = make_config(base / "config", webhook_base=agency_sim.base_url, agency_retry={"max_attempts": 2})
    # The payment gateways are unreachable here, whatever else runs on this machine (a `make run`
    # holds their usual ports): a fee request sent to them waits, retrying, until it expires.
    adapters_file = config / "adapters.yaml"
    dead_port = str(free_port())
    text = adapters_file.read_text(encoding="utf-8")
    adapters_file.write_text(
        text.replace("${simulator:bank.vnpay}", f"http://127.0.0.1:{dead_port}").replace(
            "${simulator:bank.payplatform}", f"http://127.0.0.1:{dead_port}"
        ),
        "utf-8",
    )
    with running_hub(
        base, config_dir=config, workers=2, poll_interval_seconds=0.1, alert_interval_seconds=0.3
    ) as running:
        yield running


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("LIENTHONG_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def delivery_state(hub: RunningHub, message_id: str) -> dict[str, Any]:
    message = hub.client.get(f"/v1/messages/{message_id}", headers=auth("operator"))
    deliveries = hub.get(f"/v1/messages/{message_id}", as_=WEBHOOK_AGENCY).json()["deliveries"]
    assert message.status_code in (200, 404)
    return next(d for d in deliveries if d["recipient"] == WEBHOOK_AGENCY)


def test_an_operator_finds_a_dossier_sees_its_story_and_retries_its_dead_delivery(
    browser: Any, hub: RunningHub, agency_sim: RunningServer, shots: Path
) -> None:
    sim = httpx.Client(base_url=agency_sim.base_url, timeout=10)
    sim.post("/_sim/always-fail", json={"participant": WEBHOOK_AGENCY, "status": 503})
    body = json_example("payment.confirmation", recipients=[WEBHOOK_AGENCY])
    dossier = json.loads(body)["dossier_number"]
    sender = json.loads(body)["sender"]
    sent = hub.post(body, as_=sender, content_type="application/json")
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["id"]
    wait_for(lambda: delivery_state(hub, message_id)["state"] == "dead", what="the delivery to die")

    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
    page = context.new_page()
    try:
        # the console asks for a login first, and keeps where the operator was going
        page.goto(f"{hub.url}/console")
        assert "/console/login" in page.url
        page.screenshot(path=str(shots / "login.png"))
        page.fill("input[name=operator]", "operator")
        page.fill("input[name=password]", "wrong password")
        page.click("form[action='/console/login'] button")
        assert page.locator("[role=alert]").is_visible()
        page.fill("input[name=operator]", "operator")
        page.fill("input[name=password]", "dev-password-operator")
        page.click("form[action='/console/login'] button")
        page.wait_for_url(re.compile(r"/console$"))
        assert page.locator("h1").inner_text() == "Tổng quan"
        page.screenshot(path=str(shots / "overview.png"), full_page=True)

        # the exchange log: search by dossier number, then open the message
        page.click("nav >> text=Nhật ký trao đổi")
        page.fill("[data-testid=search]", dossier)
        page.click("form.filters button")
        rows = page.locator("table.log tr", has_text=dossier)
        assert rows.count() == 1
        page.screenshot(path=str(shots / "exchange-log.png"))
        rows.locator(f"a[href='/console/messages/{message_id}']").click()
        page.wait_for_url(f"**/console/messages/{message_id}")

        # the signature verdict, re-verified now: the hub signed this JSON document (detached JWS)
        verdict = page.locator("[data-testid=signature]")
        assert "Hợp lệ" in verdict.inner_text() and "JWS" in verdict.inner_text()
        assert page.locator("[data-testid=signer]").inner_text() == "lienthong"
        delivery = page.locator(f"[data-testid='delivery-{WEBHOOK_AGENCY}']")
        assert "Gửi không thành công" in delivery.inner_text() and "503" in delivery.inner_text()
        page.screenshot(path=str(shots / "message.png"))

        # the dossier's timeline shows the story, the dead delivery included
        page.click("[data-testid=timeline-link]")
        assert page.locator("[data-testid=timeline-key]").inner_text() == dossier
        timeline = page.locator("[data-testid=timeline]").inner_text()
        assert "Đã tiếp nhận" in timeline and "message.accepted" in timeline and "delivery.dead" in timeline
        page.screenshot(path=str(shots / "timeline.png"))

        # dead deliveries: retry it once the agency's system works again
        sim.post("/_sim/clear", json={})
        page.click("nav >> text=Gửi không thành công")
        heading = page.locator("h1").inner_text()
        assert "Macro" not in heading and "Gửi không thành công" in heading, heading  # names its state
        assert page.locator("p.tabs a.on").get_attribute("data-state") == "dead"  # its tab is highlighted
        dead_id = delivery_state(hub, message_id)["id"]
        page.screenshot(path=str(shots / "dead-deliveries.png"))
        page.click(f"[data-testid='retry-{dead_id}']")
        assert dead_id in page.locator("[role=status]").inner_text()
        wait_for(lambda: delivery_state(hub, message_id)["state"] == "delivered", what="the retried delivery")
        page.goto(f"{hub.url}/console/messages/{message_id}")
        assert "Đã chuyển" in page.locator(f"[data-testid='delivery-{WEBHOOK_AGENCY}']").inner_text()

        # the same console in English; the operator's actions are in the ledger
        with page.expect_navigation():
            page.click("header a[href^='/console/lang/en']")
        assert page.locator("html").get_attribute("lang") == "en"
        assert f"/console/messages/{message_id}" in page.url  # the switch stays on the page

        # the watcher resolves the dead delivery's alert on its next look after the retry delivered it
        def alerts_heading_without_open_count() -> bool:
            page.goto(f"{hub.url}/console/alerts")
            return page.locator("h1").first.inner_text() == "Alerts"

        wait_for(alerts_heading_without_open_count, what="the retried delivery's alert to resolve")
        actions = page.locator("table.log").nth(1).inner_text()
        assert "Retry" in actions and "Login refused" in actions  # glossed, with the public word beside
        assert (
            "operator.retry" in actions
            and "operator.login" in actions
            and "operator.login-refused" in actions
        )
        page.goto(f"{hub.url}/console/ledger")
        page.click("text=Verify now")
        assert "Intact" in page.locator("[data-testid=ledger-verdict]").inner_text()
        page.screenshot(path=str(shots / "ledger.png"))
    finally:
        context.close()
        sim.close()
    for name in ("login", "overview", "exchange-log", "message", "timeline", "dead-deliveries", "ledger"):
        assert (shots / f"{name}.png").stat().st_size > 1000


ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PULLING_AGENCY = "000.03.04.H41"


def dead_deliveries(hub: RunningHub, **filters: str) -> list[dict[str, Any]]:
    query = {"state": "dead", "limit": "200", **filters}
    answer = hub.client.get("/v1/deliveries", params=query, headers=auth("operator"))
    return answer.json()["items"]


def test_at_2_am_one_screen_says_what_is_stuck_for_whom_since_when_and_what_to_do(
    browser: Any, hub: RunningHub, agency_sim: RunningServer, shots: Path
) -> None:
    sim = httpx.Client(base_url=agency_sim.base_url, timeout=10)
    sim.post("/_sim/always-fail", json={"participant": WEBHOOK_AGENCY, "status": 503})
    stuck = []
    for _ in range(2):
        body = json_example("payment.confirmation", recipients=[WEBHOOK_AGENCY, PULLING_AGENCY])
        sent = hub.post(body, as_=json.loads(body)["sender"], content_type="application/json")
        assert sent.status_code == 202, sent.text
        stuck.append(sent.json()["id"])
    # two refusals retrying cannot mend: a fee request that expired while its gateway was unreachable
    # (accepted at intake, it was still payable then), and an agency system refusing the hub's token
    soon = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(seconds=2)).isoformat(timespec="seconds")
    # (the platform, not VNPAY: a VNPAY payment link is made by the hub alone and never waits)
    expiring = json_example("payment.request", expires_at=soon, recipients=["bank.payplatform"])
    answer = hub.post(expiring, as_=json.loads(expiring)["sender"], content_type="application/json")
    assert answer.status_code == 202, answer.text
    sim.post("/_sim/always-fail", json={"participant": TOKEN_REFUSING_AGENCY, "status": 401})
    refused = json_example("payment.confirmation", recipients=[TOKEN_REFUSING_AGENCY])
    answer = hub.post(refused, as_=json.loads(refused)["sender"], content_type="application/json")
    assert answer.status_code == 202, answer.text
    wait_for(
        lambda: (
            {d["message_id"] for d in dead_deliveries(hub)} >= set(stuck)
            and dead_deliveries(hub, adapter="bank")
            and dead_deliveries(hub, recipient=TOKEN_REFUSING_AGENCY)
        ),
        timeout=60,
        what="the four deliveries to die",
    )
    wait_for(
        lambda: len(hub.app.state.hub.ledger.events_of_kinds(["alert.delivery-dead"], limit=50)) >= 4,
        what="the watcher's alerts",
    )

    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="vi-VN")
    page = context.new_page()
    try:
        page.goto(f"{hub.url}/console/login")
        page.fill("input[name=operator]", "operator")
        page.fill("input[name=password]", "dev-password-operator")
        page.click("form[action='/console/login'] button")
        page.wait_for_url(re.compile(r"/console$"))
        assert "UTC+07:00" in page.locator("[data-testid=zone]").inner_text()  # times are labelled
        page.screenshot(path=str(shots / "overview.png"), full_page=True)

        # what is stuck, for whom (by name), since when, and a hint per failure class
        page.goto(f"{hub.url}/console/deliveries?state=dead")
        assert page.locator("body").get_attribute("data-refresh") == "30"  # reloads itself
        rows = page.locator("[data-testid=delivery-row]")
        by_class = {rows.nth(i).get_attribute("data-failure") for i in range(rows.count())}
        assert {"unreachable", "expired", "credentials"} <= by_class, by_class
        webhook_row = page.locator("[data-testid=delivery-row][data-failure=unreachable]").first
        assert "Bộ Tư pháp" in webhook_row.inner_text() or WEBHOOK_AGENCY in webhook_row.inner_text()
        assert "hệ thống hoạt động lại" in webhook_row.locator("[data-testid=hint]").inner_text()
        assert webhook_row.locator("button", has_text="Gửi lại").count() == 1
        expired_row = page.locator("[data-testid=delivery-row][data-failure=expired]")
        assert "lập yêu cầu mới" in expired_row.locator("[data-testid=hint]").inner_text()
        assert expired_row.locator("button", has_text="Gửi lại").count() == 0  # retrying cannot help
        credentials_row = page.locator("[data-testid=delivery-row][data-failure=credentials]")
        assert "config/adapters.yaml" in credentials_row.locator("[data-testid=hint]").inner_text()
        page.screenshot(path=str(shots / "dead-deliveries.png"), full_page=True)

        # filter by recipient, then retry all of that agency's at once once its system is back
        page.select_option("[data-testid=filter-recipient]", WEBHOOK_AGENCY)
        page.click("form.filters button")
        assert page.locator("[data-testid=delivery-row]").count() == len(
            dead_deliveries(hub, recipient=WEBHOOK_AGENCY)
        )
        sim.post("/_sim/clear", json={})
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("[data-testid=retry-all]")
        assert "Đã xếp hàng gửi lại" in page.locator("[data-testid=bulk-result]").inner_text()
        wait_for(lambda: not dead_deliveries(hub, recipient=WEBHOOK_AGENCY), what="the bulk retry")

        # alerts: readable, resolved by themselves once delivered, acknowledged by a person otherwise
        ledger = hub.app.state.hub.ledger
        wait_for(lambda: len(ledger.events_of_kinds(["alert-resolved"], limit=50)) >= 2, what="resolutions")
        page.goto(f"{hub.url}/console/alerts")
        table = page.locator("[data-testid=alerts]")
        assert table.locator("tr[data-status=resolved]").count() >= 2
        assert "{" not in table.inner_text()  # no raw JSON
        still_open = table.locator("tr[data-status=open]").first
        seq = still_open.get_attribute("data-testid").split("-")[1]
        still_open.locator("button").click()
        assert page.locator(f"[data-testid=alert-{seq}]").get_attribute("data-status") == "acknowledged"
        page.screenshot(path=str(shots / "alerts.png"), full_page=True)

        # peers, participants, routes and certificates, read-only
        page.goto(f"{hub.url}/console/peers")
        assert page.locator("[data-testid=peer-agency]").count() == 1
        assert page.locator("[data-testid=peer-inbox]").count() == 1
        assert "Đã chuyển" not in page.locator("[data-testid=peer-bank]").inner_text()
        page.screenshot(path=str(shots / "peers.png"), full_page=True)
        page.goto(f"{hub.url}/console/setup/participants")
        assert WEBHOOK_AGENCY in page.locator("[data-testid=participants]").inner_text()
        page.goto(f"{hub.url}/console/setup/routes")
        assert "agencies-pulling" in page.locator("[data-testid=routes]").inner_text()
        page.goto(f"{hub.url}/console/setup/certificates")
        days = [int(d) for d in page.locator("[data-testid=days-left]").all_inner_texts()]
        assert days and all(d > 30 for d in days)
        page.screenshot(path=str(shots / "certificates.png"), full_page=True)

        # an unknown id is a page, not raw JSON
        page.goto(f"{hub.url}/console/messages/00000000-0000-0000-0000-000000000000")
        assert page.locator("h1").inner_text() == "Không tìm thấy"

        # the exchange log shows the province's clock, and reads its From filter in the same zone
        received = datetime.fromisoformat(
            hub.get(f"/v1/messages/{stuck[0]}", as_=WEBHOOK_AGENCY).json()["received_at"]
        )
        local = received.astimezone(ZONE)
        page.goto(f"{hub.url}/console/messages/{stuck[0]}")
        assert local.strftime("%Y-%m-%d %H:%M:%S") in page.locator("main").inner_text()
        shown_from = (local - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
        later = (local + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
        page.goto(f"{hub.url}/console/messages?since={shown_from}")
        assert page.locator(f"a[href='/console/messages/{stuck[0]}']").count() == 1
        page.goto(f"{hub.url}/console/messages?since={later}")
        assert page.locator(f"a[href='/console/messages/{stuck[0]}']").count() == 0

        # the same screen in English: states, tabs and headers translated
        with page.expect_navigation():
            page.click("header a[href^='/console/lang/en']")
        page.goto(f"{hub.url}/console/deliveries?state=dead")
        assert page.locator("p.tabs a.on").inner_text() == "Failed"
        assert "what to do" in page.locator("table.log").inner_text().lower()
    finally:
        context.close()
        sim.close()
