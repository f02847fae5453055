"""The three floors hold: the core imports no plugin, harness, perf module or torch; plugins import
only the core; the harness reaches plugins only through the registries; no import cycle.

Floors, bottom up: ``benchmark.core`` (0) < plugins ``baselines``, ``generators``, ``loaders``
(1) < ``benchmark.harness`` (2) < ``benchmark.perf`` and ``benchmark.__main__`` (3). A module may
import its own floor and the floors below, except that the harness imports no plugin module at
all (it calls :func:`benchmark.core.registry.discover` and looks names up), and methods import
no data plugin nor the reverse (the sandbox shows a method ``baselines/`` but not ``generators/``
or ``loaders/``). Imports are read from
the source (module level and inside functions alike), so a lazy import counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("benchmark", "baselines", "generators", "loaders")
PLUGINS = ("baselines", "generators", "loaders")
CORE_MODULES = ("sequences", "storage", "convert", "registry", "method", "catalog", "dataset",
                "process_memory")


def _floor(module: str) -> int | None:
    top = module.split(".")[0]
    if top in PLUGINS:
        return 1
    if module == "benchmark" or module.startswith("benchmark.core"):
        return 0
    if module.startswith("benchmark.harness"):
        return 2
    if module.startswith(("benchmark.perf", "benchmark.__main__")):
        return 3
    return None


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (REPO / pkg).rglob("*.py"):
            parts = list(f.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (resolved; a package's own submodules by name)."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {m: _imports(m, p, known) for m, p in known.items()}


def test_importing_the_package_and_its_core_loads_no_plugin_harness_or_torch():
    code = ("import sys, benchmark; "
            + "; ".join(f"import benchmark.core.{m}" for m in CORE_MODULES)
            + "; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
              "('baselines', 'generators', 'loaders', 'torch') or "
              "m.startswith(('benchmark.harness', 'benchmark.perf'))); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_no_import_runs_up_a_floor_and_the_harness_imports_no_plugin():
    bad = []
    for mod, deps in _graph().items():
        f = _floor(mod)
        for dep in deps:
            g = _floor(dep)
            if f is None or g is None:
                continue
            tops = {mod.split(".")[0], dep.split(".")[0]}
            if g > f or (f == 2 and g == 1) or (f == g == 1 and len(tops) == 2
                                                and "baselines" in tops):
                bad.append(f"{mod} -> {dep}")
    assert not bad, "imports against the floors:\n" + "\n".join(sorted(bad))


def test_no_import_cycle():
    graph = _graph()
    # a package's __init__ importing its own submodules is how Python packages work, not a cycle
    edges = {m: {d for d in deps if not (m.startswith(d + ".") and (REPO / d.replace(".", "/")
                                                                    / "__init__.py").exists())}
             for m, deps in graph.items()}
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            strong(v)
    assert not cycles, f"import cycles: {cycles}"
