"""RFC 9162 (RFC 6962) Merkle tree hashing: leaves, roots, inclusion and consistency proofs.

Pure functions over lists of 32-byte leaf hashes, written from RFC 9162 §2.1 (no library we could
find implements the proofs for arbitrary tree sizes and is kept up; the algorithms are short and the
RFC 6962 test vectors in ``tests/test_ledger_merkle.py`` pin them):

- ``leaf_hash(entry) = SHA-256(0x00 || entry)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``;
- the tree of ``n > 1`` leaves splits at ``k``, the largest power of two smaller than ``n``.

:class:`CompactRange` keeps only the roots of the perfect subtrees on the right edge, so a tree can
grow one batch at a time in O(log n) memory (the sequencer's view of the log).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
MEMO_MIN_LEAVES = 256


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the given leaf hashes."""
    return _SubtreeHasher(leaves).hash(0, len(leaves))


class _SubtreeHasher:
    """Hashes of subtrees D[start:end], memoised: one proof reuses what another computed."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = leaves
        self._memo: dict[tuple[int, int], bytes] = {}

    def hash(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaves[start]
        cached = self._memo.get((start, end))
        if cached is None:
            k = split_point(n)
            cached = node_hash(self.hash(start, start + k), self.hash(start + k, end))
            if n >= MEMO_MIN_LEAVES:  # small subtrees are cheap to redo; keep memory to ~n/128 entries
                self._memo[(start, end)] = cached
        return cached


class ProofBuilder:
    """Inclusion and consistency proofs over one list of leaf hashes (RFC 9162 §2.1.3, §2.1.4)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._tree = _SubtreeHasher(leaves)
        self.size = len(leaves)

    def root(self, size: int | None = None) -> bytes:
        return self._tree.hash(0, self.size if size is None else size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """PATH(m, D[n]): the audit path of leaf ``index`` in the tree of ``size`` leaves."""
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of {size} (log has {self.size})")
        return self._path(index, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return [*self._path(m, start, start + k), self._tree.hash(start + k, end)]
        return [*self._path(m - k, start + k, end), self._tree.hash(start, start + k)]

    def consistency(self, first: int, second: int) -> list[bytes]:
        """PROOF(m, D[n]): proves the tree of ``first`` leaves is a prefix of the one of ``second``."""
        if not 0 <= first <= second <= self.size:
            raise ValueError(f"no consistency proof from {first} to {second} (log has {self.size})")
        if first == 0 or first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self._tree.hash(start, end)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self._tree.hash(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self._tree.hash(start, start + k)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` put ``leaf`` at ``index`` of the tree with ``expected_root``?"""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is tree (``first``, ``first_root``) a prefix of (``second``, ``second_root``)?"""
    if not 0 <= first <= second or any(len(p) != 32 for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is itself a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class CompactRange:
    """The right edge of a growing tree: (size, root) of each perfect subtree, largest first."""

    def __init__(self) -> None:
        self.size = 0
        self._peaks: list[tuple[int, bytes]] = []

    @classmethod
    def of(cls, leaves: Sequence[bytes]) -> CompactRange:
        tree = cls()
        tree.extend(leaves)
        return tree

    def copy(self) -> CompactRange:
        twin = CompactRange()
        twin.size, twin._peaks = self.size, list(self._peaks)
        return twin

    def extend(self, leaves: Sequence[bytes]) -> None:
        for leaf in leaves:
            peak = (1, leaf)
            while self._peaks and self._peaks[-1][0] == peak[0]:
                size, left = self._peaks.pop()
                peak = (size * 2, node_hash(left, peak[1]))
            self._peaks.append(peak)
            self.size += 1

    def root(self) -> bytes:
        if not self._peaks:
            return EMPTY_ROOT
        result = self._peaks[-1][1]
        for _, left in reversed(self._peaks[:-1]):
            result = node_hash(left, result)
        return result
