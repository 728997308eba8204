"""HTTP transport to VNPost: OAuth2 client-credentials tokens (cached, renewed before expiry or after
a 401, once), create and cancel order, and the tracking feed. No retries here: the core retries."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

import httpx

from .mapping import peer_text
from .options import PostEmsOptions

log = logging.getLogger("adapters.post_ems")

USER_AGENT = "lienthong-post-ems-adapter/1"
RETRYABLE_HTTP = frozenset({408, 425, 429})


class VNPostError(Exception):
    """A call that got no usable answer; `retryable` says whether trying later may help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass
class _Token:
    value: str
    renew_at: float  # time.monotonic()


class VNPostClient:
    """One connection pool for every configured CustomerCode; a cached token per CustomerCode."""

    def __init__(self, options: PostEmsOptions) -> None:
        self.options = options
        self._credentials = {c.customer_code: (c.key, c.resolve_secret()) for c in options.clients}
        self._tokens: dict[str, _Token] = {}
        self._locks = {code: threading.Lock() for code in self._credentials}
        self.token_requests = 0  # how many tokens were fetched (operators' and tests' view)
        self._http = httpx.Client(
            base_url=options.base_url,
            timeout=httpx.Timeout(options.timeout_seconds, connect=options.connect_timeout_seconds),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
            trust_env=False,
        )

    def knows(self, customer_code: str) -> bool:
        return customer_code in self._credentials

    # ---- tokens --------------------------------------------------------------------------------

    def token(self, customer_code: str, *, stale: str | None = None) -> str:
        """A live access token; a new one when none is cached, it is due for renewal, or it is `stale`
        (the one the API just refused)."""
        with self._locks[customer_code]:
            cached = self._tokens.get(customer_code)
            if cached and cached.value != stale and time.monotonic() < cached.renew_at:
                return cached.value
            fresh = self._fetch_token(customer_code)
            self._tokens[customer_code] = fresh
            return fresh.value

    def _fetch_token(self, customer_code: str) -> _Token:
        key, secret = self._credentials[customer_code]
        response = self._send(
            "POST",
            self.options.token_path,
            auth=httpx.BasicAuth(key, secret),
            data={"grant_type": "client_credentials"},
        )
        self.token_requests += 1
        if response.status_code != 200:
            words = peer_text(response.text)
            retryable = response.status_code >= 500 or response.status_code in RETRYABLE_HTTP
            raise VNPostError(
                f"VNPost token refused (HTTP {response.status_code}): {words}", retryable=retryable
            )
        try:
            data = response.json()
            value = str(data["access_token"])
            lifetime = float(data.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError) as exc:
            raise VNPostError(f"VNPost token answer not understood: {exc}", retryable=True) from exc
        margin = min(self.options.token_refresh_margin_seconds, lifetime / 2)
        log.info("VNPost token for %s, valid %gs", customer_code, lifetime)
        return _Token(value=value, renew_at=time.monotonic() + lifetime - margin)

    # ---- API -----------------------------------------------------------------------------------

    def create(self, customer_code: str, order: dict[str, object]) -> httpx.Response:
        body = json.dumps(order, ensure_ascii=False).encode("utf-8")
        return self._api(
            customer_code,
            "POST",
            self.options.order_path,
            content=body,
            headers={"Content-Type": "application/json"},
        )

    def cancel(self, customer_code: str, order_number: str) -> httpx.Response:
        params = {"CustomerCode": customer_code, "OrderNumber": order_number}
        return self._api(customer_code, "GET", self.options.cancel_path, params=params)

    def tracking(self, customer_code: str, last_id: str, page_size: int) -> httpx.Response:
        params = {"pagesize": str(page_size), "lastId": last_id}
        return self._api(customer_code, "GET", self.options.tracking_path, params=params)

    def _api(self, customer_code: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        """A Bearer call; on a 401 the token is renewed once and the call made again."""
        token = self.token(customer_code)
        response = self._send(method, path, bearer=token, **kwargs)
        if response.status_code == 401:
            log.info("VNPost refused the token of %s (401): renewing it once", customer_code)
            token = self.token(customer_code, stale=token)
            response = self._send(method, path, bearer=token, **kwargs)
            if response.status_code == 401:
                raise VNPostError(
                    f"VNPost refused a fresh token (HTTP 401): {peer_text(response.text)}", retryable=True
                )
        return response

    def _send(self, method: str, path: str, *, bearer: str | None = None, **kwargs: object) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        try:
            return self._http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise VNPostError(
                f"timeout: no answer from VNPost {path} within {self.options.timeout_seconds:g}s "
                f"({type(exc).__name__})",
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:
            raise VNPostError(
                f"connection error: VNPost {path}: {type(exc).__name__} {exc}", retryable=True
            ) from exc

    def close(self) -> None:
        self._http.close()
