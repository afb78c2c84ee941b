# ifs-outcomes — every recipe is a one-line call into the CLI or a tool; `make help` lists them.
.DEFAULT_GOAL := help
.PHONY: help install run demo validate refresh report export dashboard bench test wheel-check golden docs lint format clean

PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
RUN := $(UV) run --frozen
CLI := $(RUN) ifs-outcomes
BATCH ?=

help: ## list the targets
	@$(PYTHON) pipeline/make_help.py Makefile

.tools/bin/uv:
	$(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) every process
# would otherwise compile ~4,500 modules from source, ~5 s per command (measured in benchmarks/README.md).
install: $(if $(findstring .tools,$(UV)),.tools/bin/uv) ## install the locked environment into .venv (bootstraps uv if missing)
	$(UV) sync --frozen --compile-bytecode
	$(UV) run --frozen --no-sync python -m compileall -q -j 0 pipeline schemas dashboards benchmarks

run: install ## quick start: install, make a demo batch if data/raw is empty, refresh everything, write the report
	$(CLI) quickstart

demo: install ## write a synthetic batch: make demo OUT=data/raw/demo2 [CLIENTS=3000] [SEED=1]
	$(CLI) demo --out $(OUT) --clients $(or $(CLIENTS),3000) --seed $(or $(SEED),20261)

validate: install ## check a batch without writing: make validate BATCH=path/to/batch
	$(CLI) validate $(BATCH)

refresh: install ## load batches: make refresh BATCH=path/to/batch (default: every folder under data/raw)
	$(CLI) refresh $(if $(BATCH),$(BATCH),--all)

report: install ## write data/reports/<period>/ (report.html, summary.json, summary.md, tables/) [PERIOD=all|2026-Q3]
	$(CLI) report $(if $(PERIOD),--period $(PERIOD))

export: install ## write a de-identified research package: make export OUT=exports/2026-11
	$(CLI) export --out $(or $(OUT),data/exports/research)

dashboard: install ## serve the dashboard on http://127.0.0.1:8501 [PORT=…] [CLINICAL=1 for client-level pages]
	$(CLI) dashboard --port $(or $(PORT),8501) $(if $(CLINICAL),--clinical)

bench: install ## benchmarks against the plain-DuckDB floor: make bench [TIERS="S M"] (L = 100k clients, ~15 min)
	$(CLI) bench $(foreach t,$(or $(TIERS),S M),--tier $(t))

test: install ## run the test suite
	$(RUN) pytest -n auto --dist loadfile

wheel-check: install ## build the wheel, install it alone into a fresh venv, run quickstart, report and every dashboard page
	IFS_OUTCOMES_WHEEL_CHECK=1 IFS_OUTCOMES_UV=$(UV) $(RUN) pytest tests/test_wheel.py

golden: install ## regenerate the golden outputs from data/sample (only on purpose; read the diff)
	$(RUN) python -m tests.golden

docs: install ## regenerate docs/data-dictionary.md from the published-table contracts
	$(CLI) docs

lint: install ## ruff check, ruff format --check, mypy
	$(RUN) ruff check . && $(RUN) ruff format --check . && $(RUN) mypy

format: install ## apply ruff's formatting and safe fixes
	$(RUN) ruff format . && $(RUN) ruff check --fix .

clean: ## remove derived data (warehouse, quarantine, published, reports, logs, the demo batch) and caches
	$(PYTHON) -c "import shutil; [shutil.rmtree(p, ignore_errors=True) for p in ['data/raw/demo','data/warehouse','data/quarantine','data/published','data/reports','data/logs','.pytest_cache','.mypy_cache','.ruff_cache']]"
