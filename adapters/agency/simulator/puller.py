"""Pull mode: an agency system without a webhook fetches what awaits it from the hub's inbox API.

``GET {hub}/v1/inbox?limit=N`` (Bearer token) lists deliveries; each document is fetched from its
``document_url``, recorded, and only then acknowledged with ``POST {hub}/v1/inbox/{delivery_id}/ack``.
An item whose document cannot be fetched is not acknowledged, so the hub offers it again; an item
fetched twice (an acknowledgement lost) is recorded as a duplicate of its message id.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urljoin

import httpx

from .store import Inbox

log = logging.getLogger("adapters.agency.simulator.puller")


class InboxPuller:
    """Pulls one participant's inbox from the hub (the participant is the owner of `token`)."""

    def __init__(
        self,
        hub_url: str,
        token: str,
        *,
        participant: str = "pull",
        inbox: Inbox | None = None,
        limit: int = 50,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.hub_url = hub_url.rstrip("/") + "/"
        self.participant = participant
        self.inbox = inbox if inbox is not None else Inbox()
        self.limit = limit
        self._client = httpx.Client(
            base_url=self.hub_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_seconds,
            trust_env=False,
        )

    def pull_once(self) -> list[dict[str, Any]]:
        """Fetch, record and acknowledge what awaits; return the items taken, each with its document.

        Raises httpx.HTTPError when the inbox itself cannot be listed or an acknowledgement fails.
        """
        answer = self._client.get("v1/inbox", params={"limit": self.limit})
        answer.raise_for_status()
        taken: list[dict[str, Any]] = []
        for item in answer.json().get("items", []):
            try:
                document = self._client.get(urljoin(self.hub_url, item["document_url"].lstrip("/")))
                document.raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("delivery %s: document not fetched (%s); not acked", item["delivery_id"], exc)
                continue
            headers = {
                "content-type": item.get("content_type") or document.headers.get("content-type", ""),
                "x-lienthong-message-id": item["message_id"],
                "x-lienthong-delivery-id": item["delivery_id"],
                "x-lienthong-type": item.get("type") or "",
                "x-lienthong-sender": item.get("sender") or "",
            }
            if item.get("correlation_key"):
                headers["x-lienthong-correlation-key"] = item["correlation_key"]
            if item.get("signature"):
                headers["x-jws-signature"] = item["signature"]
            record = self.inbox.record(
                self.participant, item["message_id"], headers, document.content, via="pull"
            )
            self._client.post(f"v1/inbox/{item['delivery_id']}/ack").raise_for_status()
            taken.append(
                {
                    **item,
                    "document": document.content,
                    "sha256": hashlib.sha256(document.content).hexdigest(),
                    "reference": record.reference,
                    "duplicate": record.duplicate,
                }
            )
        return taken

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InboxPuller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
