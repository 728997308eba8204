"""Console logins are throttled per account and per client address: lockouts that double, the right
password refused while locked, a clear message with Retry-After, and one audit event per burst."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.console.sessions import SESSION_COOKIE
from tests.hubtest import RunningHub, running_hub

RIGHT = "dev-password-operator"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with running_hub(tmp_path, workers=0, console_lockout_seconds=1) as running:
        yield running


def attempt(hub: RunningHub, password: str, operator: str = "operator") -> httpx.Response:
    client = httpx.Client(base_url=hub.url, timeout=30)
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    response = client.post(
        "/console/login",
        data={"csrf": csrf.group(1), "operator": operator, "password": password, "next": "/console"},
    )
    response.extensions["signed_in"] = SESSION_COOKIE in client.cookies
    return response


def count(hub: RunningHub, kind: str) -> int:
    return len(hub.app.state.hub.ledger.events_of_kinds([kind], limit=1000))


def test_a_guessing_burst_locks_the_account_even_against_the_right_password(tmp_path: Path) -> None:
    with running_hub(tmp_path, workers=0, console_lockout_seconds=60) as hub:
        for _ in range(30):  # an attacker's burst
            attempt(hub, "guess")
        locked = attempt(hub, RIGHT)
        assert locked.status_code == 429 and not locked.extensions["signed_in"]
        assert 50 <= int(locked.headers["Retry-After"]) <= 60
        assert "Đăng nhập sai quá nhiều lần" in locked.text
        # 31 attempts, two events: the burst began, the account was locked (never one per attempt)
        assert count(hub, "operator.login-refused") == 1
        assert count(hub, "operator.login-throttled") == 1


def test_lockouts_in_a_row_double_and_end_by_themselves(hub: RunningHub) -> None:
    for _ in range(6):
        attempt(hub, "guess")
    assert attempt(hub, RIGHT).headers["Retry-After"] == "1"
    time.sleep(1.1)
    for _ in range(6):
        attempt(hub, "guess")
    assert attempt(hub, RIGHT).headers["Retry-After"] == "2"
    time.sleep(2.1)
    assert attempt(hub, RIGHT).extensions["signed_in"]


def test_one_address_guessing_many_accounts_is_locked_out_too(hub: RunningHub) -> None:
    for n in range(21):  # 21 accounts, one failure each: no account is over its limit, the address is
        attempt(hub, "guess", operator=f"someone-{n}")
    locked = attempt(hub, RIGHT)
    assert locked.status_code == 429 and not locked.extensions["signed_in"]
    assert count(hub, "operator.login-throttled") == 1
