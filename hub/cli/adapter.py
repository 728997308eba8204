"""`lienthong adapter`: start a new adapter package from the kit's template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import out, refuse

adapter_app = typer.Typer(no_args_is_help=True, help="Adapters: start a new one from the kit's template.")


@adapter_app.command("new")
def adapter_new(
    name: Annotated[str, typer.Argument(help="The adapter's name: lower case, digits, underscores.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to create the package.")] = Path("."),
) -> None:
    """Write a separate adapter package (adapter, options, simulator, conformance tests) that installs
    and passes its tests at once: `pip install -e lienthong-NAME && pytest lienthong-NAME`."""
    from hub.kit.template import write_adapter_package

    try:
        root = write_adapter_package(name, output)
    except (ValueError, FileExistsError) as error:
        raise refuse(str(error)) from None
    out.print(f"created {root}: pip install -e {root} && (cd {root} && pytest)", highlight=False)
