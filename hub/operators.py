"""Operators: the people who run the hub and log in to its console. They are not participants (they
send nothing); each has an id, a name and a password stored only as a scrypt hash.

``config/operators.yaml`` holds them. The development operator is marked ``development: true`` and
its password is ``dev-password-<id>``; production mode refuses to start with either (see
:func:`development_operators`). Make a hash with ``python -m hub.operators``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SCHEME = "scrypt"


class Operator(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    name: str
    password_hash: str = Field(description="scrypt$N$r$p$salt$hash (base64); see hash_password")
    development: bool = Field(default=False, description="the development operator: refused in production")


class OperatorsFile(BaseModel):
    operators: list[Operator] = Field(default_factory=list)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A self-describing scrypt hash of `password` (RFC 7914 parameters N=2^14, r=8, p=1)."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"{_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (constant-time comparison; False for a malformed hash)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != _SCHEME:
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(expected)),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


def development_password(operator_id: str) -> str:
    return f"dev-password-{operator_id}"


class Operators:
    """The operators of this hub, loaded once per process."""

    def __init__(self, operators: list[Operator]) -> None:
        self._by_id = {o.id: o for o in operators}
        if len(self._by_id) != len(operators):
            raise ValueError("operator ids must be unique")
        # A wrong id costs as much as a wrong password: no timing hint that an id exists.
        self._decoy = hash_password(os.urandom(16).hex())

    @classmethod
    def load(cls, path: Path) -> Operators:
        if not path.exists():
            return cls([])
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(OperatorsFile.model_validate(data).operators)

    def __iter__(self) -> Iterator[Operator]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, operator_id: str) -> Operator | None:
        return self._by_id.get(operator_id)

    def authenticate(self, operator_id: str, password: str) -> Operator | None:
        operator = self._by_id.get(operator_id)
        matches = verify_password(password, operator.password_hash if operator else self._decoy)
        return operator if operator is not None and matches else None


def development_operators(operators: Operators) -> list[str]:
    """Operators marked for development or still holding their development password."""
    return [
        o.id
        for o in operators
        if o.development or verify_password(development_password(o.id), o.password_hash)
    ]


def main(argv: list[str] | None = None) -> int:
    """`python -m hub.operators`: read a password on stdin, print its hash for operators.yaml."""
    import getpass

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        print("refused: use at least 12 characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
