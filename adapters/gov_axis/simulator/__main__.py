"""Run the axis simulator alone: ``python -m adapters.gov_axis.simulator --port 8092``."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from .app import create_app
from .config import AxisSimConfig, default_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="National document axis (VXP) simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--config", type=Path, help="YAML or JSON file (default: the development directory)")
    parser.add_argument("--snapshot", type=Path, help="JSON file to keep the state in across restarts")
    parser.add_argument(
        "--timestamp-window", type=float, help="accepted age of the REST timestamp, seconds (default 7 days)"
    )
    args = parser.parse_args(argv)
    config = AxisSimConfig.from_file(args.config) if args.config else default_config()
    updates: dict[str, object] = {}
    if args.snapshot:
        updates["snapshot_file"] = args.snapshot
    if args.timestamp_window:
        updates["timestamp_window_seconds"] = args.timestamp_window
    config = config.model_validate({**config.model_dump(), **updates})
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
