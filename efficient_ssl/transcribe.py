"""Transcribe audio files with a fine-tuned CTC model: the ``transcribe`` command and function.

The model folder is the ``<output_folder>/model`` a CTC recipe exports
(:func:`efficient_ssl.brains.ctc.train_and_test`): ``ctc_model.ckpt`` + ``ctc_model.json`` and
the tokenizer beside them (``tokenizer.json`` for characters, ``*.model`` for sentencepiece).
Audio may be any file libsndfile reads (WAV, FLAC, OGG, MP3) at any sample rate and channel
count: it is read mono at the model's rate (clips under 0.5 s padded with silence). Files are
batched by length (longest first, so a batch holds files of similar lengths and little
padding); a file that cannot be read gets a
one-line error and the others are still transcribed.

Usage::

    transcribe --model results/cv_finetune_mini/1234/model a.wav b.flac c.mp3
    transcribe --model MODEL --list files.txt --output transcripts.tsv --batch_size 16 --decoder beam

Prints ``path<TAB>text`` per file (or writes them to ``--output``), errors to stderr; the exit
code is 1 if any file failed.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import soundfile
import torch
from speechbrain.utils.data_utils import batch_pad_right
from tqdm import tqdm

from efficient_ssl.brains.ctc import CTCDecoder
from efficient_ssl.data.pipeline import read_audio
from efficient_ssl.data.tokens import load_tokenizer
from efficient_ssl.models.asr import MODEL_CONFIG, CTCModel, load_ctc_model

DECODERS = CTCDecoder.DECODERS
# Shorter clips are padded with silence to this length: the frontends' windows and strides need
# a few frames (mel_cnn with downsampling_factor 4 needs 0.25 s).
MIN_SECONDS = 0.5


@dataclass
class Transcript:
    """The result for one file: its text, or why it has none.

    Arguments
    ---------
    path : str
        The audio file, as given.
    text : str, optional
        The transcript (None if the file failed).
    error : str, optional
        One line saying why the file failed (None if it was transcribed).
    """

    path: str
    text: str | None = None
    error: str | None = None


def find_tokenizer(model_folder: str | Path) -> Path:
    """The tokenizer file exported beside the model: ``tokenizer.json`` or the one ``*.model``.

    Arguments
    ---------
    model_folder : str or Path
        A folder written by a CTC recipe (``<output_folder>/model``).

    Returns
    -------
    Path

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "tokenizer.model").write_bytes(b"")
    >>> find_tokenizer(folder).name
    'tokenizer.model'
    """
    folder = Path(model_folder)
    found = sorted(folder.glob("tokenizer.json")) or sorted(folder.glob("*.model"))
    if len(found) != 1:
        what = "none" if not found else ", ".join(p.name for p in found)
        raise FileNotFoundError(
            f"{folder}: needs exactly one tokenizer file beside the model (tokenizer.json or *.model), "
            f"found {what}; pass the <output_folder>/model folder of a CTC recipe"
        )
    return found[0]


def _reason(error: BaseException) -> str:
    """Why a file failed, on one line (libsndfile's own message without the file name)."""
    message = getattr(error, "error_string", None) or str(error)  # soundfile.LibsndfileError
    return " ".join(message.split()) or type(error).__name__


def _duration(path: str) -> float:
    """Seconds of audio in ``path`` from its header; raises ValueError for a bad file."""
    if not Path(path).is_file():
        raise ValueError("no such file")
    try:
        info = soundfile.info(path)
    except soundfile.SoundFileError as error:
        raise ValueError(_reason(error)) from error
    if info.frames <= 0:
        raise ValueError("no audio samples")
    return info.frames / info.samplerate


def _read(path: str, sample_rate: int) -> torch.Tensor:
    """The mono waveform at ``sample_rate``, at least ``MIN_SECONDS`` long (silence added);
    raises ValueError for a bad file."""
    try:
        wav = read_audio(path, sample_rate)
    except RuntimeError as error:  # read_audio's message names the file; keep libsndfile's reason
        raise ValueError(_reason(error.__cause__ or error)) from error
    if wav.numel() == 0:
        raise ValueError("no audio samples")
    return torch.nn.functional.pad(wav, (0, max(0, int(MIN_SECONDS * sample_rate) - wav.numel())))


def transcribe(
    paths: Sequence[str | Path],
    model_folder: str | Path,
    batch_size: int = 8,
    device: str = "cpu",
    decoder: str = "greedy",
    beam_size: int = 10,
    progress: bool = True,
) -> list[Transcript]:
    """Transcribes audio files with a model exported by a CTC recipe.

    Arguments
    ---------
    paths : sequence of str or Path
        Audio files (WAV, FLAC, OGG, MP3; any sample rate, any channels).
    model_folder : str or Path
        ``<output_folder>/model`` of a CTC recipe (model + tokenizer).
    batch_size : int
        Files per forward pass (padded to the longest of the batch).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    decoder : str
        ``"greedy"`` or ``"beam"`` (speechbrain's CTCBeamSearcher, ``beam_size`` beams).
    beam_size : int
        Beams of the beam decoder.
    progress : bool
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    list of Transcript
        One per path, in the order given: ``text`` set, or ``error`` (one line: why) for a
        file that could not be read.

    Example
    -------
    >>> import numpy, soundfile
    >>> from efficient_ssl.data.tokens import CharTokenizer
    >>> from efficient_ssl.models import CTCModel, PretrainedEncoder
    >>> folder = getfixture("tmp_path")
    >>> tokenizer = CharTokenizer.from_texts(["AB C"])
    >>> enc = PretrainedEncoder("mel_cnn", {"num_layers": 1, "d_model": 16, "nhead": 2, "d_ffn": 32})
    >>> _ = CTCModel(enc, tokenizer.vocab_size).save(folder)
    >>> tokenizer.save(folder / "tokenizer.json")
    >>> soundfile.write(folder / "a.wav", numpy.zeros(8000), 8000)
    >>> _ = (folder / "b.wav").write_bytes(b"not audio")
    >>> results = transcribe([folder / "a.wav", folder / "b.wav"], folder, progress=False)
    >>> isinstance(results[0].text, str), results[1].text, results[1].error
    (True, None, 'Format not recognised.')
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder={decoder!r}: use one of {', '.join(DECODERS)}")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be at least 1")
    if str(model_folder).endswith(".onnx"):  # an exported file (efficient_ssl.deploy.export)
        from efficient_ssl.deploy.export import OnnxCTC

        model, model_folder, batch_size = OnnxCTC(model_folder), Path(model_folder).parent, 1
        sample_rate = json.loads((model_folder / MODEL_CONFIG).read_text(encoding="utf-8"))["sample_rate"]
    else:
        model = load_ctc_model(model_folder, device)
        sample_rate = model.config["sample_rate"]
    tokenizer = load_tokenizer(find_tokenizer(model_folder))
    decode = CTCDecoder(tokenizer, decoder, beam_size)
    results = [Transcript(str(path)) for path in paths]
    durations = {}
    for n, result in enumerate(results):
        try:
            durations[n] = _duration(result.path)
        except ValueError as error:
            result.error = str(error)
    order = sorted(durations, key=durations.get, reverse=True)  # longest first: similar lengths batch
    bar = tqdm(total=len(results), unit="file", desc="transcribe", disable=not progress, file=sys.stderr)
    bar.update(len(results) - len(order))
    for start in range(0, len(order), batch_size):
        batch, wavs = [], []
        for n in order[start : start + batch_size]:
            try:
                wavs.append(_read(results[n].path, sample_rate))
                batch.append(n)
            except ValueError as error:
                results[n].error = str(error)
        if batch:
            texts = _decode_batch(model, wavs, decode, device)
            for n, text in zip(batch, texts):
                results[n].text = text
        bar.update(len(order[start : start + batch_size]))
    bar.close()
    return results


@torch.inference_mode()
def _decode_batch(model: CTCModel, wavs: list[torch.Tensor], decode: CTCDecoder, device: str) -> list[str]:
    """Transcripts of a list of waveforms, padded into one batch (one by one for an ONNX model)."""
    if not isinstance(model, CTCModel):
        return [decode(model(wav), torch.ones(1))[0] for wav in wavs]
    padded, lens = batch_pad_right(wavs)  # (B, S), (B,) relative
    out = model(padded.to(device), lens.to(device))
    log_probs = out.logits[-1].float().log_softmax(dim=-1)  # (B, T, vocab)
    out_lens = out.mask.sum(dim=1) / out.mask.shape[1]  # (B,) relative
    return decode(log_probs, out_lens)


def _read_list(list_file: Path) -> list[str]:
    """Paths listed one per line, as written (relative ones from the working directory);
    blank lines and ``#`` comments skipped."""
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SystemExit(f"transcribe: cannot read the list {list_file}: {_reason(error)}") from error
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of ``transcribe``."""
    parser = argparse.ArgumentParser(
        prog="transcribe",
        description="Transcribe audio files (WAV, FLAC, OGG, MP3; any sample rate) with a CTC model "
        "exported by a recipe (<output_folder>/model). Prints path<TAB>text per file.",
    )
    parser.add_argument("audio", nargs="*", help="audio files")
    parser.add_argument("--model", required=True, help="the model folder (<output_folder>/model of a CTC recipe)")
    parser.add_argument("--list", type=Path, help="a text file of audio paths, one per line")
    parser.add_argument("--output", type=Path, help="write path<TAB>text lines here instead of stdout")
    parser.add_argument("--batch_size", type=int, default=8, help="files per forward pass (default 8)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    parser.add_argument("--decoder", choices=DECODERS, default="greedy", help="CTC decoding (default greedy)")
    parser.add_argument("--beam_size", type=int, default=10, help="beams of --decoder beam (default 10)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--streaming", action="store_true",
        help="stream each file chunk by chunk (a streamable SummaryMixing model): partial "
        "hypotheses and per-chunk latency on stderr",
    )
    parser.add_argument("--chunk_ms", type=float, default=320.0, help="--streaming chunk (default 320 ms)")
    args = parser.parse_args(argv)
    if args.list is not None:
        args.audio = [*args.audio, *_read_list(args.list)]
    if not args.audio:
        parser.error("no audio files: give paths or --list FILE")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``transcribe`` console command; returns the exit code."""
    args = parse_args(argv)
    if args.streaming:
        from efficient_ssl.deploy.streaming import transcribe_streaming

        try:
            results = [transcribe_streaming(path, args.model, args.chunk_ms) for path in args.audio]
        except (FileNotFoundError, ValueError) as error:
            print(f"transcribe: {_reason(error)}", file=sys.stderr)
            return 2
        sys.stdout.writelines(f"{path}\t{text}\n" for path, text in zip(args.audio, results))
        return 0
    try:
        results = transcribe(
            args.audio, args.model, args.batch_size, args.device, args.decoder, args.beam_size,
            progress=not args.no_progress,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"transcribe: {_reason(error)}", file=sys.stderr)
        return 2
    lines = [f"{r.path}\t{r.text}\n" for r in results if r.error is None]
    if args.output is not None:
        args.output.write_text("".join(lines), encoding="utf-8")
    else:
        sys.stdout.writelines(lines)
    failed = [r for r in results if r.error is not None]
    for r in failed:
        print(f"transcribe: cannot read {r.path}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
