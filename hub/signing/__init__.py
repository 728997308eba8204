"""Signatures of the hub: enveloped XMLDSig for edXML, detached JWS (RFC 7797) for JSON.

Signers take a :class:`~hub.signing.keys.SigningIdentity` (loaded once per process); verifiers take
a :class:`~hub.trust.TrustStore` and refuse with ``signature-*`` / ``signer-*`` problems.
"""

from hub.signing.jws import VerifiedJws, sign_detached, verify_detached
from hub.signing.keys import SigningIdentity, load_identity
from hub.signing.xmldsig import VerifiedXml, find_signatures, sign_enveloped, verify_enveloped

__all__ = [
    "SigningIdentity",
    "VerifiedJws",
    "VerifiedXml",
    "find_signatures",
    "load_identity",
    "sign_detached",
    "sign_enveloped",
    "verify_detached",
    "verify_enveloped",
]
