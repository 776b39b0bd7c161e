# Privacy Workbench: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO := demo-project

.PHONY: run test install demo lint bench clean package package-deps wheelhouse

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One resolve for the whole stack, with the torch pin (see constraints.txt).
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,dev]"
	touch $(STAMP)

install: $(STAMP)

$(DEMO)/workbench.sqlite: | $(STAMP)
	$(VENV)/bin/workbench demo --project $(DEMO)

demo: $(DEMO)/workbench.sqlite

run: $(STAMP) demo
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ] && [ -z "$$QT_QPA_PLATFORM" ]; then \
	  echo "make run: no display found. Use 'xvfb-run -a $(VENV)/bin/privacy-workbench $(DEMO)' or the CLI: '$(VENV)/bin/workbench --help'."; \
	  exit 2; \
	fi
	$(VENV)/bin/privacy-workbench $(DEMO)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check workbench tests benchmarks
	$(VENV)/bin/mypy workbench/core workbench/services

bench: $(STAMP)
	$(PY) benchmarks/bench_load.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/bench_gui_lag.py

# --- offline installs (packaging/README.md) ----------------------------------------------------------------
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
PACKAGE_STAMP := $(VENV)/.package-installed

# PyInstaller and its contributed hooks: the `package` extra, in the same resolve as the runtime (torch pin).
$(PACKAGE_STAMP): pyproject.toml constraints.txt | $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,dev,package]"
	touch $(PACKAGE_STAMP)

package-deps: $(PACKAGE_STAMP)

# dist/privacy-workbench/ (one-folder app) and dist/privacy-workbench-$(VERSION)-linux-x86_64.tar.gz, signed.
package: $(PACKAGE_STAMP)
	$(PY) packaging/build_info.py build/BUILD_INFO.json
	rm -rf dist/privacy-workbench
	$(VENV)/bin/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
	  packaging/privacy-workbench.spec
	packaging/assemble.sh $(VERSION)

# dist/wheelhouse/: every wheel of the pinned set (torch from the configured local CPU index) + requirements lock.
wheelhouse: $(STAMP)
	packaging/make-wheelhouse.sh $(PY) dist/wheelhouse

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache build dist
