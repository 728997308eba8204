"""Routes as data: which adapter carries which types from which senders to which recipients.

Loaded from ``config/routes.yaml`` and validated at start-up. At intake every recipient must resolve
to exactly one adapter: the first matching route wins.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.problems import Problem

EXTERNAL_PREFIX = "external:"
DIRECTORY_PREFIX = "directory:"
InDirectory = Callable[[str, str], bool]  # (adapter, recipient) → the adapter's directory lists it


def _no_directory(adapter: str, recipient: str) -> bool:
    return False


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    adapter: str
    types: list[str] = Field(min_length=1)
    senders: list[str] = Field(default_factory=lambda: ["*"])
    recipients: list[str] = Field(min_length=1)

    @field_validator("types", "senders", "recipients")
    @classmethod
    def _no_blank_patterns(cls, patterns: list[str]) -> list[str]:
        if any(not p.strip() for p in patterns):
            raise ValueError("patterns must not be blank")
        return patterns

    def matches(
        self,
        doctype: str,
        sender: str,
        recipient: str,
        *,
        is_participant: bool,
        in_directory: InDirectory = _no_directory,
    ) -> bool:
        if not any(fnmatchcase(doctype, p) for p in self.types):
            return False
        if not any(fnmatchcase(sender, p) for p in self.senders):
            return False
        for pattern in self.recipients:
            if pattern.startswith(DIRECTORY_PREFIX):
                if not is_participant and in_directory(pattern[len(DIRECTORY_PREFIX) :], recipient):
                    return True
            elif pattern.startswith(EXTERNAL_PREFIX):
                if not is_participant and fnmatchcase(recipient, pattern[len(EXTERNAL_PREFIX) :]):
                    return True
            elif fnmatchcase(recipient, pattern):
                return True
        return False


class RoutesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[Route]


#: How many (type, sender, recipient) answers a table keeps before it starts afresh.
_MEMO_SIZE = 4096


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError("route names must be unique")
        # For a recipient that is a participant the answer depends on (type, sender, recipient) only
        # (directory and external patterns apply to non-participants), and routes are immutable: it is
        # remembered. A directory's answer can change, so non-participants are matched every time.
        # Each intake routed anew through fnmatch per route and pattern (~3 % of a saturated intake's
        # GIL samples for JSON, bench/FINDINGS.md).
        self._memo: dict[tuple[str, str, str], Route | None] = {}

    @classmethod
    def load(cls, path: Path) -> RouteTable:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(RoutesFile.model_validate(data).routes)

    def adapters(self) -> set[str]:
        return {r.adapter for r in self.routes}

    def check_types(self, known_types: Container[str]) -> None:
        """Start-up check: every type a route names literally (not a glob) is registered."""
        for route in self.routes:
            for pattern in route.types:
                if not any(ch in pattern for ch in "*?[") and pattern not in known_types:
                    raise ValueError(f"route {route.name!r} names unknown document type {pattern!r}")

    def first_match(
        self,
        doctype: str,
        sender: str,
        recipient: str,
        *,
        is_participant: bool,
        in_directory: InDirectory = _no_directory,
    ) -> Route | None:
        if is_participant:
            key = (doctype, sender, recipient)
            try:
                return self._memo[key]
            except KeyError:
                pass
            found = self._first_match(doctype, sender, recipient, is_participant=True)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
            return found
        return self._first_match(doctype, sender, recipient, is_participant=False, in_directory=in_directory)

    def _first_match(
        self,
        doctype: str,
        sender: str,
        recipient: str,
        *,
        is_participant: bool,
        in_directory: InDirectory = _no_directory,
    ) -> Route | None:
        for route in self.routes:
            if route.matches(
                doctype, sender, recipient, is_participant=is_participant, in_directory=in_directory
            ):
                return route
        return None

    def resolve(
        self,
        doctype: str,
        sender: str,
        recipients: Iterable[str],
        participants: Container[str],
        in_directory: InDirectory = _no_directory,
    ) -> dict[str, str]:
        """recipient → adapter for every recipient, or a Problem naming the first that cannot go."""
        chosen: dict[str, str] = {}
        for recipient in recipients:
            known = recipient in participants
            route = self.first_match(
                doctype, sender, recipient, is_participant=known, in_directory=in_directory
            )
            if route is not None:
                chosen[recipient] = route.adapter
                continue
            if not known:
                raise Problem(
                    "unknown-recipient",
                    f"recipient {recipient} is not a participant of this hub and no route reaches it",
                )
            raise Problem("route-forbidden", f"no route carries {doctype} from {sender} to {recipient}")
        return chosen
