"""Participants: the systems that may send or receive, and how they authenticate (bearer tokens here;
TLS client certificates in hub.api.auth).

Tokens are stored only as hex SHA-256 hashes. A participant sends as itself; a relaying participant
(the national axis adapter) may send for senders listed in ``may_send_as`` (``*`` = any sender that is
not itself a registered participant, so a relay can never impersonate a local agency).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from hub.problems import Problem
from hub.simulator_refs import resolve_simulators


class Participant(BaseModel):
    id: str
    name: str
    kind: Literal["agency", "partner", "operator", "hub"] = "agency"
    token_sha256: str | None = Field(default=None, description="hex SHA-256 of the bearer token")
    inbound_profile: Literal["strict", "lenient"] = "strict"
    may_send_as: list[str] = Field(default_factory=list)
    webhook_url: str | None = Field(default=None, description="where the agency adapter pushes deliveries")
    external_recipients: Literal["deliver", "skip"] = Field(
        default="deliver",
        description="skip: recipients of its documents that are not participants are recorded but not "
        "delivered (a relay such as the national axis has already carried the document to them)",
    )


class ParticipantsFile(BaseModel):
    participants: list[Participant]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Participants:
    """The registry of participants, loaded once per process from YAML."""

    def __init__(self, participants: list[Participant]) -> None:
        self._by_id = {p.id: p for p in participants}
        if len(self._by_id) != len(participants):
            raise ValueError("participant ids must be unique")
        self._by_token_hash = {p.token_sha256.lower(): p for p in participants if p.token_sha256}

    @classmethod
    def load(cls, path: Path, simulators: Mapping[str, str] | None = None) -> Participants:
        """The participants of `path`, ``${simulator:NAME}`` in their URLs replaced from `simulators`."""
        data = resolve_simulators(yaml.safe_load(path.read_text(encoding="utf-8")), simulators or {}, path)
        return cls(ParticipantsFile.model_validate(data).participants)

    def __contains__(self, participant_id: object) -> bool:
        return participant_id in self._by_id

    def __iter__(self) -> Iterator[Participant]:
        return iter(self._by_id.values())

    def get(self, participant_id: str) -> Participant | None:
        return self._by_id.get(participant_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def authenticate(self, authorization: str | None) -> Participant:
        """The participant owning the bearer token in an ``Authorization`` header value."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Problem("unauthenticated", "send 'Authorization: Bearer <token>'")
        presented = hash_token(authorization[7:].strip())
        participant = None
        # Every stored hash is compared, each in constant time, and the loop never stops early: how
        # long this takes says nothing about how close a guess came, nor which participant matched.
        for digest, owner in self._by_token_hash.items():
            if hmac.compare_digest(digest, presented):
                participant = owner
        if participant is None:
            raise Problem("unauthenticated", "the bearer token is not known")
        return participant

    def may_send_as(self, submitter: Participant, sender: str) -> bool:
        if sender == submitter.id:
            return True
        if sender in submitter.may_send_as:
            return True
        return "*" in submitter.may_send_as and sender not in self._by_id
