"""Recipe YAML variants (efficient_ssl.hparams): overrides, chains, errors, every recipe YAML loads."""

from pathlib import Path

import pytest
import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml

from efficient_ssl.hparams import load_hparams, resolve_variant
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
    with pytest.raises(FileNotFoundError, match="a.yaml: base_yaml .*nowhere.yaml does not exist"):
        load_hparams(tmp_path / "a.yaml")
    write(tmp_path, {"a.yaml": "base_yaml: b.yaml\n", "b.yaml": "base_yaml: a.yaml\n"})
    with pytest.raises(ValueError, match="cycle"):
        load_hparams(tmp_path / "a.yaml")


def test_flattened_variant_reloads_as_the_same_hparams(tmp_path):
    """What the recipes hand to sb.create_experiment_directory reproduces the run."""
    write(tmp_path, {"base.yaml": BASE, "wide.yaml": "base_yaml: base.yaml\nwidth: 64\n"})
    variant = resolve_variant(tmp_path / "wide.yaml", "depth: 3")
    with open(variant.base_file, encoding="utf-8") as fin:
        assert load_hyperpyyaml(fin, variant.overrides)["name"] == "net_64x3"


@pytest.mark.parametrize(
    "yaml_file", sorted(RECIPES.glob("*/*/hparams/*.yaml")), ids=lambda p: str(p.relative_to(RECIPES))
)
def test_every_recipe_yaml_loads(tmp_path, yaml_file):
    overrides = {"data_folder": str(tmp_path), "output_folder": str(tmp_path / "out")}
    if "pretrained_encoder:" in resolve_variant(yaml_file).base_file.read_text():
        tiny = {"num_layers": 1, "d_model": 8, "nhead": 2, "d_ffn": 16}
        PretrainedEncoder("mel_cnn", tiny, frontend_kwargs={"channels": 8}).save(tmp_path / "encoder")
        overrides["pretrained_encoder"] = str(tmp_path / "encoder")
    hparams = load_hparams(yaml_file, overrides)
    assert hparams["data_folder"] == str(tmp_path)
    assert hparams["save_folder"] == str(tmp_path / "out" / "save")


def test_mini_pretraining_variants_are_small_and_follow_the_base():
    for recipe in ["LibriSpeech", "CommonVoice"]:
        folder = RECIPES / recipe / "pretrain" / "hparams"
        mini_text = (folder / "wav2vec2_mini.yaml").read_text()
        assert mini_text.count("\n") < (folder / "wav2vec2_base.yaml").read_text().count("\n") / 2
        mini = load_hparams(folder / "wav2vec2_mini.yaml", {"data_folder": "x"})
        base = ruamel.yaml.YAML().load(folder / "wav2vec2_base.yaml")  # read only: no 12 x 768 model built
        assert (base["num_layers"], base["d_model"]) == (12, 768)
        assert (mini["num_layers"], mini["d_model"]) == (4, 144)
        assert mini["optimizer_step_limit"] == mini["total_steps"] == 300  # a !ref follows the variant
        assert "_mini/" in mini["output_folder"]  # a !ref value given by the variant
