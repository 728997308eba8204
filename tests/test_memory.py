"""hub.memory: big blocks freed after a big document go back to the system (glibc's mallopt)."""

from __future__ import annotations

import platform

from hub.memory import return_big_blocks_when_freed


def test_the_mapping_threshold_is_fixed_where_glibc_runs() -> None:
    glibc = platform.libc_ver()[0] == "glibc"
    assert return_big_blocks_when_freed() is glibc
    assert return_big_blocks_when_freed() is glibc  # once per process, the same answer
