"""The adapter kit as an integrator meets it: a versioned, typed contract importable from an installed
lienthong; each adapter's own scoped services in a running hub; capabilities and intake checks at the
HTTP door."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import pytest

import hub.adapters as registry
from hub.kit import InMemoryHub
from hub.problems import Problem
from hub.services import CoreServices
from hub.spi import SPI_VERSION, Adapter, Capabilities, Delivered, OutboundMessage
from tests.deliverytest import make_config
from tests.hubtest import EXAMPLES, RunningHub, running_hub

AGENCY = "000.01.02.H41"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("kit")
    with running_hub(base, config_dir=make_config(base / "config")) as running:
        yield running


def test_the_contract_is_versioned_typed_and_the_kit_is_installed() -> None:
    major, minor = (int(part) for part in SPI_VERSION.split("."))
    assert (major, minor) >= (1, 1)
    assert files("hub").joinpath("py.typed").is_file()
    from hub.kit import ConformanceSuite, running_simulator  # from the installed package, not tests/

    assert callable(running_simulator) and ConformanceSuite.__module__ == "hub.kit.conformance"


def test_the_kit_and_the_template_work_without_pytest_installed(tmp_path: Path) -> None:
    """Only the conformance suite needs pytest (the `kit` extra); a production install has none."""
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "from hub.kit import InMemoryHub\n"
        "from hub.kit.template import write_adapter_package\n"
        f"write_adapter_package('no_pytest', __import__('pathlib').Path({str(tmp_path)!r}))\n"
        "try:\n    from hub.kit import ConformanceSuite\n"
        "except ImportError:\n    print('suite needs pytest')\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "suite needs pytest"
    assert (tmp_path / "lienthong-no-pytest" / "pyproject.toml").is_file()


# -- scoped services -------------------------------------------------------------------------------


def adapter_services(hub: RunningHub, name: str) -> Any:
    adapter = hub.app.state.runtime.adapters.get(name)
    assert adapter is not None
    return adapter.hub


def test_an_adapter_reaches_only_its_own_state(hub: RunningHub) -> None:
    services = adapter_services(hub, "post_ems")
    services.set_state("post_ems", "cursor:test", "42")
    assert services.get_state("post_ems", "cursor:test") == "42"
    for other in ("bank", "lienthong.leases", "alerts", "gov_axis"):
        with pytest.raises(PermissionError):
            services.get_state(other, "anything")
        with pytest.raises(PermissionError):
            services.set_state(other, "anything", "x")
        with pytest.raises(PermissionError):
            services.compare_and_set_state(other, "anything", None, "x")
    with pytest.raises(PermissionError):  # its directory is written by the core, through set_directory
        services.set_state("post_ems", "directory", "{}")
    assert adapter_services(hub, "bank").get_state("bank", "cursor:test") is None


def test_evidence_is_marked_with_the_adapter_that_recorded_it(hub: RunningHub) -> None:
    services = adapter_services(hub, "post_ems")
    services.record_event("post_ems", "probe", {"adapter": "bank", "note": "forged name"})
    with pytest.raises(PermissionError):
        services.record_event("bank", "probe", {})
    probes = hub.app.state.runtime.hub.ledger.events_of_kinds(["adapter.probe"], limit=1)
    assert probes[0].data["adapter"] == "post_ems" and probes[0].data["note"] == "forged name"


def test_an_adapter_submits_only_as_its_configured_participants(hub: RunningHub) -> None:
    services = adapter_services(hub, "post_ems")
    with pytest.raises(Problem) as refused:
        services.submit(b"{}", content_type="application/json", as_participant=AGENCY)
    assert refused.value.slug == "forbidden-submitter" and refused.value.status == 403
    with pytest.raises(Problem) as schema:  # a configured participant reaches intake (which judges)
        services.submit(b"{}", content_type="application/json", as_participant="vnpost")
    assert schema.value.slug != "forbidden-submitter"


class _Named(Adapter):
    name = "alerts"
    capabilities: ClassVar[Capabilities] = Capabilities(acknowledges=False, deduplicates=False)

    def deliver(self, message: OutboundMessage) -> Delivered:
        return Delivered()


@pytest.mark.parametrize("name", ["alerts", "inbox", "lienthong.leases", "Bad-Name"])
def test_reserved_or_malformed_adapter_names_are_refused_at_start_up(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "installed_adapters", lambda wanted=None: {name: _Named})
    with pytest.raises(ValueError, match=r"reserved|must match"):
        registry.AdapterSet.load({name}, tmp_path / "none.yaml", CoreServices.__new__(CoreServices))


def test_the_in_memory_hub_is_scoped_like_the_core() -> None:
    memory = InMemoryHub(adapter="notify", submits_as=["notify"])
    with pytest.raises(PermissionError):
        memory.set_state("bank", "k", "v")
    with pytest.raises(Problem):
        memory.submit(b"{}", content_type="application/json", as_participant=AGENCY)
    assert memory.violations


# -- capabilities and intake checks at the door ----------------------------------------------------


def ems_order(**order: Any) -> bytes:
    dossier = f"{AGENCY}-{uuid.uuid4().hex[:12]}"
    document = json.loads((EXAMPLES / "ems.order.json").read_text("utf-8"))
    document.update(sender=AGENCY, dossier_number=dossier, flow="collect", action="create")
    document["order"].update({"CustomerCode": "LIENTHONG", "OrderNumber": dossier, **order})
    return json.dumps(document, ensure_ascii=False).encode()


def test_a_document_larger_than_the_adapter_carries_is_refused_at_intake(hub: RunningHub) -> None:
    padded = ems_order() + b" " * 70_000  # valid JSON (every field within its schema), 70 KB of it
    answer = hub.post(padded, as_=AGENCY, content_type="application/json")
    assert answer.status_code == 413, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/payload-too-large-for-adapter"
    assert problem["adapter"] == "post_ems" and problem["max_payload_bytes"] == 64 * 1024
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_vnpost_refuses_an_unknown_customer_code_at_intake(hub: RunningHub) -> None:
    answer = hub.post(ems_order(CustomerCode="NOBODY"), as_=AGENCY, content_type="application/json")
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/undeliverable" and problem["adapter"] == "post_ems"
    assert "NOBODY" in problem["detail"]
    assert hub.post(ems_order(), as_=AGENCY, content_type="application/json").status_code == 202


def payment_request(expires_at: datetime) -> bytes:
    document = json.loads((EXAMPLES / "payment.request.json").read_text("utf-8"))
    document["request_id"] = f"PR-{uuid.uuid4().hex[:10]}"
    document["dossier_number"] = f"{AGENCY}-{uuid.uuid4().hex[:8]}"
    document["expires_at"] = expires_at.isoformat(timespec="seconds")
    return json.dumps(document, ensure_ascii=False).encode()


def test_the_bank_refuses_an_expired_payment_request_at_intake(hub: RunningHub) -> None:
    expired = hub.post(
        payment_request(datetime.now(UTC) - timedelta(hours=1)), as_=AGENCY, content_type="application/json"
    )
    assert expired.status_code == 422, expired.text
    assert expired.json()["type"] == "/problems/undeliverable" and expired.json()["adapter"] == "bank"
    assert "expired" in expired.json()["detail"]
    fresh = hub.post(
        payment_request(datetime.now(UTC) + timedelta(hours=1)), as_=AGENCY, content_type="application/json"
    )
    assert fresh.status_code == 202, fresh.text
