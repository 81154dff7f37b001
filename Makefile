# Two commands for a newcomer: `make run` serves the bundled models, `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
UI_PORT ?= 8501
# The UI reaches the API on loopback when the API listens on every address.
API_URL ?= http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck pytest clean chromium video-libs deploy-tools test-megadetector test-ray

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[ui,inspect]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# The tests run MegaDetector's own results validator; its package pins PyTorch and YOLOv5,
	@# which the validator never imports, so it comes without them (its light imports are in dev).
	$(BIN)/python -m pip install -q --no-deps 'megadetector>=10.0.21'
	touch $@ $(VENV)/.installed-run

# The API in the background, the UI in the foreground; leaving the UI (Ctrl-C) stops both.
run: $(VENV)/.installed-run
	@echo "Fovea API: http://$(HOST):$(PORT)/docs"
	@echo "Fovea UI:  http://$(HOST):$(UI_PORT)"
	@$(BIN)/fovea serve --host $(HOST) --port $(PORT) & api=$$!; \
	trap 'kill $$api 2>/dev/null; wait $$api 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	FOVEA_API_URL=$(API_URL) $(BIN)/fovea ui --host $(HOST) --port $(UI_PORT)

test: chromium video-libs deploy-tools lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/ruff format --check src tests tools benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Line coverage of src/fovea, servers started by the tests included; fails under the floor in
# pyproject.toml ([tool.coverage.report]).
pytest: $(VENV)/.installed-dev chromium video-libs deploy-tools
	$(BIN)/pytest --cov

# Every MegaDetector equality test (all fixture photos, a v6 architecture, the letterbox
# measurement); `make test` runs a bounded form. Needs the tools venv (built on first use).
test-megadetector: $(VENV)/.installed-dev
	FOVEA_MEGADETECTOR_TESTS=full $(BIN)/pytest -m megadetector -s tests/megadetector

# Every test on the two-node Ray cluster (127.0.0.1); `make test` runs a bounded set (~3 min).
test-ray: $(VENV)/.installed-dev
	FOVEA_RAY_TESTS=full $(BIN)/pytest tests/ray_engine

# Debian's chromium for the UI's browser test (Playwright's own downloads need the internet).
chromium:
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
	{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium; }

# OpenCV's wheel (pulled in by the tracker, `trackers`) loads libGL and GLib, which slim
# Debian images lack.
video-libs:
	@ldconfig -p | grep -q 'libGL.so.1 ' && ldconfig -p | grep -q 'libgthread-2.0.so.0 ' || \
	! command -v apt-get >/dev/null 2>&1 || \
	{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends libgl1 libglib2.0-0; }

# Debian's podman (with runc), debootstrap and prometheus (with promtool) for tests/deploy: it
# builds and runs the images in deploy/ and runs Prometheus against Fovea (README, "Deploying").
DEPLOY_TOOLS := podman runc debootstrap prometheus promtool
deploy-tools:
	@(for tool in $(DEPLOY_TOOLS); do PATH="$$PATH:/usr/sbin:/sbin" command -v $$tool >/dev/null || exit 1; done) || \
	! command -v apt-get >/dev/null 2>&1 || \
	{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends \
		podman runc debootstrap prometheus; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
