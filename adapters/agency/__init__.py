"""The agency adapter: delivers hub messages to the province's own systems (document-management and
one-stop systems of departments, districts and communes) by webhook, and a simulator of those systems.

Registered under the ``lienthong.adapters`` entry point ``agency``. See docs/adapters/agency.md.
"""

from .adapter import AgencyAdapter
from .mapping import MappingError, WebhookRequest, build_request, interpret_response
from .options import AgencyOptions

__all__ = [
    "AgencyAdapter",
    "AgencyOptions",
    "MappingError",
    "WebhookRequest",
    "build_request",
    "interpret_response",
]
