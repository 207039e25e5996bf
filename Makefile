# labkit: two set-up commands for a fresh machine, `make lab` and `make test`.
# Each target creates .venv if it is missing and installs what it needs, offline-safe.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
export LABKIT_CACHE ?= $(HOME)/.cache/labkit
# Python keeps each module's compiled bytecode after its first import; where the environment turns that off
# (PYTHONDONTWRITEBYTECODE, set on some CI machines and containers) every process compiles torch and transformers
# again, ~5 s each (10.4 s against 4.8 s for their imports here), and the suite starts dozens of them (workers,
# notebook kernels, subprocesses). The kit's commands keep it on, writing the bytecode inside .venv only.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache

.PHONY: lab test test-setup converted unit notebooks lint report bench clean-cache chromium wheelhouse bundle offline-check sheet rendered

# bootstrap.py: torch first, pinned in pyproject.toml (the CPU build where there is no NVIDIA GPU), then the kit,
# then the embedded generator's file with --no-deps (its own deps would compile llama.cpp).
$(STAMP): pyproject.toml bootstrap.py
	$(PYTHON) bootstrap.py --venv $(VENV)
	touch $(STAMP)

# Jupyter refuses to run as root unless told; containers and classroom VMs often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 $(ROOT_FLAG)

# The whole suite: lint, notebooks stripped, unit tests, then every notebook in quick mode (06 and 07 also as a
# learner opens them, on the shipped run: tests/test_shipped_notebooks.py, in the same parallel run).
# NETGUARD on PYTHONPATH: every Python process of the run (pytest, its subprocesses, each
# notebook kernel) refuses network use beyond this machine (tests/netguard/labkit_netguard.py).
NETGUARD := PYTHONPATH=$(CURDIR)/tests/netguard
# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test"; \
	    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "no chromium (install it, e.g. sudo apt-get install chromium): the browser test will be skipped"; fi

# Unit tests and notebooks run together on WORKERS processes (pytest-xdist, one file or notebook
# per worker at a time), each with a share of the cores: on 2 cores two 1-thread workers finish
# the suite about 1.4x sooner than one 2-thread process (small kernels scale badly across threads).
# `labkit doctor` first converts the model once, so the workers do not both convert it. Files go out in collection
# order (--no-loadscope-reorder), which tests/conftest.py makes longest first, so no worker ends alone on a long notebook.
# The suite's set-up runs as two jobs side by side (-j2): the venv then the model's conversion, and the browser (on a
# fresh machine apt-get's ~30 s of Chromium overlap pip's install instead of following it).
test-setup: converted chromium
converted: $(STAMP)
	$(NETGUARD) $(BIN)/labkit doctor >/dev/null

WORKERS ?= 2
THREADS := $(shell n=$$(( $$(nproc) / $(WORKERS) )); [ $$n -ge 1 ] && echo $$n || echo 1)
test:
	$(MAKE) --no-print-directory -j2 test-setup
	$(BIN)/ruff check labkit tests benchmarks bootstrap.py
	$(BIN)/python tests/check_notebooks_stripped.py notebooks
	$(NETGUARD) LABKIT_QUICK=1 OMP_NUM_THREADS=$(THREADS) $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder --durations=20 tests --nbval-lax notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_load.py

clean-cache:
	rm -rf $(LABKIT_CACHE)

# the full run; publish makes it the shipped results the README quotes. Its seeds and the behaviour
# task run on REPORT_WORKERS processes side by side (each ~6 GB at its peak: REPORT_WORKERS=1 on a small laptop).
REPORT_WORKERS ?= 2
report: $(STAMP)
	$(BIN)/labkit compare --out reports --overwrite --workers $(REPORT_WORKERS)
	$(BIN)/labkit publish reports/results.json
	$(BIN)/labkit sheet

# The instructor's results sheet (docs/results_sheet.md and a printable .html), from the committed records:
# data/results.json, data/forgetting_sweep.json, data/reader/labkit.json, data/run_times.json. Seconds; no model loads.
sheet: $(STAMP)
	$(BIN)/labkit sheet

# Expected outputs: every notebook run top to bottom as a learner opens it (default mode: LABKIT_QUICK and LABKIT_LIVE
# unset, so 06 and 07 show the shipped run) and written as HTML with its outputs into rendered/, with
# rendered/manifest.json (each copy's notebook sha256, commit and the committed records' sha256: tests/test_rendered.py
# fails when one changed after its copy). About the default column of the README's run-time table, summed; under
# NETGUARD, as make test: nothing leaves the machine. One notebook: `labkit render 03`.
rendered: $(STAMP)
	$(NETGUARD) $(BIN)/labkit doctor >/dev/null
	env -u LABKIT_QUICK -u LABKIT_LIVE $(NETGUARD) $(BIN)/labkit render

# A classroom without a network: wheels for every laptop, and the warm cache on one file.
# wheelhouse/: this machine's wheels (exact versions of .venv) and macOS arm64's where they exist;
# with it present, `make lab` / `make test` install with --no-index (bootstrap.py).
wheelhouse: $(STAMP)
	$(PYTHON) bootstrap.py --download

# labkit-bundle.tar: the dequantised model and data/kb's index (~550 MB), no other folder's index (it holds that
# folder's text: add one with --include-docs DIR) and no adapters; on each laptop:
# `labkit bundle unpack labkit-bundle.tar` (doctor then says the bundle is in use)
bundle: $(STAMP)
	$(BIN)/labkit doctor >/dev/null
	$(BIN)/labkit bundle pack labkit-bundle.tar

# Proof of the offline path: a new venv from wheelhouse/ and notebook 00 with an empty cache, inside a
# network namespace with only loopback (unshare -rn); about 3.5 minutes, so not part of `make test`.
offline-check: wheelhouse
	rm -rf /tmp/labkit-offline-venv /tmp/labkit-offline-cache
	unshare -rn sh -c 'ip link set lo up && $(PYTHON) bootstrap.py --venv /tmp/labkit-offline-venv && \
	  LABKIT_CACHE=/tmp/labkit-offline-cache /tmp/labkit-offline-venv/bin/python -m pytest -q -p no:cacheprovider --nbval-lax notebooks/00_start_here.ipynb'
