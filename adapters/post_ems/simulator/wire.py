"""The create-order body: which fields VNPost requires, and how their values are checked."""

from __future__ import annotations

from typing import Any

REQUIRED_TEXT = (
    "CustomerCode",
    "OrderNumber",
    "SenderName",
    "SenderAddress",
    "SenderTel",
    "ReceiverName",
    "ReceiverAddress",
    "ReceiverTel",
)
OPTIONAL_TEXT = ("SenderEmail", "SenderDesc", "Description", "ReceiverEmail")
REQUIRED_AREA = ("SenderProvince", "SenderDistrict", "ReceiverProvince", "ReceiverDistrict")
ORDER_FIELDS = (
    "CustomerCode",
    "OrderNumber",
    "CODAmount",
    "SenderProvince",
    "SenderDistrict",
    "SenderAddress",
    "SenderName",
    "SenderEmail",
    "SenderTel",
    "SenderDesc",
    "Description",
    "ReceiverName",
    "ReceiverAddress",
    "ReceiverTel",
    "ReceiverProvince",
    "ReceiverDistrict",
    "ReceiverEmail",
)
"""The fields of the order, in the order of OpenCPS's ``MOrder``."""


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_order(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The order's known fields, normalised, and the list of problems (empty when valid).

    Province and district codes may come as integers (as OpenCPS sends them) or digit strings.
    Fields outside :data:`ORDER_FIELDS` are ignored.
    """
    fields: dict[str, Any] = {}
    errors: list[str] = []
    for name in REQUIRED_TEXT + OPTIONAL_TEXT:
        value = body.get(name)
        if _is_blank(value):
            if name in REQUIRED_TEXT:
                errors.append(f"{name} is required")
            else:
                fields[name] = ""
        elif not isinstance(value, str):
            errors.append(f"{name} must be a string")
        else:
            fields[name] = value.strip()
    for name in REQUIRED_AREA:
        value = body.get(name)
        if _is_blank(value):
            errors.append(f"{name} is required")
        elif isinstance(value, bool) or not (
            (isinstance(value, int) and value >= 0) or (isinstance(value, str) and value.strip().isdigit())
        ):
            errors.append(f"{name} must be a numeric area code")
        else:
            fields[name] = int(value)
    cod = body.get("CODAmount")
    if _is_blank(cod):
        fields["CODAmount"] = 0
    elif isinstance(cod, bool) or not isinstance(cod, int | float) or cod < 0:
        errors.append("CODAmount must be a non-negative number")
    else:
        fields["CODAmount"] = cod
    return {name: fields[name] for name in ORDER_FIELDS if name in fields}, errors
