"""Settings of one hub process, from environment variables prefixed ``LIENTHONG_``.

Defaults make the embedded mode work from a clone: SQLite under ``data/``, the development PKI in
``certs/dev/``, participants and document types from ``config/``. Production mode refuses to start
with development keys or tokens (see :mod:`hub.startup_checks`).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DELIVERY_THREADS = 32
AMQP_DELIVERY_THREADS = 8


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIENTHONG_", extra="ignore")

    mode: Literal["development", "production"] = "development"

    # where things live
    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="ledger file, queue state")
    config_dir: Path = Field(default=PROJECT_ROOT / "config")
    schemas_dir: Path = Field(default=PROJECT_ROOT / "schemas")
    certs_dir: Path = Field(default=PROJECT_ROOT / "certs" / "dev")
    simulator_urls: dict[str, str] = Field(
        default_factory=dict,
        description="where ${simulator:NAME} in config/ points (name → base URL); set by `lienthong run`;"
        " empty: 127.0.0.1 with the ports of config/simulators.yaml",
    )

    # state
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite in data_dir"
    )
    queue_url: str = Field(default="embedded", description="'embedded' or an AMQP URL")
    queue_prefix: str = Field(default="lienthong", description="names of the RabbitMQ exchanges and queues")

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str | None = None
    tls_cert_file: Path | None = Field(default=None, description="serve HTTPS with this certificate (PEM)")
    tls_key_file: Path | None = Field(default=None, description="its private key (default: in the cert file)")
    tls_client_ca_file: Path | None = Field(
        default=None, description="CAs of participants' TLS client certificates (default: first trust anchor)"
    )
    require_client_certificate: bool = Field(
        default=False, description="participants must present a TLS client certificate (mutual TLS)"
    )

    # identity of the hub
    hub_participant_id: str = "lienthong"
    hub_key_file: Path | None = None
    hub_cert_file: Path | None = None
    hub_key_pkcs11_module: Path | None = Field(
        default=None,
        description="the HSM's PKCS#11 library: when set, the hub's key is on the token, not in a file",
    )
    hub_key_pkcs11_token: str = Field(default="lienthong", description="label of the token holding the key")
    hub_key_pkcs11_key: str = Field(default="hub", description="label of the hub's private key on the token")
    hub_key_pkcs11_pin: SecretStr | None = Field(default=None, description="the token's user PIN")
    hub_key_pkcs11_pin_file: Path | None = Field(default=None, description="a file holding the user PIN")
    hub_previous_cert_files: list[Path] = Field(
        default_factory=list,
        description="the hub's earlier signing certificates, still published so older receipts check",
    )
    trust_anchor_files: list[Path] = Field(default_factory=list)
    revoked_serials_file: Path | None = None

    # limits of hardened parsing
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0, description="a document at intake")
    max_form_bytes: int = Field(
        default=256 * 1024,
        gt=0,
        description="any other body: console forms, adapters' callbacks and webhooks",
    )
    max_header_count: int = Field(default=100, gt=0, description="headers of one request (431 beyond)")
    max_header_bytes: int = Field(default=64 * 1024, gt=0, description="all headers of one request together")
    xml_max_depth: int = 100
    json_max_depth: int = 64

    # signatures
    allow_sha1_signatures: bool = False

    # delivery
    # Threads of one process's delivery. Embedded (the ledger is the queue) 32: a delivery thread
    # spends most of its time waiting for the group commit of its outcome (on SQLite, for the write
    # lock that intake in `serve` shares), so the more deliveries are in flight, the more each commit
    # and each claim carries — over a burst the delivery process kept up with intake at 32 threads
    # and fell behind at 8 or 16 (bench/FINDINGS.md). With RabbitMQ 8: each is a consumer with its
    # own connection, and PostgreSQL takes the concurrent commits itself.
    workers: int = Field(
        default=EMBEDDED_DELIVERY_THREADS,
        ge=0,
        description=f"delivery threads per process (0: none); default {EMBEDDED_DELIVERY_THREADS} with"
        f" the embedded queue, {AMQP_DELIVERY_THREADS} consumers with RabbitMQ",
    )
    delivery: Literal["process", "threads"] = Field(
        default="process",
        description="`serve` (one process): its delivery threads, pollers and sequencer in a child"
        " `lienthong worker` on the same ledger (process: intake and delivery on two cores) or in"
        " serve's own process (threads)",
    )
    lease_seconds: float = Field(default=120.0, gt=0, description="how long a worker holds a delivery")
    poll_interval_seconds: float = Field(default=1.0, gt=0, description="embedded queue: idle wait")
    sweep_interval_seconds: float = Field(default=30.0, gt=0, description="AMQP: republish lost tickets")

    # operations: console, logs, readiness, alerts (docs/console.md)
    console_secret: str | None = Field(
        default=None, description="signs console session cookies; default: derived from the hub's key"
    )
    console_session_hours: float = Field(default=8.0, gt=0, description="an operator's login lasts this long")
    console_login_limit_per_account: str = Field(
        default="5/minute", description="failed console logins per account before a lockout (limits syntax)"
    )
    console_login_limit_per_address: str = Field(
        default="20/minute", description="failed console logins per client address before a lockout"
    )
    console_lockout_seconds: float = Field(
        default=60.0, gt=0, description="first lockout; each further lockout in a row doubles it (≤ 1 h)"
    )
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh",
        description="the province's zone (IANA name): the console shows times and reads its filters in it",
    )
    log_format: Literal["json", "text"] = Field(default="json", description="serve/worker/run log lines")
    log_level: str = Field(default="INFO")
    access_log: bool = Field(
        default=False, description="serve: a log line per HTTP request (uvicorn's access log; costs CPU)"
    )
    readiness_cache_seconds: float = Field(default=5.0, ge=0, description="how long a peer check is reused")
    alert_interval_seconds: float = Field(default=60.0, gt=0, description="how often the alert watcher looks")
    alert_peer_down_seconds: float = Field(default=300.0, gt=0, description="a peer down this long raises")
    alert_certificate_days: float = Field(default=30.0, gt=0, description="certificates expiring this soon")
    alert_verify_interval_seconds: float = Field(
        default=3600.0, gt=0, description="how often the watcher re-verifies the whole ledger"
    )
    alert_webhook_url: str | None = Field(default=None, description="alerts are also POSTed here (JSON)")

    # the ledger's log (docs/ledger.md)
    checkpoint_interval: float = Field(
        default=1.0, gt=0, description="seconds between the sequencer's rounds (a checkpoint when new events)"
    )
    ledger_origin: str | None = Field(
        default=None, description="the log's origin and note key name; default '<hub id>/ledger'"
    )
    checkpoint_file: Path | None = Field(
        default=None, description="append-only file of checkpoints; default data_dir/checkpoints.jsonl"
    )
    witness_urls: list[str] = Field(default_factory=list, description="witnesses asked to co-sign")
    tsa_url: str | None = Field(default=None, description="RFC 3161 time-stamping authority for checkpoints")
    sequencer_lease_seconds: float = Field(
        default=10.0, gt=0, description="a dead sequencer's lease expires after this long"
    )

    @property
    def effective_ledger_origin(self) -> str:
        return self.ledger_origin or f"{self.hub_participant_id}/ledger"

    @property
    def effective_checkpoint_file(self) -> Path:
        return self.checkpoint_file or self.data_dir / "checkpoints.jsonl"

    @model_validator(mode="before")
    @classmethod
    def _delivery_threads_by_queue(cls, data: Any) -> Any:
        """Unless set, `workers` follows the queue (see its comment)."""
        if isinstance(data, dict) and data.get("workers") is None:
            queue = data.get("queue_url", "embedded")
            if queue != "embedded":
                data = {**data, "workers": AMQP_DELIVERY_THREADS}
        return data

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ledger.sqlite3').resolve()}"

    @property
    def participants_file(self) -> Path:
        return self.config_dir / "participants.yaml"

    @property
    def operators_file(self) -> Path:
        return self.config_dir / "operators.yaml"

    @property
    def doctypes_file(self) -> Path:
        return self.config_dir / "doctypes.yaml"

    @property
    def routes_file(self) -> Path:
        return self.config_dir / "routes.yaml"

    @property
    def adapters_file(self) -> Path:
        return self.config_dir / "adapters.yaml"

    @property
    def simulators_file(self) -> Path:
        return self.config_dir / "simulators.yaml"

    @property
    def effective_hub_key_file(self) -> Path:
        return self.hub_key_file or self.certs_dir / "hub.key"

    @property
    def effective_hub_cert_file(self) -> Path:
        return self.hub_cert_file or self.certs_dir / "hub.crt"

    @property
    def hub_key_pkcs11_user_pin(self) -> str:
        if self.hub_key_pkcs11_pin_file is not None:
            return self.hub_key_pkcs11_pin_file.read_text(encoding="utf-8").strip()
        if self.hub_key_pkcs11_pin is not None:
            return self.hub_key_pkcs11_pin.get_secret_value()
        raise ValueError("the hub's key is in an HSM: set LIENTHONG_HUB_KEY_PKCS11_PIN or _PIN_FILE")

    @property
    def effective_trust_anchor_files(self) -> list[Path]:
        return self.trust_anchor_files or [self.certs_dir / "ca.crt"]

    @property
    def effective_revoked_serials_file(self) -> Path:
        return self.revoked_serials_file or self.certs_dir / "revoked.txt"
