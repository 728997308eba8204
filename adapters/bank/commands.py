"""``lienthong payments …``: the bank adapter's commands for operators (added to the hub's CLI through
:meth:`hub.spi.Adapter.commands`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from hub.spi import Adapter

from .reconciliation import to_csv
from .vnpay_wire import VNP_TZ


def payments_commands(connect: Callable[[], Adapter]) -> typer.Typer:
    app = typer.Typer(name="payments", no_args_is_help=True, help="Fee payments (bank adapter).")

    @app.command("reconcile")
    def reconcile(
        day: Annotated[
            str | None,
            typer.Option(
                "--date", help="The day to reconcile, YYYY-MM-DD (Vietnam time); default yesterday."
            ),
        ] = None,
        csv_file: Annotated[
            Path | None, typer.Option("--csv", help="Also write the day's report as CSV to this file.")
        ] = None,
    ) -> None:
        """Ask the gateways about every payment of the day and compare with the hub's confirmations.

        Each discrepancy is recorded in the ledger and raised as an alert; exit code 1 when any."""
        try:
            wanted = date.fromisoformat(day) if day else datetime.now(VNP_TZ).date() - timedelta(days=1)
        except ValueError:
            raise typer.BadParameter("--date must be YYYY-MM-DD") from None
        try:
            adapter = connect()
        except RuntimeError as refused:  # not configured, or production refuses development values
            typer.echo(f"cannot reconcile: {refused}", err=True)
            raise typer.Exit(2) from None
        lines = adapter.reconciliation.run(wanted)  # type: ignore[attr-defined]
        report = to_csv(lines)
        if csv_file is not None:
            csv_file.write_text(report, encoding="utf-8")
        typer.echo(report, nl=False)
        discrepancies = [line for line in lines if line.discrepancy]
        typer.echo(
            f"{wanted.isoformat()}: {len(lines)} payments, {len(discrepancies)} discrepancies", err=True
        )
        if discrepancies:
            raise typer.Exit(1)

    return app
