"""A hostile method, used only by tests/test_sandbox.py (registered when this module is
imported; never part of the package): its ``fit`` tries every route it knows to ground-truth
labels or to files of the data, cache and results directories, prints each route that worked
(``LEAK ...``) to its log, reports their number as ``metrics_["leaks"]`` and, when it found
labels, returns them as its clustering.

``targets`` are paths the test wants hidden (the method is told them: knowing where the files are
must not help); ``port`` is a TCP port on the harness's loopback serving the labels.
"""

from __future__ import annotations

import glob
import importlib
import io
import json
import os
import re
import socket
import sys
from pathlib import Path

import numpy as np

from benchmark.core.method import Clusterer
from benchmark.core.registry import register_method

LABEL_FILES = ("labels.parquet", "clusters.csv", "labels.npy", "record.json", "results.csv",
               "per_seed.csv")


@register_method("test-hostile")
class Hostile(Clusterer):
    outputs = ("labels",)

    def __init__(self, targets: tuple = (), port: int = 0, seed: int = 0) -> None:
        self.targets = targets
        self.port = port
        self.seed = seed

    # --------------------------------------------------------------------------- helpers
    @staticmethod
    def _kind(route: str) -> str:
        return re.sub(r"\d+", "N", route)

    def _leak(self, route: str, detail: str) -> None:
        self.leaks_.append(f"{route}: {detail}")
        self.leaked_kinds_.add(self._kind(route))
        print(f"LEAK {route}: {detail}", flush=True)

    def _try_read(self, route: str, path: str) -> bytes | None:
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 20)
        except OSError:
            return None
        self._leak(route, f"read {path} ({len(data)} bytes)")
        return data

    def _keep(self, labels) -> None:
        """Keep the first leaked labels that fit this dataset (one per sequence)."""
        if self.found_ is None and len(labels) == self.n_:
            self.found_ = labels

    def _labels_from(self, data: bytes, name: str) -> None:
        """Turn a leaked labels.parquet / clusters.csv into labels for the output."""
        try:
            if name.endswith(".parquet"):
                import pyarrow.parquet as pq

                table = pq.read_table(io.BytesIO(data))
                if "label" in table.column_names:
                    self._keep(table.column("label").to_numpy())
        except Exception:
            pass

    def _scan_path_strings(self, route: str, text: str) -> None:
        """Any absolute path mentioned in ``text``: read it, or look for label files under it."""
        for token in set(text.replace("\0", " ").replace("=", " ").replace(":", " ").split()):
            if not token.startswith("/") or len(token) > 4096:
                continue
            self._probe(route, token)

    def _probe(self, route: str, path: str) -> None:
        """Read ``path`` if it is a label file or under a target; look for label files around a
        directory. A kind of route that has already leaked is not probed again (speed)."""
        if self._kind(route) in self.leaked_kinds_ or (route, path) in self.seen_:
            return
        self.seen_.add((route, path))
        p = Path(path)
        try:
            if p.is_file():
                if any(str(p).startswith(str(t)) for t in self.targets) or p.name in LABEL_FILES:
                    data = self._try_read(route, str(p))
                    if data is not None:
                        self._labels_from(data, p.name)
            elif p.is_dir():
                for parent in [p, *list(p.parents)[:3]]:
                    self._find_label_files(route, str(parent), depth=3)
        except OSError:
            pass

    def _find_label_files(self, route: str, top: str, depth: int) -> None:
        key = (top, depth)
        if key in self.seen_ or top in ("/proc", "/sys", "/dev", "/usr", "/etc"):
            return
        self.seen_.add(key)
        try:
            entries = list(os.scandir(top))
        except OSError:
            return
        for e in entries:
            try:
                if e.is_file(follow_symlinks=False) and e.name in LABEL_FILES:
                    data = self._try_read(route, e.path)
                    if data is not None:
                        self._labels_from(data, e.name)
                elif e.is_dir(follow_symlinks=False) and depth > 0 and not e.name.startswith(
                        ("site-packages", "__pycache__")):
                    self._find_label_files(route, e.path, depth - 1)
            except OSError:
                continue

    # --------------------------------------------------------------------------- routes
    def fit(self, seqs):
        self.leaks_: list[str] = []
        self.seen_: set = set()
        self.leaked_kinds_: set = set()
        self.found_ = None
        self.n_ = len(seqs)
        # 1. the paths the test wants hidden, given outright
        for t in self.targets:
            if os.path.exists(t):
                self._leak("target", f"{t} exists")
                self._probe("target", t)
        # 2. argv, environment, working directory and its parents, home
        self._scan_path_strings("argv", " ".join(sys.argv))
        self._scan_path_strings("environ", " ".join(f"{k}={v}" for k, v in os.environ.items()))
        for k in os.environ:
            if k.startswith("EVSEQ_") and k != "EVSEQ_HEAP_REUSE":
                self._leak("environ", f"{k} is set")
        self._find_label_files("cwd", os.getcwd(), depth=4)
        for parent in Path(os.getcwd()).parents:
            self._find_label_files("cwd parents", str(parent), depth=3)
        self._find_label_files("home", os.path.expanduser("~"), depth=4)
        self._probe("home cache", os.path.expanduser("~/.cache/event-clustering-bench"))
        for f in glob.glob("*.json") + glob.glob("*/*.json"):
            try:
                self._scan_path_strings("request", Path(f).read_text())
            except OSError:
                pass
        # 3. the sequences' metadata
        self._scan_path_strings("meta", json.dumps(seqs.meta, default=str))
        for k in seqs.meta:
            if k not in ("name", "time_unit"):
                self._leak("meta", f"metadata field {k!r}")
        # 4. /proc: self, parent, every process it can see (cmdline, environ, cwd, root, fds)
        pids = [d for d in os.listdir("/proc") if d.isdigit()]
        for pid in ["self", str(os.getppid()), *pids]:
            for f in ("cmdline", "environ"):
                try:
                    self._scan_path_strings(f"/proc/{pid}/{f}",
                                            Path(f"/proc/{pid}/{f}").read_bytes().decode(
                                                errors="replace"))
                except OSError:
                    pass
            for link in ("cwd", "root"):
                try:
                    target = os.readlink(f"/proc/{pid}/{link}")
                    self._probe(f"/proc/{pid}/{link}", target)
                    for t in self.targets:  # the host's view through the link
                        self._probe(f"/proc/{pid}/{link}", f"/proc/{pid}/{link}{t}")
                except OSError:
                    pass
            for fd in glob.glob(f"/proc/{pid}/fd/*"):
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("/") and any(target.startswith(str(t))
                                                  for t in self.targets):
                    self._try_read(f"fd {fd}", fd)  # reopening through the magic link
                self._probe(f"fd {fd}", target)
        # 5. inherited file descriptors
        for fd in range(3, 256):
            try:
                os.fstat(fd)
            except OSError:
                continue
            try:
                data = os.pread(fd, 1 << 16, 0)
                if data:
                    self._leak("inherited fd", f"fd {fd} readable ({len(data)} bytes)")
            except OSError:
                pass
        # 6. the suite's own modules: cache/data directories, materialize, load_labels
        try:
            from benchmark.core import catalog, storage

            name = seqs.meta.get("name", "")
            for cache in {str(catalog.resolve_cache_dir()), *map(str, self.targets)}:
                for d in glob.glob(f"{cache}/datasets/*") + glob.glob(f"{cache}/*"):
                    try:
                        labels = storage.load_labels(Path(d))
                    except Exception:
                        continue
                    if labels is not None:
                        self._leak("load_labels", d)
                        self._keep(labels)
            try:
                ddir = catalog.materialize(name, catalog.resolve_data_dir(),
                                           catalog.resolve_cache_dir())
                labels = storage.load_labels(ddir)
                if labels is not None:
                    self._leak("materialize", str(ddir))
                    self._keep(labels)
            except Exception:
                pass
        except Exception:
            pass
        # 7. the generators' code (a synthetic set's published draw could be regenerated)
        for mod in ("generators", "loaders"):
            try:
                importlib.import_module(mod)
                self._leak("import", f"{mod} is importable")
            except Exception:
                pass
        # 8. the network: the harness's loopback serves the labels
        if self.port:
            try:
                with socket.create_connection(("127.0.0.1", int(self.port)), timeout=2) as s:
                    data = s.recv(1 << 16)
                self._leak("network", f"127.0.0.1:{self.port} answered {len(data)} bytes")
            except OSError:
                pass
        print(f"hostile: {len(self.leaks_)} route(s) reached labels or hidden files", flush=True)
        self.metrics_ = {"leaks": float(len(self.leaks_))}
        n = len(seqs)
        self.labels_ = (np.asarray(self.found_, dtype=np.int64)
                        if self.found_ is not None and len(self.found_) == n
                        else np.zeros(n, dtype=np.int64))
        return self
