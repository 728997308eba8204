"""``${simulator:NAME}`` in the configuration: a development simulator's address, by name.

config/simulators.yaml is the one place the simulators' ports are configured. The other files
(participants' webhook URLs, adapters' base URLs) name a simulator instead of repeating its port —
``webhook_url: "${simulator:agency}/webhook/000.00.00.H41"`` — and the reference is replaced by the
simulator's base URL (``http://127.0.0.1:8091``) when the file is loaded. Where the simulators are:

- under ``lienthong run``: where `run` actually started them (a busy port moves to a free one), passed
  in ``Settings.simulator_urls``;
- otherwise (``serve``, ``worker``, the CLI): 127.0.0.1 with the ports of config/simulators.yaml.

Hand-written because it is a dozen lines: YAML has no variables, and an environment-variable
expander (``${VAR}``) would read names from the process environment, which is not where ports live.
A production configuration holds real URLs and no reference; an unknown name is refused in one line
naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REFERENCE = re.compile(r"\$\{simulator:([^}]*)\}")
LOOPBACK = "127.0.0.1"


class ConfigReferenceError(ValueError):
    """A ``${simulator:NAME}`` that names no simulator, or an unreadable simulators.yaml: one line."""


def simulator_ports(path: Path) -> dict[str, int]:
    """The ports config/simulators.yaml gives the simulators (none when the file does not exist)."""
    if not path.exists():
        return {}
    try:
        listed = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("simulators", {}) or {}
        return {str(name): int(port) for name, port in listed.items()}
    except (yaml.YAMLError, AttributeError, TypeError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigReferenceError(f"{path}: simulators: {first}") from None


def configured_simulator_urls(path: Path) -> dict[str, str]:
    """Each simulator's base URL on the loopback, from the ports of `path` (config/simulators.yaml)."""
    return {name: f"http://{LOOPBACK}:{port}" for name, port in simulator_ports(path).items()}


def resolve_simulators(data: Any, urls: Mapping[str, str], file: Path, key: str = "") -> Any:
    """`data` (parsed YAML) with every ``${simulator:NAME}`` in its strings replaced by NAME's URL."""

    def below(part: object) -> str:
        return f"{key}.{part}" if key else str(part)

    if isinstance(data, dict):
        return {k: resolve_simulators(v, urls, file, below(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [resolve_simulators(v, urls, file, below(i)) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def url_of(found: re.Match[str]) -> str:
        name = found.group(1).strip()
        if name not in urls:
            known = ", ".join(sorted(urls)) or "none"
            raise ConfigReferenceError(
                f"{file}: {key}: unknown simulator {name!r} in {found.group(0)}"
                f" (config/simulators.yaml lists: {known})"
            )
        return urls[name].rstrip("/")

    return REFERENCE.sub(url_of, data)
