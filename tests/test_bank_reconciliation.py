"""Daily reconciliation (đối soát) end to end: payments through a running hub to the gateway
simulators, the simulators driven into each discrepancy, then ``lienthong payments reconcile --date``
(the CLI, on the hub's own data), the ledger's events and alerts, the console's report page and its CSV;
and the daily schedule (a poller, once a day after the configured time).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.bank import BankAdapter, BankOptions
from adapters.bank.reconciliation import DailyReconciliation
from hub.cli import with_adapter_commands
from hub.servers import RunningServer
from hub.spi import Delivered, OutboundMessage
from tests.fakehub import InMemoryHub
from tests.hubtest import RunningHub
from tests.test_bank_e2e import (  # noqa: F401 - the fixtures are used by name
    GMT7,
    Payment,
    agency_sim,
    bank_options,
    clean_faults,
    gateways,
    hub,
    vnpay_answer,
)
from tests.test_console_pages import login
from tests.test_intake_api import json_example


def outbound_request() -> OutboundMessage:
    body = json.loads(json_example("payment.request", recipients=["bank.vnpay"]))
    body.pop("expires_at", None)
    return OutboundMessage(
        message_id=str(uuid.uuid4()),
        delivery_id=str(uuid.uuid4()),
        doctype="payment.request",
        sender=body["sender"],
        recipient="bank.vnpay",
        correlation_key=body["dossier_number"],
        document=json.dumps(body).encode(),
        content_type="application/json",
        signature=None,
        attempt=1,
    )


def drive(hub: RunningHub, gateways: dict[str, RunningServer], gateway: str, *outcomes: str) -> Payment:  # noqa: F811
    payment = Payment(hub, gateway)
    payment.open_payment_page()
    for outcome in outcomes:
        payment.play(gateways, outcome)
    return payment


def test_reconcile_reports_each_discrepancy_once_with_an_alert_a_page_and_a_csv(
    hub: RunningHub,  # noqa: F811
    gateways: dict[str, RunningServer],  # noqa: F811
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean = drive(hub, gateways, "vnpay", "pay")
    unconfirmed = drive(hub, gateways, "vnpay", "silent")  # paid, the hub never heard
    reversed_ = drive(hub, gateways, "payplatform", "pay", "reverse")  # confirmed, then reversed
    other_amount = drive(hub, gateways, "vnpay", "pay-other-amount")  # the IPN was refused (04)
    twice = drive(hub, gateways, "vnpay", "pay", "pay-again")
    expected = {
        clean.reference: "",
        unconfirmed.reference: "paid-not-confirmed",
        reversed_.reference: "confirmed-not-paid",
        other_amount.reference: "amount-mismatch",
        twice.reference: "duplicate-payment",
    }
    today = datetime.now(GMT7).date().isoformat()
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(hub.settings.data_dir))
    monkeypatch.setenv("LIENTHONG_CONFIG_DIR", str(hub.settings.config_dir))
    report_file = tmp_path / "reconciliation.csv"
    result = CliRunner().invoke(
        with_adapter_commands(), ["payments", "reconcile", "--date", today, "--csv", str(report_file)]
    )
    assert result.exit_code == 1, result.output  # discrepancies found
    rows = list(csv.DictReader(io.StringIO(report_file.read_text(encoding="utf-8"))))
    assert {row["reference"]: row["discrepancy"] for row in rows} == expected
    by_reference = {row["reference"]: row for row in rows}
    assert by_reference[other_amount.reference]["gateway_amount"] == "206000"
    assert by_reference[reversed_.reference]["hub_status"] == "paid"
    assert by_reference[reversed_.reference]["gateway_status"] == "failed"

    ledger = hub.app.state.hub.ledger
    found = ledger.events_of_kinds(["adapter.reconciliation-discrepancy"], limit=100)
    assert sorted(e.data["discrepancy"] for e in found) == sorted(d for d in expected.values() if d)
    alerts = ledger.events_of_kinds(["alert.payment-discrepancy"], limit=100)
    assert {e.data["reference"] for e in alerts} == {r for r, d in expected.items() if d}

    again = CliRunner().invoke(with_adapter_commands(), ["payments", "reconcile", "--date", today])
    assert again.exit_code == 1
    assert len(ledger.events_of_kinds(["alert.payment-discrepancy"], limit=100)) == len(alerts)  # once a day

    console = login(hub)
    page = console.get("/console/reports/bank/reconciliation", params={"date": today})
    assert page.status_code == 200
    for reference, discrepancy in expected.items():
        assert reference in page.text and discrepancy in page.text
    download = console.get("/console/reports/bank/reconciliation/csv", params={"date": today})
    assert download.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(download.text))) == rows
    assert "/console/reports/bank/reconciliation" in console.get("/console/reports").text
    bad = console.get("/console/reports/bank/reconciliation", params={"date": "30/11/2026"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    assert console.get("/console/reports/bank/nothing").status_code == 404
    refused = CliRunner().invoke(with_adapter_commands(), ["payments", "reconcile", "--date", "yesterday"])
    assert refused.exit_code == 2 and "YYYY-MM-DD" in refused.output


def test_the_daily_schedule_reconciles_yesterday_once_after_its_time(
    gateways: dict[str, RunningServer],  # noqa: F811
) -> None:
    now = [datetime(2026, 11, 20, 15, 0, tzinfo=GMT7)]
    fake = InMemoryHub()
    bank = BankAdapter(
        BankOptions.model_validate(bank_options(gateways, reconcile_daily_at="01:00")),
        fake,
        clock=lambda: now[0].astimezone(UTC),
    )
    try:
        assert isinstance(bank.deliver(outbound_request()), Delivered)  # a payment on 2026-11-20
        (daily,) = [p for p in bank.pollers() if isinstance(p, DailyReconciliation)]
        assert daily.at == time(1, 0)
        now[0] = datetime(2026, 11, 21, 0, 30, tzinfo=GMT7)
        assert daily.poll_once() == 0 and fake.events == []  # not yet 01:00
        now[0] += timedelta(hours=1)
        assert daily.poll_once() == 1
        assert [(k, d["date"], d["payments"]) for k, d in fake.events] == [
            ("reconciled", date(2026, 11, 20).isoformat(), 1)
        ]
        assert daily.poll_once() == 0 and len(fake.events) == 1  # once a day
    finally:
        bank.close()


def test_the_installed_cli_offers_the_payments_group() -> None:
    """`lienthong` (the console script) adds the adapters' groups; its own commands start without them."""
    lienthong = Path(sys.executable).parent / "lienthong"
    listed = subprocess.run([lienthong, "--help"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "payments" in listed.stdout
    usage = subprocess.run(
        [lienthong, "payments", "reconcile", "--help"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 0 and "--date" in usage.stdout and "--csv" in usage.stdout
