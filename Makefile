# The two commands of the README: `make demo` and `make test`. Everything they need is installed
# here, so a fresh machine needs nothing by hand.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SHOP_DIR ?= .peakdrill/demo-shop
PYTEST_ARGS ?=

.PHONY: demo test venv system-deps clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages: Chromium renders the HTML report in the browser test; PostgreSQL (server and
# pgbench) backs `shop up --db postgres` and the generic drivers' tests; iptables sets the
# network partition inside a namespace (experiments/generic/); iproute2 creates the namespaces;
# Prometheus scrapes a running drill in tests/test_live.py (its own binary and config, never the service).
system-deps:
	@missing=""; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql postgresql-contrib"; \
	  command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing="$$missing iptables"; \
	  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing="$$missing iproute2"; \
	  command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	  [ -z "$$missing" ] || { \
	    if [ "$$(id -u)" != 0 ]; then echo "make: missing Debian packages:$$missing; run 'sudo apt-get install$$missing'" >&2; exit 2; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

# Reference shop up, the demo drill (about 2 minutes), its report, shop down (also on failure or Ctrl-C).
demo: $(STAMP)
	@$(BIN)/peakdrill shop up --shop-dir $(SHOP_DIR) --port 0
	@# A trapped (not ignored) SIGINT lets Ctrl-C stop the drill in order and still reach `shop down`.
	@trap 'echo "make demo: interrupted; stopping the shop"' INT; status=0; \
	  PEAKDRILL_SHOP_DIR=$(SHOP_DIR) $(BIN)/peakdrill drill drills/demo.yaml || status=$$?; \
	  $(BIN)/peakdrill shop down --shop-dir $(SHOP_DIR); exit $$status

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .peakdrill .pytest_cache
