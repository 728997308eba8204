"""Secret-looking values are withheld from every log line (hub.logging.RedactFilter), whatever the
line's shape; a line with no `name=value` in it is passed on unchanged."""

from __future__ import annotations

import io
import json
import logging

import pytest

from hub.logging import make_handler


def _line(message: str, *args: object) -> str:
    out = io.StringIO()
    record = logging.LogRecord("hub.test", logging.INFO, __file__, 1, message, args or None, None)
    make_handler("json", out).handle(record)
    return str(json.loads(out.getvalue())["msg"])


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("GET /ipn?vnp_Amount=1&vnp_SecureHash=9f8e7d&b=1", "9f8e7d"),
        ("token=abc123 in a sentence", "abc123"),
        ("x; client_secret=s3cr3t, y", "s3cr3t"),
        ("PASSWORD=hunter2", "hunter2"),
        ("a checksum=77aa", "77aa"),
    ],
)
def test_a_secret_looking_value_is_withheld(message: str, secret: str) -> None:
    line = _line(message)
    assert secret not in line and "(withheld)" in line


def test_a_value_given_as_an_argument_is_withheld_too() -> None:
    assert "zz99" not in _line("callback %s", "signature=zz99")


def test_a_line_without_a_name_value_pair_is_unchanged() -> None:
    message = "accepted edxml.document from 000.01.02.H41 (token hash signature)"
    assert _line(message) == message
