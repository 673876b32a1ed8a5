"""transcribe: every audio format and rate, bad files reported, batching, the console command."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import speechbrain as sb
import torch

from efficient_ssl.data import read_audio
from efficient_ssl.data.tokens import CharTokenizer
from efficient_ssl.models import CTCModel, PretrainedEncoder, load_ctc_model
from efficient_ssl.transcribe import main, transcribe

# (file name, sample rate, pitch in Hz, transcript): one per format, at different rates.
CLIPS = [("a.wav", 16000, 220.0, "HI YOU"), ("b.flac", 22050, 440.0, "NO"), ("c.mp3", 32000, 880.0, "OH YES")]


def _chirp(pitch: float, seconds: float, rate: int, stereo: bool = False) -> np.ndarray:
    """A tone of ``pitch`` whose loudness rises and falls: (samples,) or (samples, 2)."""
    t = np.arange(int(seconds * rate)) / rate
    wav = 0.4 * np.sin(2 * np.pi * pitch * t) * np.sin(np.pi * t / seconds)
    return np.stack([wav, wav], axis=1) if stereo else wav


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, Path]:
    """The three clips (c.mp3 in stereo), a 20 ms clip, a file that is not audio, a FLAC cut in
    half (its header reads, its samples do not) and a missing file."""
    folder = tmp_path_factory.mktemp("audio")
    files = {}
    for k, (name, rate, pitch, _) in enumerate(CLIPS):
        soundfile.write(folder / name, _chirp(pitch, 0.8 + 0.3 * k, rate, stereo=name.endswith(".mp3")), rate)
        files[name] = folder / name
    files["short.wav"] = folder / "short.wav"
    soundfile.write(files["short.wav"], _chirp(300.0, 0.02, 8000), 8000)
    files["bad.wav"] = folder / "bad.wav"
    files["bad.wav"].write_bytes(b"RIFF but not really a wav file" * 10)
    files["cut.flac"] = folder / "cut.flac"
    good = files["b.flac"].read_bytes()
    files["cut.flac"].write_bytes(good[: len(good) // 2])
    files["missing.flac"] = folder / "missing.flac"
    return files


@pytest.fixture(scope="module")
def model_folder(audio, tmp_path_factory) -> Path:
    """A tiny CTC model trained until it transcribes the three clips, exported like a recipe does."""
    torch.manual_seed(0)
    tokenizer = CharTokenizer.from_texts(text for *_, text in CLIPS)
    encoder = PretrainedEncoder(
        "mel_cnn",
        {"num_layers": 1, "d_model": 32, "nhead": 2, "d_ffn": 64, "kernel_size": 7, "dropout": 0.0},
        frontend_kwargs={"channels": 32},
        input_dropout=0.0,
    )
    model = CTCModel(encoder, tokenizer.vocab_size)
    wavs, wav_lens = sb.utils.data_utils.batch_pad_right([read_audio(audio[name]) for name, *_ in CLIPS])
    tokens, token_lens = sb.utils.data_utils.batch_pad_right(
        [torch.tensor(tokenizer.encode(text)) for *_, text in CLIPS]
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(150):
        out = model(wavs, wav_lens)
        out_lens = out.mask.sum(dim=1) / out.mask.shape[1]
        log_probs = out.logits[-1].log_softmax(dim=-1)
        loss = sb.nnet.losses.ctc_loss(log_probs, tokens, out_lens, token_lens, blank_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    folder = model.save(tmp_path_factory.mktemp("exp") / "model")
    tokenizer.save(folder / "tokenizer.json")
    return folder


def test_every_format_is_transcribed_and_bad_files_get_a_one_line_error(audio, model_folder):
    paths = [audio["bad.wav"], *(audio[name] for name, *_ in CLIPS), audio["missing.flac"], audio["cut.flac"]]
    results = transcribe(paths, model_folder, batch_size=2, progress=False)
    assert [r.path for r in results] == [str(p) for p in paths]  # the order given
    assert [r.text for r in results[1:4]] == [text for *_, text in CLIPS]
    assert all(r.error is None for r in results[1:4])
    for bad in (results[0], results[4], results[5]):
        assert bad.text is None and bad.error and "\n" not in bad.error
    assert "no such file" in results[4].error
    # Shorter than the frontend's windows: padded with silence, not an error.
    assert isinstance(transcribe([audio["short.wav"]], model_folder, progress=False)[0].text, str)


def test_batched_output_equals_unbatched_and_beam_agrees(audio, model_folder):
    paths = [audio[name] for name, *_ in CLIPS]
    one = [r.text for r in transcribe(paths, model_folder, batch_size=1, progress=False)]
    batched = [r.text for r in transcribe(paths, model_folder, batch_size=3, progress=False)]
    beam = [r.text for r in transcribe(paths, model_folder, batch_size=3, decoder="beam", progress=False)]
    assert one == batched == beam


def test_saved_model_gives_identical_logits(model_folder):
    model = load_ctc_model(model_folder)
    again = load_ctc_model(model_folder)
    state = model.state_dict()
    assert state.keys() == again.state_dict().keys()
    wavs, lens = torch.randn(2, 12000), torch.tensor([1.0, 0.6])
    resaved = model.save(model_folder.parent / "resaved")
    with torch.no_grad():
        assert torch.equal(model(wavs, lens).logits[-1], load_ctc_model(resaved)(wavs, lens).logits[-1])


def test_console_command_lists_outputs_and_fails_on_bad_files(audio, model_folder, tmp_path, capsys):
    listing = tmp_path / "files.txt"
    names = [name for name, *_ in CLIPS]
    listing.write_text("# clips\n" + "\n".join(str(audio[n]) for n in names) + f"\n\n{audio['bad.wav']}\n")
    output = tmp_path / "out.tsv"
    code = main(["--model", str(model_folder), "--list", str(listing), "--output", str(output), "--no_progress"])
    assert code == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and str(audio["bad.wav"]) in errors[0]
    rows = dict(line.split("\t") for line in output.read_text().splitlines())
    assert rows == {str(audio[name]): text for name, *_, text in CLIPS}

    # The installed script if `pip install -e .` has made it, else the module: all good files -> 0.
    script = Path(sys.executable).parent / "transcribe"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "efficient_ssl.transcribe"]
    done = subprocess.run(
        [*command, "--model", str(model_folder), str(audio["a.wav"])], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == f"{audio['a.wav']}\t{CLIPS[0][3]}\n"
