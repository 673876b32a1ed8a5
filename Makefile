# The two commands of the README:
#   make mini   set up .venv, synthesise the mini corpus, run the main job on it
#   make test   set up .venv, run the test suite (what .ci/run calls)
# Both create or reuse the virtual environment .venv in this folder, with the package and all
# its extras (dev) installed at the exact versions of constraints.txt.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= data/mini
SIZE   ?= small
SEED   ?= 1234
# Extra recipe overrides, e.g. make mini ARGS="--number_of_epochs=2"
ARGS   ?=
OUT    ?= results/mini/scratch_ctc

.PHONY: setup mini test test-all clean-venv

setup: $(STAMP)

$(STAMP): setup.py constraints.txt tools/fix_torchaudio.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	$(PY) tools/fix_torchaudio.py
	@touch $(STAMP)

mini: $(STAMP)
	$(PY) tools/synthesize_corpus.py --output $(DATA) --size $(SIZE) --seed $(SEED)
	$(PY) recipes/LibriSpeech/finetune/train.py recipes/LibriSpeech/finetune/hparams/scratch_mini.yaml \
		--data_folder $(DATA)/LibriSpeech --output_folder $(OUT) $(ARGS)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

# Includes the tests marked `slow` (kept out of CI).
test-all: $(STAMP)
	$(PY) -m pytest -m "slow or not slow"

clean-venv:
	rm -rf $(VENV)
