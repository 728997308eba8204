"""`lienthong adapter new NAME`: a separate, installable adapter package that passes its tests at once.

The package has both entry points (the adapter, its simulator) and its conformance profile, an
adapter posting JSON to an HTTP peer (a starting point to replace with the real protocol), its
options (with a SecretSpec token), a simulator of that peer, a README and tests that run the
conformance suite. Files are written from the templates below (string.Template: `$name`, …).
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from hub.spi import RESERVED_ADAPTER_NAMES, SPI_VERSION

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "lienthong-$dashed"
version = "0.1.0"
description = "A lienthong adapter: $name"
requires-python = ">=3.11"
dependencies = ["lienthong", "httpx>=0.27", "fastapi>=0.115"]

[project.optional-dependencies]
test = ["lienthong[kit]", "pytest>=8"]

# The hub finds the adapter, `lienthong run` the simulator, the conformance suite the profile.
[project.entry-points."lienthong.adapters"]
$name = "$package:$classname"

[project.entry-points."lienthong.simulators"]
$name = "$package.simulator:create_app"

[project.entry-points."lienthong.conformance"]
$name = "$package.conformance:profile"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 110

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP"]
"""

INIT = '''\
"""The $name adapter for lienthong (adapter SPI $spi_version)."""

from .adapter import $classname
from .options import Options

__all__ = ["Options", "$classname"]
'''

OPTIONS = '''\
"""Options of the $name adapter, validated at start-up from config/adapters.yaml."""

from __future__ import annotations

from hub.spi import AdapterOptions, SecretSpec
from pydantic import Field


class Options(AdapterOptions):
    base_url: str = Field(default="http://127.0.0.1:8099", description="the peer's API")
    token: SecretSpec = Field(
        default="dev:$name-dev-token", description="bearer token: env:VAR or dev:value"
    )
'''

ADAPTER = '''\
"""The $name adapter: posts each message to the peer as JSON, with its hub message id.

Replace the transport with the peer's real protocol; keep the contract: never raise for the peer's
refusal (return PermanentFailure with its words), RetryableFailure when it may work later, and let
the peer drop repeats by message id.
"""

from __future__ import annotations

from typing import ClassVar

import httpx
from hub.spi import (
    Adapter,
    AdapterOptions,
    Capabilities,
    Delivered,
    DeliveryResult,
    HubServices,
    OutboundMessage,
    PermanentFailure,
    RetryableFailure,
    is_development_secret,
    resolve_secret,
)

from .options import Options


class $classname(Adapter):
    name = "$name"
    Options = Options
    capabilities: ClassVar[Capabilities] = Capabilities(
        acknowledges=True, deduplicates=True, receipt="synchronous", max_payload_bytes=1024 * 1024
    )

    def __init__(self, options: AdapterOptions, hub: HubServices) -> None:
        if not isinstance(options, Options):
            options = Options.model_validate(options.model_dump())
        super().__init__(options, hub)
        self.options: Options = options
        self._client = httpx.Client(timeout=options.timeout_seconds, trust_env=False)
        self._token = resolve_secret(options.token, "token")

    def deliver(self, message: OutboundMessage) -> DeliveryResult:
        try:
            answer = self._client.post(
                self.options.base_url.rstrip("/") + "/messages",
                content=message.document,
                headers={
                    "Authorization": f"Bearer {self._token}",
                    "Content-Type": message.content_type,
                    "X-Message-Id": message.message_id,
                },
            )
        except httpx.HTTPError as error:
            return RetryableFailure(reason=f"$name: {type(error).__name__}: {error}")
        if answer.status_code >= 500 or answer.status_code == 429:
            return RetryableFailure(reason=f"$name: HTTP {answer.status_code}: {answer.text[:200]}")
        if answer.status_code >= 400:
            return PermanentFailure(reason=f"$name: HTTP {answer.status_code}: {answer.text[:500]}")
        return Delivered(peer_reference=answer.headers.get("X-Reference"))

    def development_secrets(self) -> list[str]:
        return ["token"] if is_development_secret(self.options.token) else []

    def close(self) -> None:
        self._client.close()
'''

