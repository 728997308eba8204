"""A simulator of VNPost's EMS API (public-utility postal service) for the post_ems adapter.

A real HTTP server on loopback speaking VNPost's wire format (OAuth2 client-credentials token,
create and cancel order, cursor tracking feed), with orders that move through their states over
compressible time, an admin API under ``/_sim`` and failure injection. See docs/simulators/vnpost.md.

    app = create_app(SimulatorConfig(time_scale=0))      # frozen time: move orders via /_sim
    server = hub.servers.run_in_thread(app)               # or: python -m adapters.post_ems.simulator
"""

from .app import Simulator, create_app
from .codes import (
    SCENARIO_PATHS,
    TRACKING_STATUS_CODES,
    TRACKING_STATUSES,
    AnswerStatus,
    OrderState,
    Scenario,
    TrackingStatus,
)
from .config import DEFAULT_CLIENT, ClientCredentials, SimulatorConfig, StepDelays
from .faults import FaultKind
from .ids import ZERO_OBJECT_ID, item_code, s10_check_digit

__all__ = [
    "DEFAULT_CLIENT",
    "SCENARIO_PATHS",
    "TRACKING_STATUSES",
    "TRACKING_STATUS_CODES",
    "ZERO_OBJECT_ID",
    "AnswerStatus",
    "ClientCredentials",
    "FaultKind",
    "OrderState",
    "Scenario",
    "Simulator",
    "SimulatorConfig",
    "StepDelays",
    "TrackingStatus",
    "create_app",
    "item_code",
    "s10_check_digit",
]
