"""Options of the gov_axis adapter (validated at start-up from config/adapters.yaml).

The axis secret is never written as a plain value: ``env:NAME`` (read from the environment when the
adapter starts) or ``dev:VALUE`` (a development literal; production mode refuses to start with it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from hub.spi import AdapterOptions, RetryPolicy, SecretSpec, is_development_secret, resolve_secret

DEV_BASE_URL = "http://127.0.0.1:8092"  # the axis simulator of `make run` (config/simulators.yaml)


class GovAxisOptions(AdapterOptions):
    """How to reach the axis, who the hub is on it, and how often to look for packets."""

    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(max_attempts=10, initial_delay_seconds=10, max_delay_seconds=3600)
    )
    face: Literal["rest", "soap"] = Field(
        default="rest",
        description="rest: the VXP REST face, modelled on the real axis SDK (XroadVnpt-* signed headers, "
        "HMAC, hash-file); soap: our own guess of a SOAP contract (the real one is not public), with zeep",
    )
    base_url: str = Field(default=DEV_BASE_URL, description="the axis endpoint (REST operations under it)")
    wsdl_path: str = Field(default="/soap?wsdl", description="where the SOAP face's WSDL is, under base_url")
    systemid: str = Field(
        default="lienthong.h41", min_length=1, description="the hub's system id on the axis"
    )
    secret: SecretSpec = Field(
        default="dev:dev-secret-h41-000004",
        description="the system's secret (HMAC key of the REST face, UsernameToken password of the SOAP "
        "face): 'env:VARIABLE' or 'dev:literal'",
    )
    organs: list[str] = Field(
        default_factory=lambda: ["000.00.00.H41", "000.01.02.H41", "000.03.04.H41"],
        min_length=1,
        description="organ ids the hub speaks for on the axis (bound to systemid); kept out of the directory",
    )
    participant: str = Field(
        default="gov-axis", description="the participant inbound packets are submitted as (lenient, relay)"
    )
    poll_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often received packets are listed"
    )
    directory_refresh_seconds: float = Field(
        default=300.0, gt=0, description="how often getAgenciesList is synchronised into the hub"
    )
    arrival_status: bool = Field(
        default=True, description="send status 01 for a local agency once its system took an axis document"
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    max_connections: int = Field(
        default=32,
        ge=1,
        description="kept-alive connections to the axis (more than a process's delivery threads)",
    )
    verify_tls: bool = True
    utc_offset_hours: int = Field(default=7, description="time zone of the REST face's timestamps")

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        return url.rstrip("/")

    def resolve_secret(self) -> str:
        """The secret itself; raises ValueError when its environment variable is not set."""
        return resolve_secret(self.secret, "gov_axis secret")

    def development_values(self) -> list[str]:
        return ["secret"] if is_development_secret(self.secret) else []
