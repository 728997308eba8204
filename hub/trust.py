"""The trust store: which certificates may sign for which participant.

A signer's certificate is accepted when it chains (issuer signature checked, CA flag required on
every issuer) to a configured trust anchor, every certificate of the chain is within its validity,
no certificate of the chain has a revoked serial, and the leaf's subject CN is a known participant.
Verdicts are cached per certificate fingerprint; validity is re-checked on every call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from hub.problems import Problem

MAX_CHAIN_LENGTH = 6
CACHE_SIZE = 4096


def read_revoked_serials(path: Path) -> frozenset[int]:
    """Serials from a revocation file: one hexadecimal serial per line, ``#`` starts a comment.

    ``0x`` prefixes, colons and spaces inside a serial are tolerated (``0A:1B`` == ``a1b``).
    """
    serials: set[int] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.split("#", 1)[0].strip().replace(":", "").replace(" ", "").lower()
        if not text:
            continue
        text = text.removeprefix("0x")
        try:
            serials.add(int(text, 16))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not a hexadecimal serial: {raw.strip()!r}") from exc
    return frozenset(serials)


def common_name(cert: x509.Certificate) -> str | None:
    """The single subject CN, or None when absent or ambiguous."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return None
    value = names[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject or not _is_ca(issuer):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):  # TypeError: unsupported key type
        return False
    return True


@dataclass(frozen=True)
class _Verdict:
    """A cached outcome: a participant id with the chain's validity window, or a permanent refusal."""

    participant_id: str | None
    not_before: datetime
    not_after: datetime
    refusal: tuple[str, str] | None = None


class TrustStore:
    """Trust anchors, optional intermediates, known participants and revoked serials (immutable)."""

    def __init__(
        self,
        anchors: Sequence[x509.Certificate],
        participant_ids: Iterable[str],
        revoked_serials: Iterable[int] = (),
        intermediates: Sequence[x509.Certificate] = (),
    ) -> None:
        if not anchors:
            raise ValueError("a trust store needs at least one trust anchor")
        self.anchors: tuple[x509.Certificate, ...] = tuple(anchors)
        self.intermediates: tuple[x509.Certificate, ...] = tuple(intermediates)
        self.participant_ids: frozenset[str] = frozenset(participant_ids)
        self.revoked_serials: frozenset[int] = frozenset(revoked_serials)
        self._cache: OrderedDict[bytes, _Verdict] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        anchor_files: list[Path],
        participant_ids: Iterable[str],
        revoked_file: Path | None = None,
    ) -> TrustStore:
        """Read PEM files (several certificates per file allowed) and the revocation file.

        Self-signed certificates become anchors; the others are intermediates, which must
        themselves chain to an anchor to be of any use. A named revocation file must exist.
        """
        anchors: list[x509.Certificate] = []
        intermediates: list[x509.Certificate] = []
        for path in anchor_files:
            for cert in x509.load_pem_x509_certificates(Path(path).read_bytes()):
                (anchors if _self_signed(cert) else intermediates).append(cert)
        revoked = read_revoked_serials(revoked_file) if revoked_file is not None else frozenset()
        return cls(anchors, participant_ids, revoked, intermediates)

    def identify(
        self,
        cert: x509.Certificate,
        *,
        at: datetime | None = None,
        intermediates: Sequence[x509.Certificate] = (),
    ) -> str:
        """The participant id the certificate signs for, or a ``signer-*`` :class:`Problem`.

        ``intermediates`` are extra CA certificates the signer sent along (e.g. in ``x5c``).
        """
        when = _utc(at) if at else datetime.now(UTC)
        key = cert.fingerprint(hashes.SHA256()) + b"".join(
            c.fingerprint(hashes.SHA256()) for c in intermediates
        )
        with self._lock:
            verdict = self._cache.get(key)
            if verdict is not None:
                self._cache.move_to_end(key)
        if verdict is None:
            try:
                verdict = self._judge(cert, intermediates)
            except ValueError as error:  # cryptography parses fields lazily: a malformed one fails here
                raise Problem(
                    "signer-untrusted", f"a certificate of the signer cannot be read: {error}"
                ) from None
            with self._lock:
                self._cache[key] = verdict
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        if verdict.refusal and verdict.refusal[0] == "signer-untrusted":
            raise Problem(*verdict.refusal)
        if not verdict.not_before <= when <= verdict.not_after:
            raise Problem(
                "signer-expired",
                f"the certificate chain of {_describe(cert)} is valid from"
                f" {verdict.not_before:%Y-%m-%d %H:%M} to {verdict.not_after:%Y-%m-%d %H:%M} UTC,"
                f" not at {when:%Y-%m-%d %H:%M} UTC",
            )
        if verdict.refusal:
            raise Problem(*verdict.refusal)
        assert verdict.participant_id is not None
        return verdict.participant_id

    def _judge(self, cert: x509.Certificate, extra: Sequence[x509.Certificate]) -> _Verdict:
        if _is_ca(cert):
            return _Verdict(
                None,
                cert.not_valid_before_utc,
                cert.not_valid_after_utc,
                ("signer-untrusted", f"{_describe(cert)} is a CA certificate, not a signing certificate"),
            )
        chain = self._chain(cert, [*extra, *self.intermediates])
        if chain is None:
            return _Verdict(
                None,
                cert.not_valid_before_utc,
                cert.not_valid_after_utc,
                ("signer-untrusted", f"{_describe(cert)} does not chain to a trusted CA"),
            )
        not_before = max(c.not_valid_before_utc for c in chain)
        not_after = min(c.not_valid_after_utc for c in chain)
        for member in chain:
            if member.serial_number in self.revoked_serials:
                what = "" if member is cert else f" (issuer {_describe(member)})"
                return _Verdict(
                    None,
                    not_before,
                    not_after,
                    ("signer-revoked", f"{_describe(cert)} is revoked{what}"),
                )
        participant_id = common_name(cert)
        if participant_id is None or participant_id not in self.participant_ids:
            return _Verdict(
                None,
                not_before,
                not_after,
                ("signer-unknown", f"{_describe(cert)}: {participant_id!r} is not a known participant"),
            )
        return _Verdict(participant_id, not_before, not_after)

    def chain_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """The CA certificates from ``cert``'s issuer up to a trust anchor; ValueError if none."""
        path = self._chain(cert, list(self.intermediates))
        if path is None:
            raise ValueError(f"{_describe(cert)} does not chain to a trust anchor")
        return tuple(path[1:])

    def _chain(
        self, cert: x509.Certificate, intermediates: list[x509.Certificate]
    ) -> list[x509.Certificate] | None:
        """The path leaf → … → anchor, or None. Depth-first over candidate issuers."""

        def walk(current: x509.Certificate, path: list[x509.Certificate]) -> list[x509.Certificate] | None:
            for anchor in self.anchors:
                if _issued_by(current, anchor):
                    return [*path, anchor]
            if len(path) >= MAX_CHAIN_LENGTH:
                return None
            for candidate in intermediates:
                if candidate in path or not _issued_by(current, candidate):
                    continue
                found = walk(candidate, [*path, candidate])
                if found:
                    return found
            return None

        return walk(cert, [cert])


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _describe(cert: x509.Certificate) -> str:
    return f"certificate CN={common_name(cert)!r} serial {cert.serial_number:x}"
