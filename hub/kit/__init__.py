"""The adapter kit: what an integrator outside this repository needs to build and test an adapter.

- :mod:`hub.spi` — the contract itself (re-exported here for convenience: ``from hub.kit import spi``);
- :class:`InMemoryHub` — HubServices held in memory, scoped to one adapter like the real core;
- :mod:`hub.kit.conformance` — the conformance suite (a pytest plugin: ``pytest --lienthong-adapter NAME``,
  or subclass :class:`~hub.kit.conformance.ConformanceSuite`), and :class:`ConformanceProfile`, what an
  adapter package tells the suite about itself;
- :mod:`hub.kit.simulators` — starting a simulator (an ASGI app) on a free loopback port.

The kit imports only the public surface (hub.spi, hub.problems, hub.servers), never the core's
internals, so an adapter tested with it behaves the same inside the hub.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time each name is imported on first use
    from hub import spi as spi
    from hub.kit.conformance import ConformanceProfile as ConformanceProfile
    from hub.kit.conformance import ConformanceSuite as ConformanceSuite
    from hub.kit.memory import InMemoryHub as InMemoryHub
    from hub.kit.memory import Submitted as Submitted
    from hub.kit.simulators import running_simulator as running_simulator
    from hub.kit.simulators import simulator_app as simulator_app

__all__ = [
    "ConformanceProfile",
    "ConformanceSuite",
    "InMemoryHub",
    "Submitted",
    "running_simulator",
    "simulator_app",
    "spi",
]

#: where each name lives. Imported on first use (PEP 562): the kit's pytest plugin is loaded by every
#: pytest run before coverage starts and must not drag the core in with it, and the conformance suite
#: needs pytest (the `kit` extra: pip install 'lienthong[kit]') while the rest of the kit does not.
_WHERE = {
    "ConformanceProfile": "hub.kit.conformance",
    "ConformanceSuite": "hub.kit.conformance",
    "InMemoryHub": "hub.kit.memory",
    "Submitted": "hub.kit.memory",
    "running_simulator": "hub.kit.simulators",
    "simulator_app": "hub.kit.simulators",
}


def __getattr__(name: str) -> Any:
    if name == "spi":
        return import_module("hub.spi")
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'hub.kit' has no attribute {name!r}")
