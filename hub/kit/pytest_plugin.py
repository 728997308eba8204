"""The kit's pytest plugin (entry point ``pytest11``): ``pytest --lienthong-adapter NAME`` runs the
conformance suite against the adapter whose profile is registered as NAME (``lienthong.conformance``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SUITE = Path(__file__).with_name("suite.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lienthong-adapter",
        dest="lienthong_adapter",
        metavar="NAME",
        help="run the lienthong adapter conformance suite against the adapter profiled as NAME",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # The suite is collected as if named on the command line (so python_files patterns do not hide it).
    if any(arg == "--lienthong-adapter" or arg.startswith("--lienthong-adapter=") for arg in args):
        args.append(str(SUITE))


def pytest_report_header(config: pytest.Config) -> Any:
    name = config.getoption("lienthong_adapter", default=None)
    return f"lienthong conformance suite: adapter {name}" if name else None
