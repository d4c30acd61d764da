# gazesam-triton: `make demo` sets everything up and annotates a sample video; `make test` runs the tests.
# Everything installs into .venv/ from pinned requirements; models come from ../shared/models (all real:
# the offline model set), plus stand-ins for the fast structural tests (the standin model set).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= ../shared
STANDINS ?= tiny
MODELS ?= offline
VIDEO ?= $(SHARED)/media/videos/father_daughter_toys.mp4

.PHONY: setup setup-standin venv models repository demo serve test clean

setup: repository
setup-standin: model_repository_standin/gazesam/config.pbtxt

venv: $(VENV)/.installed
# The project itself installs in editable mode (pyproject.toml): the Triton stub, clients, tests and
# perf/ import its packages from this checkout, and the console scripts (gazesam-video, ...) land in .venv/bin.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

models: venv
	$(PY) -m build_engines fetch --from $(SHARED)/models
	$(PY) -m build_engines standins --size $(STANDINS)

repository: models
	$(PY) -m build_engines repository --models $(MODELS) --standin-size $(STANDINS)

# The stand-in set (random weights where no real file exists): what the fast structural tests serve.
model_repository_standin/gazesam/config.pbtxt: models
	$(PY) -m build_engines repository --models standin --standin-size $(STANDINS) --out model_repository_standin

demo: setup
	$(PY) clients/demo.py --video $(VIDEO) --output-dir output $(DEMO_ARGS)

serve: setup
	$(PY) -m gazesam_triton.serve

test: setup setup-standin pytorch
	$(PY) -m pytest -q -ra

clean:
	rm -rf $(VENV) models output model_repository/*/ model_repository_standin

# perf_analyzer 2.51 (the tritonclient wheel's binary + libb64 and libcudart) into .venv/perf_analyzer/;
# then a concurrency sweep of the gazesam ensemble into perf/out/ (see perf/run_perf_analyzer.py --help).
PERF_ARGS ?=
.PHONY: perf-analyzer-install perf-analyzer
perf-analyzer-install: venv
	$(PY) perf/install_perf_analyzer.py

perf-analyzer: setup perf-analyzer-install
	$(PY) perf/run_perf_analyzer.py $(PERF_ARGS)

# The pytorch repository profile: PyTorch 2.13.0 into .venv (the CPU build here; pinned, never unpinned).
# Then: $(PY) -m build_engines repository --profile pytorch --out model_repository_pytorch
.PHONY: pytorch
pytorch: venv
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-pytorch.txt

# Soak: 2,000 requests as 4 concurrent streams on the tiny stand-ins; zero failures, server memory growth
# under 10% (about 1.5 min on 2 CPU cores; it also runs in `make test`).
.PHONY: soak
soak: setup
	$(PY) -m pytest -q -m soak tests/test_soak.py

# The performance issue's one command, in one run on the same machine and frames: perf_analyzer sweep,
# the side-by-side pipeline benchmark (tiny stand-ins; the real offline set at 1, 2, 4 streams), the threads
# sweep, what each network sees against the cv2 pre-processing, int8 against fp32, the transports, then
# perf/RESULTS.md with every target checked. About 25 minutes on 2 cores; PERF_FRAMES=N for a shorter run.
# The perf_analyzer sweep serves the tiny stand-in set: the offline set's 1.5 s frames never give perf_analyzer
# a stable 4 s window on 2 cores (bench_pipeline measures the offline set instead).
PERF_FRAMES ?= 8
.PHONY: perf
perf: setup setup-standin perf-analyzer-install
	$(PY) perf/run_perf_analyzer.py --model-repository model_repository_standin $(PERF_ARGS)
	$(PY) perf/bench_pipeline.py --standins tiny --frames 16
	$(PY) perf/bench_pipeline.py --models offline --frames $(PERF_FRAMES)
	$(PY) perf/sweep_threads.py --models offline --frames 4
	$(PY) perf/compare_inputs.py --frames $(PERF_FRAMES)
	$(PY) perf/evaluate_precision.py
	$(PY) perf/bench_transport.py
	$(PY) perf/collect_results.py
