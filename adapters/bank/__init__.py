"""Banks and payment platforms (fees for dossiers): VNPAY-style and national payment platform-style.

:class:`BankAdapter` (entry point ``bank``) sends ``payment.request`` to the gateway named by the
recipient (``bank.vnpay`` / ``bank.payplatform``) and turns the gateway's verified callbacks and status
answers into ``payment.confirmation`` messages. See docs/adapters/bank.md.

The hub's side of the wire formats lives in :mod:`adapters.bank.vnpay_wire` and
:mod:`adapters.bank.payplatform_wire`. The simulators of both gateways live in
:mod:`adapters.bank.simulator` and share no protocol code with the adapter (neither imports the other),
so each checks the other; the npm ``vnpay`` package is the third, independent opinion in the tests.
"""

from .adapter import BankAdapter
from .options import BankOptions, PayPlatformGatewayOptions, VnpayGatewayOptions

__all__ = ["BankAdapter", "BankOptions", "PayPlatformGatewayOptions", "VnpayGatewayOptions"]
