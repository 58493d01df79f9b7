# Omniroute. `make help` lists the targets. Everything runs from .venv/bin; nothing needs activating.
#
#   make run     the product: private Redis (.omniroute/redis, port 6390) + omniroute serve with routing.yaml
#   make demo    scripted agents and customers through the running `make run` (another terminal)
#   make test    installs what the tests need (venv, redis-server, redis-tools), then pytest and ruff
#
# Variables: PYTEST_ARGS (extra pytest arguments, e.g. make test PYTEST_ARGS='-k cluster -x'),
#            ARGS (extra `omniroute serve` arguments for make run).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PYTHON := $(VENV)/bin/python
RUFF   := $(VENV)/bin/ruff
PYTEST_FLAGS := -q --durations=10
PYTEST_ARGS ?=
ARGS ?=

.PHONY: help run demo test lint bench bootstrap redis-start redis-stop redis-status clean clean-data

help: ## this list
	@echo "Omniroute make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

run: ## the product: private Redis + omniroute serve --config routing.yaml (REDIS_URL=... to use your own)
	scripts/run.sh $(ARGS)

demo: ## scripted agents and customers through the running `make run` (ARGS='--rate 10 --pace 0.5' ...)
	scripts/bootstrap.sh
	$(VENV)/bin/omniroute demo --config "$${OMNIROUTE_CONFIG:-routing.yaml}" $(ARGS)

test: ## venv + redis-server + redis-tools, then pytest (real Redis) and ruff; fails if no test ran
	scripts/bootstrap.sh redis-server redis-cli sipp kamailio promtool chromium espeak-ng sox
	@status=0; \
	$(PYTHON) -m pytest $(PYTEST_FLAGS) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests: that is a failure" >&2; fi; \
	echo "ruff check ."; \
	$(RUFF) check . || { [ $$status -ne 0 ] || status=1; }; \
	exit $$status

lint: ## ruff check .
	scripts/bootstrap.sh
	$(RUFF) check .

bench: ## list the benchmarks (run by hand; they are not tests)
	@echo "Benchmarks are run by hand, one at a time (make bootstrap first):"
	@for f in benchmarks/*.py; do \
	  [ -e "$$f" ] || continue; \
	  echo "  $(PYTHON) $$f"; \
	  echo "      $$(sed -n 's/^"""\(.*\)/\1/p;T;q' "$$f")"; \
	done
	@echo "Each has --help; its docstring says what it measures and which Redis it uses."

bootstrap: ## create/refresh .venv (pip install -e '.[test,compile]' when pyproject.toml changed), compile the core
	scripts/bootstrap.sh

redis-start: ## start the private Redis of make run (data in .omniroute/redis)
	scripts/redis.sh start
redis-stop: ## stop it (SHUTDOWN SAVE: the data stays)
	scripts/redis.sh stop
redis-status: ## is it running?
	scripts/redis.sh status

clean: ## remove .venv and caches; keeps the Redis data in .omniroute/redis
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info build dist benchmarks/results *__mypyc.*.so
	find router skills simulations -name '*.so' -delete
	find . -name __pycache__ -type d -not -path './.git/*' -prune -exec rm -rf {} +
	rm -f .omniroute/bootstrap.lock

clean-data: ## stop the private Redis and DELETE its data (.omniroute/)
	-scripts/redis.sh stop
	rm -rf .omniroute
