"""The console over plain HTTP: login and sessions, CSRF, operators' actions in the ledger, signature
verdicts re-checked on view, replay, the ledger's integrity page, and the language catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from hub.console.i18n import CATALOGUE
from hub.console.sessions import SESSION_COOKIE, SessionSigner
from hub.context import HubContext
from hub.ledger.models import events, messages
from hub.operators import (
    Operator,
    Operators,
    development_operators,
    hash_password,
    verify_password,
)
from hub.settings import Settings
from hub.startup_checks import production_hazards
from tests.hubtest import RunningHub, running_hub
from tests.test_intake_api import AGENCY, fresh_document

TEMPLATES = Path(__file__).resolve().parent.parent / "hub" / "console" / "templates"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with running_hub(tmp_path_factory.mktemp("hub"), workers=0) as running:
        yield running


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(hub: RunningHub, password: str = "dev-password-operator") -> httpx.Client:
    client = httpx.Client(base_url=hub.url, timeout=30)
    form = client.get("/console/login")
    client.post(
        "/console/login",
        data={"csrf": csrf_of(form.text), "operator": "operator", "password": password, "next": "/console"},
    )
    return client


def kinds(hub: RunningHub, prefix: str) -> list[str]:
    return [e.kind for e in hub.app.state.hub.ledger.events_of_kinds([], prefix=prefix, limit=500)]


def test_pages_need_a_login_and_the_session_cookie_is_locked_down(hub: RunningHub) -> None:
    anonymous = hub.client.get("/console/messages?type=x", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/console/login?next=%2Fconsole%2Fmessages%3Ftype%3Dx"
    client = login(hub)
    cookie = next(c for c in client.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.path == "/console" and cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite").lower() == "strict"
    assert client.get("/console").status_code == 200
    forged = httpx.Client(base_url=hub.url, cookies={SESSION_COOKIE: cookie.value[:-3] + "AAA"})
    assert forged.get("/console", follow_redirects=False).status_code == 303
    assert "operator.login" in kinds(hub, "operator.")


def test_a_wrong_password_is_refused_and_recorded(hub: RunningHub) -> None:
    client = login(hub, password="guess")
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/console", follow_redirects=False).status_code == 303
    refused = hub.app.state.hub.ledger.events_of_kinds(["operator.login-refused"], limit=1)[0]
    assert refused.data["operator"] == "operator"


def test_posts_without_the_session_token_or_from_elsewhere_are_refused(hub: RunningHub) -> None:
    client = login(hub)
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    delivery_id = hub.app.state.hub.ledger.get_message(message_id).deliveries[0].id
    missing = client.post(f"/console/messages/{message_id}/replay", data={})
    assert missing.status_code == 403 and missing.json()["type"] == "/problems/forbidden-operator"
    token = csrf_of(client.get("/console").text)
    foreign = client.post(
        f"/console/deliveries/{delivery_id}/retry",
        data={"csrf": token},
        headers={"Origin": "http://evil.test"},
    )
    assert foreign.status_code == 403
    login_csrf_missing = httpx.post(
        f"{hub.url}/console/login", data={"operator": "operator", "password": "x"}
    )
    assert login_csrf_missing.status_code == 403


def test_a_replay_from_the_console_is_a_new_linked_message_and_an_operator_action(hub: RunningHub) -> None:
    client = login(hub)
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    page = client.get(f"/console/messages/{message_id}")
    replayed = client.post(f"/console/messages/{message_id}/replay", data={"csrf": csrf_of(page.text)})
    assert replayed.status_code == 303
    new_id = replayed.headers["location"].rsplit("/", 1)[-1]
    assert new_id != message_id
    new_page = client.get(f"/console/messages/{new_id}").text
    assert f'href="/console/messages/{message_id}"' in new_page  # "replay of" links the original
    action = hub.app.state.hub.ledger.events_of_kinds(["operator.replay"], limit=1)[0]
    assert action.message_id == message_id and action.data["replay"] == new_id


def test_the_signature_verdict_is_checked_again_on_view(hub: RunningHub) -> None:
    client = login(hub)
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    good = client.get(f"/console/messages/{message_id}").text
    assert "✔" in good and "lienthong" in good and "XMLDSig" in good
    ledger = hub.app.state.hub.ledger
    document = ledger.get_document(message_id)[0]
    altered = document.replace(b"</edXML:Subject>", b" (altered)</edXML:Subject>", 1)
    assert altered != document
    with ledger.engine.begin() as conn:
        conn.execute(sa.update(messages).where(messages.c.id == message_id).values(document=altered))
    bad = client.get(f"/console/messages/{message_id}").text
    assert "✘" in bad and "signature-invalid" in bad


def test_the_ledger_page_verifies_on_demand_and_shows_a_broken_chain(tmp_path: Path) -> None:
    with running_hub(tmp_path, workers=0) as hub:
        _ledger_page_story(hub)


def _ledger_page_story(hub: RunningHub) -> None:
    hub.post(fresh_document(), as_=AGENCY)
    client = login(hub)
    page = client.get("/console/ledger")
    client.post("/console/ledger/verify", data={"csrf": csrf_of(page.text)})
    assert "Toàn vẹn" in client.get("/console/ledger").text
    ledger = hub.app.state.hub.ledger
    hub.wait_sequenced()
    with ledger.engine.begin() as conn:
        conn.execute(sa.update(events).where(events.c.seq == 1).values(kind="message.tampered"))
    client.post("/console/ledger/verify", data={"csrf": csrf_of(page.text)})
    broken = client.get("/console/ledger").text
    assert "Bị phá vỡ" in broken and "#1" in broken
    assert "alert.ledger-broken" in client.get("/console/alerts").text


def test_the_exchange_log_filters_and_the_english_console(hub: RunningHub) -> None:
    client = login(hub)
    message_id = hub.post(fresh_document(), as_=AGENCY).json()["id"]
    key = hub.app.state.hub.ledger.get_message(message_id).correlation_key
    found = client.get("/console/messages", params={"q": key}).text
    assert message_id in found
    assert message_id not in client.get("/console/messages", params={"q": key, "state": "dead"}).text
    jump = client.get("/console/messages", params={"q": message_id}, follow_redirects=False)
    assert jump.headers["location"] == f"/console/messages/{message_id}"
    client.get("/console/lang/en", params={"next": "/console/messages"})
    assert "Exchange log" in client.get("/console/messages").text


def test_every_word_the_templates_use_is_in_both_languages() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z_]+)["']\)""", template.read_text(encoding="utf-8")))
    assert used, "no t('key') found: the pattern is wrong"
    assert not used - set(CATALOGUE), f"missing from the catalogue: {sorted(used - set(CATALOGUE))}"
    assert all(vi and en and vi != en for vi, en in CATALOGUE.values() if vi.isalpha())


def test_passwords_are_scrypt_hashes_and_the_development_operator_is_refused_in_production(
    tmp_path: Path,
) -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse battery", stored) and not verify_password("wrong", stored)
    signer = SessionSigner(b"k" * 32, 60)
    _, value = signer.issue("operator", now=1000.0)
    assert signer.read(value, now=1001.0) is not None and signer.read(value, now=2000.0) is None

    quiet = Operator(id="an", name="An", password_hash=hash_password("dev-password-an"))
    assert development_operators(Operators([quiet])) == ["an"]  # a development password, unmarked
    real = Operator(id="binh", name="Bình", password_hash=hash_password("a long real secret"))
    assert development_operators(Operators([real])) == []

    hazards = production_hazards(HubContext(Settings(data_dir=tmp_path, mode="production")))
    assert any("operator operator" in hazard for hazard in hazards)
