"""VNPost EMS (public-utility postal service, bưu chính công ích): orders to collect dossiers from
citizens and to return results, and the tracking feed back to the agency that placed the order.

Registered under the ``lienthong.adapters`` entry point ``post_ems``. See docs/adapters/post-ems.md;
``adapters.post_ems.simulator`` is the simulator of the outside system (docs/simulators/vnpost.md).
"""

from .adapter import PostEmsAdapter
from .client import VNPostClient, VNPostError
from .mapping import (
    MappingError,
    OrderRecord,
    OrderRequest,
    due_alerts,
    event_key,
    interpret_answer,
    overdue_document,
    parse_order,
    tracking_document,
)
from .options import DEFAULT_STATUS_STATES, ClientOption, PostEmsOptions
from .tracking import OverduePoller, TrackingPoller

__all__ = [
    "DEFAULT_STATUS_STATES",
    "ClientOption",
    "MappingError",
    "OrderRecord",
    "OrderRequest",
    "OverduePoller",
    "PostEmsAdapter",
    "PostEmsOptions",
    "TrackingPoller",
    "VNPostClient",
    "VNPostError",
    "due_alerts",
    "event_key",
    "interpret_answer",
    "overdue_document",
    "parse_order",
    "tracking_document",
]
