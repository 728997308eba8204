"""Banks and payment platforms (fees for dossiers): VNPAY-style and national payment platform-style.

:class:`BankAdapter` (entry point ``bank``) sends ``payment.request`` to the gateway named by the
recipient (``bank.vnpay`` / ``bank.payplatform``) and turns the gateway's verified callbacks and status
answers into ``payment.confirmation`` messages. See docs/adapters/bank.md.

The wire formats live in :mod:`adapters.bank.simulator.vnpay_protocol` and
:mod:`adapters.bank.simulator.payplatform_protocol` (pure functions a merchant can import);
the simulators of both gateways live in :mod:`adapters.bank.simulator`.
"""

from .adapter import BankAdapter
from .options import BankOptions, PayPlatformGatewayOptions, VnpayGatewayOptions

__all__ = ["BankAdapter", "BankOptions", "PayPlatformGatewayOptions", "VnpayGatewayOptions"]
