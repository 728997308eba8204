"""The route table's remembered answers (hub.routing): the same answers as matching every time, and a
directory's answer, which can change, is asked each time."""

from __future__ import annotations

import itertools

from hub import routing
from hub.routing import Route, RouteTable

ROUTES = [
    Route(name="to-h41", adapter="agency", types=["edxml.*"], senders=["000.01.*"], recipients=["000.00.*"]),
    Route(name="json", adapter="bank", types=["ems.order"], recipients=["bank.*"]),
    Route(name="dir", adapter="axis", types=["edxml.*"], recipients=["directory:axis"]),
    Route(name="ext", adapter="peer", types=["*"], recipients=["external:peer.*"]),
]


def _scan(doctype: str, sender: str, recipient: str, known: bool, listed: bool) -> Route | None:
    return next(
        (
            r
            for r in ROUTES
            if r.matches(doctype, sender, recipient, is_participant=known, in_directory=lambda a, b: listed)
        ),
        None,
    )


def test_remembered_answers_are_those_of_matching_every_time() -> None:
    table = RouteTable(ROUTES)
    grid = itertools.product(
        ["edxml.document", "ems.order", "other"],
        ["000.01.02.H41", "bank.vnpay", "x"],
        ["000.00.00.H41", "bank.x", "peer.a", "nobody"],
        [True, False],
        [True, False],
    )
    for doctype, sender, recipient, known, listed in grid:
        for _ in range(2):  # the second time from memory where remembered
            got = table.first_match(
                doctype, sender, recipient, is_participant=known, in_directory=lambda a, b, s=listed: s
            )
            assert got == _scan(doctype, sender, recipient, known, listed), (doctype, recipient, known)


def test_a_directory_is_asked_again_for_every_recipient_outside_the_hub() -> None:
    table = RouteTable(ROUTES)
    listed = {"yes": True}

    def in_directory(adapter: str, recipient: str) -> bool:
        return listed["yes"]

    first = table.first_match("edxml.document", "x", "o.1", is_participant=False, in_directory=in_directory)
    listed["yes"] = False
    second = table.first_match("edxml.document", "x", "o.1", is_participant=False, in_directory=in_directory)
    assert first is not None and first.name == "dir"
    assert second is None


def test_the_memory_stays_bounded() -> None:
    table = RouteTable(ROUTES)
    for n in range(routing._MEMO_SIZE + 10):
        table.first_match("edxml.document", "000.01.02", f"000.00.{n}", is_participant=True)
    assert 0 < len(table._memo) <= routing._MEMO_SIZE
