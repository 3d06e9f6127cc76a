SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
FLASK := $(VENV)/bin/flask --app bianzhi
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300

.PHONY: venv install sysdeps browser assets run test test-pg bench clean distclean

venv install: $(STAMP)

# Reinstalls whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

# Debian packages: CJK fonts and Pango for PDFs (weasyprint), Chromium for browser tests.
# A failed install only warns: `make run` works without them (PDFs lack CJK glyphs).
sysdeps:
	@missing=(); \
	fc-list :lang=zh 2>/dev/null | grep . >/dev/null || dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk); \
	ldconfig -p | grep libpangoft2-1.0.so.0 >/dev/null || missing+=(libpango-1.0-0 libpangoft2-1.0-0); \
	test -x /usr/bin/chromium || missing+=(chromium); \
	if (( $${#missing[@]} )); then \
	  echo "sysdeps: installing $${missing[*]}"; \
	  if [[ $$(id -u) -ne 0 ]] || ! { $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends "$${missing[@]}"; }; then \
	    echo "sysdeps: WARNING: could not install them; as root run: apt-get install $${missing[*]}" >&2; \
	  fi; \
	fi

# Browser assets (bpmn-js, form-js) from the npm registry, pinned by package-lock.json and served
# by the app from node_modules (web/vendor.py). Reinstalled when the lock file is newer than the
# installed tree. No package here needs an install script, so none runs.
NODE_STAMP := node_modules/.package-lock.json

assets: $(NODE_STAMP)

$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null || { echo "ERROR: npm is missing; as root run: apt-get install nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# init-db and demo are idempotent, so every `make run` may call them. The worker (reminders,
# escalations, timer events, e-mail) runs in the background beside the web server and is
# stopped (SIGTERM) when the server stops, however `make run` ends.
run: $(STAMP) sysdeps assets
	$(FLASK) init-db
	$(FLASK) demo --password demo2026
	@echo
	@echo "Bianzhi: http://127.0.0.1:5000/"
	@echo "Demo users (password: demo2026):"
	@echo "  柯桥区委编办  clerk1 clerk2 clerk3  reviewer1 reviewer2  leader1  owner1  admin  auditor1"
	@echo "  联审部门      zzb1 (组织部)  rsj1 (人社局)  czj1 (财政局)"
	@echo "  绍兴市委编办  city_reviewer1  city_leader1  city_admin1"
	@echo "  越城区委编办  clerk_b1  reviewer_b1  leader_b1"
	@echo
	$(FLASK) worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null || true' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port 5000

# The browser tests need Debian's Chromium; without it the suite fails here, clearly.
browser: sysdeps
	@test -x /usr/bin/chromium || { echo "ERROR: /usr/bin/chromium is missing; as root run: apt-get install chromium" >&2; exit 1; }

test: $(STAMP) browser assets
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

test-pg: $(STAMP) browser assets
	DATABASE_URL='$(PG_URL)' $(VENV)/bin/pytest -q $(PYTEST_ARGS)

# Benchmarks (not timed tests): each prints its figures and the target it meets or misses; the
# PostgreSQL ones use scratch databases of their own on BENCH_PG's server (bench_completion,
# bench_inbox, bench_tp: dropped and rebuilt; bench_scale_1/_10/_100: generated once, reused).
# The province (100x) takes ~10 min to generate; BENCH_SCALES="1 10" leaves it out.
BENCH_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432
BENCH_SCALES ?= 1 10 100
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(VENV)/bin/pip install -q -e '.[test,bench]'
	touch $@

bench: $(STAMP) $(BENCH_STAMP)
	$(VENV)/bin/python bench/task_completion.py
	$(VENV)/bin/python bench/task_completion.py --pg $(BENCH_PG)/bench_completion
	$(VENV)/bin/python bench/sql_trips.py
	$(VENV)/bin/python bench/inbox.py --pg $(BENCH_PG)/bench_inbox
	$(VENV)/bin/python bench/throughput.py --pg $(BENCH_PG)/bench_tp --step review
	$(VENV)/bin/python bench/throughput.py --pg $(BENCH_PG)/bench_tp --step leader
	$(VENV)/bin/python bench/scale.py --pg $(BENCH_PG)/postgres --scales $(BENCH_SCALES)

clean:
	rm -rf build tests/artifacts .pytest_cache
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)
