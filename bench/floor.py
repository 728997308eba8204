"""The cryptographic and parsing floor: the unavoidable work per message, timed directly in this process
with the hub's own functions on the same documents the hub receives.

Per document kind: hardened parse (hub.parsing), schema validation (hub.validation.Validator, type
identification included), signature verification (hub.signing, trust-store lookup included) and the
hub's signing (of the unsigned form of the same document). The floor of a case is the sum of the
steps that case needs: a signed document is verified and passed on (no hub signature), an unsigned
one is signed by the hub.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.context import HubContext
from hub.parsing import parse_json, parse_xml
from hub.signing.jws import sign_detached, verify_detached
from hub.signing.xmldsig import sign_enveloped, verify_enveloped

from .documents import EDXML_NS, DocumentSet


@dataclass
class Floor:
    """Mean CPU seconds per document of each step, and the floor of the case."""

    parse: float
    validate: float
    verify: float
    sign: float
    steps: tuple[str, ...]
    documents: int

    @property
    def total(self) -> float:
        return sum(getattr(self, step) for step in self.steps)

    def as_dict(self) -> dict[str, object]:
        return {
            "parse_s": self.parse,
            "validate_s": self.validate,
            "verify_s": self.verify,
            "sign_s": self.sign,
            "floor_steps": list(self.steps),
            "floor_s": self.total,
            "documents": self.documents,
        }


def _cpu_per_call(items: Sequence[object], call: Callable[[object], object], repeat: int = 1) -> float:
    call(items[0])  # warm caches (schemas, keys) outside the measurement
    began = time.process_time()
    for _ in range(repeat):
        for item in items:
            call(item)
    return (time.process_time() - began) / (len(items) * repeat)


def _repeat_for(sample: Sequence[bytes]) -> int:
    """Enough repetitions for ~0.3 s of work at least (process_time ticks are coarse on some kernels)."""
    size = sum(map(len, sample))
    return max(1, min(20, 3_000_000 // max(1, size)))


def xml_floor(
    hub: HubContext, documents: DocumentSet, unsigned: Sequence[bytes], *, sample: int = 200
) -> Floor:
    """Floor of edXML: parse, identify + validate, verify (signed set) and sign (unsigned forms)."""
    bodies = documents.bodies[:sample]
    unsigned = list(unsigned[:sample])
    repeat = _repeat_for(bodies)
    signed_input = documents.signed

    def parse(body: object) -> object:
        return parse_xml(body)  # type: ignore[arg-type]

    roots = [parse_xml(b).root for b in bodies]

    def validate(root: object) -> object:
        doctype = hub.doctypes.identify_xml(root)  # type: ignore[arg-type]
        return hub.validator.validate_xml(doctype, root)  # type: ignore[arg-type]

    def verify(root: object) -> object:
        return verify_enveloped(root, hub.trust)  # type: ignore[arg-type]

    unsigned_roots = [parse_xml(b).root for b in unsigned]

    def sign(root: object) -> object:
        header = root.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLHeader")  # type: ignore[attr-defined]
        return sign_enveloped(root, hub.identity, parent=header)  # type: ignore[arg-type]

    return Floor(
        parse=_cpu_per_call(bodies, parse, repeat),
        validate=_cpu_per_call(roots, validate, repeat),
        verify=_cpu_per_call(roots, verify, repeat) if signed_input else 0.0,
        sign=_cpu_per_call(unsigned_roots, sign, repeat),
        steps=("parse", "validate", "verify") if signed_input else ("parse", "validate", "sign"),
        documents=len(bodies),
    )


def json_floor(hub: HubContext, documents: DocumentSet, *, sample: int = 400) -> Floor:
    """Floor of JSON with the sender's detached JWS: parse, identify + validate, verify (sign: reference)."""
    pairs = list(zip(documents.bodies[:sample], documents.headers[:sample], strict=True))
    bodies = [body for body, _ in pairs]
    repeat = _repeat_for(bodies) if len(bodies) < 100 else 1

    def parse(body: object) -> object:
        return parse_json(body)  # type: ignore[arg-type]

    objects = [parse_json(b) for b in bodies]

    def validate(obj: object) -> None:
        doctype = hub.doctypes.identify_json(obj)
        hub.validator.validate_json(doctype, obj)

    def verify(pair: Any) -> object:
        body, headers = pair
        return verify_detached(body, headers["x-jws-signature"], hub.trust)

    def sign(body: object) -> object:
        return sign_detached(body, hub.identity)  # type: ignore[arg-type]

    return Floor(
        parse=_cpu_per_call(bodies, parse, repeat),
        validate=_cpu_per_call(objects, validate, repeat),
        verify=_cpu_per_call(pairs, verify, repeat),
        sign=_cpu_per_call(bodies, sign, repeat),
        steps=("parse", "validate", "verify"),
        documents=len(bodies),
    )
