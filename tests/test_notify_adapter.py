"""The notify adapter through the contract, with the kit's in-memory hub and the simulators: contacts
from the dossier's own documents, derived notices, quiet hours, rate limit, opt-out, the ASCII form,
and the SMTP answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.notify import Messages, NotifyAdapter, NotifyOptions, to_ascii
from adapters.notify.simulator import SmsGatewayConfig, SmtpConfig, create_sms_app, create_smtp_app
from hub.kit import InMemoryHub
from hub.kit.conformance import message
from hub.servers import RunningServer, free_port, run_in_thread
from hub.settings import PROJECT_ROOT
from hub.spi import Delivered, DeliveryOutcome, OutboundMessage, PermanentFailure, RetryableFailure

EXAMPLES = PROJECT_ROOT / "schemas" / "examples"
AGENCY = "000.01.02.H41"
NOON_HANOI = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 12:00 in Asia/Ho_Chi_Minh
NIGHT_HANOI = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 23:00


@pytest.fixture(scope="module")
def sms() -> Iterator[RunningServer]:
    with run_in_thread(create_sms_app(SmsGatewayConfig())) as server:
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


def options(
    sms: RunningServer | None = None, smtp: RunningServer | None = None, **changes: Any
) -> NotifyOptions:
    data: dict[str, Any] = {"submits_as": ["notify"], "timeout_seconds": 3}
    if sms is not None:
        data["sms"] = {
            "base_url": sms.base_url,
            "api_key": "dev:DEV-SMS-APIKEY",
            "secret_key": "dev:DEV-SMS-SECRET",
            "callback_token": "dev:tok",
        }
    if smtp is not None:
        data["email"] = {
            "port": smtp.server.config.app.state.smtp_port,  # type: ignore[union-attr]
            "ca_file": str(PROJECT_ROOT / "certs/dev/ca.crt"),
        }
    return NotifyOptions.model_validate({**data, **changes})


def adapter(opts: NotifyOptions, *, at: datetime = NOON_HANOI) -> tuple[NotifyAdapter, InMemoryHub]:
    hub = InMemoryHub(adapter="notify", submits_as=["notify"])
    return NotifyAdapter(opts, hub, clock=lambda: at), hub


def notice(
    status: str = "result_ready", *, citizen: dict[str, str] | None = None, dossier: str = ""
) -> OutboundMessage:
    document = json.loads((EXAMPLES / "dossier.status.json").read_text("utf-8"))
    document.update(
        status=status,
        event_id=f"ev-{uuid.uuid4().hex[:12]}",
        dossier_number=dossier or document["dossier_number"],
    )
    if citizen is None:
        document.pop("citizen")
    else:
        document["citizen"] = citizen
    body = json.dumps(document, ensure_ascii=False).encode()
    return message(recipient="notify", document=body, doctype="dossier.status", sender=AGENCY)


def sent_to(sms: RunningServer, phone: str) -> list[dict[str, Any]]:
    return [s for s in httpx.get(f"{sms.base_url}/_sim/state").json()["sent"] if s["phone"] == phone]


def new_phone() -> str:
    return "09" + str(uuid.uuid4().int)[:8]


def test_every_status_has_a_vietnamese_template_and_an_ascii_form() -> None:
    messages = Messages()
    assert set(NotifyOptions().statuses) <= messages.statuses()
    values = {"dossier_number": "X-1", "agency_name": "Sở Tư pháp", "citizen_name": "Hoa", "note": "n"}
    for status in NotifyOptions().statuses:
        rendered = messages.render(status, values, ascii_sms=True)
        assert rendered.sms.isascii() and "X-1" in rendered.sms and "X-1" in rendered.subject
        assert len(rendered.sms) <= 160, (status, len(rendered.sms))
    assert (
        to_ascii("Đã tiếp nhận hồ sơ, bưu điện phát thành công")
        == "Da tiep nhan ho so, buu dien phat thanh cong"
    )


def test_contacts_come_from_the_dossiers_own_documents(sms: RunningServer) -> None:
    made, hub = adapter(options(sms))
    phone, dossier = new_phone(), f"{AGENCY}-{uuid.uuid4().hex[:8]}"
    request = json.loads((EXAMPLES / "payment.request.json").read_text("utf-8"))
    request.update(dossier_number=dossier, payer={"name": "Lê Văn Ba", "phone": phone})
    hub.documents["pay-1"] = json.dumps(request, ensure_ascii=False).encode()
    made.observe(outcome("pay-1", "payment.request", dossier))
    result = made.deliver(notice("received", citizen=None, dossier=dossier))
    assert isinstance(result, Delivered), result
    assert len(sent_to(sms, phone)) == 1
    assert all(owner == "notify" for owner, _ in hub.state)
    assert phone not in json.dumps([k for _, k in hub.state])  # keys hold digests, not phone numbers


def outcome(message_id: str, doctype: str, dossier: str) -> DeliveryOutcome:
    return DeliveryOutcome(
        message_id=message_id,
        delivery_id="d-" + message_id,
        doctype=doctype,
        sender=AGENCY,
        submitted_by=AGENCY,
        recipient="bank.vnpay",
        adapter="bank",
        correlation_key=dossier,
        state="delivered",
        peer_reference=None,
        error=None,
    )


def test_a_paid_fee_becomes_one_fee_paid_notice_submitted_as_notify() -> None:
    made, hub = adapter(options())
    confirmation = json.loads((EXAMPLES / "payment.confirmation.json").read_text("utf-8"))
    hub.documents["conf-1"] = json.dumps(confirmation).encode()
    made.observe(outcome("conf-1", "payment.confirmation", confirmation["dossier_number"]))
    [submitted] = hub.submitted
    notice_doc = json.loads(submitted.body)
    assert submitted.as_participant == "notify"
    assert notice_doc["status"] == "fee_paid" and notice_doc["event_id"] == "n-conf-1"
    assert (
        notice_doc["recipients"] == ["notify"]
        and notice_doc["dossier_number"] == confirmation["dossier_number"]
    )
    confirmation["status"] = "failed"
    hub.documents["conf-2"] = json.dumps(confirmation).encode()
    made.observe(outcome("conf-2", "payment.confirmation", confirmation["dossier_number"]))
    assert len(hub.submitted) == 1  # only the statuses the options map notify


def test_quiet_hours_hold_sms_but_not_email(sms: RunningServer, smtp: RunningServer) -> None:
    phone = new_phone()
    made, _ = adapter(options(sms, smtp), at=NIGHT_HANOI)
    outbound = notice(citizen={"phone": phone, "email": f"{phone}@example.com"})
    held = made.deliver(outbound)
    assert isinstance(held, RetryableFailure) and "quiet hours" in held.reason
    assert held.retry_after_seconds == 8 * 3600  # 23:00 → 07:00
    assert sent_to(sms, phone) == []
    mails = httpx.get(f"{smtp.base_url}/_sim/messages").json()["messages"]
    assert [m["rcpt_tos"] for m in mails if m["rcpt_tos"] == [f"{phone}@example.com"]] == [
        [f"{phone}@example.com"]
    ]
    made.clock = lambda: NOON_HANOI
    assert isinstance(made.deliver(outbound), Delivered)
    again = httpx.get(f"{smtp.base_url}/_sim/messages").json()["messages"]
    assert len([m for m in again if m["rcpt_tos"] == [f"{phone}@example.com"]]) == 1  # not sent twice
    assert len(sent_to(sms, phone)) == 1


def test_the_rate_limit_holds_a_contacts_next_messages(sms: RunningServer) -> None:
    phone = new_phone()
    made, _ = adapter(options(sms, rate_limit={"max_messages": 2, "per_seconds": 600}))
    results = [
        made.deliver(notice(status, citizen={"phone": phone}))
        for status in ("received", "result_ready", "cancelled")
    ]
    assert [type(r).__name__ for r in results] == ["Delivered", "Delivered", "RetryableFailure"]
    assert isinstance(results[2], RetryableFailure) and 0 < (results[2].retry_after_seconds or 0) <= 600
    assert len(sent_to(sms, phone)) == 2


def test_opted_out_contacts_are_skipped_static_or_by_the_gateways_report(sms: RunningServer) -> None:
    static, by_reply = new_phone(), new_phone()
    made, hub = adapter(options(sms, opt_out=[static]))
    assert isinstance(made.deliver(notice(citizen={"phone": static})), Delivered)
    app = FastAPI()
    app.include_router(made.routers()[0], prefix="/adapters/notify")
    with run_in_thread(app) as door:
        url = f"{door.base_url}/adapters/notify/opt-out"
        assert httpx.post(url + "?token=bad", json={"contact": by_reply}).status_code == 401
        assert httpx.post(url + "?token=tok", json={"contact": by_reply}).status_code == 200
    result = made.deliver(notice(citizen={"phone": by_reply}))
    assert isinstance(result, Delivered) and "opted out" in (result.detail or "")
    assert sent_to(sms, static) == [] and sent_to(sms, by_reply) == []
    assert [d["why"] for k, d in hub.events if k == "skipped"] == ["opted out", "opted out"]


def test_smtp_refusal_is_permanent_in_the_servers_words_and_down_is_retryable(smtp: RunningServer) -> None:
    made, _ = adapter(options(smtp=smtp))
    refused = made.deliver(notice(citizen={"email": "nobody@refused.example"}))
    assert (
        isinstance(refused, PermanentFailure)
        and "smtp 550" in refused.reason
        and "mailbox unavailable" in refused.reason
    )
    down, _ = adapter(options(email={"port": free_port()}))
    result = down.deliver(notice(citizen={"email": "hoa@example.com"}))
    assert isinstance(result, RetryableFailure) and result.reason.startswith("smtp 127.0.0.1")


def test_a_status_that_does_not_notify_and_a_citizen_without_contacts_are_delivered_quietly(
    sms: RunningServer,
) -> None:
    made, _ = adapter(options(sms))
    quiet = made.deliver(notice("archived", citizen={"phone": new_phone()}))
    assert isinstance(quiet, Delivered) and "does not notify" in (quiet.detail or "")
    nobody = made.deliver(notice(citizen=None, dossier=f"{AGENCY}-{uuid.uuid4().hex[:8]}"))
    assert isinstance(nobody, Delivered) and "no phone or e-mail" in (nobody.detail or "")


def test_a_status_without_a_template_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="no template"):
        adapter(options(statuses=["result_ready", "invented_status"]))


@pytest.mark.parametrize(
    ("window", "utc_hour", "waits"),
    [
        (("21:00", "07:00"), 16, 8 * 3600),  # 23:00 local: until 07:00
        (("21:00", "07:00"), 22, 2 * 3600),  # 05:00 local
        (("21:00", "07:00"), 5, 0),  # 12:00 local
        (("12:00", "13:30"), 5, 90 * 60),  # a window within one day
        (("12:00", "13:30"), 7, 0),
        (("08:00", "08:00"), 1, 0),  # an empty window
    ],
)
def test_quiet_hours_windows(window: tuple[str, str], utc_hour: int, waits: float) -> None:
    from adapters.notify.options import QuietHours
    from adapters.notify.quiet import seconds_until_allowed

    quiet = QuietHours(start=window[0], end=window[1])
    assert seconds_until_allowed(quiet, datetime(2026, 11, 25, utc_hour, 0, tzinfo=UTC)) == waits
    assert seconds_until_allowed(None, NIGHT_HANOI) == 0
    with pytest.raises(ValueError, match="HH:MM"):
        QuietHours(start="9pm")


def test_pointers_read_what_the_options_name() -> None:
    from adapters.notify.pointers import at

    document = {"payer": {"phone": "0912345678"}, "items": [{"a/b": 1, "m~n": 2}]}
    assert at(document, "/payer/phone") == "0912345678"
    assert at(document, "/items/0/a~1b") == 1 and at(document, "/items/0/m~0n") == 2
    assert at(document, "/items/5") is None and at(document, "/payer/phone/x") is None
    assert at(document, None) is None and at(document, "") == document


def test_a_send_that_did_not_happen_does_not_use_up_the_rate_limit(sms: RunningServer) -> None:
    phone = new_phone()
    made, _ = adapter(options(sms, rate_limit={"max_messages": 1, "per_seconds": 600}))
    httpx.post(f"{sms.base_url}/_sim/faults", json={"fail_next": 2}).raise_for_status()
    outbound = notice(citizen={"phone": phone})
    assert isinstance(made.deliver(outbound), RetryableFailure)  # gateway 503
    assert isinstance(made.deliver(outbound), RetryableFailure)  # gateway 503 again
    assert isinstance(made.deliver(outbound), Delivered)  # the one allowed SMS is still there
    assert len(sent_to(sms, phone)) == 1
