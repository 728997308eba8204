"""Every door is capped before anything reads: each route the app has (enumerated from the app, so a
route added later is covered by itself) answers an oversize body 413 at once, and its headers 431;
a refused body never grows the hub's memory. Client disconnects are one quiet log line."""

from __future__ import annotations

import http.client
import logging
import re
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deliverytest import wait_for
from tests.hubtest import RunningHub, auth, running_hub
from tests.test_intake_api import fresh_document

BODY_LIMIT = 256 * 1024
FORM_LIMIT = 16 * 1024
MiB = 1024 * 1024
AGENCY = "000.01.02.H41"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with running_hub(
        tmp_path_factory.mktemp("limits"), workers=0, max_body_bytes=BODY_LIMIT, max_form_bytes=FORM_LIMIT
    ) as running:
        yield running


def app_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, descending into included routers (FastAPI ≥ 0.16x includes
    routers lazily: their routes hang under `original_router`, their prefix in `include_context`)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from app_routes(included.routes, prefix + route.include_context.prefix)
        elif getattr(route, "methods", None):
            yield prefix + route.path, set(route.methods)


def body_routes(hub: RunningHub) -> list[tuple[str, str]]:
    """(method, concrete path) of every route of the app that takes a body."""
    found = []
    for path, methods in app_routes(hub.app.routes):
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        found += [(method, concrete) for method in sorted(methods & {"POST", "PUT", "PATCH", "DELETE"})]
    return found


def test_the_app_has_body_routes_of_every_kind(hub: RunningHub) -> None:
    paths = {path for _, path in body_routes(hub)}
    assert "/v1/messages" in paths  # intake
    assert "/console/login" in paths  # a console form
    assert any(p.startswith("/adapters/bank/") for p in paths)  # an adapter's callback


def vm_peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_vm_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


def send_raw(
    hub: RunningHub, method: str, path: str, *, declared: int | None, stream: int, as_: str | None = None
) -> int:
    """Send `stream` bytes of body (chunked when nothing is `declared`), return the status answered."""
    host, port = "127.0.0.1", hub.server.port
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest(method, path)
    if declared is not None:
        conn.putheader("Content-Length", str(declared))
    else:
        conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/xml")
    if as_:
        conn.putheader("Authorization", auth(as_)["Authorization"])
    conn.endheaders()
    chunk = b"<" * 65536
    sent = 0
    try:
        while sent < stream:
            data = chunk if declared is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            conn.sock.sendall(data)
            sent += len(chunk)
        if declared is None:
            conn.sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the hub answered and closed before we were done: that is the point
    try:
        response = conn.getresponse()
        status = response.status
        response.read()
        return status
    finally:
        conn.close()


def test_every_body_route_refuses_a_declared_oversize_body_at_once(hub: RunningHub) -> None:
    for method, path in body_routes(hub):
        status = send_raw(hub, method, path, declared=100 * MiB, stream=0)
        assert status == 413, (method, path, status)


def test_every_body_route_stops_reading_a_streamed_body_at_its_limit(hub: RunningHub) -> None:
    reset_vm_peak()
    before = vm_peak_kib()
    answers = {}
    for method, path in body_routes(hub):
        answers[method, path] = send_raw(hub, method, path, declared=None, stream=4 * MiB, as_=AGENCY)
    # Each either stopped reading at its limit (413) or refused before reading anything: no token
    # (401), not allowed (403), no such delivery (404), not signed in to the console (303 to login).
    assert set(answers.values()) <= {413, 401, 403, 404, 303}, answers
    for door in [
        ("POST", "/v1/messages"),
        ("POST", "/console/login"),
        ("POST", "/adapters/bank/payplatform/paymentconfirm"),
    ]:
        assert answers[door] == 413, (door, answers[door])
    grown = (vm_peak_kib() - before) / 1024
    assert grown < 10, f"peak memory grew by {grown:.1f} MiB while refusing bodies"


def test_a_problem_answer_names_the_limit(hub: RunningHub) -> None:
    response = hub.client.post("/console/login", content=b"x" * (FORM_LIMIT + 1))
    assert response.status_code == 413
    problem = response.json()
    assert problem["type"] == "/problems/body-too-large" and str(FORM_LIMIT) in problem["detail"]
    assert response.headers["content-type"] == "application/problem+json"


def test_documents_keep_their_own_larger_limit(hub: RunningHub) -> None:
    document = fresh_document()
    assert FORM_LIMIT < len(document) + 100_000 < BODY_LIMIT
    padded = document + b"\n" * 100_000  # whitespace after the root element: still the same document
    response = hub.post(padded, as_="000.01.02.H41")
    assert response.status_code == 202, response.text


def test_too_many_or_too_large_headers_are_answered_431(hub: RunningHub) -> None:
    many = {f"x-h{i}": "1" for i in range(150)}
    response = hub.client.get("/healthz", headers=many)
    assert response.status_code == 431
    assert response.json()["type"] == "/problems/headers-too-large"
    huge = hub.client.get("/healthz", headers={"x-big": "a" * (70 * 1024)})
    assert huge.status_code == 431
    assert hub.client.get("/healthz", headers=auth("000.01.02.H41")).status_code == 200  # still serving


def test_a_client_that_goes_away_mid_body_is_one_quiet_log_line(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with socket.create_connection(("127.0.0.1", hub.server.port)) as sock:
        token = auth("000.01.02.H41")["Authorization"]
        headers = (
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
            f"Authorization: {token}\r\nContent-Type: application/xml\r\n\r\n"
        )
        sock.sendall(headers.encode() + b"<edXML")
    assert hub.client.get("/healthz").status_code == 200
    wait_for(lambda: any("client went away" in r.getMessage() for r in caplog.records), what="the log line")
    about = [r for r in caplog.records if "client went away" in r.getMessage()]
    assert about[0].levelno == logging.INFO and about[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
