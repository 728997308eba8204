"""The conformance suite as a test module, collected by ``pytest --lienthong-adapter NAME``."""

from __future__ import annotations

from hub.kit.conformance import ConformanceSuite


class TestAdapterConformance(ConformanceSuite):
    """The adapter named by --lienthong-adapter, against its registered simulator."""
