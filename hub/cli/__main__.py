"""``python -m hub.cli``: the `lienthong` command (how `serve` starts its delivery process)."""

from hub.cli import main

main()
