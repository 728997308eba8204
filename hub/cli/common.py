"""What every command group shares: the consoles, settings, refusing, the options that name a hub and
the credentials for it, and an HTTP client that turns the hub's problem+json into one clear line.

Only typer, rich and the settings are imported at module level: the heavy parts of the hub (lxml,
SQLAlchemy, FastAPI, httpx) are imported inside the commands that need them, so `lienthong --help`
and `lienthong validate` start fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console

from hub.problems import Problem
from hub.settings import Settings

if TYPE_CHECKING:
    import httpx
    from rich.progress import Progress

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_HUB_URL = "http://127.0.0.1:8080"

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the SQLite ledger lives (default: the settings' data_dir)."),
]
HubUrl = Annotated[str, typer.Option("--hub", envvar="LIENTHONG_HUB_URL", help="Base URL of a running hub.")]
OptionalHubUrl = Annotated[
    str | None,
    typer.Option(
        "--hub",
        envvar="LIENTHONG_HUB_URL",
        help="Talk to this running hub over HTTP (needs an operator token); without it, the local ledger.",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="LIENTHONG_TOKEN",
        help="Bearer token of the participant (or operator).",
        show_default=False,
    ),
]
AsParticipant = Annotated[
    str | None,
    typer.Option("--as", help="Development: use this participant's development token instead of --token."),
]


def make_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """The hub's settings (``LIENTHONG_*`` variables), with `--data-dir` and command options over them."""
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def refuse(message: str) -> typer.Exit:
    """Print why on stderr; the caller raises the returned exit (code 1: refused or invalid)."""
    err.print(f"[red]refused:[/red] {message}", highlight=False)
    return typer.Exit(1)


def print_errors(errors: Sequence[Any]) -> None:
    """The located errors of a problem (schema violations), at most 20, one per line."""
    for item in list(errors)[:20]:
        if isinstance(item, dict):
            err.print(f"  {item.get('location', '')}: {item.get('message', '')}", highlight=False)


def problem_exit(problem: Problem) -> typer.Exit:
    print_errors(problem.errors)
    return refuse(f"{problem.slug}: {problem.detail}")


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise refuse(f"cannot read {path}: {error.strerror}") from None


def write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise refuse(f"cannot write {path}: {error.strerror}") from None


def is_json(data: bytes) -> bool:
    return data.lstrip()[:1] in (b"{", b"[")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 attempt`, `3 attempts` (`nouns` for an irregular plural)."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def progress_bar() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


# -- talking to a hub over HTTP --------------------------------------------------------------------


def authorization(token: str | None, as_participant: str | None) -> str:
    """The `Authorization` header value from `--token` (or LIENTHONG_TOKEN) or, in development, `--as`."""
    if token and as_participant:
        raise typer.BadParameter("give --token or --as, not both", param_hint="--token/--as")
    if as_participant:
        from hub.devpki import dev_token

        return f"Bearer {dev_token(as_participant)}"
    if token:
        return f"Bearer {token.strip()}"
    raise typer.BadParameter(
        "the hub needs a bearer token: pass --token (or set LIENTHONG_TOKEN); in development --as ID",
        param_hint="--token",
    )


class HubRefused(Exception):
    """The hub (or the way to it) refused a request; the message is one line saying why."""

    def __init__(self, message: str, errors: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)

    def exit(self) -> typer.Exit:
        print_errors(self.errors)
        return refuse(str(self))


def path_segment(value: str, safe: str = "") -> str:
    """An id or key as one URL path segment (a correlation key may hold '/' and ',')."""
    return quote(value, safe=safe)


class HubClient:
    """A participant's or operator's HTTP session with one hub.

    Every answer of 400 or more becomes :class:`HubRefused` with the problem's slug and detail
    (`schema-invalid: …`), or the HTTP status and the start of the body when the answer is not the
    hub's JSON (a proxy's error page); an unreachable hub becomes `cannot reach the hub at …`.
    """

    def __init__(self, hub_url: str, authorization: str, timeout: float = 60) -> None:
        import httpx

        self.hub_url = hub_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.hub_url, headers={"Authorization": authorization}, timeout=timeout
        )

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise HubRefused(f"cannot reach the hub at {self.hub_url}: {error}") from None
        if response.status_code >= 400:
            raise refusal(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON; HubRefused if it is not JSON (not the hub answering)."""
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise HubRefused(
                f"HTTP {response.status_code}: not the hub's JSON: {response.text[:200]}"
            ) from None


@contextmanager
def hub_session(hub_url: str, authorization: str) -> Iterator[HubClient]:
    """A :class:`HubClient` whose refusal ends the command: why (and its errors) on stderr, exit status 1."""
    with HubClient(hub_url, authorization) as client:
        try:
            yield client
        except HubRefused as refused:
            raise refused.exit() from None


def refusal(response: httpx.Response) -> HubRefused:
    """One line from a refused answer: `slug: detail` of a problem+json, else `HTTP nnn: text`."""
    try:
        body = response.json() if response.content else {}
    except ValueError:  # not the hub's JSON: a proxy's error page, or another server
        body = None
    if not isinstance(body, dict) or "detail" not in body:
        return HubRefused(f"HTTP {response.status_code}: {response.text[:200]}")
    slug = str(body.get("type", "")).rsplit("/", 1)[-1]
    errors = body.get("errors")
    return HubRefused(
        f"{slug or response.status_code}: {body['detail']}", errors if isinstance(errors, list) else ()
    )


def require_ledger(settings: Settings) -> None:
    """Commands that read a ledger refuse a place that holds none ("no ledger at …") rather than
    create an empty one there and report on it: a mistyped --data-dir must not look "intact"."""
    import sqlalchemy as sa

    url = sa.engine.make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or not Path(url.database).is_file():
            raise refuse(f"no ledger at {url.database or url}")
        return
    shown = url.render_as_string(hide_password=True)
    engine = sa.create_engine(url)
    try:
        found = sa.inspect(engine).has_table("events")
    except sa.exc.SQLAlchemyError as error:
        raise refuse(f"cannot open the ledger at {shown}: {str(error).splitlines()[0]}") from None
    finally:
        engine.dispose()
    if not found:
        raise refuse(f"no ledger at {shown}")


def existing_ledger_settings(data_dir: Path | None = None) -> Settings:
    """The settings of a command that reads the ledger, refused where there is none."""
    settings = make_settings(data_dir)
    require_ledger(settings)
    return settings
