# The two commands of the README:
#   make mini       set up .venv, then the main job on the synthesised mini corpus (quick budget):
#                   every paper's pipeline as resumable stages, ending in results/mini/REPORT.md
#   make test       set up .venv, run the test suite (what .ci/run calls)
# And: make reproduce (the main job's reproduce budget: longer schedules, 3 seeds), make ctc (the
# single from-scratch CTC recipe of earlier versions of `make mini`).
# All create or reuse the virtual environment .venv in this folder, with the package and all
# its extras (dev) installed at the exact versions of constraints.txt.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= data/mini
SIZE   ?= small
SEED   ?= 1234
# Extra main_job.py arguments, e.g. make mini ARGS="--only probes report"
ARGS   ?=
OUT    ?= results/mini

.PHONY: setup mini reproduce ctc test test-all clean-venv

setup: $(STAMP)

$(STAMP): setup.py constraints.txt tools/fix_torchaudio.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	$(PY) tools/fix_torchaudio.py
	@touch $(STAMP)

mini: $(STAMP)
	$(PY) tools/main_job.py --output $(OUT) --data $(DATA) --budget quick $(ARGS)

reproduce: $(STAMP)
	$(PY) tools/main_job.py --output results/reproduce --data $(DATA) --budget reproduce $(ARGS)

ctc: $(STAMP)
	$(PY) tools/synthesize_corpus.py --output $(DATA) --size $(SIZE) --seed $(SEED)
	$(PY) recipes/LibriSpeech/finetune/train.py recipes/LibriSpeech/finetune/hparams/scratch_mini.yaml \
		--data_folder $(DATA)/LibriSpeech --output_folder results/mini_ctc

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

# Includes the tests marked `slow` (kept out of CI).
test-all: $(STAMP)
	$(PY) -m pytest -m "slow or not slow"

clean-venv:
	rm -rf $(VENV)
