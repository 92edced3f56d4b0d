# The two commands a newcomer runs: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Two test processes, one test file each at a time (module fixtures such as the demo run stay shared).
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: setup demo check test test-slow browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## setup: create .venv and install the project with its test tools
setup: $(STAMP)

## browser: Debian's headless Chromium + ChromeDriver for the HTML report tests
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "note: run as root (or install chromium chromium-driver) to enable the browser tests"; fi; \
	fi

## demo: set up, then run the whole product offline on generated photos (SQLite, a local folder)
demo: setup
	$(BIN)/monitor demo --out demo-output

## check: the guard rails: ruff lint, ruff format check, the import-layering contracts (all in pyproject.toml)
check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## test: set up, run the guard rails, then the suite (PostgreSQL, Redis, RabbitMQ cases run when their ports answer)
test: setup browser check
	@$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "error: pytest collected no tests"; fi; exit $$status

## test-slow: the real-data checks that read ../shared (skipped by default)
test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo-output .pytest_cache
