"""``python -m adapters.bank.simulator --gateway vnpay|payplatform --port N`` (development credentials)."""

from __future__ import annotations

import argparse

import uvicorn

from adapters.bank.simulator import create_app
from adapters.bank.simulator.config import (
    PayPlatformClient,
    PayPlatformConfig,
    RetryPolicy,
    VnpayConfig,
    VnpayMerchant,
)


def build_config(args: argparse.Namespace) -> VnpayConfig | PayPlatformConfig:
    retry = RetryPolicy(max_attempts=args.retry_attempts, interval_seconds=args.retry_interval)
    if args.gateway == "vnpay":
        return VnpayConfig(merchants=[VnpayMerchant(ipn_url=args.callback_url)], retry=retry)
    return PayPlatformConfig(clients=[PayPlatformClient(merchant_url=args.callback_url)], retry=retry)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.bank.simulator", description=__doc__)
    parser.add_argument("--gateway", choices=("vnpay", "payplatform"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument(
        "--callback-url",
        default=None,
        help="vnpay: the IPN URL; payplatform: the merchant base URL (/paymentconfirm is appended)",
    )
    parser.add_argument("--retry-attempts", type=int, default=10)
    parser.add_argument("--retry-interval", type=float, default=300.0, help="seconds between attempts")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(build_config(args)), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
