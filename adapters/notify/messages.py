"""Citizen messages: Jinja2 templates per status (messages.vi.yaml), and the plain-ASCII form of a
Vietnamese text for SMS routes that cannot carry Unicode."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

DEFAULT_TEMPLATES = Path(__file__).with_name("messages.vi.yaml")


@dataclass(frozen=True)
class Rendered:
    sms: str
    subject: str
    email: str


def to_ascii(text: str) -> str:
    """Vietnamese without diacritics ("Hồ sơ đã có kết quả" → "Ho so da co ket qua"): đ/Đ have no
    decomposition, so they are mapped by hand; every other mark is dropped after NFD."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.encode("ascii", "replace").decode("ascii")


class Messages:
    """The templates of every status; a status without one is a configuration error at start-up."""

    def __init__(self, path: str | Path | None = None) -> None:
        data = yaml.safe_load(Path(path or DEFAULT_TEMPLATES).read_text(encoding="utf-8")) or {}
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self._templates: dict[str, dict[str, Template]] = {
            status: {part: env.from_string(str(parts[part])) for part in ("sms", "subject", "email")}
            for status, parts in data.items()
        }

    def statuses(self) -> set[str]:
        return set(self._templates)

    def render(self, status: str, values: dict[str, Any], *, ascii_sms: bool) -> Rendered:
        parts = self._templates[status]
        context = {
            "dossier_number": "",
            "procedure_name": None,
            "agency_name": None,
            "citizen_name": None,
            "note": None,
            "status": status,
            **values,
        }
        sms = " ".join(parts["sms"].render(context).split())
        return Rendered(
            sms=to_ascii(sms) if ascii_sms else sms,
            subject=" ".join(parts["subject"].render(context).split()),
            email=parts["email"].render(context).strip() + "\n",
        )
