"""Banks and payment platforms (fees for dossiers): VNPAY-style and national payment platform-style.

The wire formats live in :mod:`adapters.bank.simulator.vnpay_protocol` and
:mod:`adapters.bank.simulator.payplatform_protocol` (pure functions a merchant can import);
the simulators of both gateways live in :mod:`adapters.bank.simulator`.
"""
