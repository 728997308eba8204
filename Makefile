# The two commands a newcomer types: `make run` and `make test`.
# Each prepares .venv on first use (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check bench bench-scale-out lint fmt clean chromium xmlsec1 softhsm2 oracles
VNPAY_ORACLE := tests/oracles/vnpay

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/lienthong run

# The console's browser tests drive Debian's chromium; install it when we may (root), else say so.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); } || \
	  echo "note: no chromium (apt-get install chromium): the console's browser tests will be skipped"

# Signatures the hub writes are checked by xmlsec1 (Debian's xmlsec1), an implementation we did not write.
xmlsec1:
	@command -v xmlsec1 >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xmlsec1 >/dev/null); } || \
	  echo "note: no xmlsec1 (apt-get install xmlsec1): the xmlsec1 signature checks will be skipped"

# The hub's key in an HSM is tested against SoftHSM2 (Debian's softhsm2), a PKCS#11 token we did not write.
softhsm2:
	@command -v softhsm2-util >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null); } || \
	  echo "note: no softhsm2 (apt-get install softhsm2): the HSM signing tests will be skipped"

# The npm `vnpay` package, the tests' independent oracle for VNPAY's wire format (exact versions from
# the committed package-lock.json; node and npm are needed).
$(VNPAY_ORACLE)/node_modules/.package-lock.json: $(VNPAY_ORACLE)/package-lock.json
	npm ci --prefix $(VNPAY_ORACLE) --no-audit --no-fund --loglevel=error

oracles: $(VNPAY_ORACLE)/node_modules/.package-lock.json

# The checks that keep the code's rules by tool rather than by habit (CONTRIBUTING.md).
# mypy: strict for the SPI, intake, ledger, signing and the adapter kit (pyproject); lint-imports: the architecture's
# contracts ([tool.importlinter] in pyproject).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every check, then every test with branch coverage and its floor.
COVERAGE_FLOOR ?= 85
test: check chromium xmlsec1 softhsm2 oracles
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# Only the scaled-out intake (PostgreSQL + RabbitMQ), one then two API processes, lock waits sampled.
bench-scale-out: $(STAMP)
	$(BIN)/python -m bench --scale-out-only

lint: $(STAMP)
	$(BIN)/ruff check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .hypothesis $(VNPAY_ORACLE)/node_modules
