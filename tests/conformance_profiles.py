"""Conformance profiles of the repository's adapters (hub.kit.conformance.ConformanceProfile): what the
suite needs to know to drive each adapter against its own registered simulator."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from adapters.agency import AgencyAdapter
from adapters.post_ems import PostEmsAdapter
from hub.kit import ConformanceProfile, InMemoryHub
from hub.kit.conformance import message
from hub.settings import PROJECT_ROOT
from hub.spi import OutboundMessage, ParticipantInfo

AGENCY = "000.01.02.H41"
EXAMPLES = PROJECT_ROOT / "schemas" / "examples"


# -- agency: webhooks of the province's own systems ---------------------------------------------------


def _agency_hub(base_url: str) -> InMemoryHub:
    hub = InMemoryHub()
    hub.participants[AGENCY] = ParticipantInfo(
        id=AGENCY, name="Sở Tư pháp", kind="agency", webhook_url=f"{base_url}/webhook/{AGENCY}", attributes={}
    )
    return hub


def _agency_message(base_url: str) -> OutboundMessage:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">'
        "<edXML:edXMLHeader/><edXML:edXMLBody>Công văn số 12/UBND</edXML:edXMLBody></edXML:edXMLEnvelope>"
    ).encode()
    return message(recipient=AGENCY, document=body, doctype="edxml.document", content_type="application/xml")


def _agency_refused(base_url: str) -> OutboundMessage:
    httpx.post(f"{base_url}/_sim/fail-next", json={"count": 1, "status": 422}, timeout=5).raise_for_status()
    return _agency_message(base_url)


def _agency_received(base_url: str, sent: OutboundMessage) -> int:
    items = httpx.get(f"{base_url}/_sim/received", params={"include_duplicates": "false"}, timeout=5).json()[
        "items"
    ]
    return sum(1 for item in items if item["message_id"] == sent.message_id)


def agency() -> ConformanceProfile:
    return ConformanceProfile(
        adapter=AgencyAdapter,
        simulator="agency",
        options=lambda base_url: {"webhook_tokens": {AGENCY: "dev:conformance-token"}, "timeout_seconds": 2},
        deliverable=_agency_message,
        refused=_agency_refused,
        refusal_words="HTTP 422",
        received=_agency_received,
        hub=_agency_hub,  # webhook URLs are the participants' own, pointing at the simulator
    )


# -- post_ems: VNPost EMS orders ------------------------------------------------------------------------


def _ems_order(base_url: str, **order: Any) -> OutboundMessage:
    number = f"{AGENCY}-{uuid.uuid4().hex[:12]}"
    document = json.loads((EXAMPLES / "ems.order.json").read_text("utf-8"))
    document.update(dossier_number=number, flow="return", action="create")
    document["order"].update({"CustomerCode": "LIENTHONG", "OrderNumber": number, **order})
    body = json.dumps(document, ensure_ascii=False).encode()
    return message(
        recipient="vnpost", document=body, doctype="ems.order", sender=AGENCY, correlation_key=number
    )


def _ems_refused(base_url: str) -> OutboundMessage:
    refused = _ems_order(base_url)
    document = json.loads(refused.document)
    del document["order"]["ReceiverTel"]  # VNPost answers 101 naming the field
    return OutboundMessage(**{**refused.__dict__, "document": json.dumps(document).encode()})


def _ems_received(base_url: str, sent: OutboundMessage) -> int:
    number = json.loads(sent.document)["order"]["OrderNumber"]
    orders = httpx.get(f"{base_url}/_sim/state", timeout=5).json()["orders"]
    return sum(1 for order in orders if order["OrderNumber"] == number)


def post_ems() -> ConformanceProfile:
    return ConformanceProfile(
        adapter=PostEmsAdapter,
        simulator="vnpost",
        options=lambda base_url: {
            "base_url": base_url,
            "clients": [
                {"customer_code": "LIENTHONG", "key": "lienthong-dev", "secret": "dev:lienthong-dev-secret"}
            ],
            "timeout_seconds": 2,
            "submits_as": ["vnpost", "lienthong"],
        },
        deliverable=_ems_order,
        refused=_ems_refused,
        refusal_words="ReceiverTel",
        received=_ems_received,
    )


# -- gov_axis: the national document axis -------------------------------------------------------------

MINISTRY = "000.00.00.G10"


def _axis_document(base_url: str, recipient: str = MINISTRY) -> OutboundMessage:
    # Built like a province system would (the simulator's packet builder is the peer's side, not the
    # adapter's), then signed with the development PKI as the sending agency.
    from adapters.gov_axis.simulator.packets import OrganInfo, build_document
    from tests.test_intake_api import signed_by

    document = build_document(
        OrganInfo(AGENCY, "Sở Tư pháp tỉnh Nghệ An"),
        [OrganInfo(MINISTRY, "Bộ Nội vụ")],
        number=str(uuid.uuid4().int % 10**6),
        notation="STP-VP",
        subject="V/v thử",
    )
    return message(
        recipient=recipient,
        document=signed_by(AGENCY, document),
        doctype="edxml.document",
        content_type="application/xml",
        sender=AGENCY,
    )


def gov_axis() -> ConformanceProfile:
    from adapters.gov_axis import GovAxisAdapter

    return ConformanceProfile(
        adapter=GovAxisAdapter,
        simulator="gov-axis",
        options=lambda base_url: {
            "base_url": base_url,
            "face": "soap",
            "timeout_seconds": 5,
            "secret": "dev:dev-secret-h41-000004",
            "submits_as": ["gov-axis", "000.*.*.H41"],
        },
        deliverable=_axis_document,
        refused=lambda base_url: _axis_document(base_url, recipient="000.99.99.G99"),
        refusal_words="ErrorCode 30",
    )


# -- bank: fee payments (the national payment platform's face) -----------------------------------------


def _payment_request(base_url: str, **changes: Any) -> OutboundMessage:
    document = json.loads((EXAMPLES / "payment.request.json").read_text("utf-8"))
    document["request_id"] = f"PR-{uuid.uuid4().hex[:10]}"
    document.pop("expires_at", None)  # no expiry: the gateway's own time limit counts from today
    document.update(changes)
    body = json.dumps(document, ensure_ascii=False).encode()
    return message(recipient="bank.payplatform", document=body, doctype="payment.request", sender=AGENCY)


def _payment_received(base_url: str, sent: OutboundMessage) -> int:
    reference = sent.message_id.replace("-", "")
    transactions = httpx.get(f"{base_url}/_sim/state", timeout=5).json()["transactions"]
    return sum(1 for t in transactions if t["transaction_id"] == reference)


def bank() -> ConformanceProfile:
    from adapters.bank import BankAdapter

    return ConformanceProfile(
        adapter=BankAdapter,
        simulator="bank.payplatform",
        options=lambda base_url: {
            "timeout_seconds": 5,
            "submits_as": ["bank.vnpay", "bank.payplatform"],
            "payplatform": {
                "base_url": base_url,
                "return_url": "https://dichvucong.example/payment-return",
                "client_id": "dev:dev-lienthong-client",
                "key1": "dev:DEV-ONLY-payplatform-key1-not-for-production",
                "key2": "dev:DEV-ONLY-payplatform-key2-not-for-production",
            },
        },
        deliverable=_payment_request,
        # the adapter passes an empty procedure code on (intake's schema is the judge); the gateway refuses
        refused=lambda base_url: _payment_request(base_url, procedure_code=""),
        refusal_words="bill_info lacks MaTTHC",
        received=_payment_received,
    )


# -- notify: citizens' SMS (and e-mail) -----------------------------------------------------------------


def _notice(base_url: str, phone: str = "0912345678") -> OutboundMessage:
    document = json.loads((EXAMPLES / "dossier.status.json").read_text("utf-8"))
    document["event_id"] = f"ev-{uuid.uuid4().hex[:16]}"
    document["citizen"] = {"name": "Nguyễn Thị Hoa", "phone": phone}
    body = json.dumps(document, ensure_ascii=False).encode()
    return message(recipient="notify", document=body, doctype="dossier.status", sender=AGENCY)


def _sms_received(base_url: str, sent: OutboundMessage) -> int:
    state = httpx.get(f"{base_url}/_sim/state", timeout=5).json()
    return sum(1 for s in state["sent"] if s["request_id"] == sent.message_id)


def notify() -> ConformanceProfile:
    from adapters.notify import NotifyAdapter

    return ConformanceProfile(
        adapter=NotifyAdapter,
        simulator="notify.sms",
        options=lambda base_url: {
            "timeout_seconds": 2,
            "submits_as": ["notify"],
            "quiet_hours": None,
            "sms": {
                "base_url": base_url,
                "api_key": "dev:DEV-SMS-APIKEY",
                "secret_key": "dev:DEV-SMS-SECRET",
                "callback_token": "dev:conformance",
            },
        },
        deliverable=_notice,
        refused=lambda base_url: _notice(base_url, phone="0123"),  # not a phone number: code 118
        refusal_words="CodeResult 118",
        received=_sms_received,
    )
