"""A simulator of the province's agency systems (document-management and one-stop systems).

A real HTTP server on loopback that receives the agency adapter's webhook deliveries at
``POST /webhook/{participant_id}``, drops repeats by hub message id, and can be told through
``/_sim`` to be down, fail, or be slow. :class:`InboxPuller` plays an agency that pulls instead.
See docs/adapters/agency.md.

    server = hub.servers.run_in_thread(create_app())   # or: python -m adapters.agency.simulator
"""

from .app import Simulator, create_app
from .behaviour import Behaviours, Decision
from .config import SimulatorConfig
from .puller import InboxPuller
from .store import Inbox, Received

__all__ = [
    "Behaviours",
    "Decision",
    "Inbox",
    "InboxPuller",
    "Received",
    "Simulator",
    "SimulatorConfig",
    "create_app",
]
