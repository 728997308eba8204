"""No 5xx on PostgreSQL either: it refuses what SQLite takes (a NUL in text, integers past 64 bits).

A hub on its own PostgreSQL database gets NUL characters in every path and query parameter and in
every string of every JSON type; every answer is below 500 (a NUL in a free-text field the schema
allows is accepted and stored: the document is kept as bytes, and no key the hub records holds it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubtest import EXAMPLES, running_hub

AGENCY = "000.01.02.H41"


def string_paths(value: object, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, (*path, index))
    elif isinstance(value, str):
        yield path


@pytest.mark.postgres
def test_nul_characters_and_huge_numbers_are_refused_not_failed(postgres_url: str, tmp_path: Path) -> None:
    with running_hub(tmp_path, workers=0, database_url=postgres_url) as hub:
        for path, who in [
            ("/v1/messages/%00", AGENCY),
            ("/v1/messages/a%00b/document", AGENCY),
            ("/v1/timeline/a%00b", AGENCY),
            ("/v1/deliveries?recipient=%00", "operator"),
            ("/v1/deliveries/%00", "operator"),
            (f"/v1/deliveries?offset={2**70}", "operator"),
        ]:
            answer = hub.get(path, as_=who)
            assert answer.status_code == 400 and answer.json()["type"] == "/problems/invalid-request", path

        answers: dict[int, int] = {}
        for name in ("ems.order", "ems.tracking", "payment.request", "payment.confirmation"):
            example = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
            for field in string_paths(example):
                obj = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
                holder = obj
                for key in field[:-1]:
                    holder = holder[key]
                holder[field[-1]] += "\x00"
                answer = hub.post(
                    json.dumps(obj).encode(), as_=example["sender"], content_type="application/json"
                )
                assert answer.status_code < 500, (name, field, answer.text)
                answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
        assert sum(answers.values()) > 40 and answers.get(422, 0) > 0, answers
