"""The bank adapter through the adapter contract against the two running gateway simulators, plus its
mapping (no I/O) and its options (marked credentials). End-to-end flows are in test_bank_e2e.py.

Checksums are recomputed here with hmac/hashlib directly, not with the protocol modules the adapter uses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import yaml
from pydantic import ValidationError

from adapters.bank import BankAdapter, BankOptions
from adapters.bank.mapping import (
    MappingError,
    confirmation_document,
    expiry,
    gateway_reference,
    new_record,
    parse_request,
)
from adapters.bank.simulator import create_app
from adapters.bank.simulator.config import PayPlatformClient, PayPlatformConfig, VnpayConfig, VnpayMerchant
from adapters.bank.vnpay_wire import order_info
from hub.adapters import load_options
from hub.context import HubContext
from hub.doctypes import DocTypeRegistry
from hub.servers import RunningServer, run_in_thread
from hub.settings import PROJECT_ROOT, Settings
from hub.simulator_refs import configured_simulator_urls
from hub.spi import (
    Delivered,
    OutboundMessage,
    PermanentFailure,
    RetryableFailure,
    SubmitResult,
)
from hub.startup_checks import StartupRefused, check_production_safety
from hub.validation import Validator
from tests.fakehub import InMemoryHub
from tests.hubtest import EXAMPLES
from tests.vnpay_oracle import vnpay_npm

TMN = "TESTTMN2"
SECRET = "vnpay-test-" + uuid.uuid4().hex
CLIENT = "bank-test-client"
KEY1 = "key1-" + uuid.uuid4().hex
KEY2 = "key2-" + uuid.uuid4().hex
AGENCY = "000.01.02.H41"


@dataclass
class FakeHub(InMemoryHub):
    """Keeps the payment confirmations the adapter submits."""

    submitted: list[bytes] = field(default_factory=list)

    def submit(self, body: bytes, **kwargs: Any) -> SubmitResult:
        self.submitted.append(body)
        return SubmitResult(message_id=str(uuid.uuid4()), duplicate=False, state="accepted")


@pytest.fixture(scope="module")
def vnpay_sim() -> Iterator[RunningServer]:
    config = VnpayConfig(merchants=[VnpayMerchant(tmn_code=TMN, hash_secret=SECRET)])
    with run_in_thread(create_app(config)) as server:
        yield server


@pytest.fixture(scope="module")
def platform_sim() -> Iterator[RunningServer]:
    config = PayPlatformConfig(clients=[PayPlatformClient(client_id=CLIENT, key1=KEY1, key2=KEY2)])
    with run_in_thread(create_app(config)) as server:
        yield server


def options(vnpay_url: str, platform_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "timeout_seconds": 5,
        "vnpay": {
            "payment_url": f"{vnpay_url}/paymentv2/vpcpay.html",
            "api_url": f"{vnpay_url}/merchant_webapi/api/transaction",
            "return_url": "https://dichvucong.example/payment-return",
            "tmn_code": f"dev:{TMN}",
            "hash_secret": f"dev:{SECRET}",
        },
        "payplatform": {
            "base_url": platform_url,
            "return_url": "https://dichvucong.example/payment-return",
            "client_id": f"dev:{CLIENT}",
            "key1": f"dev:{KEY1}",
            "key2": f"dev:{KEY2}",
        },
        **overrides,
    }


@pytest.fixture
def adapter(vnpay_sim: RunningServer, platform_sim: RunningServer) -> Iterator[BankAdapter]:
    bank = BankAdapter(
        BankOptions.model_validate(options(vnpay_sim.base_url, platform_sim.base_url)), FakeHub()
    )
    yield bank
    bank.close()


def request_document(**changes: Any) -> bytes:
    obj = json.loads((EXAMPLES / "payment.request.json").read_text(encoding="utf-8"))
    obj["request_id"] = f"PR-{uuid.uuid4().hex[:10]}"
    obj.pop("expires_at", None)
    obj.update(changes)
    return json.dumps(obj, ensure_ascii=False).encode()


def message(document: bytes, recipient: str = "bank.vnpay", message_id: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id or str(uuid.uuid4()),
        delivery_id=str(uuid.uuid4()),
        doctype="payment.request",
        sender=AGENCY,
        recipient=recipient,
        correlation_key="000.01.02.H41-261120-0001",
        document=document,
        content_type="application/json",
        signature="sig..",
        attempt=1,
    )


def sim_state(server: RunningServer) -> dict[str, Any]:
    return httpx.get(f"{server.base_url}/_sim/state").json()


def set_faults(server: RunningServer, **faults: Any) -> None:
    httpx.post(f"{server.base_url}/_sim/faults", json=faults).raise_for_status()


# -- the contract ------------------------------------------------------------------------------------
def test_registered_under_the_adapters_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="lienthong.adapters") if e.name == "bank"]
    assert entry.load() is BankAdapter
    assert BankAdapter.capabilities.receipt == "callback"


def test_vnpay_payment_url_is_signed_and_accepted_by_the_gateway(
    adapter: BankAdapter, vnpay_sim: RunningServer
) -> None:
    outbound = message(request_document())
    result = adapter.deliver(outbound)
    assert isinstance(result, Delivered)
    reference = outbound.message_id.replace("-", "")
    assert result.peer_reference == reference and result.detail
    url = urlsplit(result.detail)
    params = dict(parse_qsl(url.query))
    assert url.path == "/paymentv2/vpcpay.html"
    assert params["vnp_Amount"] == "20500000" and params["vnp_TxnRef"] == reference
    assert params["vnp_TmnCode"] == TMN and params["vnp_CurrCode"] == "VND"
    assert params["vnp_OrderInfo"].isascii() and "lich tu phap" in params["vnp_OrderInfo"]
    verdict = vnpay_npm("verify-url", tmn_code=TMN, secret=SECRET, url=result.detail)
    assert verdict["isVerified"] is True  # the npm `vnpay` package accepts the hub's URL

    page = httpx.get(result.detail)  # the citizen's browser opens it
    assert page.status_code == 200
    (txn,) = [t for t in sim_state(vnpay_sim)["transactions"] if t["txn_ref"] == reference]
    assert txn["amount"] == 20500000 and txn["state"] == "pending"


def test_payplatform_creates_a_transaction_with_a_key1_checksum(
    adapter: BankAdapter, platform_sim: RunningServer
) -> None:
    outbound = message(request_document(), "bank.payplatform")
    result = adapter.deliver(outbound)
    assert isinstance(result, Delivered)
    reference = outbound.message_id.replace("-", "")
    (txn,) = [t for t in sim_state(platform_sim)["transactions"] if t["transaction_id"] == reference]
    assert result.peer_reference == txn["transaction_code"] and result.peer_reference.startswith("KP")
    assert result.detail == f"{platform_sim.base_url}/pay/{txn['transaction_code']}"
    assert txn["trans_amount"] == 205000 and txn["addition_fee"] == 0
    bill = txn["bill_info"]
    assert (bill["MaHoSo"], bill["MaTTHC"], bill["MaDonVi"]) == (
        "000.01.02.H41-261120-0001",
        "2.000488",
        AGENCY,
    )
    assert [(f["MaPhiLePhi"], f["SoTien"]) for f in bill["PhiLePhi"]] == [("LLTP", 200000), ("LLTP-BS", 5000)]


def test_a_redelivery_returns_the_same_payment_without_a_second_one(
    adapter: BankAdapter, platform_sim: RunningServer
) -> None:
    outbound = message(request_document(), "bank.payplatform")
    first, second = adapter.deliver(outbound), adapter.deliver(outbound)
    assert first == second and isinstance(first, Delivered)
    reference = outbound.message_id.replace("-", "")
    assert len([t for t in sim_state(platform_sim)["transactions"] if t["transaction_id"] == reference]) == 1


@pytest.mark.parametrize("recipient", ["bank.vnpay", "bank.payplatform"])
def test_an_amount_that_is_not_the_sum_of_the_fees_fails_permanently(
    adapter: BankAdapter, recipient: str
) -> None:
    result = adapter.deliver(message(request_document(amount=205001), recipient))
    assert result == PermanentFailure(reason="amount 205001 is not the sum of the fees (205000)")


def test_a_down_gateway_is_retryable_and_a_refusal_permanent(
    adapter: BankAdapter, vnpay_sim: RunningServer, platform_sim: RunningServer
) -> None:
    set_faults(platform_sim, down=True)
    try:
        result = adapter.deliver(message(request_document(), "bank.payplatform"))
    finally:
        set_faults(platform_sim)
    assert isinstance(result, RetryableFailure) and "HTTP 503" in result.reason

    stopped = run_in_thread(create_app(PayPlatformConfig()))
    stopped.stop()
    bank = BankAdapter(BankOptions.model_validate(options(vnpay_sim.base_url, stopped.base_url)), FakeHub())
    result = bank.deliver(message(request_document(), "bank.payplatform"))
    assert isinstance(result, RetryableFailure) and result.reason.startswith("payplatform: connection error")

    wrong = options(vnpay_sim.base_url, platform_sim.base_url)
    wrong["payplatform"]["key1"] = "dev:not-the-key"
    bank = BankAdapter(BankOptions.model_validate(wrong), FakeHub())
    result = bank.deliver(message(request_document(), "bank.payplatform"))
    assert result == PermanentFailure(reason="payplatform: create refused: error 02: invalid check_sum")


def test_unknown_or_unconfigured_gateways_fail_permanently(vnpay_sim: RunningServer) -> None:
    only_vnpay = options(vnpay_sim.base_url, "http://127.0.0.1:9")
    only_vnpay.pop("payplatform")
    bank = BankAdapter(BankOptions.model_validate(only_vnpay), FakeHub())
    result = bank.deliver(message(request_document(), "bank.payplatform"))
    assert result == PermanentFailure(reason="gateway payplatform is not configured in the bank adapter")
    result = bank.deliver(message(request_document(), "bank.other"))
    assert isinstance(result, PermanentFailure) and "not a payment gateway" in result.reason
    assert [p.name for p in bank.pollers()] == ["bank-payment-status", "bank-reconciliation"]
    assert {r.path for r in bank.routers()[0].routes} == {"/vnpay/ipn"}  # type: ignore[attr-defined]


# -- options -------------------------------------------------------------------------------------------
def test_credentials_are_marked_development_values_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    config = options("http://127.0.0.1:1", "http://127.0.0.1:2")
    bank = BankAdapter(BankOptions.model_validate(config), FakeHub())
    assert bank.development_secrets() == [
        "vnpay.tmn_code",
        "vnpay.hash_secret",
        "payplatform.client_id",
        "payplatform.key1",
        "payplatform.key2",
    ]
    monkeypatch.setenv("TEST_VNPAY_SECRET", SECRET)
    config["vnpay"]["hash_secret"] = "env:TEST_VNPAY_SECRET"
    config["vnpay"]["tmn_code"] = "env:TEST_VNPAY_SECRET"
    config.pop("payplatform")
    assert BankAdapter(BankOptions.model_validate(config), FakeHub()).development_secrets() == []

    config["vnpay"]["hash_secret"] = "env:TEST_UNSET_VARIABLE_FOR_BANK"
    with pytest.raises(ValueError, match="TEST_UNSET_VARIABLE_FOR_BANK is not set"):
        BankAdapter(BankOptions.model_validate(config), FakeHub())
    config["vnpay"]["hash_secret"] = SECRET  # a plain value is refused
    with pytest.raises(ValidationError, match="env:VARIABLE"):
        BankOptions.model_validate(config)
    config["vnpay"].pop("hash_secret")  # and there is no default in code
    with pytest.raises(ValidationError, match="hash_secret"):
        BankOptions.model_validate(config)


def test_the_development_configuration_points_at_the_simulators_and_is_all_development() -> None:
    config = PROJECT_ROOT / "config"
    configured = load_options(config / "adapters.yaml", configured_simulator_urls(config / "simulators.yaml"))
    ports = yaml.safe_load((config / "simulators.yaml").read_text())["simulators"]
    parsed = BankOptions.model_validate(configured["bank"])
    assert parsed.vnpay and urlsplit(parsed.vnpay.payment_url).port == ports["bank.vnpay"]
    assert parsed.payplatform and urlsplit(parsed.payplatform.base_url).port == ports["bank.payplatform"]
    assert len(parsed.development_secrets()) == 5


def test_production_mode_refuses_the_development_credentials(tmp_path: Path) -> None:
    context = HubContext(Settings(data_dir=tmp_path, mode="production"))
    bank = BankAdapter(
        BankOptions.model_validate(options("http://127.0.0.1:1", "http://127.0.0.1:2")), FakeHub()
    )
    with pytest.raises(StartupRefused) as refused:
        check_production_safety(context, [bank])
    for name in ("vnpay.tmn_code", "vnpay.hash_secret", "payplatform.client_id", "payplatform.key1"):
        assert f"adapter bank: {name} has a development value" in str(refused.value)


# -- mapping (no I/O) -----------------------------------------------------------------------------------
def test_parse_request_checks_the_sum_and_the_currency() -> None:
    request = parse_request(request_document(), sender=AGENCY)
    assert request.amount == 205000 and [f.amount for f in request.fees] == [200000, 5000]
    with pytest.raises(MappingError, match="not the sum"):
        parse_request(request_document(fees=[{"code": "A", "name": "x", "amount": 1}]), sender=AGENCY)
    with pytest.raises(MappingError, match="only VND"):
        parse_request(request_document(currency="USD"), sender=AGENCY)
    with pytest.raises(MappingError, match="not JSON"):
        parse_request(b"{", sender=AGENCY)


def test_expiry_is_the_request_deadline_capped_by_the_time_to_live() -> None:
    now = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    no_deadline = parse_request(request_document(), sender=AGENCY)
    assert expiry(no_deadline, now, 900) == now + timedelta(seconds=900)
    soon = parse_request(request_document(expires_at="2026-11-20T14:05:00+07:00"), sender=AGENCY)
    assert expiry(soon, now, 900) == now + timedelta(minutes=5)
    with pytest.raises(MappingError, match="expired"):
        expiry(soon, now + timedelta(hours=1), 900)


def test_order_info_and_gateway_reference() -> None:
    assert order_info("Phí cấp phiếu lý lịch tư pháp, Đồng~Tháp*(bản sao)\n") == (
        "Phi cap phieu ly lich tu phap, Dong Thap ban sao"
    )
    assert gateway_reference("0f5e8a1c-1111-4222-8333-944445555666") == "0f5e8a1c111142228333944445555666"
    with pytest.raises(MappingError):
        gateway_reference("not a message id!")


def test_confirmation_document_is_valid_and_keeps_the_gateway_fields() -> None:
    settings = Settings()
    validator = Validator(DocTypeRegistry.load(settings.doctypes_file, settings.schemas_dir))
    now = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    request = parse_request(request_document(), sender=AGENCY)
    record = new_record(request, gateway="payplatform", message_id=str(uuid.uuid4()), now=now, expires=now)
    record.transaction_code = "KP0000000009"
    paid = json.loads(
        confirmation_document(record, status="paid", paid_at=None, gateway_fields={"status": 0, "x": [1]})
    )
    assert paid["sender"] == "bank.payplatform" and paid["recipients"] == [AGENCY]
    assert paid["transaction_ref"] == "KP0000000009" and paid["amount"] == 205000 and paid["paid_at"]
    assert paid["gateway_response"] == {"status": 0, "x": "[1]"}
    failed = json.loads(confirmation_document(record, status="failed", paid_at=None, gateway_fields={}))
    assert failed["status"] == "failed" and "paid_at" not in failed
    expired = json.loads(confirmation_document(record, status="expired", paid_at=None, gateway_fields={}))
    late = json.loads(
        confirmation_document(record, status="late-payment", paid_at=None, gateway_fields={}, payment_no="14")
    )
    assert expired["status"] == "expired" and "paid_at" not in expired
    assert late["status"] == "late-payment" and late["payment_no"] == "14" and late["paid_at"]
    for document in (paid, failed, expired, late):
        doctype, issues = validator.validate_document(document)
        assert doctype.name == "payment.confirmation" and issues == []
