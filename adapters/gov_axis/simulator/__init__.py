"""A simulator of the national document axis (VXP): the SDK's REST face and a SOAP face, on loopback.

See docs/simulators/gov-axis.md. ``create_app(config)`` builds it; ``python -m
adapters.gov_axis.simulator --port N`` runs it alone; :mod:`.peer` lets a test act as a ministry.
"""

from .app import create_app
from .config import AxisSimConfig, Organisation, SystemAccount, default_config
from .errors import AxisError, ErrorCode

__all__ = [
    "AxisError",
    "AxisSimConfig",
    "ErrorCode",
    "Organisation",
    "SystemAccount",
    "create_app",
    "default_config",
]
