"""Recipe YAMLs (efficient_ssl.hparams): variants, fragments, one-line errors, every recipe YAML loads."""

import subprocess
import sys
from pathlib import Path

import pytest
import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml

from efficient_ssl.hparams import HparamsError, compose, load_hparams, resolve_variant
from efficient_ssl.models import PretrainedEncoder

RECIPES = Path(__file__).parents[1] / "recipes"
BASE = """\
width: 8
depth: 2
name: !ref net_<width>x<depth>
layer: !new:torch.nn.Linear
    in_features: !ref <width>
    out_features: 3
"""


def write(folder: Path, files: dict) -> None:
    for name, text in files.items():
        (folder / name).write_text(text)


def test_variant_changes_a_value_and_refs_follow(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "wide.yaml": "base_yaml: base.yaml\nwidth: 64\n"})
    hparams = load_hparams(tmp_path / "wide.yaml")
    assert hparams["width"] == 64 and hparams["depth"] == 2
    assert hparams["name"] == "net_64x2"
    assert hparams["layer"].in_features == 64
    assert "base_yaml" not in hparams


def test_chain_of_two_bases(tmp_path):
    write(tmp_path, {
        "base.yaml": BASE,
        "wide.yaml": "base_yaml: base.yaml\nwidth: 64\ndepth: 4\n",
    })
    (tmp_path / "sizes").mkdir()
    write(tmp_path / "sizes", {"deep.yaml": "base_yaml: ../wide.yaml\ndepth: 12\n"})
    hparams = load_hparams(tmp_path / "sizes" / "deep.yaml")
    assert hparams["name"] == "net_64x12"  # width from the middle, depth from the nearest
    assert resolve_variant(tmp_path / "sizes" / "deep.yaml").base_file.name == "base.yaml"


def test_command_line_overrides_beat_the_variant(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "wide.yaml": "base_yaml: base.yaml\nwidth: 64\n"})
    assert load_hparams(tmp_path / "wide.yaml", "width: 16\n")["name"] == "net_16x2"
    assert load_hparams(tmp_path / "wide.yaml", {"depth": 5})["name"] == "net_64x5"


def test_variant_values_may_be_refs(tmp_path):
    write(tmp_path, {"base.yaml": BASE, "tied.yaml": "base_yaml: base.yaml\ndepth: !ref <width>\n"})
    assert load_hparams(tmp_path / "tied.yaml", "width: 7")["name"] == "net_7x7"


@pytest.mark.parametrize("where", ["variant", "command line"])
def test_unknown_key_is_one_line_naming_key_and_file(tmp_path, where):
    write(tmp_path, {"base.yaml": BASE, "wide.yaml": "base_yaml: base.yaml\nwidth: 64\n"})
    if where == "variant":
        write(tmp_path, {"wide.yaml": "base_yaml: base.yaml\nwidht: 64\n"})
        overrides = None
    else:
        overrides = "detph: 3\n"
    with pytest.raises(ValueError) as error:
        load_hparams(tmp_path / "wide.yaml", overrides)
    message = str(error.value)
    assert "\n" not in message and "wide.yaml" in message
    assert ("'widht'" if where == "variant" else "'detph'") in message


def test_missing_base_and_cycle_are_clear_errors(tmp_path):
    write(tmp_path, {"a.yaml": "base_yaml: nowhere.yaml\nx: 1\n"})
    with pytest.raises(HparamsError, match="a.yaml: base_yaml .*nowhere.yaml does not exist"):
        load_hparams(tmp_path / "a.yaml")
    write(tmp_path, {"a.yaml": "base_yaml: b.yaml\n", "b.yaml": "base_yaml: a.yaml\n"})
    with pytest.raises(ValueError, match="cycle"):
        load_hparams(tmp_path / "a.yaml")


def test_flattened_variant_reloads_as_the_same_hparams(tmp_path):
    """What the recipes hand to sb.create_experiment_directory reproduces the run."""
    write(tmp_path, {"base.yaml": BASE, "wide.yaml": "base_yaml: base.yaml\nwidth: 64\n"})
    variant = resolve_variant(tmp_path / "wide.yaml", "depth: 3")
    assert load_hyperpyyaml(variant.base_stream(), variant.overrides)["name"] == "net_64x3"


@pytest.mark.parametrize(
    "yaml_file", sorted(RECIPES.glob("*/*/hparams/*.yaml")), ids=lambda p: str(p.relative_to(RECIPES))
)
def test_every_recipe_yaml_loads(tmp_path, yaml_file):
    overrides = {"data_folder": str(tmp_path), "output_folder": str(tmp_path / "out")}
    base_text = resolve_variant(yaml_file).base_text
    for key in ("pretrained_encoder", "teacher"):  # encoder folders the recipes are given
        if f"{key}:" in base_text:
            tiny = {"num_layers": 1, "d_model": 8, "nhead": 2, "d_ffn": 16}
            PretrainedEncoder("mel_cnn", tiny, frontend_kwargs={"channels": 8}).save(tmp_path / "encoder")
            overrides[key] = str(tmp_path / "encoder")
    hparams = load_hparams(yaml_file, overrides)
    assert hparams["data_folder"] == str(tmp_path)
    assert hparams["save_folder"] == str(tmp_path / "out" / "save")


