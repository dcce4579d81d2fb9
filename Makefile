# Two commands for users: `make demo` and `make test`. Everything else is set-up they call.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO   ?= sample_data/ivc_linear_leak

.PHONY: demo test lint venv clean

$(PY):
	@test -n "$(PYTHON)" || { echo "cementseg needs Python 3.11 or newer on PATH"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[test]"
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

demo: venv
	$(VENV)/bin/cementseg scan $(DEMO) --fail-on never

test: venv
	bash tests/system_setup.sh
	$(VENV)/bin/ruff check cementseg cli tests benchmarks
	$(VENV)/bin/pytest -n 2 -q

lint: venv
	$(VENV)/bin/ruff check cementseg cli tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
