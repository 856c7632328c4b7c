# Two commands on a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the pages' chart library: from the npm registry, pinned by frontend/package-lock.json, served by the app (no CDN)
VENDOR := serving/web/static/vendor
ECHARTS := $(VENDOR)/echarts.min.js

.PHONY: install run test test-slow test-reliability model student prepare-base serve bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the CPU wheel of torch, pinned: an open range would pull gigabytes of CUDA
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ECHARTS): frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is needed to install the pages' chart library — apt-get install npm" >&2; exit 1; }
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp frontend/node_modules/echarts/dist/echarts.min.js $(ECHARTS)
	cp frontend/node_modules/echarts/LICENSE $(VENDOR)/echarts.LICENSE.txt

install: $(STAMP) $(ECHARTS)

prepare-base: install
	$(BIN)/pvoice model prepare-base

# Trains the default model once (linear baseline, then the 12-layer model: about 28 minutes on 2 idle cores) when none
# exists yet. The student is left out of make run: about 15 more minutes, and on 2 cores it fails its gates.
model: install
	$(BIN)/pvoice model ensure

# Distils the default model's 6-layer student (about 15 minutes); it becomes the default only if it passes its gates
student: install
	$(BIN)/pvoice model ensure --student

run: model
	$(BIN)/pvoice serve

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# the reliability suite's quick run (about 90 s): kept out of `make test` to hold it under 10 minutes; CI runs both
test-reliability: install
	$(BIN)/python -m pytest -q -m reliability

clean:
	rm -rf $(VENV) models/cache frontend/node_modules $(ECHARTS) $(VENDOR)/echarts.LICENSE.txt
