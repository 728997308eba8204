"""A big signed edXML (attachments base64 in the packet) goes through intake and delivery intact.

The body limit is a setting (LIENTHONG_MAX_BODY_BYTES, default 32 MiB); a 32 MB document must work.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

from bench.documents import AGENCY_RECIPIENT, edxml_set
from tests.hubtest import auth, running_hub
from tests.test_intake_api import AGENCY

MB = 1000 * 1000


def test_a_32_mb_signed_document_is_accepted_and_read_back_byte_for_byte(tmp_path: Path) -> None:
    [document] = edxml_set("big", 1, 32 * MB, first_serial=int(time.time()) % 10**6).bodies
    assert 32 * MB <= len(document) <= 32 * 1024 * 1024  # 32 MB, within the default limit (32 MiB)

    with running_hub(tmp_path, workers=0) as hub:
        answer = hub.post(document, as_=AGENCY)
        assert answer.status_code == 202, answer.text[:500]
        message_id = answer.json()["id"]
        stored = hub.get(f"/v1/messages/{message_id}/document", as_=AGENCY)
        assert stored.status_code == 200
        assert hashlib.sha256(stored.content).digest() == hashlib.sha256(document).digest()
        message = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()
        assert AGENCY_RECIPIENT in message["recipients"]


def test_the_body_limit_is_a_setting(tmp_path: Path) -> None:
    [document] = edxml_set("limit", 1, 2 * MB, first_serial=int(time.time()) % 10**6 + 1).bodies
    with running_hub(tmp_path, workers=0, max_body_bytes=MB) as hub:
        answer = hub.post(document, as_=AGENCY)
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_chunked_body_without_content_length_is_read_whole_and_still_capped(tmp_path: Path) -> None:
    """The intake reads a streamed body chunk by chunk into one buffer: the document arrives intact,
    and the cap still stops a streamed body that passes it (413 problem)."""
    [document] = edxml_set("chunked", 1, 2 * MB, first_serial=int(time.time()) % 10**6 + 2).bodies

    def pieces(body: bytes, size: int = 100_003) -> Iterator[bytes]:
        yield from (body[i : i + size] for i in range(0, len(body), size))

    headers = {**auth(AGENCY), "Content-Type": "application/xml"}
    with running_hub(tmp_path, workers=0, max_body_bytes=3 * MB) as hub:
        answer = hub.client.post("/v1/messages", content=pieces(document), headers=headers)
        assert answer.status_code == 202, answer.text[:500]
        assert "content-length" not in {k.lower() for k in answer.request.headers}
        stored = hub.get(f"/v1/messages/{answer.json()['id']}/document", as_=AGENCY)
        assert hashlib.sha256(stored.content).digest() == hashlib.sha256(document).digest()

        refused = hub.client.post("/v1/messages", content=pieces(document + document), headers=headers)
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("application/problem+json")