SIMULATOR = '''\
"""A simulator of the $name peer: POST /messages (bearer token) keeps each message once by X-Message-Id
and answers its reference; a JSON body with "refuse" is refused with 422 and those words.
GET /_sim/received lists what it kept. Written from the peer's specification, never from the adapter."""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TOKEN = "$name-dev-token"


def create_app() -> FastAPI:
    app = FastAPI(title="$name simulator")
    received: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    @app.get("/")
    def index() -> dict[str, str]:
        return {"service": "$name simulator"}

    @app.post("/messages")
    async def take(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        body = await request.body()
        try:
            refusal = json.loads(body).get("refuse")
        except (ValueError, AttributeError):
            refusal = None
        if refusal:
            return JSONResponse({"error": str(refusal)}, status_code=422)
        message_id = request.headers.get("x-message-id", "")
        with lock:
            reference = f"REF-{len(received) + 1}"
            kept = received.setdefault(message_id, {"reference": reference, "size": len(body)})
        return JSONResponse({"ok": True}, headers={"X-Reference": kept["reference"]})

    @app.get("/_sim/received")
    def listing() -> dict[str, Any]:
        with lock:
            return {"received": received}

    return app
'''

CONFORMANCE = '''\
"""The conformance profile of the $name adapter: how the suite drives it against its simulator."""

from __future__ import annotations

import httpx
from hub.kit import ConformanceProfile
from hub.kit.conformance import message
from hub.spi import OutboundMessage

from .adapter import $classname


def _message(base_url: str) -> OutboundMessage:
    document = '{"hello": "xin chào"}'.encode()
    return message(recipient="$name.peer", document=document, doctype="example.document")


def _refused(base_url: str) -> OutboundMessage:
    document = b'{"refuse": "unknown account 42"}'
    return message(recipient="$name.peer", document=document, doctype="example.document")


def _received(base_url: str, sent: OutboundMessage) -> int:
    received = httpx.get(f"{base_url}/_sim/received", timeout=5).json()["received"]
    return 1 if sent.message_id in received else 0


def profile() -> ConformanceProfile:
    return ConformanceProfile(
        adapter=$classname,
        simulator="$name",
        options=lambda base_url: {
            "base_url": base_url,
            "token": "dev:$name-dev-token",
            "timeout_seconds": 5,
        },
        deliverable=_message,
        refused=_refused,
        refusal_words="unknown account 42",
        received=_received,
    )
'''

TEST = '''\
"""The conformance suite of the adapter kit, against this adapter and its simulator.
(`pytest --lienthong-adapter $name` runs the same suite through the kit's pytest plugin.)"""

from hub.kit import ConformanceSuite

from $package.conformance import profile


class TestConformance(ConformanceSuite):
    profile_factory = staticmethod(profile)
'''

README = """\
# lienthong-$dashed — a lienthong adapter

Made by `lienthong adapter new $name` (adapter SPI $spi_version). It posts each message to its peer
as JSON; replace `$package/adapter.py` with the peer's real protocol and `$package/simulator.py`
with a simulator written from the peer's specification.

```
pip install -e .          # beside an installed lienthong
pytest                    # the conformance suite (tests/test_conformance.py)
pytest --lienthong-adapter $name   # the same suite through the kit's pytest plugin
```

In the hub: route documents to it in config/routes.yaml (`adapter: $name`), give its options in
config/adapters.yaml (`base_url`, `token: env:VARIABLE`), and `lienthong run` starts its simulator.
The contract and the kit: docs/adapters/README.md in lienthong.
"""


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise ValueError(f"an adapter name must match {NAME.pattern}")
    if name in RESERVED_ADAPTER_NAMES:
        raise ValueError(f"{name!r} is reserved by the core")


def write_adapter_package(name: str, target: Path) -> Path:
    """Write the package for adapter `name` into `target`/lienthong-<name>; return that folder."""
    check_name(name)
    dashed, package = name.replace("_", "-"), f"lienthong_{name}"
    root = target / f"lienthong-{dashed}"
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    classname = "".join(part.capitalize() for part in name.split("_")) + "Adapter"
    values = {
        "name": name,
        "dashed": dashed,
        "package": package,
        "classname": classname,
        "spi_version": SPI_VERSION,
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{package}/__init__.py": INIT,
        f"{package}/options.py": OPTIONS,
        f"{package}/adapter.py": ADAPTER,
        f"{package}/simulator.py": SIMULATOR,
        f"{package}/conformance.py": CONFORMANCE,
        f"{package}/py.typed": "",
        "tests/test_conformance.py": TEST,
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
    return root
