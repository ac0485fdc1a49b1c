# Pitwall — `make run` starts the whole stack with simulated cars; `make test` runs the suite.
# Both set up everything they need on a fresh Debian bookworm / Raspberry Pi OS machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat services/pyproject.toml | md5sum | cut -c1-8)
DATA := $(CURDIR)/var
export PITWALL_DATA_DIR ?= $(DATA)

.DEFAULT_GOAL := help
.PHONY: help setup run run-endurance test test-fast test-cluster test-feed-slow cluster bench lint settings-doc clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): services/pyproject.toml services/scripts/install-system-deps.sh
	services/scripts/install-system-deps.sh
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e 'services[test]'
	rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP) ## create .venv and install system and Python packages

run: setup ## start the whole stack with simulated cars (Ctrl-C stops it)
	$(BIN)/pitwall up

run-endurance: setup ## start the stack with a simulated endurance race (teams, pit stops)
	$(BIN)/pitwall up --endurance

test: setup ## run the full test suite (real Mosquitto, SQLite, MockFactory)
	$(BIN)/pytest

test-fast: setup ## the pure core's tests only (seconds)
	$(BIN)/pytest tests/core

# The cluster (docs/scale-out.md) needs PostgreSQL, HAProxy and the PostgreSQL driver,
# which a single box does not: installed here, not by make setup.
CLUSTER_DEPS := services/scripts/install-system-deps.sh postgresql haproxy && \
	$(BIN)/pip install -q -e 'services[test,postgres]'

test-cluster: setup ## the multi-track cluster on real engines (about 2 minutes)
	$(CLUSTER_DEPS)
	$(BIN)/pytest -m cluster tests/cluster -s

test-feed-slow: setup ## a 3-hour Apex feed session replayed at 100x (about 2 minutes)
	PITWALL_SLOW=1 $(BIN)/pytest tests/feed -k 100x

cluster: setup ## development: two tracks, central broker, PostgreSQL, 3 API replicas each, HAProxy
	$(CLUSTER_DEPS)
	$(BIN)/pitwall cluster up

bench: setup ## benchmarks: print figures, save JSON under bench-results/
	services/scripts/install-system-deps.sh wrk  # the HTTP load generator
	$(CLUSTER_DEPS)  # the cluster's fan-out benchmark
	$(BIN)/python tests/bench/run_all.py

lint: setup ## ruff over the services and tests
	$(BIN)/ruff check services tests

settings-doc: setup ## regenerate the settings table in docs/settings.md
	{ sed '/^<!-- table -->/q' docs/settings.md; $(BIN)/pitwall settings --markdown; } > docs/settings.md.new
	mv docs/settings.md.new docs/settings.md

clean: ## remove the virtual environment and development data
	rm -rf $(VENV) $(DATA) bench-results tests/artifacts

# --- The appliance: Ansible playbook, SD-card image, QEMU boot (docs/appliance.md) ---
.PHONY: appliance-test image boot-test image-test
ANSIBLE_PINS := ansible==12.3.0 ansible-lint==26.10.1

$(BIN)/ansible-playbook: | setup
	$(BIN)/pip install -q $(ANSIBLE_PINS)

appliance-test: setup $(BIN)/ansible-playbook ## the playbook converges on a Debian root (root; also in make test)
	$(BIN)/pytest tests/appliance

image: setup $(BIN)/ansible-playbook ## build the arm64 SD-card image (root; BASE=raspios-lite.img.xz customises Pi OS; KIOSK=1 adds the HDMI TV board)
	image/install-image-deps.sh
	BASE="$(BASE)" KIOSK="$(KIOSK)" image/build-image.sh

boot-test: ## boot the newest built image in QEMU (IMAGE=...): with Wi-Fi, and read-only without
	image/install-image-deps.sh
	image/boot-test.sh $(IMAGE)

image-test: ## build the image, then boot-test it (root; slow: about 30 minutes)
	@start=$$(date +%s); $(MAKE) --no-print-directory image && \
	  $(MAKE) --no-print-directory boot-test IMAGE=$$(ls -t build/image/*.img.xz | head -1) && \
	  echo "image-test: passed in $$(( ($$(date +%s) - start) / 60 )) min"