def test_mini_pretraining_variants_are_small_and_follow_the_base():
    for recipe in ["LibriSpeech", "CommonVoice"]:
        folder = RECIPES / recipe / "pretrain" / "hparams"
        base = compose(folder / "wav2vec2_base.yaml")  # read only: no 12 x 768 model built
        assert len(compose(folder / "wav2vec2_mini.yaml")) < len(base) / 2
        mini = load_hparams(folder / "wav2vec2_mini.yaml", {"data_folder": "x"})
        assert (base["num_layers"], base["d_model"]) == (12, 768)
        assert (mini["num_layers"], mini["d_model"]) == (4, 144)
        assert mini["optimizer_step_limit"] == mini["total_steps"] == 300  # a !ref follows the variant
        assert "_mini/" in mini["output_folder"]  # a !ref value given by the variant


@pytest.mark.parametrize("recipe", ["LibriSpeech", "CommonVoice"])
def test_temperature_decay_follows_total_steps(recipe):
    """The Gumbel temperature ends where fairseq's 0.999995 ends after 300k steps, whatever
    total_steps is; the base keeps exactly 0.999995 (one derived value, in the shared fragment)."""
    folder = RECIPES / recipe / "pretrain" / "hparams"
    tiny = {"data_folder": "x", "num_layers": 1, "d_model": 8, "nhead": 2, "d_ffn": 16,
            "frontend_channels": 8, "final_dim": 8}
    assert load_hparams(folder / "wav2vec2_base.yaml", tiny)["temperature_decay"] == 0.999995
    ends = []
    for steps in (300, 2000):
        hparams = load_hparams(folder / "wav2vec2_mini.yaml", {"data_folder": "x", "total_steps": steps})
        ends.append(hparams["temperature_start"] * hparams["temperature_decay"] ** steps)
    assert ends[0] == pytest.approx(ends[1]) == pytest.approx(2.0 * 0.999995**300000)
    assert ends[0] > hparams["temperature_end"]  # the floor is not reached, as in the base


def test_pretraining_bases_share_their_fragments():
    """The two pretraining recipes differ only in paths and data: everything else is shared."""
    bases = [compose(RECIPES / recipe / "pretrain" / "hparams" / "wav2vec2_base.yaml")
             for recipe in ["LibriSpeech", "CommonVoice"]]
    shared = compose(RECIPES.parent / "hparams" / "wav2vec2" / "pretrain.yaml")
    for base in bases:
        assert "fragments" not in base and list(base)[-len(shared):] == list(shared)
        assert all(base[key] == shared[key] for key in shared if not hasattr(shared[key], "tag"))


# Fragments: top-level keys of shared files, spliced in where `fragments:` stands.
SIZE = "width: 8\ndepth: 2\n"
NET = """\
seed: 1
fragments: [shared/size.yaml]
name: !ref net_<width>x<depth>
layer: !new:torch.nn.Linear
    in_features: !ref <width>
    out_features: 3
"""


def write_net(folder: Path, net: str = NET) -> Path:
    (folder / "shared").mkdir(exist_ok=True)
    write(folder, {"shared/size.yaml": SIZE, "net.yaml": net})
    return folder / "net.yaml"


def test_fragment_keys_are_top_level_keys(tmp_path):
    hparams = load_hparams(write_net(tmp_path))
    assert list(hparams) == ["seed", "width", "depth", "name", "layer"]  # in place of `fragments`
    assert hparams["name"] == "net_8x2" and hparams["layer"].in_features == 8


def test_fragment_keys_change_from_the_command_line_and_a_variant(tmp_path):
    net = write_net(tmp_path)
    assert load_hparams(net, "width: 16")["layer"].in_features == 16
    write(tmp_path, {"wide.yaml": "base_yaml: net.yaml\nwidth: 64\n"})
    assert load_hparams(tmp_path / "wide.yaml", {"depth": 5})["name"] == "net_64x5"


def test_a_variant_may_list_fragments_checked_against_the_root(tmp_path):
    write_net(tmp_path)
    write(tmp_path, {"shared/big.yaml": "width: 512\ndepth: 24\n",
                     "big.yaml": "base_yaml: net.yaml\nfragments: [shared/big.yaml]\ndepth: 12\n"})
    assert load_hparams(tmp_path / "big.yaml")["name"] == "net_512x12"  # the variant's own key wins
    write(tmp_path, {"shared/big.yaml": "width: 512\nheight: 3\n"})
    with pytest.raises(HparamsError, match=r"big.yaml: key 'height' is not in the base .*net.yaml"):
        load_hparams(tmp_path / "big.yaml")


