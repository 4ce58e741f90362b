# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
DEMO_NUMBER ?= +12025550143

.PHONY: install migrate test lint demo serve admin-user bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

lint: install
	$(VENV)/bin/ruff check .

# The suite on SQLite, then the API tests again on PostgreSQL (skipped when it is not
# reachable, unless REQUIRE_SERVICES=1 makes that a failure).
test: lint
	$(PY) -m pytest
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest -m db_matrix -q

# A whole simulated funnel call on the embedded defaults: local Whisper and Piper, the
# offline writer, SQLite, the simulated phone line. No accounts, no network.
demo: migrate
	@start=$$(date +%s); \
	$(PY) manage.py place_call $(DEMO_NUMBER) --simulate --persona interested --wav data/demo-call.wav && \
	echo "Demo finished in $$(( $$(date +%s) - start )) s." && \
	echo "Listen to it: data/demo-call.wav (caller left, agent right)." && \
	echo "Browse it: 'make admin-user' once, then 'make serve' and open http://127.0.0.1:8000/admin/"

serve: migrate
	$(VENV)/bin/daphne -b 127.0.0.1 -p 8000 voiceagent.asgi:application

admin-user: migrate
	$(PY) manage.py createsuperuser

bench: migrate
	$(PY) bench/providers.py
	$(PY) bench/latency.py
	$(PY) bench/concurrency.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
