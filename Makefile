# gazesam-triton: `make demo` sets everything up and annotates a sample video; `make test` runs the tests.
# Everything installs into .venv/ from pinned requirements; models come from ../shared/models + stand-ins.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= ../shared
STANDINS ?= tiny
VIDEO ?= $(SHARED)/media/videos/father_daughter_toys.mp4

.PHONY: setup venv models repository demo serve test clean

setup: repository

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "gazesam-triton.pth").write_text("$(CURDIR)/python_backend\n$(CURDIR)\n")'
	touch $@

models: venv
	$(PY) -m build_engines fetch --from $(SHARED)/models
	$(PY) -m build_engines standins --size $(STANDINS)

repository: models
	$(PY) -m build_engines repository --standin-size $(STANDINS)

demo: setup
	$(PY) clients/demo.py --video $(VIDEO) --output-dir output

serve: setup
	$(PY) -m gazesam_triton.serve

test: setup
	$(PY) -m pytest -q -ra

clean:
	rm -rf $(VENV) models output model_repository/*/
