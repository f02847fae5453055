# One-command set-up and runs. Everything installs into .venv (created here).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test test-all bench perf leaderboard clean

setup: $(STAMP)

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

# Everything, including slow tests.
test-all: setup
	$(PY) -m pytest -n 2 --dist loadfile -q -m "not perf"

# Main job: every method on every offline dataset (quick profile), then the report.
bench: setup
	$(PY) -m benchmark run --all --jobs 2 --threads 1 --results-dir results; \
	$(PY) -m benchmark report --results-dir results --out results/leaderboard

# Performance benchmarks (pytest-benchmark group), printed side by side with their references.
perf: setup
	$(PY) -m pytest -m perf --benchmark-enable -q

# Re-render the committed leaderboard from the committed runs.
leaderboard: setup
	$(PY) -m benchmark evaluate --results-dir leaderboard
	$(PY) -m benchmark report --results-dir leaderboard --out leaderboard

clean:
	rm -rf results .pytest_cache .hypothesis
