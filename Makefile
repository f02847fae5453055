# One-command set-up and runs. Everything installs into .venv (created here).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup sandbox-tool browser-tool test test-all regress bench perf leaderboard clean

setup: $(STAMP) sandbox-tool

# bubblewrap, the sandbox of the methods' processes (README "Honest evaluation"): a Debian
# package, installed where this runs as root with apt-get; elsewhere a clear message, and the
# harness runs methods without a sandbox (records say "sandbox": "none").
sandbox-tool:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1; } || \
	    echo "warning: apt-get could not install bubblewrap; methods will run WITHOUT a sandbox"; \
	  else \
	    echo "warning: bubblewrap (bwrap) is not installed and this is not root with apt-get:"; \
	    echo "  install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: dnf install bubblewrap)"; \
	    echo "  or methods run WITHOUT a sandbox (records say \"sandbox\": \"none\")"; \
	  fi; }
	@command -v bwrap >/dev/null 2>&1 && echo "sandbox: $$(bwrap --version)" || true

# Chromium, for tests/test_board_html.py only (the leaderboard page rendered headless at 1400 px):
# a Debian package, installed as root with apt-get like bubblewrap; elsewhere a clear message and
# those tests skip. Not part of `setup` (a large download no run needs); .ci/run calls it.
browser-tool:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q chromium fonts-liberation >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium fonts-liberation >/dev/null 2>&1; } || \
	    echo "warning: apt-get could not install chromium; the page's browser tests skip (fail under EVSEQ_REQUIRE_CHROMIUM=1)"; \
	  else \
	    echo "warning: chromium is not installed and this is not root with apt-get:"; \
	    echo "  install it (Debian/Ubuntu: sudo apt-get install chromium) or the leaderboard"; \
	    echo "  page's browser tests (tests/test_board_html.py) skip (fail under EVSEQ_REQUIRE_CHROMIUM=1)"; \
	  fi; }
	@command -v chromium >/dev/null 2>&1 && echo "browser: $$(chromium --version 2>/dev/null)" || true

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# CPU build of torch first, pinned: an open range could pull a multi-GB CUDA build
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[all,test]"
	touch $(STAMP)

# The test command (CI runs exactly this through .ci/run).
test: setup
	$(PY) -m pytest -m "not slow and not perf" -n 2 --dist loadfile -q

# CI's guard of the committed numbers (.ci/run, after `make test`): fails when leaderboard/results.csv
# or per_seed.csv differ from a rebuild from the committed runs, or when a rerun of the sampled
# committed cells (leaderboard/regress_sample.toml, about 9 minutes on 2 cores) moved a metric.
regress: setup
	$(PY) -m benchmark regress --committed leaderboard --sample leaderboard/regress_sample.toml --jobs 2

# Everything, including slow tests.
test-all: setup
	$(PY) -m pytest -n 2 --dist loadfile -q -m "not perf"

# Main job: every method on every dataset whose files are here (quick profile), then the report;
# exits non-zero when a run failed (the report is written anyway).
bench: setup
	$(PY) -m benchmark run --all --allow-missing --jobs 2 --threads 1 --results-dir results; \
	rc=$$?; $(PY) -m benchmark report --results-dir results --out results/leaderboard && exit $$rc

# Performance benchmarks (pytest-benchmark group), printed side by side with their references.
perf: setup
	$(PY) -m pytest -m perf --benchmark-enable -q

# Re-render the committed leaderboard from the committed runs the plan declares.
leaderboard: setup
	$(PY) -m benchmark evaluate --results-dir leaderboard
	$(PY) -m benchmark report --results-dir leaderboard --out leaderboard --plan leaderboard/plan.toml

clean:
	rm -rf results .pytest_cache .hypothesis
