"""Simulators of the two payment gateways the hub's bank adapter talks to.

* VNPAY-style gateway (v2.1.0): :mod:`adapters.bank.simulator.vnpay`, wire rules in
  :mod:`adapters.bank.simulator.vnpay_protocol`;
* national payment platform-style gateway ("KeyPay DVCQG"): :mod:`adapters.bank.simulator.payplatform`,
  checksums in :mod:`adapters.bank.simulator.payplatform_protocol`.

Both are real HTTP servers: ``create_app(config)`` gives the ASGI app, to run with
``hub.servers.run_in_thread(app)`` or ``python -m adapters.bank.simulator --gateway vnpay --port N``.
See docs/simulators/payments.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from adapters.bank.simulator.config import PayPlatformConfig, VnpayConfig


def create_app(config: VnpayConfig | PayPlatformConfig) -> FastAPI:
    """The simulator of the gateway ``config`` describes."""
    if isinstance(config, VnpayConfig):
        from adapters.bank.simulator import vnpay

        return vnpay.create_app(config)
    from adapters.bank.simulator import payplatform

    return payplatform.create_app(config)


__all__ = ["PayPlatformConfig", "VnpayConfig", "create_app"]
