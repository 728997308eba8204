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
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.agency.simulator import create_app as create_agency_simulator
from hub.servers import RunningServer, run_in_thread
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
    with running_hub(base, config_dir=config, workers=2, poll_interval_seconds=0.1) as running:
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
        assert "dead" in delivery.inner_text() and "503" in delivery.inner_text()
        page.screenshot(path=str(shots / "message.png"))

        # the dossier's timeline shows the story, the dead delivery included
        page.click("[data-testid=timeline-link]")
        assert page.locator("[data-testid=timeline-key]").inner_text() == dossier
        timeline = page.locator("[data-testid=timeline]").inner_text()
        assert "message.accepted" in timeline and "delivery.dead" in timeline
        page.screenshot(path=str(shots / "timeline.png"))

        # dead deliveries: retry it once the agency's system works again
        sim.post("/_sim/clear", json={})
        page.click("nav >> text=Chuyển phát lỗi")
        heading = page.locator("h1").inner_text()
        assert "Macro" not in heading and "dead" in heading, heading  # the page says which state it lists
        assert page.locator("p.tabs a.on").inner_text() == "dead"  # and its tab is the highlighted one
        dead_id = delivery_state(hub, message_id)["id"]
        page.screenshot(path=str(shots / "dead-deliveries.png"))
        page.click(f"[data-testid='retry-{dead_id}']")
        assert dead_id in page.locator("[role=status]").inner_text()
        wait_for(lambda: delivery_state(hub, message_id)["state"] == "delivered", what="the retried delivery")
        page.goto(f"{hub.url}/console/messages/{message_id}")
        assert "delivered" in page.locator(f"[data-testid='delivery-{WEBHOOK_AGENCY}']").inner_text()

        # the same console in English; the operator's actions are in the ledger
        with page.expect_navigation():
            page.click("header a[href^='/console/lang/en']")
        assert page.locator("html").get_attribute("lang") == "en"
        assert f"/console/messages/{message_id}" in page.url  # the switch stays on the page
        page.goto(f"{hub.url}/console/alerts")
        assert page.locator("h1").first.inner_text() == "Alerts"
        actions = page.locator("table.log").nth(1).inner_text()
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
