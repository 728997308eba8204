"""The `lienthong` command line, assembled from one module per command group.

- `server`: serve, worker, run — running the hub;
- `documents`: validate, sign, verify — documents on disk, no hub needed;
- `participant`: send, status, fetch, receipt, inbox, timeline — a participant's calls to a hub's
  API (`--hub`/LIENTHONG_HUB_URL, `--token`/LIENTHONG_TOKEN or `--as` in development);
- `operator`: deliveries list/retry, replay — over a hub's API with an operator token, or on the
  local ledger (`--data-dir`);
- `ledger`, `certs`: the ledger's checks and proofs; the development PKI.

Installed adapters add their own groups (`Adapter.commands()`); loading them costs about a second,
so `main` adds them only when the command asked for is not one of the core's.

Exit codes: 0 success; 1 refused or invalid (the reason is printed on stderr); 2 usage error.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hub.cli import adapter, certs, documents, ledger, operator, participant, server
from hub.cli.common import make_settings, out

DISTRIBUTION = "lienthong"

app = typer.Typer(no_args_is_help=True, add_completion=False, help="lienthong — the province's hub")
TOP_LEVEL = (server.app, documents.app, participant.app, operator.app)  # their commands join the top
NAMED_GROUPS = {"ledger": ledger.ledger_app, "certs": certs.certs_app, "adapter": adapter.adapter_app}
for commands in TOP_LEVEL:
    app.add_typer(commands)
for name, group in NAMED_GROUPS.items():
    app.add_typer(group, name=name)


def installed_version() -> str:
    """The version of the installed distribution (pyproject's), not a copy kept in the code."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # running from a tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        out.print(f"lienthong {installed_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """lienthong — the province's hub."""


def core_commands() -> set[str]:
    """The names of the core's commands and groups, read from the core's own modules (so adapters'
    groups never count, even once added) rather than by building the click command."""
    names = set(NAMED_GROUPS)
    for commands in TOP_LEVEL:
        for command in commands.registered_commands:
            callback_name = command.callback.__name__ if command.callback else ""
            names.add(command.name or callback_name.replace("_", "-"))
        names |= {g.name for g in commands.registered_groups if isinstance(g.name, str)}
    return names


def with_adapter_commands() -> typer.Typer:
    """The CLI with the installed adapters' command groups added (e.g. `lienthong payments`).

    Loading every adapter costs about a second, so the core's own commands run without it."""
    from hub.adapters import add_adapter_commands

    if not getattr(app, "_adapter_commands_added", False):
        add_adapter_commands(app, make_settings)
        app._adapter_commands_added = True  # type: ignore[attr-defined]
    return app


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else None
    if first == "--version" or first in core_commands():
        app()
    else:
        with_adapter_commands()()


__all__ = ["app", "main", "with_adapter_commands"]
