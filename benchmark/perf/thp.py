"""``python -m benchmark perf thp``: THP training throughput and held-out fit, ours vs EasyTPP's.

Both models get the same data and sizes: the Amazon pickles in EasyTPP's format (``test.pkl`` =
training data, 500 sequences, 24,611 events; ``dev.pkl`` = held-out, 300 sequences), hidden size 32,
2 layers, 2 heads, feed-forward 64, batch 256, Adam lr 1e-3, the same number of epochs, the same
torch thread count, in the same process. Printed per model:

* training throughput = training events x epochs / seconds spent in the training epochs
  (EasyTPP: its own ``loglike_loss`` + backward + Adam step on batches padded by its own tokenizer
  helpers, batch preparation not timed; ours: the epoch function ``fit`` runs,
  :meth:`~baselines.thp.TransformerHawkesKMeans.epoch_runner`). The two models' epochs alternate,
  so a change of load on the machine hits both; one untimed warm-up epoch each comes first;
* held-out log-likelihood per event on ``dev.pkl``, computed for both by the same function,
  :func:`baselines.thp.point_process_loglik` (each sequence's first event unscored, integral over
  each inter-event interval by 64-node Gauss-Legendre quadrature, in the data's time unit);

and the throughput ratio ours / EasyTPP. EasyTPP is the optional package ``easy-tpp==0.3.0``
(``pip install easy-tpp==0.3.0 --no-deps``); without it only our numbers are printed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from benchmark.core.catalog import resolve_data_dir
from benchmark.core.sequences import EventSequences

# the data folder beside the repository, used when neither --data-dir nor EVSEQ_DATA_DIR is given
SIBLING_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class EasyTPPTHP:
    """EasyTPP 0.3.0's THP with its defaults, trained the way its ``TorchModelWrapper`` does."""

    def __init__(self, n_types: int, hidden_size: int, n_layers: int, n_heads: int, seed: int):
        import torch
        from easy_tpp.model.thp import THP

        torch.manual_seed(seed)
        config = SimpleNamespace(
            hidden_size=hidden_size, time_emb_size=16, num_layers=n_layers, num_heads=n_heads,
            use_mc_samples=True, loss_integral_num_sample_per_step=20, dropout_rate=0.0,
            use_ln=False, thinning=None, num_event_types=n_types, num_event_types_pad=n_types + 1,
            pad_token_id=n_types, gpu=-1, model_id="THP")
        self.model = THP(config)
        self.pad = n_types

    def batch(self, seqs: EventSequences) -> dict:
        """EasyTPP's padded batch (its tokenizer's padding and attention-mask helpers)."""
        import torch
        from easy_tpp.preprocess.event_tokenizer import EventTokenizer

        times = [seqs.sequence(i)[0].tolist() for i in range(len(seqs))]
        deltas = [np.diff(t, prepend=t[0]).tolist() for t in times]
        types = [seqs.sequence(i)[1].astype(int).tolist() for i in range(len(seqs))]
        L = int(seqs.lengths.max())
        pad = EventTokenizer.make_pad_sequence
        type_seqs = pad(types, self.pad, "right", L, dtype=np.int64)
        return {
            "time_seqs": torch.from_numpy(pad(times, self.pad, "right", L)),
            "time_delta_seqs": torch.from_numpy(pad(deltas, self.pad, "right", L)),
            "type_seqs": torch.from_numpy(type_seqs),
            "seq_non_pad_mask": torch.from_numpy(np.arange(L)[None, :] < seqs.lengths[:, None]),
            "attention_mask": torch.from_numpy(
                EventTokenizer.make_attn_mask_for_pad_sequence(None, type_seqs, self.pad)),
        }

    def epoch_runner(self, seqs: EventSequences, batch_size: int, lr: float):
        """Pad the batches once (in file order: EasyTPP does not shuffle by default) and return a
        function that trains one epoch as EasyTPP's model wrapper does."""
        import torch

        batches = [self.batch(seqs.slice(i, min(i + batch_size, len(seqs))))
                   for i in range(0, len(seqs), batch_size)]
        opt = torch.optim.Adam(self.model.parameters(), lr=lr)

        def run_epoch() -> None:
            self.model.train()
            for batch in batches:
                loss, num_event = self.model.loglike_loss(**batch)
                opt.zero_grad()
                (loss / num_event).backward()
                opt.step()

        return run_epoch

    def intensities_after_events(self, seqs: EventSequences, elapsed: np.ndarray):
        """(B, L - 1, S, K) intensities at ``t_j + elapsed`` from events 0..j (see
        :func:`baselines.thp.point_process_loglik`)."""
        import torch

        batch = self.batch(seqs)
        self.model.eval()
        with torch.no_grad():
            enc = self.model.forward(batch["time_seqs"][:, :-1], batch["type_seqs"][:, :-1],
                                     batch["attention_mask"][:, :-1, :-1])
            states = self.model.compute_states_at_sample_times(
                enc, torch.as_tensor(elapsed, dtype=torch.float32))
            return self.model.softplus(states).double()


