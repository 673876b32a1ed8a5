"""Common Voice CTC recipe: runs one epoch on two languages, exports a model transcribe reads;
the WER / CER it reports agree with jiwer's."""

import json
import subprocess
import sys
from pathlib import Path

import jiwer
import pytest
from speechbrain.utils.metric_stats import ErrorRateStats

from efficient_ssl.data.tokens import SentencePieceTokenizer, manifest_texts
from efficient_ssl.transcribe import transcribe

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "CommonVoice" / "finetune"
TINY_MODEL = ["--num_layers=1", "--d_model=32", "--frontend_channels=32", "--d_ffn=64", "--nhead=2"]


def test_recipe_runs_one_epoch_on_two_languages_and_exports_a_model(tiny_corpus, tmp_path):
    out = tmp_path / "exp"
    cmd = [
        sys.executable,
        str(RECIPE / "train.py"),
        str(RECIPE / "hparams" / "multilingual_mini.yaml"),
        f"--data_folder={tiny_corpus / 'CommonVoice'}",
        f"--output_folder={out}",
        "--number_of_epochs=1",
        "--bpe_vocab_size=40",
        *TINY_MODEL,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"cy_test", "eu_test"}  # each language scored apart
    for stats in results.values():
        assert 0 <= stats["CER"] and stats["WER"] >= 0 and stats["macs_per_audio_s"] > 0
    # One BPE model over both languages' training text (no <unk>), exported beside the model.
    tokenizer = SentencePieceTokenizer.load(out / "model" / "tokenizer.model")
    unk = tokenizer.sp.unk_id() + 1
    for lang in ("cy", "eu"):
        for text in manifest_texts(out / "save" / lang / "train.csv"):
            assert unk not in tokenizer.encode(text)
    assert (out / "model" / "ctc_model.ckpt").is_file()
    # The export is what transcribe reads (sentencepiece tokenizer found beside the model).
    clips = sorted((tiny_corpus / "CommonVoice" / "eu" / "clips").glob("*.mp3"))[:2]
    texts = transcribe(clips, out / "model", progress=False)
    assert all(isinstance(t.text, str) and t.error is None for t in texts)


@pytest.mark.parametrize(
    "refs, hyps",
    [
        (["the cat sat on the mat", "hello world"], ["the cat sit on mat", "hello big world"]),
        (["a b c d", "one two three"], ["", "one two three"]),
        (["BORE DA SUT WYT TI"], ["BORE DDA SUT WYT TI YN"]),
    ],
)
def test_error_rates_agree_with_jiwer(refs, hyps):
    # As CTCBrain fills its trackers: lists of words, characters with split_tokens=True.
    wer, cer = ErrorRateStats(), ErrorRateStats(split_tokens=True)
    ids = [str(n) for n in range(len(refs))]
    for metric in (wer, cer):
        metric.append(ids, [h.split() for h in hyps], [r.split() for r in refs])
    assert wer.summarize("error_rate") == pytest.approx(100 * jiwer.wer(refs, hyps))
    assert cer.summarize("error_rate") == pytest.approx(100 * jiwer.cer(refs, hyps))
