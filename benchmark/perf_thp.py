"""``python -m benchmark perf thp``: THP training throughput and held-out fit, ours vs EasyTPP's.

Both models get the same data and sizes: the Amazon pickles in EasyTPP's format (``test.pkl`` =
training data, 500 sequences, 24,611 events; ``dev.pkl`` = held-out, 300 sequences), hidden size 32,
2 layers, 2 heads, feed-forward 64, batch 256, Adam lr 1e-3, the same number of epochs, the same
torch thread count, in the same process. Printed per model:

* training throughput = training events / seconds spent in the training epochs (EasyTPP: its own
  ``loglike_loss`` + backward + Adam step on batches padded by its own tokenizer helpers, batch
  preparation not timed; ours: the epoch loop inside ``fit``);
* held-out log-likelihood per event on ``dev.pkl``, computed for both by the same function,
  :func:`baselines.thp.point_process_loglik` (each sequence's first event unscored, integral over
  each inter-event interval by 64-node Gauss-Legendre quadrature, in the data's time unit);

and the throughput ratio ours / EasyTPP. EasyTPP is the optional package ``easy-tpp==0.3.0``
(``pip install easy-tpp==0.3.0 --no-deps``); without it only our numbers are printed.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from benchmark.sequences import EventSequences

DEFAULT_DATA_DIR = Path("/work/shared/data")


def load_easytpp_pickle(path: Path) -> EventSequences:
    """Read an EasyTPP "Gatech" pickle ``{'dim_process': K, split: [[{'time_since_start',
    'type_event', ...}, ...], ...]}``; times = ``time_since_start`` as stored."""
    with open(path, "rb") as fh:
        blob = pickle.load(fh)
    splits = [k for k in blob if k != "dim_process"]
    if "dim_process" not in blob or len(splits) != 1:
        raise ValueError(f"{path}: expected keys 'dim_process' and one split, got {list(blob)}")
    rows = blob[splits[0]]
    times = [[float(e["time_since_start"]) for e in seq] for seq in rows]
    types = [[int(e["type_event"]) for e in seq] for seq in rows]
    return EventSequences.from_lists(times, types, n_types=int(blob["dim_process"]),
                                     meta={"name": f"{path.parent.name}/{path.name}"})


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

    def train(self, seqs: EventSequences, n_epochs: int, batch_size: int, lr: float) -> float:
        """Train (no shuffling: EasyTPP's default); returns seconds spent in the epochs."""
        import torch

        batches = [self.batch(seqs.slice(i, min(i + batch_size, len(seqs))))
                   for i in range(0, len(seqs), batch_size)]
        opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.model.train()
        start = time.perf_counter()
        for _ in range(n_epochs):
            for batch in batches:
                loss, num_event = self.model.loglike_loss(**batch)
                opt.zero_grad()
                (loss / num_event).backward()
                opt.step()
        return time.perf_counter() - start

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


def heldout_loglik(intensity_fn, seqs: EventSequences, n_nodes: int, batch_size: int = 256) -> float:
    """Log-likelihood per scored event of ``seqs``; ``intensity_fn(part, times, types, elapsed)``."""
    from baselines.thp import point_process_loglik
    from benchmark.convert import to_padded

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
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder holding amazon/test.pkl and amazon/dev.pkl")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--n-nodes", type=int, default=64, help="quadrature nodes for held-out LL")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    from baselines.thp import TransformerHawkesKMeans

    train_path, dev_path = args.data_dir / "amazon" / "test.pkl", args.data_dir / "amazon" / "dev.pkl"
    for p in (train_path, dev_path):
        if not p.is_file():
            print(f"missing {p}: put the EasyTPP Amazon pickles (test.pkl, dev.pkl) in "
                  f"{args.data_dir / 'amazon'} or pass --data-dir")
            return 2
    torch.set_num_threads(args.threads)
    train, dev = load_easytpp_pickle(train_path), load_easytpp_pickle(dev_path)
    n_train = train.n_events
    print(f"training data {train_path}: {len(train)} sequences, {n_train} events, "
          f"{train.n_types} types; held-out {dev_path}: {len(dev)} sequences, {dev.n_events} "
          f"events; {args.epochs} epochs, batch 256, Adam 1e-3, hidden 32, 2 layers, 2 heads, "
          f"{torch.get_num_threads()} torch threads")

    results = {}
    ours = TransformerHawkesKMeans(n_clusters=2, d_model=32, n_layers=2, n_heads=2, d_inner=64,
                                   n_epochs=args.epochs, batch_size=256, lr=1e-3, n_init=1,
                                   seed=args.seed)
    ours.fit(train)
    results["ours (baselines/thp.py)"] = (
        ours.train_seconds_,
        heldout_loglik(lambda part, t, k, e: ours.intensities_after_events(t, k, e), dev,
                       args.n_nodes))

    try:
        import easy_tpp  # noqa: F401
    except ImportError:
        print("reference unavailable: easy-tpp is not installed "
              "(pip install easy-tpp==0.3.0 --no-deps); printing ours only")
    else:
        ref = EasyTPPTHP(train.n_types, 32, 2, 2, args.seed)
        seconds = ref.train(train, args.epochs, 256, 1e-3)
        results["EasyTPP 0.3.0 THP"] = (
            seconds,
            heldout_loglik(lambda part, t, k, e: ref.intensities_after_events(part, e), dev,
                           args.n_nodes))

    print(f"{'model':<26} {'s/epoch':>8} {'train events/s':>15} {'held-out LL/event':>18}")
    for name, (seconds, ll) in results.items():
        print(f"{name:<26} {seconds / args.epochs:>8.3f} {n_train * args.epochs / seconds:>15,.0f} "
              f"{ll:>18.4f}")
    if len(results) == 2:
        (s_ours, ll_ours), (s_ref, ll_ref) = results.values()
        print(f"throughput ratio ours / EasyTPP: {s_ref / s_ours:.2f}x; held-out LL/event "
              f"difference ours - EasyTPP: {ll_ours - ll_ref:+.4f}")
    return 0
