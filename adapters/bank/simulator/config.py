"""Configuration of the two payment gateway simulators.

The defaults are development values, named ``DEV_…`` so nobody mistakes them for real credentials.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

DEV_VNPAY_TMN_CODE = "DEVTMN01"
DEV_VNPAY_HASH_SECRET = "DEV-ONLY-vnpay-hash-secret-not-for-production"
DEV_PAYPLATFORM_CLIENT_ID = "dev-lienthong-client"
DEV_PAYPLATFORM_KEY1 = "DEV-ONLY-payplatform-key1-not-for-production"
DEV_PAYPLATFORM_KEY2 = "DEV-ONLY-payplatform-key2-not-for-production"
#: Where the development hub (``lienthong run``, default port) has the bank adapter's callback doors.
DEV_HUB_VNPAY_IPN_URL = "http://127.0.0.1:8080/adapters/bank/vnpay/ipn"
DEV_HUB_PAYPLATFORM_URL = "http://127.0.0.1:8080/adapters/bank/payplatform"


class RetryPolicy(BaseModel):
    """How the gateway repeats a callback that got no valid answer."""

    max_attempts: int = Field(default=10, ge=1, description="attempts in all, the first one included")
    interval_seconds: float = Field(default=300.0, ge=0, description="pause between two attempts")
    timeout_seconds: float = Field(default=10.0, gt=0, description="HTTP timeout of one attempt")


class VnpayMerchant(BaseModel):
    tmn_code: str = DEV_VNPAY_TMN_CODE
    hash_secret: SecretStr = SecretStr(DEV_VNPAY_HASH_SECRET)
    ipn_url: str | None = Field(
        default=None, description="the merchant's IPN URL (registered with VNPAY, not sent per payment)"
    )


class VnpayConfig(BaseModel):
    gateway: Literal["vnpay"] = "vnpay"
    merchants: list[VnpayMerchant] = Field(default_factory=lambda: [VnpayMerchant()])
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    bank_code: str = "NCB"
    card_type: str = "ATM"
    first_transaction_no: int = 14000001

    def merchant(self, tmn_code: str) -> VnpayMerchant | None:
        return next((m for m in self.merchants if m.tmn_code == tmn_code), None)


class PayPlatformClient(BaseModel):
    client_id: str = DEV_PAYPLATFORM_CLIENT_ID
    key1: SecretStr = SecretStr(DEV_PAYPLATFORM_KEY1)
    key2: SecretStr = SecretStr(DEV_PAYPLATFORM_KEY2)
    merchant_url: str | None = Field(
        default=None,
        description="the merchant's base URL; the callback goes to <merchant_url>/paymentconfirm",
    )

    @property
    def callback_url(self) -> str | None:
        return None if self.merchant_url is None else self.merchant_url.rstrip("/") + "/paymentconfirm"


class PayPlatformConfig(BaseModel):
    gateway: Literal["payplatform"] = "payplatform"
    clients: list[PayPlatformClient] = Field(default_factory=lambda: [PayPlatformClient()])
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    def client(self, client_id: str) -> PayPlatformClient | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


def development_vnpay_config() -> VnpayConfig:
    """Development credentials, IPN to the development hub's bank adapter (used by ``lienthong run``)."""
    return VnpayConfig(merchants=[VnpayMerchant(ipn_url=DEV_HUB_VNPAY_IPN_URL)])


def development_payplatform_config() -> PayPlatformConfig:
    """Development credentials, callbacks to the development hub's bank adapter (``lienthong run``)."""
    return PayPlatformConfig(clients=[PayPlatformClient(merchant_url=DEV_HUB_PAYPLATFORM_URL)])
