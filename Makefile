# Two commands set everything up from a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SPEC := openapi/openapi.json
# Redocly CLI: no usage reports and no update checks.
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true
# `make clients` keeps its generators and type checkers apart from the app's pinned packages.
CLIENTS_VENV := .venv-clients
CLIENTS_INSTALLED := $(CLIENTS_VENV)/.installed
# `make bench-load` keeps locust and its dependencies apart from the app's pinned packages.
LOAD_VENV := .venv-load
LOAD_INSTALLED := $(LOAD_VENV)/.installed
export FLASK_APP := wsgi

.PHONY: run demo test test-cluster cluster lint spec lint-spec check-docs clients fuzz bench bench-stack bench-load migrate migration lock vendor-docs clean

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Serve the API on http://127.0.0.1:5000 (docs at /docs) with the SQLite database in instance/.
run: $(INSTALLED)
	APP_ENV=development $(BIN)/flask db upgrade
	APP_ENV=development $(BIN)/flask run --host 127.0.0.1 --port 5000

## Add the demo patient and therapist (a month of journal, linked) to the development database.
demo: $(INSTALLED)
	APP_ENV=development $(BIN)/flask db upgrade
	APP_ENV=development $(BIN)/flask seed-demo

## Run the test suite (TEST_DATABASE_URL=postgresql+psycopg://... to run it on PostgreSQL).
## pytest's exit code 5 (no tests collected) is a failure, never a pass.
test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

## Two app instances behind nginx on PostgreSQL + Redis (tests/cluster/): logout, shared limits,
## a Redis outage of the tests' own Redis, slow clients, forged X-Forwarded-For, proxy errors.
## Needs PostgreSQL at 127.0.0.1 (CLUSTER_TEST_ADMIN_URL), redis-server and nginx (installed if missing).
test-cluster: $(INSTALLED)
	$(BIN)/python -m pytest -o addopts="-ra --strict-markers" tests/cluster $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

## nginx on 127.0.0.1:8080 in front of two instances on PostgreSQL + Redis, until Ctrl-C
## (settings in scripts/cluster.sh).
cluster: $(INSTALLED)
	scripts/cluster.sh

## Lint: ruff's rules and format check, mypy on api/, and the import contract (pyproject.toml).
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Regenerate the committed OpenAPI document from the code.
spec: $(INSTALLED)
	$(BIN)/python -m api.spec $(SPEC)

## Validate the committed spec: openapi-spec-validator, Spectral (spectral:oas + OWASP: no errors)
## and Redocly CLI's recommended rules (no errors and no warnings).
lint-spec: $(INSTALLED) openapi/node_modules/.installed
	$(BIN)/openapi-spec-validator $(SPEC)
	cd openapi && npx --no-install spectral lint openapi.json --ruleset .spectral.yaml --fail-severity error
	cd openapi && npx --no-install redocly lint openapi.json --config redocly.yaml --format=json 2>/dev/null \
	  | ../$(BIN)/python -c 'import json, sys; t = json.load(sys.stdin)["totals"]; print("Redocly recommended:", t); sys.exit(t["errors"] + t["warnings"] > 0)' \
	  || (npx --no-install redocly lint openapi.json --config redocly.yaml; exit 1)

## /docs and /redoc in headless Chromium against a gunicorn server: both render, with no CSP
## violation and no JavaScript error (scripts/check_docs_csp.py). Installs Debian's chromium and
## chromium-driver when they are missing.
check-docs: $(INSTALLED)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver)
	$(BIN)/python scripts/check_docs_csp.py

openapi/node_modules/.installed: openapi/package.json openapi/package-lock.json
	cd openapi && npm ci --no-audit --no-fund --ignore-scripts --loglevel error
	touch $@

## Generate the Python and TypeScript clients from the committed spec into a temporary folder and
## type-check the mobile scenarios in clients/ against them (mypy --strict, tsc --strict).
clients: $(CLIENTS_INSTALLED) clients/typescript/node_modules/.installed
	CLIENTS_VENV=$(CLIENTS_VENV) scripts/clients.sh

$(CLIENTS_INSTALLED): clients/python/requirements.txt
	test -x $(CLIENTS_VENV)/bin/python || $(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/pip install --quiet --disable-pip-version-check -r clients/python/requirements.txt
	touch $@

clients/typescript/node_modules/.installed: clients/typescript/package.json clients/typescript/package-lock.json
	cd clients/typescript && npm ci --no-audit --no-fund --ignore-scripts --loglevel error
	touch $@

## Schemathesis against a live server (fresh SQLite, gunicorn), as a patient and as a linked
## therapist; settings in schemathesis.toml. FUZZ_ARGS are passed to `st run`.
fuzz: $(INSTALLED)
	scripts/fuzz.sh $(FUZZ_ARGS)

## List and sync latency at 1M+ rows against a bare endpoint (PostgreSQL at 127.0.0.1; see bench/README.md).
bench: $(INSTALLED)
	$(BIN)/python bench/bench_lists.py

## Bare, floor (the same work by hand) and API side by side with wrk on SQLite and PostgreSQL
## (bench/README.md). DURATION (10) seconds per row, DATABASES (sqlite,postgresql).
bench-stack: $(INSTALLED)
	bench/stack/run.sh

## The mixed mobile workload through nginx onto two instances, then its 201s against the database
## (bench/README.md). USERS (32), DURATION (60s), BASE_URL and DATABASE_URL of a running deployment.
bench-load: $(INSTALLED) $(LOAD_INSTALLED)
	bench/load/run.sh

$(LOAD_INSTALLED): bench/requirements-load.txt
	test -x $(LOAD_VENV)/bin/python || $(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-load.txt
	touch $@

## Apply migrations to DATABASE_URL (default: the development SQLite file).
migrate: $(INSTALLED)
	APP_ENV=development $(BIN)/flask db upgrade

## Autogenerate a revision after a model change: make migration m="what changed"
migration: $(INSTALLED)
	APP_ENV=development $(BIN)/flask db upgrade
	APP_ENV=development $(BIN)/flask db migrate -m "$(m)"

## Re-pin requirements*.txt (and clients/python/, bench/requirements-load.txt) from their .in files (needs pip-tools).
lock:
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-find-links --no-emit-index-url requirements.in -o requirements.txt
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-find-links --no-emit-index-url requirements-dev.in -o requirements-dev.txt
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-find-links --no-emit-index-url clients/python/requirements.in -o clients/python/requirements.txt
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-find-links --no-emit-index-url bench/requirements-load.in -o bench/requirements-load.txt

## Refresh the vendored Swagger UI and ReDoc assets (versions in api/static/docs/VERSIONS).
vendor-docs:
	scripts/vendor-docs.sh

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) $(LOAD_VENV) openapi/node_modules clients/typescript/node_modules .pytest_cache
