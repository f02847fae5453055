"""Floor 2, the harness: plans and runs (method, dataset, seed) in sandboxed processes, scores
them, renders and guards the leaderboard, and the command line. It sits above the plugins and
reaches them only through the registries (:func:`benchmark.core.registry.discover`).
"""

from . import metrics, metrics_catboost  # noqa: E402,F401  (register the metrics)
