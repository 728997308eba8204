"""Citizens' notifications end to end: a running hub, the SMS gateway simulator (HTTP, posting delivery
reports back) and the mail server simulator (real SMTP with STARTTLS), over loopback."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.agency.simulator import create_app as create_agency_simulator
from adapters.notify.simulator import SmsGatewayConfig, SmtpConfig, create_sms_app, create_smtp_app
from hub.api import create_app
from hub.servers import RunningServer, free_port, run_in_thread
from hub.settings import PROJECT_ROOT, Settings
from tests.deliverytest import make_config, wait_for
from tests.hubtest import EXAMPLES, RunningHub, auth
from tests.test_console_pages import login

AGENCY = "000.01.02.H41"
PHONE, EMAIL = "0912345678", "hoa.nguyen@example.com"
FAST_RETRY = {
    "max_attempts": 6,
    "initial_delay_seconds": 0.3,
    "multiplier": 1.5,
    "max_delay_seconds": 1,
    "jitter": 0,
}


@pytest.fixture(scope="module")
def sms() -> Iterator[RunningServer]:
    with run_in_thread(create_sms_app(SmsGatewayConfig(dlr_delay_seconds=0.05))) as server:
        yield server


@pytest.fixture(scope="module")
def smtp() -> Iterator[RunningServer]:
    config = SmtpConfig(
        smtp_port=free_port(),
        ca_cert=str(PROJECT_ROOT / "certs/dev/ca.crt"),
        ca_key=str(PROJECT_ROOT / "certs/dev/ca.key"),
    )
    with run_in_thread(create_smtp_app(config)) as server:
        yield server


@pytest.fixture(scope="module")
def agency_sim() -> Iterator[RunningServer]:
    with run_in_thread(create_agency_simulator()) as server:
        yield server


@pytest.fixture(scope="module")
def hub(
    sms: RunningServer,
    smtp: RunningServer,
    agency_sim: RunningServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningHub]:
    base: Path = tmp_path_factory.mktemp("notify")
    port = free_port()
    smtp_port = smtp.server.config.app.state.smtp_port  # type: ignore[union-attr]
    notify = {
        "retry": FAST_RETRY,
        "timeout_seconds": 3,
        "quiet_hours": None,
        "sms": {
            "base_url": sms.base_url,
            "api_key": "dev:DEV-SMS-APIKEY",
            "secret_key": "dev:DEV-SMS-SECRET",
            "callback_url": f"http://127.0.0.1:{port}/adapters/notify/sms/dlr?token=e2e-token",
            "callback_token": "dev:e2e-token",
        },
        "email": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "starttls": "required",
            "ca_file": str(PROJECT_ROOT / "certs/dev/ca.crt"),
        },
    }
    config = make_config(base / "config", webhook_base=agency_sim.base_url, adapters={"notify": notify})
    settings = Settings(data_dir=base, config_dir=config, workers=2, poll_interval_seconds=0.1)
    app = create_app(settings)
    server = run_in_thread(app, port=port)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            yield RunningHub(server, settings, client, app)
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def clean(sms: RunningServer, smtp: RunningServer) -> None:
    httpx.post(f"{sms.base_url}/_sim/reset")
    httpx.post(f"{smtp.base_url}/_sim/reset")


def notice(status: str = "result_ready", *, dossier: str | None = None, **changes: Any) -> bytes:
    document = json.loads((EXAMPLES / "dossier.status.json").read_text("utf-8"))
    dossier = dossier or f"{AGENCY}-{uuid.uuid4().hex[:10]}"
    document.update(dossier_number=dossier, event_id=f"{dossier}.{status}", status=status, **changes)
    return json.dumps(document, ensure_ascii=False).encode()


def send(hub: RunningHub, body: bytes, expect: int = 202) -> dict[str, Any]:
    answer = hub.post(body, as_=AGENCY, content_type="application/json")
    assert answer.status_code == expect, answer.text
    return answer.json()


def delivery(hub: RunningHub, message_id: str) -> dict[str, Any]:
    found = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()
    return found["deliveries"][0]


def sent_sms(sms: RunningServer) -> list[dict[str, Any]]:
    return httpx.get(f"{sms.base_url}/_sim/state").json()["sent"]


def mails(smtp: RunningServer) -> list[dict[str, Any]]:
    return httpx.get(f"{smtp.base_url}/_sim/messages").json()["messages"]


def test_result_ready_sends_one_sms_and_one_email_with_the_right_vietnamese_text(
    hub: RunningHub, sms: RunningServer, smtp: RunningServer
) -> None:
    accepted = send(hub, notice("result_ready"))
    dossier = json.loads(hub.get(f"/v1/messages/{accepted['id']}", as_=AGENCY).text)["correlation_key"]
    wait_for(lambda: delivery(hub, accepted["id"])["state"] == "delivered", timeout=20, what="delivered")
    texts = sent_sms(sms)
    assert len(texts) == 1 and texts[0]["phone"] == PHONE and texts[0]["brandname"] == "LIENTHONG"
    assert texts[0]["content"] == (
        f"Ho so {dossier} da co ket qua. Moi Ong/Ba nhan tai bo phan mot cua hoac qua buu dien."
    )
    assert texts[0]["unicode"] is False
    [mail] = mails(smtp)
    assert mail["rcpt_tos"] == [EMAIL] and mail["tls"] is True  # STARTTLS with the development CA
    assert mail["subject"] == f"Hồ sơ {dossier} đã có kết quả"
    assert mail["body"].startswith("Kính gửi Nguyễn Thị Hoa,")
    assert "Cấp phiếu lý lịch tư pháp" in mail["body"] and "Sở Tư pháp tỉnh Nghệ An" in mail["body"]
    assert mail["message_id"] == f"<{accepted['id']}.notify@lienthong.invalid>"
    events = hub.get(f"/v1/messages/{accepted['id']}", as_=AGENCY).json()["events"]
    [done] = [e for e in events if e["kind"] == "delivery.delivered"]
    assert done["data"]["receipt"] == "callback" and done["data"]["acknowledged"] is True  # capabilities


def test_a_repeated_event_sends_nothing_more(
    hub: RunningHub, sms: RunningServer, smtp: RunningServer
) -> None:
    body = notice("received")
    first = send(hub, body)
    wait_for(lambda: delivery(hub, first["id"])["state"] == "delivered", timeout=20, what="delivered")
    again = send(hub, body, expect=200)
    assert again["duplicate"] is True and again["id"] == first["id"]
    reworded = json.loads(body)
    reworded["note"] = "gửi lại"  # the same event, told again by the one-stop system
    third = send(hub, json.dumps(reworded, ensure_ascii=False).encode(), expect=200)
    assert third["id"] == first["id"]
    assert len(sent_sms(sms)) == 1 and len(mails(smtp)) == 1


def test_gateway_down_is_retried_then_delivered(
    hub: RunningHub, sms: RunningServer, smtp: RunningServer
) -> None:
    httpx.post(f"{sms.base_url}/_sim/faults", json={"fail_next": 2}).raise_for_status()
    accepted = send(hub, notice("supplement_requested", note="bản sao CCCD"))
    done = wait_for(
        lambda: (d := delivery(hub, accepted["id"]))["state"] == "delivered" and d,
        timeout=30,
        what="delivered",
    )
    assert done["attempts"] >= 3  # two 503s, then accepted
    assert len(sent_sms(sms)) == 1 and "bo sung: ban sao CCCD" in sent_sms(sms)[0]["content"]
    assert len(mails(smtp)) == 1  # the e-mail went on the first attempt and was not sent again


def test_a_failed_delivery_report_shows_on_the_timeline_and_the_console(
    hub: RunningHub, sms: RunningServer
) -> None:
    failing = "0987654321"
    httpx.post(
        f"{sms.base_url}/_sim/dlr-outcome", json={"phone": failing, "status": "FAILED"}
    ).raise_for_status()
    body = notice("cancelled", note="Người nộp rút hồ sơ")
    document = json.loads(body)
    document["citizen"] = {"name": "Trần Văn Nam", "phone": failing}
    accepted = send(hub, json.dumps(document, ensure_ascii=False).encode())
    dossier = document["dossier_number"]

    def failed_report() -> dict[str, Any] | None:
        timeline = hub.client.get(f"/v1/timeline/{dossier}", headers=auth(AGENCY)).json()
        reports = [e for e in timeline["events"] if e["kind"] == "adapter.sms.dlr"]
        return reports[0] if reports else None

    report = wait_for(failed_report, timeout=20, what="the delivery report")
    assert report["message_id"] == accepted["id"]
    assert report["data"]["status"] == "failed" and report["data"]["phone"] == "0987***321"
    assert "không liên lạc được" in report["data"]["error"]
    console = login(hub)
    page = console.get(f"/console/timeline/{dossier}")
    assert page.status_code == 200
    assert "adapter.sms.dlr" in page.text and "Thuê bao không liên lạc được" in page.text


def test_forged_delivery_reports_are_refused_and_recorded(hub: RunningHub) -> None:
    forged = hub.client.post(
        "/adapters/notify/sms/dlr?token=guess", json={"SMSID": "1", "Status": "DELIVERED"}
    )
    assert forged.status_code == 401
    unknown = hub.client.post(
        "/adapters/notify/sms/dlr?token=e2e-token", json={"SMSID": "999", "Status": "FAILED"}
    )
    assert unknown.status_code == 404
    refused = hub.app.state.hub.ledger.events_of_kinds(["adapter.sms.dlr.refused"], limit=2)
    assert {e.data["why"] for e in refused} == {"bad or missing token", "unknown SMSID"}


def test_a_vnpost_delivery_becomes_a_notice_to_the_citizen_the_dossier_named(
    hub: RunningHub, sms: RunningServer
) -> None:
    phone = "0977000111"
    first = json.loads(notice("result_ready"))
    first["citizen"] = {"name": "Phạm Thu Trang", "phone": phone}
    dossier = first["dossier_number"]
    accepted = send(hub, json.dumps(first, ensure_ascii=False).encode())
    wait_for(
        lambda: delivery(hub, accepted["id"])["state"] == "delivered", timeout=20, what="the first notice"
    )

    tracking = json.loads((EXAMPLES / "ems.tracking.json").read_text("utf-8"))
    tracking["dossier_number"] = dossier
    tracking["event"]["id"] = uuid.uuid4().hex[:24]
    answer = hub.post(
        json.dumps(tracking, ensure_ascii=False).encode(), as_="vnpost", content_type="application/json"
    )
    assert answer.status_code == 202, answer.text

    def delivered_sms() -> list[dict[str, Any]]:
        return [s for s in sent_sms(sms) if s["phone"] == phone and "buu dien phat" in s["content"]]

    [text] = wait_for(delivered_sms, timeout=30, what="the post_delivered SMS")
    assert text["content"] == f"Ket qua ho so {dossier} da duoc buu dien phat thanh cong."
    timeline = hub.client.get(f"/v1/timeline/{dossier}", headers=auth("operator")).json()
    derived = [m for m in timeline["messages"] if m["type"] == "dossier.status" and m["sender"] == "notify"]
    assert len(derived) == 1 and derived[0]["recipients"] == ["notify"]
