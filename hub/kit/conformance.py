"""The conformance suite: the adapter contract, checked against an adapter and its simulator.

An adapter package describes itself with a :class:`ConformanceProfile` and runs the suite either by
subclassing :class:`ConformanceSuite` in its tests (``profile_factory = staticmethod(my_profile)``), or
with ``pytest --lienthong-adapter NAME``, the profile registered under the ``lienthong.conformance``
entry-point group (NAME → a callable returning the profile). docs/adapters/README.md lists the checks.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import ValidationError

from hub.kit.memory import InMemoryHub
from hub.kit.simulators import SIMULATOR_ENTRY_POINTS, running_simulator, simulator_app
from hub.servers import RunningServer, free_port
from hub.spi import (
    RESERVED_ADAPTER_NAMES,
    Adapter,
    AdapterOptions,
    Capabilities,
    Delivered,
    IntakeDocument,
    OutboundMessage,
    PermanentFailure,
    RetryableFailure,
)

ADAPTER_ENTRY_POINTS = "lienthong.adapters"
PROFILE_ENTRY_POINTS = "lienthong.conformance"


@dataclass
class ConformanceProfile:
    """What the suite needs to know about one adapter; every callable gets the simulator's base URL."""

    adapter: type[Adapter]
    simulator: str  # its name under the lienthong.simulators entry points
    options: Callable[[str], dict[str, Any]]  # options pointing the adapter at that simulator
    deliverable: Callable[[str], OutboundMessage]  # a message the simulator takes (a new id each call)
    refused: Callable[[str], OutboundMessage]  # a message the simulator refuses (may arrange it first)
    refusal_words: str  # a fragment of the simulator's own words, expected in the failure's reason
    #: how many times the simulator recorded `message` (None: it cannot say; results are compared)
    received: Callable[[str, OutboundMessage], int] | None = None
    #: the in-memory hub the adapter gets, given the simulator's base URL (participants, documents…)
    hub: Callable[[str], InMemoryHub] | None = None
    simulator_app: Callable[[], Any] | None = None  # default: the registered simulator


def load_profile(name: str) -> ConformanceProfile:
    for entry in entry_points(group=PROFILE_ENTRY_POINTS):
        if entry.name == name:
            profile = entry.load()()
            if not isinstance(profile, ConformanceProfile):
                raise TypeError(f"{PROFILE_ENTRY_POINTS} entry {name!r} did not return a ConformanceProfile")
            return profile
    raise LookupError(f"no conformance profile {name!r} under the {PROFILE_ENTRY_POINTS} entry points")


def message(
    *,
    recipient: str,
    document: bytes,
    doctype: str,
    content_type: str = "application/json",
    sender: str = "000.00.00.H41",
    correlation_key: str | None = None,
) -> OutboundMessage:
    """An OutboundMessage with fresh ids, attempt 1 (for profiles)."""
    return OutboundMessage(
        message_id=str(uuid.uuid4()),
        delivery_id=str(uuid.uuid4()),
        doctype=doctype,
        sender=sender,
        recipient=recipient,
        correlation_key=correlation_key,
        document=document,
        content_type=content_type,
        signature=None,
        attempt=1,
    )


def _dev_secret_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str) and value.startswith("dev:"):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _dev_secret_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _dev_secret_paths(item, (*path, index))


