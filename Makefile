# chatsite — `make run` serves the app, `make test` runs the whole suite. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-setup test-fast bench lint format emulator superuser browser docker lock clean catalogs messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs are reproducible: every package, direct or not, comes from a lock file with its hashes
# (`make lock` writes them from pyproject.toml); the project itself goes in without dependencies.
# Reinstall only when a lock file or pyproject.toml changes.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: requirements-test.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-test.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(VENV)/.installed $@

# The lock files, resolved by uv (pinned, in a throwaway venv of its own) for Python 3.11 on every
# platform. Versions already locked are kept; only what pyproject.toml changed is re-resolved
# (`make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed). The test lock is
# constrained by the runtime one, so both install the same versions of what they share.
LOCKTOOLS := .locktools
UV_VERSION := 0.13.8
UV_COMPILE = $(LOCKTOOLS)/bin/uv pip compile pyproject.toml --quiet --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock" $(LOCK_ARGS)

$(LOCKTOOLS)/bin/uv:
	$(PYTHON) -m venv $(LOCKTOOLS)
	$(LOCKTOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

lock: $(LOCKTOOLS)/bin/uv
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra test -c requirements.lock -o requirements-test.lock

# The translation catalogs, compiled with polib (no GNU gettext needed): part of every set-up.
catalogs: $(VENV)/.installed
	$(BIN)/python manage.py compile_catalogs -v0

# Extraction: every marked string of the templates and the code into locale/<lang>/django.po
# (new ones untranslated: tests/test_languages.py then fails until they are translated).
# A developer step, not part of `make test`; it needs GNU gettext, installed with apt if missing.
MESSAGE_LANGS := $(shell ls locale 2>/dev/null)
messages: $(VENV)/.installed
	@command -v xgettext >/dev/null 2>&1 || { \
	  echo "Installing GNU gettext for makemessages…"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gettext >/dev/null; }
	$(BIN)/python manage.py makemessages $(addprefix -l ,$(MESSAGE_LANGS)) --no-obsolete \
	  --add-location file --ignore '.venv/*' --ignore 'tests/*' --ignore 'bench/*' --ignore 'var/*'
	$(BIN)/python manage.py compile_catalogs

run: $(VENV)/.installed catalogs
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	@$(BIN)/python manage.py welcome --url http://$(HOST):$(PORT)/
	$(BIN)/daphne -b $(HOST) -p $(PORT) chatsite.asgi:application

# Debian's chromium drives the browser tests (and an emoji font, so screenshots show the
# icons); both are installed with apt when missing.
browser:
	@{ command -v chromium >/dev/null 2>&1 && [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; } || { \
	  echo "Installing Debian's chromium for the browser tests…"; \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	  else echo "No apt-get here: browser tests will be skipped."; fi; }

# Debian's container engine, compose and debootstrap for the image test (tests/test_docker_image.py,
# which starts the engine itself when it is not running), installed with apt when missing.
docker:
	@{ command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 \
	   && command -v docker-compose >/dev/null 2>&1; } || { \
	  echo "Installing Debian's docker.io, docker-compose and debootstrap for the image test…"; \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null; } \
	      || echo "Could not install them: the image test will be skipped."; \
	  else echo "No apt-get here: the image test will be skipped."; fi; }

# Everything `make test` needs before pytest (.ci/run does it once, then runs two suites at once).
test-setup: $(VENV)/.installed-test catalogs browser docker

test: test-setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-test catalogs
	$(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

emulator: $(VENV)/.installed
	$(BIN)/python manage.py emulator --port 8765

superuser: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createsuperuser

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .ruff_cache
