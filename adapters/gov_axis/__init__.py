"""The national document axis (Trục liên thông văn bản quốc gia, VXP/VDXP): adapter and simulator.

Registered under the ``lienthong.adapters`` entry point ``gov_axis``. See docs/adapters/gov-axis.md.
"""

from .adapter import GovAxisAdapter
from .client import AxisClient, RestAxisClient, SoapAxisClient, make_client
from .mapping import AxisRefused, AxisUnavailable, MappingError, ReceivedPacket
from .options import GovAxisOptions
from .poller import DirectoryPoller, InboundPoller

__all__ = [
    "AxisClient",
    "AxisRefused",
    "AxisUnavailable",
    "DirectoryPoller",
    "GovAxisAdapter",
    "GovAxisOptions",
    "InboundPoller",
    "MappingError",
    "ReceivedPacket",
    "RestAxisClient",
    "SoapAxisClient",
    "make_client",
]
