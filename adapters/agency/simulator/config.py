"""Configuration of the agency-system simulator (the admin API changes behaviour at run time)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SimulatorConfig(BaseModel):
    """Which agency systems are played and what they require of a delivery."""

    participants: list[str] | None = Field(
        default=None, description="participant ids served at /webhook/{id}; None = any id (404 otherwise)"
    )
    tokens: dict[str, str] = Field(
        default_factory=dict,
        description="participant id → bearer token its webhook requires (development values)",
    )
    require_signature_for_json: bool = Field(
        default=True, description="refuse (400) a JSON delivery without an x-jws-signature header"
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0, description="larger bodies get 413")
    reference_prefix: str = Field(default="VBDEN", min_length=1, description="prefix of the answered ids")
