# MDReader: `make run` to start it, `make test` to test it. Nothing else to install by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# `make run` needs only the runtime dependencies (the dev install above includes them).
RUNTIME_STAMP := $(VENV)/.runtime-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

# PostgreSQL and Redis for the second test pass (the machine's services).
TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/14
# Each pass runs its tests in TEST_WORKERS pytest-xdist processes. In the PostgreSQL pass
# worker K uses Redis database N+K of TEST_REDIS_URL's N (so N .. N+TEST_WORKERS-1); the
# SQLite pass's Redis contract suites use database N too, under keys of their own.
TEST_WORKERS      ?= 2
# A worker is handed tests in the suite's order, so it runs a module's tests one after the
# other: a module-scoped fixture (the e2e web server) is built at most once per worker.
# How many of the web tests and the two database passes run at once (1: one after another).
TEST_JOBS         ?= 3
PYTEST_PARALLEL   := $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist load)

.PHONY: run test test-sqlite test-postgresql test-web web-deps web-built chromium bench lint install install-runtime web migrate clean collab-clients oidc-provider checkov lock lambda

install: $(STAMP)

install-runtime: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ -f $(STAMP) ]; then echo "runtime dependencies: already installed"; else \
	  $(BIN)/python -m pip install --quiet --upgrade pip && \
	  $(BIN)/python -m pip install --quiet -e . ; fi
	rm -f $(VENV)/.runtime-* && touch $@

# The development install goes through uv (a dev dependency itself, for `make lock`), which
# installs the hundred-odd packages in parallel from its cache: several times quicker than pip.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]' pip --upgrade-package pip
	rm -f $(VENV)/.installed-* && touch $@

# The web app is built when web/ exists; the server shows a notice without it. `web` always
# builds; `web-built` only when a source is newer than the last build.
web: web-deps
	@if [ -f web/package.json ]; then (cd web && npm run build); fi

WEB_SOURCES := $(wildcard web/package.json web/package-lock.json web/index.html web/vite.config.ts web/tsconfig*.json) \
	$(shell find web/src web/public -type f 2>/dev/null)
ifneq ($(wildcard web/package.json),)
web-built: web/dist/index.html
web/dist/index.html: $(WEB_SOURCES)
	$(MAKE) --no-print-directory web-deps
	cd web && npm run build
else
web-built:
endif

web-deps:
	@if [ -f web/package.json ]; then \
	  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
	    (cd web && npm ci --prefer-offline --no-audit --no-fund); fi; \
	fi

# The web app's end-to-end tests drive Debian's Chromium (no browser download): install it
# only when it is missing.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing Debian's chromium for the web app's end-to-end tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Unit tests of the web app's client logic (Vitest).
test-web: web-deps
	@if [ -f web/package.json ]; then (cd web && npx vitest run); fi

# The real Yjs clients (Hocuspocus provider, y-websocket) the collaboration tests drive.
COLLAB_NODE := tests/collab/node
collab-clients:
	@if [ ! -f $(COLLAB_NODE)/node_modules/.package-lock.json ] || \
	   [ $(COLLAB_NODE)/package-lock.json -nt $(COLLAB_NODE)/node_modules/.package-lock.json ]; then \
	  (cd $(COLLAB_NODE) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error); fi

# The real OpenID Connect provider (oidc-provider) the single sign-on tests run.
OIDC_NODE := tests/oidc/node
oidc-provider:
	@if [ ! -f $(OIDC_NODE)/node_modules/.package-lock.json ] || \
	   [ $(OIDC_NODE)/package-lock.json -nt $(OIDC_NODE)/node_modules/.package-lock.json ]; then \
	  (cd $(OIDC_NODE) && npm ci --no-audit --no-fund --loglevel=error); fi

# checkov (the infrastructure tests run it) in a virtualenv of its own: its pins would
# otherwise decide the app's dependencies.
CHECKOV_VERSION ?= 3.3.30
CHECKOV := $(VENV)/checkov/bin/checkov
checkov: $(CHECKOV)
$(CHECKOV): | $(STAMP)
	$(PYTHON) -m venv $(VENV)/checkov
	$(BIN)/uv pip install --quiet --python $(VENV)/checkov/bin/python 'checkov==$(CHECKOV_VERSION)'

# The runtime dependencies, pinned with hashes for the image and the Lambda package
# (Python 3.12 on Linux, like both). Run after changing [project.dependencies] or [aws].
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra aws --python-version 3.12 \
	  --python-platform x86_64-manylinux2014 --generate-hashes --no-header --quiet \
	  -o requirements/runtime.lock

# The Lambda package (build/mdreader-lambda.zip), sized; the build fails at LAMBDA_MAX_MB unzipped
# or when the package does not answer. LAMBDA_PYTHON: a Python 3.12 to compile its bytecode and
# try it with (default: python3.12 on the PATH, e.g. ~/.pyenv/versions/3.12.1/bin/python3.12).
LAMBDA_MAX_MB ?= 100
LAMBDA_PYTHON ?=
lambda: install
	$(BIN)/python infrastructure/scripts/build_lambda.py --max-mb $(LAMBDA_MAX_MB) \
	  $(if $(LAMBDA_PYTHON),--target-python $(LAMBDA_PYTHON))

migrate: install-runtime
	$(BIN)/mdreader migrate

run: install-runtime web-built
	$(BIN)/mdreader serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench support migrations
	$(BIN)/ruff format --check src tests bench support migrations || true
	$(BIN)/mypy src/mdreader
	$(BIN)/lint-imports

test-sqlite: install collab-clients oidc-provider checkov
	MDREADER_TEST_DATABASE=sqlite MDREADER_TEST_BACKEND_REDIS_URL=$(TEST_REDIS_URL) \
	$(BIN)/pytest -q $(PYTEST_PARALLEL)

test-postgresql: install collab-clients oidc-provider checkov
	MDREADER_TEST_DATABASE=postgresql MDREADER_TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) \
	MDREADER_TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -q $(PYTEST_PARALLEL)

# The whole suite on SQLite (in-process cache) and on PostgreSQL with Redis, side by side
# (their databases and Redis databases are apart), beside the web app's unit tests. What
# they need is installed first, also side by side; each job's output is printed whole when
# it ends (--output-sync), and every job runs to its end (-k) so one failure hides no other.
TEST_SETUP := install web-built chromium collab-clients oidc-provider checkov
test:
	$(MAKE) --no-print-directory -j4 --output-sync=target $(TEST_SETUP)
	$(BIN)/ruff check src tests bench support migrations
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory -j$(TEST_JOBS) -k --output-sync=target test-web test-sqlite test-postgresql

bench: install web-built chromium
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.api --postgres $(TEST_POSTGRES_URL)
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.search --postgres $(TEST_POSTGRES_URL)
	$(BIN)/python -m bench.lambda_cold
	$(BIN)/python -m bench.collab
	$(BIN)/python -m bench.web

clean:
	rm -rf $(VENV) web/node_modules web/dist .pytest_cache