def _replaced(options: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(options)
    target: Any = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copied


class ConformanceSuite:
    """The contract's checks; a subclass sets `profile_factory` (or the run gives --lienthong-adapter)."""

    profile_factory: ClassVar[Callable[[], ConformanceProfile] | None] = None

    # -- fixtures ----------------------------------------------------------------------------------

    @pytest.fixture
    def profile(self, request: pytest.FixtureRequest) -> ConformanceProfile:
        factory = type(self).profile_factory
        if factory is not None:
            return factory()
        name = request.config.getoption("lienthong_adapter", default=None)
        if not name:
            pytest.fail("no adapter to check: set profile_factory or run with --lienthong-adapter NAME")
        return load_profile(name)

    @pytest.fixture
    def peer(self, profile: ConformanceProfile) -> Iterator[RunningServer]:
        app = profile.simulator_app() if profile.simulator_app else simulator_app(profile.simulator)
        with running_simulator(app) as server:
            yield server

    @staticmethod
    def make(profile: ConformanceProfile, base_url: str) -> tuple[Adapter, InMemoryHub]:
        """The adapter pointed at `base_url`, with an in-memory hub scoped to it as the core scopes it."""
        options = profile.adapter.Options.model_validate(profile.options(base_url))
        hub = profile.hub(base_url) if profile.hub else InMemoryHub()
        hub.adapter = profile.adapter.name
        hub.submits_as = list(options.submits_as)
        return profile.adapter(options, hub), hub

    # -- the checks --------------------------------------------------------------------------------

    def test_declares_the_contract(self, profile: ConformanceProfile) -> None:
        """An Adapter subclass with a valid, unreserved name, registered under that name, with
        Capabilities and an Options model derived from AdapterOptions."""
        cls = profile.adapter
        assert issubclass(cls, Adapter)
        assert cls.name not in RESERVED_ADAPTER_NAMES and cls.name.replace("_", "").isalnum()
        assert isinstance(cls.capabilities, Capabilities)
        assert issubclass(cls.Options, AdapterOptions)
        registered = {e.name: e for e in entry_points(group=ADAPTER_ENTRY_POINTS)}
        assert cls.name in registered, f"no {ADAPTER_ENTRY_POINTS} entry point {cls.name!r}"
        assert registered[cls.name].load() is cls

    def test_options_are_validated(self, profile: ConformanceProfile) -> None:
        """The profile's options validate; an unknown option and a wrong type are refused at start-up."""
        options = profile.options("http://127.0.0.1:9")
        profile.adapter.Options.model_validate(options)
        with pytest.raises(ValidationError):
            profile.adapter.Options.model_validate({**options, "no_such_option_xyz": 1})
        with pytest.raises(ValidationError):
            profile.adapter.Options.model_validate({**options, "timeout_seconds": "soon"})

    def test_secrets_follow_the_secretspec_convention(self, profile: ConformanceProfile) -> None:
        """Every secret is a SecretSpec: a plain value in its place is refused, and while any holds a
        `dev:` value the adapter reports it (production refuses to start)."""
        options = profile.options("http://127.0.0.1:9")
        paths = list(_dev_secret_paths(options))
        for path in paths:
            with pytest.raises(ValidationError):
                profile.adapter.Options.model_validate(_replaced(options, path, "a-plain-secret"))
            env = _replaced(options, path, "env:LIENTHONG_CONFORMANCE_SECRET")
            profile.adapter.Options.model_validate(env)
        adapter = profile.adapter(profile.adapter.Options.model_validate(options), InMemoryHub())
        try:
            assert bool(adapter.development_secrets()) == bool(paths), adapter.development_secrets()
        finally:
            adapter.close()

    def test_simulator_is_registered_and_reachable(
        self, profile: ConformanceProfile, peer: RunningServer
    ) -> None:
        names = {e.name for e in entry_points(group=SIMULATOR_ENTRY_POINTS)}
        assert profile.simulator in names, f"no {SIMULATOR_ENTRY_POINTS} entry point {profile.simulator!r}"
        answer = httpx.get(peer.base_url + "/", timeout=10)
        assert answer.status_code < 500

    def test_delivery_is_idempotent_by_message_id(
        self, profile: ConformanceProfile, peer: RunningServer
    ) -> None:
        """The same message delivered twice (a retry after a lost answer) reaches the peer once."""
        adapter, _hub = self.make(profile, peer.base_url)
        try:
            first_message = profile.deliverable(peer.base_url)
            first = adapter.deliver(first_message)
            second = adapter.deliver(replace(first_message, attempt=2))
        finally:
            adapter.close()
        assert isinstance(first, Delivered), first
        assert isinstance(second, Delivered), second
        if profile.received is not None:
            assert profile.received(peer.base_url, first_message) == 1
        else:
            assert first.peer_reference == second.peer_reference

    def test_peer_down_is_retryable(self, profile: ConformanceProfile) -> None:
        closed = f"http://127.0.0.1:{free_port()}"
        adapter, _ = self.make(profile, closed)
        try:
            result = adapter.deliver(profile.deliverable(closed))
        finally:
            adapter.close()
        assert isinstance(result, RetryableFailure), result
        assert result.reason

    def test_peer_refusal_is_permanent_in_the_peers_words(
        self, profile: ConformanceProfile, peer: RunningServer
    ) -> None:
        adapter, _hub = self.make(profile, peer.base_url)
        try:
            result = adapter.deliver(profile.refused(peer.base_url))
        finally:
            adapter.close()
        assert isinstance(result, PermanentFailure), result
        assert profile.refusal_words in result.reason, result.reason

    def test_exceptions_are_contained(self, profile: ConformanceProfile, peer: RunningServer) -> None:
        """A document the adapter cannot make sense of is a result, not an exception — at delivery and
        in the intake check (which sees it parsed, or not)."""
        adapter, _hub = self.make(profile, peer.base_url)
        garbage = replace(profile.deliverable(peer.base_url), document=b"\xff\xfe{<not a document", attempt=1)
        try:
            result = adapter.deliver(garbage)
            odd_forms: tuple[object, ...] = (
                None,
                {},
                [],
                {"order": 7, "expires_at": "never", "CustomerCode": None},
            )
            for parsed in odd_forms:
                problems = adapter.check_intake(
                    IntakeDocument(
                        doctype=garbage.doctype,
                        sender=garbage.sender,
                        recipient=garbage.recipient,
                        document=garbage.document,
                        content_type=garbage.content_type,
                        parsed=parsed,
                    )
                )
                assert isinstance(problems, list)
        finally:
            adapter.close()
        assert isinstance(result, Delivered | RetryableFailure | PermanentFailure)

    def test_state_stays_in_its_own_namespace(self, profile: ConformanceProfile, peer: RunningServer) -> None:
        """Delivering, polling and observing touch only the adapter's own state and evidence."""
        adapter, hub = self.make(profile, peer.base_url)
        try:
            adapter.deliver(profile.deliverable(peer.base_url))
            for poller in adapter.pollers():
                try:
                    poller.poll_once()
                except Exception as error:  # a poll may fail on its own; reaching elsewhere may not
                    assert not isinstance(error, PermissionError), error
        finally:
            adapter.close()
        assert hub.violations == []
        assert all(owner == profile.adapter.name for owner, _ in hub.state)
        assert all(data.get("adapter") == profile.adapter.name for _, data in hub.events)
