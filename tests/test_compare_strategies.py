"""tools/compare_strategies.py: strategy specs, and a run of three strategies on the tiny corpus."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from efficient_ssl.models import PretrainedEncoder

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "compare_strategies.py"
sys.path.insert(0, str(ROOT / "tools"))
import compare_strategies  # noqa: E402


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("baseline", ("baseline", 1, [])),
        ("scratch", ("scratch", 1, ["--random_init=True"])),
        ("avgpool:2", ("avgpool", 2, ["--downsampling=avgpool", "--downsampling_factor=2"])),
        ("layer_removal", ("layer_removal", 1, ["--keep_layers=3"])),
        ("conv:3@waveform", ("conv", 3, ["--downsampling=conv", "--downsampling_factor=3",
                                         "--downsampling_at=waveform"])),
        ("conv:3+up@frames", ("conv", 3, ["--downsampling=conv", "--downsampling_factor=3", "--upsampling=3",
                                          "--downsampling_at=frames"])),
    ],
)
def test_strategy_specs_map_to_recipe_overrides(spec, expected):
    assert compare_strategies.strategy_overrides(spec, num_layers=4) == expected


def test_bad_specs_are_named():
    with pytest.raises(ValueError, match="'pruning'"):
        compare_strategies.strategy_overrides("pruning", 4)
    with pytest.raises(ValueError, match="factor >= 2"):
        compare_strategies.strategy_overrides("conv", 4)
    with pytest.raises(ValueError, match="frames cannot be resampled"):
        compare_strategies.strategy_overrides("signal:3@frames", 4)
    for spec in ("conv:3@latents", "baseline@frames", "conv:3@frames+up"):
        with pytest.raises(ValueError, match="@ takes one of"):
            compare_strategies.strategy_overrides(spec, 4)


def test_placements_get_their_own_runs_and_row_names(tmp_path):
    """conv:3 keeps the recipe's auto; @waveform / @frames force one; rows show the placement."""
    args = compare_strategies.parse_args(["--output", str(tmp_path), "--strategies", "conv:3@waveform",
                                          "conv:3@frames", "conv:3", "--seeds", "1"])
    folders = [folder for _, _, folder, _ in compare_strategies.finetune_commands(args, tmp_path / "pt", 4)]
    assert len(set(folders)) == 3
    model = folders[2] / "model"
    model.mkdir(parents=True)
    (model / "ctc_model.json").write_text(json.dumps({"downsampling": "conv", "downsampling_at": "frames"}))
    assert compare_strategies.row_name("conv:3", folders[2]) == ("conv:3@frames", "frames")
    assert compare_strategies.row_name("conv:3@waveform", folders[0]) == ("conv:3@waveform", "waveform")


def test_the_compared_strategies_run_every_seed_at_either_placement(tmp_path):
    args = compare_strategies.parse_args(["--output", str(tmp_path), "--strategies", "conv:3@waveform", "conv:2",
                                          "baseline", "--seeds", "1", "2", "3"])
    seeds = [(spec, seed) for spec, seed, _, _ in compare_strategies.finetune_commands(args, tmp_path / "pt", 4)]
    assert seeds == [("conv:3@waveform", 1), ("conv:3@waveform", 2), ("conv:3@waveform", 3), ("conv:2", 1),
                     ("baseline", 1), ("baseline", 2), ("baseline", 3)]


def test_other_encoders_are_rows_of_their_own(tmp_path):
    """--encoder NAME=PATH [overrides]: paper 5's distilled model, the sustainable model, ..."""
    args = compare_strategies.parse_args([
        "--output", str(tmp_path), "--strategies", "baseline", "--encoder", f"distilled={tmp_path / 'student'}",
        "--encoder", f"sustainable={tmp_path / 'sus'} --upsampling=2",
    ])
    assert args.strategies == ["baseline", "distilled", "sustainable"]
    commands = {spec: cmd for spec, _, _, cmd in compare_strategies.finetune_commands(args, tmp_path / "pt", 4)}
    assert f"--pretrained_encoder={tmp_path / 'pt'}" in commands["baseline"]
    assert f"--pretrained_encoder={tmp_path / 'student'}" in commands["distilled"]
    assert f"--pretrained_encoder={tmp_path / 'sus'}" in commands["sustainable"]
    assert "--upsampling=2" in commands["sustainable"] and "--upsampling=2" not in commands["distilled"]
    with pytest.raises(SystemExit, match="NAME=PATH"):
        compare_strategies.parse_args(["--output", str(tmp_path), "--encoder", "conv:3=somewhere"])


def test_three_strategies_end_to_end(tiny_corpus, tmp_path):
    pretrained = tmp_path / "pretrained"
    PretrainedEncoder(
        "mel_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 3},
        frontend_kwargs={"channels": 16},
    ).save(pretrained)
    out = tmp_path / "cmp"
    cmd = [
        sys.executable, str(TOOL), "--output", str(out), "--data_folder", str(tiny_corpus / "LibriSpeech"),
        "--pretrained", str(pretrained), "--strategies", "baseline", "conv:2+up", "early_exit",
        "--seeds", "1", "--repeats", "2", "--", "--number_of_epochs=1",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    records = json.loads((out / "strategies.json").read_text())
    assert [r["strategy"] for r in records] == ["baseline", "conv", "early_exit"]
    for record in records:
        assert {"factor", "wer", "cer", "macs_per_audio_s", "cpu_rtf"} <= set(record)
    conv = records[1]
    assert conv["factor"] == 2 and conv["upsampling"] == 2
    assert {"macs_ratio", "time_ratio", "cer_delta"} <= set(conv)  # against the baseline
    assert "mean_exit_layer" in records[2]
    assert (out / "strategies.png").stat().st_size > 0
    report = (out / "strategies.md").read_text()
    assert "| conv:2+up@frames |" in report and "pretrained beats scratch" not in report  # no scratch run asked
    assert conv["row"] == "conv:2+up@frames" and conv["downsampling_at"] == "frames"  # auto, mel_cnn


def test_a_runs_valid_curve_says_whether_it_converged(tmp_path):
    (tmp_path / "train_log.txt").write_text(
        "epoch: 1, lr_head: 2.00e-03 - train loss: 3.10 - valid loss: 2.89, valid WER: 1.00e+02, valid CER: 99.51\n"
        "epoch: 2, lr_head: 2.00e-03 - train loss: 2.70 - valid loss: 2.57, valid WER: 99.74, valid CER: 90.76\n"
        "epoch: 3, lr_head: 2.00e-03 - train loss: 2.58 - valid loss: 2.46, valid WER: 98.02, valid CER: 77.28\n"
        "Epoch loaded: 3 - test loss: 2.35, test WER: 97.59, test CER: 72.62\n")
    curve = compare_strategies.valid_curve(tmp_path)
    assert curve == [99.51, 90.76, 77.28] and not compare_strategies.converged(curve)
    assert compare_strategies.valid_curve(tmp_path / "missing") == []
