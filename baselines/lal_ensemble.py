"""``lal-ensemble``: the LAL cluster ensemble (Table 7 of "No two users are alike: generating
audiences with neural clustering for temporal point processes").

Not a class of its own: :class:`~baselines.lal.LAL` registered a second time, with the defaults
of :data:`ENSEMBLE_DEFAULTS`. R = ``n_ensemble`` independent LAL runs (different seeds, each
choosing its own K by the random walk), a co-association matrix (the fraction of runs that put
two sequences in one cluster) and spectral clustering of that matrix (:meth:`LAL._ensemble_labels`)
into the K whose consensus has the highest average NMI with the runs (``ensemble_k="anmi"``;
``"median"`` = the runs' median K). The paper used R = 20; so does the default here.

What differs from the paper, and why: each run is a **short** LAL run (20 EM epochs x 5 network
epochs, hidden 32, E-step subset 600; ~1/20 of the §4.5 single-model cost) instead of the full
§4.5 schedule, so that the 20 runs together cost about one single full run (docs/lal.md,
"Ensemble (Table 7)"). Every LAL parameter can be overridden (``n_jobs=2`` fits two runs at a
time). Labels never reach any run or the consensus; K comes from the runs.
"""

from __future__ import annotations

from baselines.lal import LAL
from benchmark.core.registry import register_method

#: LAL parameters whose defaults differ here: Table 7's R and the short per-run schedule
ENSEMBLE_DEFAULTS = {"n_ensemble": 20, "n_em_epochs": 20, "n_m_epochs": 5, "n_prune_epochs": 4,
                     "hidden_size": 32, "max_computation_size": 600}

register_method(
    "lal-ensemble",
    defaults=ENSEMBLE_DEFAULTS,
    presets={
        "quick": {"n_ensemble": 3, "n_em_epochs": 6, "n_m_epochs": 2, "n_prune_epochs": 2,
                  "max_computation_size": 300, "batch_size": 100},
        "paper": dict(ENSEMBLE_DEFAULTS),
    },
    paper=LAL.paper + ", Table 7 (cluster ensembles)",
)(LAL)
