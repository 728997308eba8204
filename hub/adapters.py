"""The adapter registry: adapters found through entry points, configured from config/adapters.yaml.

The core never names an adapter: it loads whatever is registered under the ``lienthong.adapters``
entry-point group and that the routes use.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from hub.ledger.work import INBOX_ADAPTER
from hub.spi import Adapter, HubServices

if TYPE_CHECKING:
    import typer

    from hub.settings import Settings

ADAPTER_ENTRY_POINTS = "lienthong.adapters"
log = logging.getLogger("hub.adapters")


def installed_adapters(wanted: set[str] | None = None) -> dict[str, type[Adapter]]:
    """name → Adapter subclass, for every installed adapter (or only the `wanted` ones).

    An entry point whose code cannot be imported counts as not installed, loudly: its deliveries
    wait in the ledger rather than the whole hub refusing to start.
    """
    found: dict[str, type[Adapter]] = {}
    for entry in entry_points(group=ADAPTER_ENTRY_POINTS):
        if wanted is not None and entry.name not in wanted:
            continue
        try:
            cls = entry.load()
        except (ImportError, AttributeError) as error:
            log.error("adapter %r cannot be loaded (%s): its deliveries wait, queued", entry.name, error)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise TypeError(f"entry point {entry.name!r} does not name an Adapter subclass")
        found[entry.name] = cls
    return found


def load_options(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    adapters = data.get("adapters") or {}
    if not isinstance(adapters, dict):
        raise ValueError(f"{path}: 'adapters' must be a mapping of adapter name → options")
    return {name: dict(options or {}) for name, options in adapters.items()}


class AdapterConfigError(ValueError):
    """An adapter's options are wrong: one line naming the file and the key (no traceback)."""


def describe_invalid(path: Path, prefix: str, error: ValidationError) -> str:
    """``config/adapters.yaml: adapters.post_ems.clients.0.secret: Field required`` (+ N more)."""
    first = error.errors(include_url=False)[0]
    key = ".".join([prefix, *(str(part) for part in first["loc"])])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{path}: {key}: {first['msg']}{more}"


class AdapterSet:
    """The adapters this process runs, instantiated with their validated options."""

    def __init__(self, adapters: dict[str, Adapter]) -> None:
        self._adapters = adapters

    @classmethod
    def load(cls, wanted: set[str], options_file: Path, services: HubServices) -> AdapterSet:
        available = installed_adapters(wanted | set(load_options(options_file)))
        options = load_options(options_file)
        unknown_options = set(options) - set(available)
        if unknown_options:
            log.warning("options given for adapters that are not installed: %s", sorted(unknown_options))
        adapters: dict[str, Adapter] = {}
        for name in sorted(wanted):
            adapter_cls = available.get(name)
            if adapter_cls is None:
                if name == INBOX_ADAPTER:
                    continue  # built in: the recipient pulls its deliveries from GET /v1/inbox
                log.warning("adapter %r is routed to but not installed: its deliveries wait, queued", name)
                continue
            try:
                validated = adapter_cls.Options.model_validate(options.get(name, {}))
            except ValidationError as error:
                raise AdapterConfigError(describe_invalid(options_file, f"adapters.{name}", error)) from None
            adapters[name] = adapter_cls(validated, services)
        return cls(adapters)

    def get(self, name: str | None) -> Adapter | None:
        return self._adapters.get(name) if name else None

    def names(self) -> list[str]:
        return sorted(self._adapters)

    def __iter__(self) -> Iterator[Adapter]:
        return iter(self._adapters.values())

    def close(self) -> None:
        for adapter in self._adapters.values():
            try:
                adapter.close()
            except Exception:  # closing must not stop the others from closing
                log.exception("adapter %s failed to close", adapter.name)


def add_adapter_commands(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Add each installed adapter's operator commands (:meth:`Adapter.commands`) to the CLI `app`."""
    for name, adapter_cls in installed_adapters().items():
        group = adapter_cls.commands(lambda name=name: connect_adapter(name, settings()))  # type: ignore[misc]
        if group is not None:
            app.add_typer(group)


def connect_adapter(name: str, settings: Settings) -> Adapter:
    """The adapter `name` of a hub built from `settings` (closed when the process ends), for a command."""
    from hub.runtime import Runtime

    runtime = Runtime.build(settings)
    atexit.register(runtime.close)
    adapter = runtime.adapters.get(name)
    if adapter is None:
        raise RuntimeError(f"adapter {name!r} is not in use: no route in {settings.routes_file} names it")
    return adapter
