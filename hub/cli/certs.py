"""`lienthong certs`: certificates and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import make_settings, out, refuse

certs_app = typer.Typer(no_args_is_help=True, help="Certificates and keys.")


@certs_app.command("dev")
def certs_dev(
    target: Annotated[Path | None, typer.Option(help="Directory (default: the settings' certs_dir).")] = None,
) -> None:
    """Regenerate the development PKI (CA, hub, participants). Development only."""
    from hub.devpki import generate_dev_pki

    settings = make_settings()
    if settings.mode == "production":
        raise refuse("the development PKI is never generated in production mode")
    written = generate_dev_pki(target or settings.certs_dir)
    out.print(f"development PKI written: {len(written)} files in {target or settings.certs_dir}")
