# Week 7: Transformers for Generative Tasks.
#   make lab    set everything up (first time only) and open JupyterLab on the course
#   make test   set everything up (first time only) and run every test
# Everything lives in .venv inside this folder; nothing is installed system-wide
# (except Chromium for the browser tests: `make browser-deps`, as root).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed
TORCH_VERSION := 2.13.0
# CPU-only wheels: a laptop never needs the multi-gigabyte CUDA build.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
KERNEL_NAME := week07-transformers
NOTEBOOKS := notebooks/week07_generative_transformers
LAB_SETTINGS := $(CURDIR)/.jupyter/lab/user-settings
LAB_WORKSPACES := $(CURDIR)/.jupyter/lab/workspaces
PORT ?= 8888
# JupyterLab refuses to run as root (containers, CI, Binder's root shells) unless told it is fine.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)

.PHONY: help setup lab test lint format unit-test notebook-test browser-test notebooks sync data checkpoints bench browser-deps clean

help:
	@echo "make lab          set up (first time) and open JupyterLab on the course"
	@echo "make test         set up (first time) and run every test (unit, pairing, notebooks, browser)"
	@echo "make lint         ruff: lint and format check (part of make test); make format fixes what it can"
	@echo "make notebooks    re-execute every notebook in place (refreshes committed outputs)"
	@echo "make sync         bring each notebook and its jupytext .py twin back in step"
	@echo "make data         rebuild data/ (corpora and task splits) from installed sources"
	@echo "make checkpoints  retrain the small pretrained checkpoints in data/checkpoints/"
	@echo "make bench        training, generation, notebook and widget benchmarks -> benchmarks/"
	@echo "make browser-deps install Chromium for the browser tests (Debian/Ubuntu, as root)"
	@echo "make clean        remove .venv and generated files"

setup: $(STAMP)

# torch first, on its own and CPU-only, so no other package can pull a CUDA build in.
# A local wheel that pip already knows (find-links) is used when there is one.
$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed: install python3.11 and run make again."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-index --no-deps "torch==$(TORCH_VERSION)" 2>/dev/null \
	  || $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)" --index-url $(TORCH_CPU_INDEX) --extra-index-url https://pypi.org/simple
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -c "import torch, sys; sys.exit('A CUDA build of torch was installed; run make clean, then make setup.' if torch.version.cuda else 0)"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Week 7 (transformers)" >/dev/null
	touch $(STAMP)

$(LAB_SETTINGS): scripts/lab_settings.py
	$(PY) scripts/lab_settings.py $(LAB_SETTINGS)

lab: setup $(LAB_SETTINGS)
	@echo "Opening JupyterLab on $(NOTEBOOKS). If no browser opens, copy the http://127.0.0.1 URL printed below."
	JUPYTERLAB_SETTINGS_DIR=$(LAB_SETTINGS) JUPYTERLAB_WORKSPACES_DIR=$(LAB_WORKSPACES) \
	  $(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ALLOW_ROOT) \
	  --ServerApp.root_dir=$(CURDIR)/notebooks --LabApp.default_url=/lab/tree/week07_generative_transformers/00_welcome.ipynb

# Everything: lint and format check, unit tests, the jupytext pairing check, nbval (strict) on every notebook,
# the browser suite.
test: setup lint
	$(PY) -m pytest tests $(NOTEBOOKS) --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  --nbval-cell-timeout=120 -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit-test: setup
	$(PY) -m pytest tests -m "not browser" -p no:cacheprovider

notebook-test: setup
	$(PY) -m pytest -p tests.conftest $(NOTEBOOKS) --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

browser-test: setup
	$(PY) -m pytest tests/browser -p no:cacheprovider

notebooks: setup sync
	$(PY) scripts/execute_notebooks.py $(NOTEBOOKS)

sync: setup
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS)/*.ipynb

data: setup
	$(PY) scripts/make_data.py

checkpoints: setup
	$(PY) scripts/make_checkpoints.py

bench: setup
	$(PY) -m benchmarks.run

browser-deps:
	apt-get update && apt-get install -y chromium chromium-driver

clean:
	rm -rf $(VENV) .jupyter artifacts .pytest_cache course_lib.egg-info
