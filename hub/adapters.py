"""The adapter registry: adapters found through entry points, configured from config/adapters.yaml.

The core never names an adapter: it loads whatever is registered under the ``lienthong.adapters``
entry-point group and that the routes use.
"""

from __future__ import annotations

import atexit
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from hub.adapter_scope import ScopedServices
from hub.ledger.work import INBOX_ADAPTER
from hub.problems import Problem
from hub.services import CoreServices
from hub.simulator_refs import resolve_simulators
from hub.spi import RESERVED_ADAPTER_NAMES, Adapter, IntakeDocument

if TYPE_CHECKING:
    import typer

    from hub.settings import Settings

ADAPTER_ENTRY_POINTS = "lienthong.adapters"
log = logging.getLogger("hub.adapters")
ADAPTER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # a path segment (/adapters/<name>) and a state owner


def check_adapter_name(name: str) -> None:
    """ValueError unless `name` may name an adapter (the pattern, not a reserved name)."""
    if not ADAPTER_NAME.match(name):
        raise ValueError(f"adapter name {name!r} must match {ADAPTER_NAME.pattern}")
    if name in RESERVED_ADAPTER_NAMES:
        raise ValueError(
            f"adapter name {name!r} is reserved by the core ({', '.join(sorted(RESERVED_ADAPTER_NAMES))})"
        )


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


def load_options(path: Path, simulators: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Each adapter's options in `path`, ``${simulator:NAME}`` replaced from `simulators` (name → URL)."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    adapters = data.get("adapters") or {}
    if not isinstance(adapters, dict):
        raise ValueError(f"{path}: 'adapters' must be a mapping of adapter name → options")
    adapters = resolve_simulators(adapters, simulators or {}, path, "adapters")
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
    def load(
        cls,
        wanted: set[str],
        options_file: Path,
        services: CoreServices,
        simulators: Mapping[str, str] | None = None,
    ) -> AdapterSet:
        """Each adapter with its validated options and its own :class:`ScopedServices`; ValueError for
        a reserved name or an entry point whose name is not the adapter's own."""
        options = load_options(options_file, simulators)
        available = installed_adapters(wanted | set(options))
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
            check_adapter_name(name)
            if getattr(adapter_cls, "name", name) != name:
                raise ValueError(f"entry point {name!r} names an adapter called {adapter_cls.name!r}")
            try:
                validated = adapter_cls.Options.model_validate(options.get(name, {}))
            except ValidationError as error:
                raise AdapterConfigError(describe_invalid(options_file, f"adapters.{name}", error)) from None
            adapters[name] = adapter_cls(validated, ScopedServices(services, name, validated.submits_as))
        return cls(adapters)

    def gate(self, routed: dict[str, str], document: IntakeDocument) -> None:
        """At intake, before recording: refuse what an adapter routed to cannot carry — larger than its
        ``capabilities.max_payload_bytes``, or refused by its :meth:`~hub.spi.Adapter.check_intake`.
        A check that raises is logged and ignored: the delivery will tell."""
        for recipient, name in routed.items():
            adapter = self._adapters.get(name)
            if adapter is None:
                continue
            limit = adapter.capabilities.max_payload_bytes
            if limit is not None and len(document.document) > limit:
                raise Problem(
                    "payload-too-large-for-adapter",
                    f"the document ({len(document.document)} bytes) is larger than adapter {name} carries"
                    f" to {recipient} ({limit} bytes)",
                    extra={"adapter": name, "recipient": recipient, "max_payload_bytes": limit},
                )
            try:
                problems = adapter.check_intake(replace(document, recipient=recipient))
            except Exception:
                log.exception("intake check of adapter %s failed; the document goes on", name)
                continue
            if problems:
                first = problems[0]
                first.extra.setdefault("adapter", name)
                first.extra.setdefault("recipient", recipient)
                raise first

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
