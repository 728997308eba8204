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

from hub import spi
from hub.kit.conformance import ConformanceProfile, ConformanceSuite
from hub.kit.memory import InMemoryHub, Submitted
from hub.kit.simulators import running_simulator, simulator_app

__all__ = [
    "ConformanceProfile",
    "ConformanceSuite",
    "InMemoryHub",
    "Submitted",
    "running_simulator",
    "simulator_app",
    "spi",
]
