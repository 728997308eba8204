"""Options of the bank adapter (validated at start-up from config/adapters.yaml).

Credentials (VNPAY tmn code and hash secret; the payment platform's client id, key1 and key2) are never
written as plain values: each is ``env:NAME`` (read from the environment variable NAME when the adapter
starts) or ``dev:VALUE`` (a literal marked as a development value; production mode refuses to start
while one remains). No credential has a default in code.
"""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field

from hub.spi import AdapterOptions, SecretSpec, is_development_secret


class _Gateway(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_url: str = Field(
        description="where the gateway sends the citizen's browser after paying (the agency's portal page)"
    )
    payment_ttl_seconds: int = Field(
        default=900, ge=60, description="how long a payment may be made, unless the request's expires_at"
    )


class VnpayGatewayOptions(_Gateway):
    """The VNPAY-style gateway (recipient ``bank.vnpay``)."""

    payment_url: str = Field(description="full address of the gateway's /paymentv2/vpcpay.html")
    api_url: str = Field(description="full address of /merchant_webapi/api/transaction (querydr)")
    tmn_code: SecretSpec = Field(description="merchant terminal code (vnp_TmnCode)")
    hash_secret: SecretSpec = Field(description="HMAC-SHA512 key of the merchant")
    order_type: str = Field(default="other", description="vnp_OrderType of fee payments")
    locale: str = Field(default="vn", pattern="^(vn|en)$")
    ip_addr: str = Field(default="127.0.0.1", description="vnp_IpAddr sent for server-made payments")


class PayPlatformGatewayOptions(_Gateway):
    """The national payment platform-style gateway (recipient ``bank.payplatform``)."""

    base_url: str = Field(description="the platform's API base (…/api/transaction/create and /detail)")
    client_id: SecretSpec = Field(description="the hub's client id at the platform")
    key1: SecretSpec = Field(description="HMAC-SHA256 key of requests (create, detail)")
    key2: SecretSpec = Field(description="HMAC-SHA256 key of the payment callback")
    fee_kind: str = Field(default="1", description="LoaiPhiLePhi of every fee line (1 = ordinary fees)")


class BankOptions(AdapterOptions):
    """One adapter for both gateways; a gateway left out (null) refuses its deliveries permanently."""

    vnpay: VnpayGatewayOptions | None = None
    payplatform: PayPlatformGatewayOptions | None = None
    query_after_seconds: float = Field(
        default=900.0, gt=0, description="a payment with no callback this long is queried at the gateway"
    )
    query_interval_seconds: float = Field(
        default=60.0, gt=0, description="how often the status poller looks for such payments"
    )
    expire_grace_seconds: float = Field(
        default=600.0,
        ge=0,
        description="after the payment's expiry plus this, a payment still unpaid at the gateway is failed",
    )

    reconcile_daily_at: time | None = Field(
        default=time(1, 0),
        description="Vietnam time after which yesterday's payments are reconciled (null: never)",
    )
    reconcile_check_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often the daily reconciliation looks whether it is due"
    )

    def secret_specs(self) -> dict[str, str]:
        """option name → its spec, for every credential of the configured gateways."""
        specs: dict[str, str] = {}
        if self.vnpay is not None:
            specs["vnpay.tmn_code"] = self.vnpay.tmn_code
            specs["vnpay.hash_secret"] = self.vnpay.hash_secret
        if self.payplatform is not None:
            for name in ("client_id", "key1", "key2"):
                specs[f"payplatform.{name}"] = getattr(self.payplatform, name)
        return specs

    def development_secrets(self) -> list[str]:
        return [name for name, spec in self.secret_specs().items() if is_development_secret(spec)]
