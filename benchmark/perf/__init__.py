"""Floor 3: performance benchmarks against reference implementations (tick, EasyTPP, the LAL
paper's timings), one module per target: ``python -m benchmark perf TARGET [--help]``.

These modules may import the plugins (methods, generators, loaders) directly: nothing below this
floor imports them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys


def targets() -> list[str]:
    """The perf targets: the modules of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__))


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark perf TARGET [ARGS]``: run one target's ``main(ARGS)``."""
    argv = sys.argv[2:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in targets():
        what = f"unknown perf target {argv[0]!r}; " if argv and argv[0] not in ("-h", "--help") else ""
        print(f"{what}usage: python -m benchmark perf TARGET [--help]; targets: "
              f"{', '.join(targets())}", file=sys.stderr)
        return 2 if what or not argv else 0
    return int(importlib.import_module(f"{__name__}.{argv[0]}").main(argv[1:]) or 0)
