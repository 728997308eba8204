"""The XML depth limit (hub.parsing.xml): elements deeper than the limit are refused, the root being
level 1; comments, PIs and text do not count; the limit is the setting's, whatever it is."""

from __future__ import annotations

import random

import pytest
from lxml import etree

from hub.parsing import XmlLimits, parse_xml
from hub.problems import Problem


def _depth(element: etree._Element) -> int:
    """Reference: the deepest element's level, by recursion."""
    children = [c for c in element if isinstance(c.tag, str)]
    return 1 + max((_depth(c) for c in children), default=0)


def _refused(data: bytes, max_depth: int) -> bool:
    try:
        parse_xml(data, limits=XmlLimits(max_depth=max_depth))
    except Problem as problem:
        assert problem.slug == "xml-too-deep"
        return True
    return False


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_the_limit_is_the_deepest_element_allowed(limit: int) -> None:
    at_limit = b"<a>" * limit + b"<!--c--><?p x?>text" + b"</a>" * limit
    assert not _refused(at_limit, limit)
    assert _refused(b"<a>" * (limit + 1) + b"</a>" * (limit + 1), limit)
    # a deep branch after shallow siblings counts as much as a first one
    late = b"<r><s/><s>t</s>" + b"<a>" * limit + b"</a>" * limit + b"</r>"
    assert _refused(late, limit)


def test_random_trees_are_judged_as_their_deepest_element() -> None:
    rnd = random.Random(14)

    def build(level: int) -> str:
        if level > 9 or rnd.random() < 0.3:
            return rnd.choice(["t", "<!--c-->", "<?p x?>", "<x/>", ""])
        return "<e>" + "".join(build(level + 1) for _ in range(rnd.randint(0, 3))) + "</e>"

    for _ in range(300):
        data = ("<r>" + build(2) + build(2) + "</r>").encode()
        depth = _depth(etree.fromstring(data))
        for limit in range(1, 12):
            assert _refused(data, limit) == (depth > limit), (data, limit)
