# The two README commands: `make repro` (the benchmark) and `make test` (the test suite).
# Both create .venv if missing, install pinned torch/torchvision, and are safe to re-run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FMNIST := /usr/share/datasets/fashion-mnist
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install data repro test test-fast benchmark clean-runs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Fashion-MNIST from Debian's dataset-fashion-mnist when apt is usable as root; otherwise the
# prepare stage looks in data.fashion_mnist.root, then downloads with torchvision when online.
data:
	@if [ ! -d $(FMNIST) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) \
		|| echo "note: apt could not install dataset-fashion-mnist; see README (Data)"; \
	fi

# `dvc repro` runs one stage at a time; ganbench.repro runs the same stages one per core.
repro: install data
	python -m ganbench.repro

test: install data
	ruff check ganbench stages tests benchmarks
	ruff format --check ganbench stages tests benchmarks
	python -m pytest

test-fast: install
	python -m pytest -m "not slow"

benchmark: install
	python benchmarks/train_throughput.py
	python benchmarks/fid_speed.py --torch-fidelity
	python benchmarks/kid_speed.py
	python benchmarks/extract_speed.py
	python benchmarks/eval_memory.py
	python benchmarks/resnet_throughput.py
	python benchmarks/attention_scaling.py
