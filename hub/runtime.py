"""Assemble a running hub: context, intake, adapters, queue and delivery engine, for `serve` and `worker`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hub.adapters import AdapterSet
from hub.alerts import AlertWatcher
from hub.context import HubContext
from hub.delivery import DeliveryEngine
from hub.evidence import make_sequencer
from hub.intake import Intake
from hub.ledger.sequencer import Sequencer
from hub.peers import PeerWatch
from hub.queue import WorkQueue
from hub.services import CoreServices
from hub.settings import Settings
from hub.startup_checks import check_production_safety


def make_queue(settings: Settings) -> WorkQueue | None:
    """None for the embedded mode (the ledger is the queue); RabbitMQ for an amqp:// URL."""
    if settings.queue_url == "embedded":
        return None
    if settings.queue_url.startswith(("amqp://", "amqps://")):
        from hub.queue.amqp import AmqpWorkQueue

        return AmqpWorkQueue(settings.queue_url, prefix=settings.queue_prefix)
    raise ValueError(f"queue_url must be 'embedded' or an amqp:// URL, not {settings.queue_url!r}")


@dataclass
class Runtime:
    hub: HubContext
    intake: Intake
    services: CoreServices
    adapters: AdapterSet
    engine: DeliveryEngine
    queue: WorkQueue | None
    peers: PeerWatch
    sequencer: Sequencer
    stop: threading.Event = field(default_factory=threading.Event)
    watcher: AlertWatcher | None = None

    @classmethod
    def build(cls, settings: Settings | None = None, *, context: HubContext | None = None) -> Runtime:
        hub = context or HubContext(settings or Settings())
        hub.warm_up()
        intake = Intake(hub)
        services = CoreServices(hub, intake)
        adapters = AdapterSet.load(
            hub.routes.adapters(), hub.settings.adapters_file, services, hub.simulator_urls
        )
        intake.adapter_gate = adapters.gate
        check_production_safety(hub, adapters)
        queue = make_queue(hub.settings)
        engine = DeliveryEngine(hub, adapters, queue)
        intake.listeners.append(engine.enqueue)
        peers = PeerWatch.of(adapters, hub.settings.readiness_cache_seconds)
        return cls(hub, intake, services, adapters, engine, queue, peers, make_sequencer(hub))

    def start_workers(
        self, *, workers: int | None = None, pollers: bool = True, sequencer: bool = True
    ) -> None:
        """Delivery workers, and with `pollers` the adapters' pollers and the alert watcher (run those
        in one process of a scaled-out hub). Every process runs a sequencer (one at a time works)
        unless told not to: `serve` whose delivery runs in a child leaves it to the child."""
        if sequencer:
            self.sequencer.start(self.stop)
        self.engine.start(self.stop, workers=workers, pollers=pollers)
        if pollers:
            self.watcher = AlertWatcher(self.hub, self.peers)
            self.watcher.start(self.stop)

    def close(self) -> None:
        self.stop.set()
        self.engine.join()
        self.engine.stop_publishing()
        self.sequencer.join()
        if self.watcher is not None:
            self.watcher.join()
        self.adapters.close()
        if self.queue is not None:
            self.queue.close()
        self.hub.close()
