"""An SMS brandname gateway's HTTP API, as typical Vietnamese gateways expose it (JSON over HTTPS, an
API key and a secret key in the body, a result code "100" for accepted). What is guessed is written in
docs/adapters/notify.md; the simulator is written from that page, not from this module.

`RequestId` is the hub message id: the gateway answers a repeat with the same SMSID (no second SMS).
"""

from __future__ import annotations

import httpx

from hub.spi import Delivered, DeliveryResult, PermanentFailure, RetryableFailure, resolve_secret

from .options import SmsOptions

SEND_PATH = "/api/v1/sms/send"
ACCEPTED = "100"
#: result codes after which a resend cannot help (the others, and 5xx, are retried)
PERMANENT_CODES = {"101", "102", "104", "118", "119"}


class SmsGateway:
    def __init__(self, options: SmsOptions, client: httpx.Client) -> None:
        self.options = options
        self._client = client
        self._api_key = resolve_secret(options.api_key, "sms.api_key")
        self._secret_key = resolve_secret(options.secret_key, "sms.secret_key")

    def send(self, *, phone: str, text: str, request_id: str) -> DeliveryResult:
        body = {
            "ApiKey": self._api_key,
            "SecretKey": self._secret_key,
            "Brandname": self.options.brandname,
            "Phone": phone,
            "Content": text,
            "IsUnicode": "0" if self.options.ascii_only else "1",
            "SmsType": "2",  # customer care (CSKH) brandname
            "RequestId": request_id,
            "CallbackUrl": self.options.callback_url or "",
        }
        try:
            answer = self._client.post(self.options.base_url.rstrip("/") + SEND_PATH, json=body)
        except httpx.HTTPError as error:
            return RetryableFailure(reason=f"sms gateway: {type(error).__name__}: {error}")
        if answer.status_code >= 500 or answer.status_code == 429:
            retry_after = answer.headers.get("retry-after")
            return RetryableFailure(
                reason=f"sms gateway: HTTP {answer.status_code}",
                retry_after_seconds=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        try:
            data = answer.json()
        except ValueError:
            return RetryableFailure(reason=f"sms gateway: HTTP {answer.status_code}, not JSON")
        code = str(data.get("CodeResult", ""))
        if code == ACCEPTED and data.get("SMSID"):
            return Delivered(peer_reference=str(data["SMSID"]), detail="SMS accepted by the gateway")
        words = f"sms gateway: CodeResult {code or '?'}: {data.get('ErrorMessage') or 'no message'}"
        return PermanentFailure(reason=words) if code in PERMANENT_CODES else RetryableFailure(reason=words)