def heldout_loglik(intensity_fn, seqs: EventSequences, n_nodes: int,
                   batch_size: int = 256) -> float:
    """Log-likelihood per scored event of ``seqs``;
    ``intensity_fn(part, times, types, elapsed)``."""
    from baselines.thp import point_process_loglik
    from benchmark.core.convert import to_padded

    total, count = 0.0, 0
    for start in range(0, len(seqs), batch_size):
        part = seqs.slice(start, min(start + batch_size, len(seqs)))
        times, types, lengths, _ = to_padded(part)
        t, k = times.numpy(), types.numpy()
        ll, n = point_process_loglik(lambda e: intensity_fn(part, t, k, e), t, k,
                                     lengths.numpy(), n_nodes)
        total, count = total + ll, count + n
    return total / count


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark perf thp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding amazon/test.pkl and amazon/dev.pkl (default: "
                             "EVSEQ_DATA_DIR, else ../shared/data beside the repository)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--n-nodes", type=int, default=64, help="quadrature nodes for held-out LL")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    from baselines.thp import TransformerHawkesKMeans
    from loaders.easytpp import read_easytpp_pickle

    data_dir = resolve_data_dir(args.data_dir) or SIBLING_DATA_DIR
    train_path, dev_path = data_dir / "amazon" / "test.pkl", data_dir / "amazon" / "dev.pkl"
    for p in (train_path, dev_path):
        if not p.is_file():
            print(f"missing {p}: put the EasyTPP Amazon pickles (test.pkl, dev.pkl) in "
                  f"{data_dir / 'amazon'}, or pass --data-dir / set EVSEQ_DATA_DIR")
            return 2
    try:
        import easy_tpp  # noqa: F401
        reference_available = True
    except ImportError:
        reference_available = False
        print("reference unavailable: easy-tpp is not installed "
              "(pip install easy-tpp==0.3.0 --no-deps); measuring ours only")
    torch.set_num_threads(args.threads)
    train, dev = read_easytpp_pickle(train_path, "test")[0], read_easytpp_pickle(dev_path, "dev")[0]
    n_train = train.n_events
    print(f"training data {train_path}: {len(train)} sequences, {n_train} events, "
          f"{train.n_types} types; held-out {dev_path}: {len(dev)} sequences, {dev.n_events} "
          f"events; {args.epochs} epochs, batch 256, Adam 1e-3, hidden 32, 2 layers, 2 heads, "
          f"{torch.get_num_threads()} torch threads")

    def ours_model(n_epochs: int) -> TransformerHawkesKMeans:
        return TransformerHawkesKMeans(n_clusters=2, d_model=32, n_layers=2, n_heads=2, d_inner=64,
                                       n_epochs=n_epochs, batch_size=256, lr=1e-3, n_init=1,
                                       seed=args.seed)

    # warm-up (allocator, kernels) for both, untimed
    ours_model(1).fit(train)
    if reference_available:
        EasyTPPTHP(train.n_types, 32, 2, 2, args.seed).epoch_runner(train, 256, 1e-3)()

    # epochs alternate between the two models so that load changes on the machine hit both
    ours = ours_model(args.epochs)
    runners = {"ours (baselines/thp.py)": ours.epoch_runner(train)}
    if reference_available:
        ref = EasyTPPTHP(train.n_types, 32, 2, 2, args.seed)
        runners["EasyTPP 0.3.0 THP"] = ref.epoch_runner(train, 256, 1e-3)
    seconds = {name: 0.0 for name in runners}
    for _ in range(args.epochs):
        for name, run_epoch in runners.items():
            start = time.perf_counter()
            run_epoch()
            seconds[name] += time.perf_counter() - start
    fits = {"ours (baselines/thp.py)":
            lambda part, t, k, e: ours.intensities_after_events(t, k, e)}
    if reference_available:
        fits["EasyTPP 0.3.0 THP"] = lambda part, t, k, e: ref.intensities_after_events(part, e)
    results = {name: (seconds[name], heldout_loglik(fits[name], dev, args.n_nodes))
               for name in runners}

    print(f"{'model':<26} {'s/epoch':>8} {'train events/s':>15} {'held-out LL/event':>18}")
    for name, (secs, ll) in results.items():
        print(f"{name:<26} {secs / args.epochs:>8.3f} {n_train * args.epochs / secs:>15,.0f} "
              f"{ll:>18.4f}")
    if len(results) == 2:
        (s_ours, ll_ours), (s_ref, ll_ref) = results.values()
        print(f"throughput ratio ours / EasyTPP: {s_ref / s_ours:.2f}x; held-out LL/event "
              f"difference ours - EasyTPP: {ll_ours - ll_ref:+.4f}")
    return 0
