"""Memory freed after a big document goes back to the system at once (glibc's malloc).

glibc serves a block of 128 KiB or more with its own mapping, returned when freed — until the first
such block is freed: then it raises that threshold to the block's size, so the next big documents'
buffers (the body, the parsed tree's text, the ledger's copies) come from the heaps of the threads
that touched them, where freed memory stays resident and one thread cannot reuse another's. A 10 MiB
document accepted by an intake thread and then delivered by a delivery thread peaked at 5.7× its
size; with the threshold fixed, at 3.6× (bench/FINDINGS.md, issue 14).
"""

from __future__ import annotations

import ctypes
import functools

#: glibc's M_MMAP_THRESHOLD parameter of mallopt(3); setting it turns the dynamic raise off.
M_MMAP_THRESHOLD = -3
#: glibc's own initial threshold, kept: only its raise is turned off.
BIG_BLOCK_BYTES = 128 * 1024


@functools.cache
def return_big_blocks_when_freed() -> bool:
    """Fix malloc's mapping threshold for this process (once); False where there is no glibc mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (or no dynamic loading): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, BIG_BLOCK_BYTES))
