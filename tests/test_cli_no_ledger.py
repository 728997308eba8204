"""Commands that read a ledger refuse a place without one: a mistyped --data-dir (or database URL)
is named, nothing is created there, and the exit code is 1 — never an empty "intact" ledger."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app

# (`status`, `fetch` and the other participant commands ask a hub over HTTP: they read no ledger.)
READ_COMMANDS = {
    "ledger verify": ["ledger", "verify"],
    "ledger checkpoint": ["ledger", "checkpoint"],
    "ledger sequence": ["ledger", "sequence"],
    "deliveries list": ["deliveries", "list"],
    "deliveries retry": ["deliveries", "retry", "00000000-0000-0000-0000-000000000000"],
    "replay": ["replay", "00000000-0000-0000-0000-000000000000"],
}


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIENTHONG_MODE", "LIENTHONG_DATABASE_URL", "LIENTHONG_DATA_DIR", "LIENTHONG_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, re.sub(r"\s+", " ", result.stdout + result.stderr)


@pytest.mark.parametrize("command", sorted(READ_COMMANDS))
def test_a_directory_without_a_ledger_is_refused_and_left_alone(command: str, tmp_path: Path) -> None:
    typo = tmp_path / "dta"
    code, said = run(*READ_COMMANDS[command], "--data-dir", str(typo))
    assert code == 1 and "no ledger at" in said and "dta" in said, said
    assert "intact" not in said
    assert not typo.exists(), "nothing is created where the operator mistyped"


def test_an_existing_empty_directory_is_refused_too(tmp_path: Path) -> None:
    code, said = run("ledger", "verify", "--data-dir", str(tmp_path))
    assert code == 1 and "no ledger at" in said
    assert not (tmp_path / "ledger.sqlite3").exists()


def test_a_postgresql_database_without_a_ledger_is_refused(postgres_url: str) -> None:
    code, said = run("ledger", "verify", env={"LIENTHONG_DATABASE_URL": postgres_url})
    assert code == 1 and "no ledger at" in said, said
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    try:
        assert not sa.inspect(engine).has_table("events"), "no schema was created"
    finally:
        engine.dispose()


def test_an_unreachable_database_is_named_not_traced(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    code, said = run("deliveries", "list", env={"LIENTHONG_DATABASE_URL": url})
    assert code == 1 and "cannot open the ledger at" in said and "Traceback" not in said, said
