"""``python -m adapters.agency.simulator --port N``: run the agency-system simulator alone."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .config import SimulatorConfig


def _token(text: str) -> tuple[str, str]:
    participant, _, token = text.partition("=")
    if not (participant and token):
        raise argparse.ArgumentTypeError("expected PARTICIPANT=TOKEN")
    return participant, token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.agency.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument(
        "--participant",
        action="append",
        metavar="ID",
        help="an agency system to play (repeatable; default: any id at /webhook/{id})",
    )
    parser.add_argument(
        "--token",
        type=_token,
        action="append",
        metavar="PARTICIPANT=TOKEN",
        help="a development bearer token the participant's webhook requires (repeatable)",
    )
    parser.add_argument(
        "--allow-unsigned-json", action="store_true", help="accept JSON deliveries without x-jws-signature"
    )
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        participants=args.participant,
        tokens=dict(args.token or []),
        require_signature_for_json=not args.allow_unsigned_json,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
