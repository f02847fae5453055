"""``python -m benchmark``: the harness's command line; ``python -m benchmark perf TARGET`` runs a
performance benchmark of the top floor (:mod:`benchmark.perf`)."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "perf":
    from .perf import main
else:
    from .harness.cli import main

sys.exit(main())
