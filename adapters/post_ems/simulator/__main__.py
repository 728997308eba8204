"""``python -m adapters.post_ems.simulator --port N``: run the VNPost simulator alone."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .codes import Scenario
from .config import DEFAULT_CLIENT, ClientCredentials, SimulatorConfig


def _client(text: str) -> ClientCredentials:
    key, secret, customer_code = [*text.split(":", 2), "", ""][:3]
    if not (key and secret and customer_code):
        raise argparse.ArgumentTypeError("expected KEY:SECRET:CUSTOMER_CODE")
    return ClientCredentials(key=key, secret=secret, customer_code=customer_code)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.post_ems.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8086)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (0 = only the admin API moves orders)",
    )
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="access token lifetime in seconds")
    parser.add_argument(
        "--scenario",
        choices=[s.value for s in Scenario],
        default=Scenario.DELIVERED.value,
        help="what happens to new orders unless the admin API says otherwise",
    )
    parser.add_argument(
        "--client",
        type=_client,
        action="append",
        metavar="KEY:SECRET:CUSTOMER_CODE",
        help=f"an API client (repeatable; default {DEFAULT_CLIENT.key}:"
        f"{DEFAULT_CLIENT.secret}:{DEFAULT_CLIENT.customer_code})",
    )
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        clients=args.client or [DEFAULT_CLIENT],
        token_ttl_seconds=args.token_ttl,
        time_scale=args.time_scale,
        default_scenario=Scenario(args.scenario),
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
