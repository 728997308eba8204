"""`/v1/hub/*`: what anyone needs to check the hub's word — its signing certificates, unauthenticated.

Receipts and hub-signed documents carry the signing certificate themselves (``x5c``, ``KeyInfo``);
what an outsider lacks is knowing *which* certificate is the hub's. These two documents say so: the
same content as PEM (for openssl, xmlsec1, ``lienthong verify --hub-certificates``) and as a JWKS
(RFC 7517, for JOSE libraries), ``kid`` equal to the ``kid`` of the hub's JWS headers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

router = APIRouter(prefix="/v1/hub", tags=["hub identity"])

CACHE = "public, max-age=300"


@router.get(
    "/certificates.pem",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {"schema": {"type": "string"}}}}},
)
def hub_certificates_pem(request: Request) -> Response:
    """The hub's signing certificates (current first, then previous), then their CA chain, as PEM."""
    pem = request.app.state.hub.hub_certificates.pem()
    return Response(pem, media_type="application/x-pem-file", headers={"Cache-Control": CACHE})


@router.get("/jwks.json")
def hub_jwks(request: Request, response: Response) -> dict[str, Any]:
    """The same certificates as a JSON Web Key Set: ``kid`` = ``x5t#S256``, ``x5c`` = leaf then CAs,
    ``status`` = current or previous."""
    response.headers["Cache-Control"] = CACHE
    return request.app.state.hub.hub_certificates.jwks()
