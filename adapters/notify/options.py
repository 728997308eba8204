"""Options of the notify adapter (validated at start-up from config/adapters.yaml).

What notifies is data: `statuses` (which dossier.status statuses reach the citizen), `derive` (which
other documents become a dossier.status, e.g. a VNPost delivery or a paid fee), `contacts_from` (where
the citizen's phone and e-mail are read in the dossier's documents) and the message templates
(messages.vi.yaml, or `templates_file`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.spi import AdapterOptions, SecretSpec, is_development_secret

HH_MM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
Channel = Literal["sms", "email"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailOptions(_Strict):
    """SMTP submission; STARTTLS whenever the server offers it (`starttls: required` in production)."""

    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=1, le=65535)
    starttls: Literal["required", "when_offered", "never"] = "when_offered"
    ca_file: str | None = Field(
        default=None, description="CA bundle (PEM) to verify the server; None: system"
    )
    username: SecretSpec | None = None
    password: SecretSpec | None = None
    from_address: str = "Trục liên thông tỉnh <thongbao@lienthong.invalid>"


class SmsOptions(_Strict):
    """An SMS brandname gateway's HTTP API (docs/adapters/notify.md says what is guessed of it)."""

    base_url: str
    api_key: SecretSpec
    secret_key: SecretSpec
    brandname: str = Field(default="LIENTHONG", max_length=11)
    ascii_only: bool = Field(
        default=True, description="send Vietnamese without diacritics (one 160-char part)"
    )
    callback_url: str | None = Field(default=None, description="where the gateway posts delivery reports")
    callback_token: SecretSpec = Field(description="the token the gateway's delivery reports must carry")


class Derive(_Strict):
    """Another document type that becomes a citizen notice once delivered to the agency."""

    doctype: str
    status_at: str = Field(description="JSON pointer of the document's status")
    statuses: dict[str, str] = Field(description="the document's status → the notice's status")


class ContactSource(_Strict):
    """Where a document type carries the citizen's contacts (JSON pointers)."""

    doctype: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None


class QuietHours(_Strict):
    """No SMS between `start` and `end` (local time); they wait. E-mail is not held."""

    start: str = "21:00"
    end: str = "07:00"
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("start", "end")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not HH_MM.match(value):
            raise ValueError("a time of day is HH:MM")
        return value


class RateLimit(_Strict):
    """At most `max_messages` per contact (phone or e-mail address) in any `per_seconds`; more wait."""

    max_messages: int = Field(default=5, ge=1)
    per_seconds: float = Field(default=3600, gt=0)


def _default_derive() -> list[Derive]:
    return [
        Derive(
            doctype="ems.tracking",
            status_at="/state",
            statuses={"picked_up": "post_collected", "delivered": "post_delivered"},
        ),
        Derive(doctype="payment.confirmation", status_at="/status", statuses={"paid": "fee_paid"}),
    ]


def _default_contacts() -> list[ContactSource]:
    return [
        ContactSource(
            doctype="payment.request", name="/payer/name", phone="/payer/phone", email="/payer/email"
        ),
        ContactSource(
            doctype="ems.order",
            name="/order/ReceiverName",
            phone="/order/ReceiverTel",
            email="/order/ReceiverEmail",
        ),
    ]


class NotifyOptions(AdapterOptions):
    email: EmailOptions | None = None
    sms: SmsOptions | None = None
    participant: str = Field(default="notify", description="the participant derived notices are submitted as")
    statuses: list[str] = Field(
        default_factory=lambda: [
            "received",
            "supplement_requested",
            "cancelled",
            "result_ready",
            "post_collected",
            "post_delivered",
            "fee_paid",
        ],
        description="dossier.status statuses that notify the citizen (each needs a template)",
    )
    derive: list[Derive] = Field(default_factory=_default_derive)
    contacts_from: list[ContactSource] = Field(default_factory=_default_contacts)
    quiet_hours: QuietHours | None = Field(default_factory=QuietHours)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    opt_out: list[str] = Field(default_factory=list, description="phones and e-mail addresses never notified")
    templates_file: str | None = Field(default=None, description="YAML of templates; None: messages.vi.yaml")

    def development_secrets(self) -> list[str]:
        found: list[str] = []
        if self.sms is not None:
            for name in ("api_key", "secret_key", "callback_token"):
                if is_development_secret(getattr(self.sms, name)):
                    found.append(f"sms.{name}")
        if self.email is not None:
            for name in ("username", "password"):
                value = getattr(self.email, name)
                if value is not None and is_development_secret(value):
                    found.append(f"email.{name}")
        return found
