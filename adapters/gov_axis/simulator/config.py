"""Configuration of the axis simulator: the organisation directory, the connected systems, the limits.

The default directory is a development fixture: ``000.00.00.G22`` (Government Office) and
``000.00.00.H41`` (Nghệ An) are real organ ids; the other codes are illustrative. The province's system
``lienthong.h41`` acts for the hub's development agencies (config/participants.yaml).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, model_validator

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_WSDL = REPO_ROOT / "schemas" / "axis" / "vxp-sim.wsdl"


class Organisation(BaseModel):
    """One entry of the axis's directory (``getAgenciesList``): ``code`` is the organ id."""

    id: str
    code: str
    pid: str = ""
    name: str
    mail: str = ""


class SystemAccount(BaseModel):
    """A connected system (a document-management system, a provincial hub) and the organ ids it acts for."""

    systemid: str
    secret: str = Field(min_length=8)
    organs: list[str] = Field(default_factory=list)


class AxisSimConfig(BaseModel):
    organisations: list[Organisation]
    systems: list[SystemAccount]
    timestamp_window_seconds: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="accepted age of the REST face's signed `timestamp`. The SDK stamps once, when its "
        "service object is created, and a document system keeps that object for as long as it runs, so "
        "a window of minutes refuses real clients; the real axis's window is not public. Default 7 days.",
    )
    soap_created_window_seconds: float = Field(
        default=300.0,
        gt=0,
        description="accepted skew of the SOAP face's wsu:Created (WS-Security stamps every request)",
    )
    sdk_utc_offset_hours: int = Field(default=7, description="time zone of the SDK's local timestamps")
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    xml_max_depth: int = Field(default=100, gt=0)
    snapshot_file: Path | None = Field(
        default=None, description="JSON file the state is saved to and loaded from"
    )
    wsdl_file: Path = DEFAULT_WSDL

    @model_validator(mode="after")
    def _consistent(self) -> AxisSimConfig:
        codes = [o.code for o in self.organisations]
        if len(set(codes)) != len(codes):
            raise ValueError("organisation codes must be unique")
        ids = [s.systemid for s in self.systems]
        if len(set(ids)) != len(ids):
            raise ValueError("systemids must be unique")
        for system in self.systems:
            unknown = set(system.organs) - set(codes)
            if unknown:
                raise ValueError(f"system {system.systemid} is bound to unknown organs {sorted(unknown)}")
        return self

    @classmethod
    def from_file(cls, path: Path) -> AxisSimConfig:
        """Load from a YAML or JSON file (same shape as the model)."""
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return cls.model_validate(data)


PROVINCE_SYSTEM = "lienthong.h41"
PROVINCE_ORGAN = "000.00.00.H41"
#: The hub's agencies (config/participants.yaml), all bound to the province's system on the axis.
PROVINCE_ORGANS = (PROVINCE_ORGAN, "000.01.02.H41", "000.03.04.H41")


def default_config(**overrides: object) -> AxisSimConfig:
    """The development directory: the Government Office, a ministry, another province and this province."""
    organisations = [
        Organisation(id="1", code="000.00.00.G22", name="Văn phòng Chính phủ", mail="vpcp@chinhphu.vn"),
        Organisation(id="2", code="000.00.00.G10", name="Bộ Nội vụ", mail="bnv@moha.gov.vn"),
        Organisation(id="3", code="000.00.00.H13", name="UBND thành phố Đà Nẵng", mail="ubnd@danang.gov.vn"),
        Organisation(id="4", code=PROVINCE_ORGAN, name="UBND tỉnh Nghệ An", mail="nghean@gov.vn"),
        Organisation(
            id="5", code="000.01.02.H41", pid="4", name="Sở Tư pháp tỉnh Nghệ An", mail="stp@nghean.gov.vn"
        ),
        Organisation(
            id="6", code="000.03.04.H41", pid="4", name="UBND huyện Nghi Lộc", mail="nghiloc@nghean.gov.vn"
        ),
    ]
    systems = [
        SystemAccount(systemid="vpcp.qlvb", secret="dev-secret-vpcp-0001", organs=["000.00.00.G22"]),
        SystemAccount(systemid="bnv.qlvb", secret="dev-secret-bnv-00002", organs=["000.00.00.G10"]),
        SystemAccount(systemid="danang.lgsp", secret="dev-secret-danang-03", organs=["000.00.00.H13"]),
        SystemAccount(
            systemid=PROVINCE_SYSTEM,
            secret="dev-secret-h41-000004",
            organs=list(PROVINCE_ORGANS),
        ),
    ]
    data: dict[str, object] = {"organisations": organisations, "systems": systems}
    data.update(overrides)
    return AxisSimConfig.model_validate(data)
