"""libxmlsec1 (python-xmlsec) as the XMLDSig verifier: one signature, one pinned key, no discovery.

:mod:`hub.signing.xmldsig` decides *whether* a signature is acceptable (one whole-document reference,
the transforms and algorithms allowed, the signer's certificate checked against the trust store);
this module only asks libxmlsec1 whether the signature's digest and value are correct under the
public key of that certificate. libxmlsec1 is given that key and no keys manager, so it never takes
a key from KeyInfo, and only the transforms and algorithms named by the caller are enabled in its
context, so anything else fails inside libxmlsec1 too.

python-xmlsec and lxml each carry their own copy of libxml2 and hand trees to each other: the two
copies must be the same version, or trees are misread. :func:`check_libxml2` is run on import (so a
mismatch stops the hub at start-up with the versions named) and by the tests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

try:
    import xmlsec
except Exception as failure:  # python-xmlsec refuses to import when it sees another libxml2 than lxml's
    raise RuntimeError(
        "python-xmlsec cannot be loaded beside this lxml"
        f" (lxml {etree.__version__} with libxml2 {etree.LIBXML_VERSION}): {failure}."
        " Install the xmlsec and lxml versions pinned in pyproject.toml (their wheels carry one libxml2)."
    ) from failure

if TYPE_CHECKING:
    from xmlsec.constants import __Transform as Transform

_C = xmlsec.constants

# Every transform and algorithm libxmlsec1 may use, by URI: C14N methods and the enveloped-signature
# transform; SignatureMethod and DigestMethod algorithms. The caller enables a subset per call.
TRANSFORMS: dict[str, Transform] = {
    t.href: t
    for t in (
        _C.TransformEnveloped,
        _C.TransformInclC14N,
        _C.TransformInclC14NWithComments,
        _C.TransformInclC14N11,
        _C.TransformInclC14N11WithComments,
        _C.TransformExclC14N,
        _C.TransformExclC14NWithComments,
    )
}
SIGNATURE_METHODS: dict[str, Transform] = {
    t.href: t
    for t in (
        _C.TransformRsaSha1,
        _C.TransformRsaSha256,
        _C.TransformRsaSha384,
        _C.TransformRsaSha512,
        _C.TransformEcdsaSha1,
        _C.TransformEcdsaSha256,
        _C.TransformEcdsaSha384,
        _C.TransformEcdsaSha512,
    )
}
DIGEST_METHODS: dict[str, Transform] = {
    t.href: t for t in (_C.TransformSha1, _C.TransformSha256, _C.TransformSha384, _C.TransformSha512)
}


def check_libxml2(
    lxml_versions: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
    xmlsec_versions: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
) -> None:
    """Raise RuntimeError unless lxml and python-xmlsec run (and were built) with the same libxml2.

    Each pair is (version loaded, version compiled against); by default, the installed libraries'.
    python-xmlsec's own import check compares only major.minor; this one wants the full version.
    """
    lxml_pair = lxml_versions or (etree.LIBXML_VERSION, etree.LIBXML_COMPILED_VERSION)
    xmlsec_pair = xmlsec_versions or (xmlsec.get_libxml_version(), xmlsec.get_libxml_compiled_version())
    versions = {tuple(v) for v in (*lxml_pair, *xmlsec_pair)}
    if len(versions) != 1:
        shown = ", ".join(
            f"{name} {'.'.join(map(str, loaded))} (built with {'.'.join(map(str, built))})"
            for name, (loaded, built) in (
                ("lxml: libxml2", lxml_pair),
                ("python-xmlsec: libxml2", xmlsec_pair),
            )
        )
        raise RuntimeError(
            f"lxml and python-xmlsec disagree on libxml2 ({shown}): XML signatures cannot be verified"
            " safely. Install the xmlsec and lxml versions pinned in pyproject.toml."
        )


check_libxml2()


@functools.lru_cache(maxsize=1024)
def _public_key(spki_pem: bytes) -> xmlsec.Key:
    return xmlsec.Key.from_memory(spki_pem, _C.KeyDataFormatPem)


def public_key_of(certificate: x509.Certificate) -> xmlsec.Key:
    """The certificate's public key as a libxmlsec1 key (cached: a signer sends the same one each time)."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _public_key(spki)


def verify(
    signature: etree._Element,
    key: xmlsec.Key,
    *,
    signature_transforms: Iterable[str],
    reference_transforms: Iterable[str],
) -> None:
    """Verify ``signature`` (a ``ds:Signature`` in its document) with ``key`` only.

    ``signature_transforms``: URIs libxmlsec1 may use in SignedInfo (C14N and SignatureMethod);
    ``reference_transforms``: in the Reference (Transforms and DigestMethod). Raises xmlsec.Error
    (VerificationError when the digest or the value is wrong); KeyError for a URI it does not know.
    """
    context = xmlsec.SignatureContext()  # no keys manager: the only key is the one set here
    context.key = key
    for uri in signature_transforms:
        context.enable_signature_transform(SIGNATURE_METHODS.get(uri) or TRANSFORMS[uri])
    for uri in reference_transforms:
        context.enable_reference_transform(DIGEST_METHODS.get(uri) or TRANSFORMS[uri])
    context.verify(signature)


@functools.lru_cache(maxsize=16)
def signing_key(private_key: object, certificate: x509.Certificate) -> xmlsec.Key | None:
    """The private key and its certificate as a libxmlsec1 key; None for a key that cannot be exported
    (a key in an HSM, hub/signing/pkcs11.py: that one is signed with through signxml)."""
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return None
    try:
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    except TypeError:  # hub.signing.pkcs11: the key never leaves the token
        return None
    key = xmlsec.Key.from_memory(pem, _C.KeyDataFormatPem)
    key.load_cert_from_memory(certificate.public_bytes(serialization.Encoding.PEM), _C.KeyDataFormatCertPem)
    return key


def sign_in_place(parent: etree._Element, key: xmlsec.Key, *, ecdsa: bool) -> etree._Element:
    """Append to ``parent`` an enveloped signature of its whole document and sign it: RSA-SHA256
    (ECDSA-SHA256), SHA-256 digest, exclusive C14N, one Reference ``URI=""``, the certificate in
    KeyInfo. Returns the ``ds:Signature``; the caller serialises what it needs and removes it.

    Elements libxmlsec1 creates are not found by lxml's ``find()`` (their names are not in lxml's
    dictionary): read them only through the returned element or after serialising.
    """
    method = _C.TransformEcdsaSha256 if ecdsa else _C.TransformRsaSha256
    signature = xmlsec.template.create(parent, _C.TransformExclC14N, method, ns="ds")
    parent.append(signature)
    reference = xmlsec.template.add_reference(signature, _C.TransformSha256, uri="")
    xmlsec.template.add_transform(reference, _C.TransformEnveloped)
    xmlsec.template.add_transform(reference, _C.TransformExclC14N)
    key_info = xmlsec.template.ensure_key_info(signature)
    xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(key_info))
    context = xmlsec.SignatureContext()
    context.key = key
    try:
        context.sign(signature)
    except BaseException:
        parent.remove(signature)
        raise
    return signature