def test_own_key_beats_the_fragment_and_refs_cross_both_ways(tmp_path):
    net = write_net(tmp_path, NET.replace("name:", "width: 32\nname:"))
    (tmp_path / "shared" / "size.yaml").write_text("width: 8\ndepth: !ref <seed>\n")
    hparams = load_hparams(net, "seed: 3")
    assert hparams["name"] == "net_32x3"


def test_fragment_errors_name_the_files(tmp_path):
    net = write_net(tmp_path, NET.replace("[shared/size.yaml]", "[shared/size.yaml, shared/again.yaml]"))
    write(tmp_path, {"shared/again.yaml": "depth: 4\n"})
    with pytest.raises(HparamsError, match=r"key 'depth' is in both fragments .*size.yaml and .*again.yaml"):
        compose(net)
    (tmp_path / "shared" / "again.yaml").unlink()
    with pytest.raises(HparamsError, match=r"net.yaml: fragment .*again.yaml does not exist"):
        load_hparams(net)
    write(tmp_path, {"shared/again.yaml": "fragments: [../net.yaml]\n"})
    with pytest.raises(HparamsError, match="cycle"):
        compose(net)


def test_written_hyperparams_are_complete_and_reload(tmp_path):
    """<output_folder>/hyperparams.yaml of a run on a fragment-based recipe reloads as the same hparams."""
    mini = RECIPES / "LibriSpeech" / "pretrain" / "hparams" / "wav2vec2_mini.yaml"
    out = tmp_path / "out"
    script = (
        "from efficient_ssl.hparams import create_experiment_directory, load_hparams\n"
        f"overrides = {{'data_folder': 'x', 'output_folder': {str(out)!r}, 'd_model': 96, 'lr': 0.002}}\n"
        f"create_experiment_directory({str(mini)!r}, overrides, load_hparams({str(mini)!r}, overrides))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    written = ruamel.yaml.YAML().load(out / "hyperparams.yaml")
    assert "fragments" not in written and "base_yaml" not in written
    assert set(compose(mini.parent / "wav2vec2_base.yaml")) == set(written)
    hparams = load_hparams(out / "hyperparams.yaml")
    assert (hparams["d_model"], hparams["num_layers"], hparams["lr"]) == (96, 4, 0.002)
    assert hparams["wav2vec2"].encoder.frontend is not None


# Bad values: one line naming the key and the file.
TYPED = """\
epochs: 10
lr: 0.001
flag: False
mode: fast
optional: null
data_folder: !PLACEHOLDER
"""


@pytest.mark.parametrize("change, kind", [
    ("epochs: abc", "an int"), ("epochs: 2.5", "an int"), ("lr: fast", "a float"), ("lr: True", "a float"),
    ("flag: 1", "a bool"), ("mode: 3", "a str"), ("epochs: [1]", "an int"), ("epochs: null", "an int"),
])
@pytest.mark.parametrize("where", ["variant", "command line"])
def test_a_value_of_the_wrong_type_is_one_line(tmp_path, change, kind, where):
    write(tmp_path, {"base.yaml": TYPED, "run.yaml": "base_yaml: base.yaml\n"})
    if where == "variant":
        write(tmp_path, {"run.yaml": f"base_yaml: base.yaml\n{change}\n"})
    overrides = {"data_folder": "x"}
    with pytest.raises(HparamsError) as error:
        load_hparams(tmp_path / "run.yaml", f"data_folder: x\n{change}\n" if where == "command line" else overrides)
    message = str(error.value)
    key = change.split(":")[0]
    assert "\n" not in message and f"key '{key}' must be {kind}" in message
    assert "run.yaml" in message and "base.yaml" in message and isinstance(error.value, ValueError)


def test_compatible_values_pass_the_type_check(tmp_path):
    write(tmp_path, {"base.yaml": TYPED})
    changes = "lr: 1\noptional: [1, 2]\nepochs: !ref <lr> * 3\nmode: [fast, slow]\ndata_folder: x\n"
    hparams = load_hparams(tmp_path / "base.yaml", changes)  # int for a float, anything for a null
    assert (hparams["lr"], hparams["epochs"], hparams["optional"]) == (1, 3, [1, 2])
    assert hparams["mode"] == ["fast", "slow"]  # a str may become a list: a selection ("all" or [ffn, mixer])


def test_a_missing_placeholder_is_one_line_with_the_fix(tmp_path):
    write(tmp_path, {"base.yaml": TYPED, "run.yaml": "base_yaml: base.yaml\nepochs: 3\n"})
    with pytest.raises(HparamsError) as error:
        load_hparams(tmp_path / "run.yaml")
    message = str(error.value)
    assert "\n" not in message and "run.yaml" in message
    assert "'data_folder'" in message and "--data_folder=..." in message
    assert load_hparams(tmp_path / "run.yaml", "data_folder: x")["data_folder"] == "x"


def test_an_uncaught_hparams_error_prints_one_line(tmp_path):
    write(tmp_path, {"base.yaml": TYPED})
    script = f"from efficient_ssl.hparams import load_hparams\nload_hparams({str(tmp_path / 'base.yaml')!r})\n"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: ") and "--data_folder=" in run.stderr
