"""Recipe YAML variants: a small YAML that names its base and lists only the keys it changes.

hyperpyyaml's ``!include`` nests one file inside another; it cannot say "this file, but with
these keys changed". A variant does that with one reserved top-level key, ``base_yaml``, the
path of its base relative to the variant::

    # hparams/wav2vec2_mini.yaml: the mini size, trains on 2 CPU cores in minutes
    base_yaml: wav2vec2_base.yaml
    num_layers: 4
    d_model: 144

The variant's other keys are applied to the base as hyperpyyaml overrides, so every ``!ref``
derived from them follows, and values may themselves be ``!ref`` or ``!new:`` nodes. A base
may itself be a variant (chains resolve root first, the file named on the command line last),
and command-line overrides go on top of everything. Every changed top-level key must exist in
the root base: a misspelt key is an error naming the key and the file, never a silent new key.

Authors
 * efficient_ssl contributors
"""

import shutil
import sys
from io import StringIO
from pathlib import Path
from typing import Mapping, NamedTuple, Optional, Union

import ruamel.yaml
import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from hyperpyyaml.core import recursive_update

BASE_KEY = "base_yaml"

Overrides = Optional[Union[str, Mapping]]


class Variant(NamedTuple):
    """A variant YAML flattened to its root base and one set of overrides.

    :func:`create_experiment_directory` hands both to speechbrain, which writes the fully
    resolved YAML of the run to ``<output_folder>/hyperparams.yaml``.
    """

    base_file: Path
    overrides: str


def resolve_variant(hparams_file: Union[str, Path], overrides: Overrides = None) -> Variant:
    """Follows ``base_yaml`` links to the root base and merges every layer's keys.

    Arguments
    ---------
    hparams_file : str or Path
        A plain hyperpyyaml file or a variant (a file with a top-level ``base_yaml`` key).
    overrides : str or mapping, optional
        Command-line overrides (the YAML string of ``sb.parse_arguments``), applied last.

    Returns
    -------
    Variant
        ``base_file``: the root base; ``overrides``: YAML text of the merged changes, those of
        the bases nearest the root first, then the variant's, then ``overrides``.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "base.yaml").write_text("width: 8\\nname: !ref net<width>\\n")
    >>> _ = (folder / "wide.yaml").write_text("base_yaml: base.yaml\\nwidth: 64\\n")
    >>> variant = resolve_variant(folder / "wide.yaml", "name: custom")
    >>> variant.base_file.name, variant.overrides
    ('base.yaml', 'width: 64\\nname: custom\\n')
    """
    hparams_file = Path(hparams_file)
    layers = []  # (where, changed keys): the command line (if any), hparams_file, ..., the last variant
    current, tree = hparams_file, _read(hparams_file)
    while BASE_KEY in tree:
        base_name = tree.pop(BASE_KEY)
        if not isinstance(base_name, str):
            raise ValueError(f"{current}: {BASE_KEY} must be a file name relative to it, not {base_name!r}")
        layers.append((current, tree))
        base_file = current.parent / base_name
        if not base_file.is_file():
            raise FileNotFoundError(
                f"{current}: {BASE_KEY} {base_file} does not exist; give a path relative to {current.name}"
            )
        if any(base_file.resolve() == seen.resolve() for seen, _ in layers):
            raise ValueError(
                f"{current}: {BASE_KEY} {base_file} closes a cycle of bases; end the chain at a plain YAML"
            )
        current, tree = base_file, _read(base_file)
    root_keys = set(tree)
    if isinstance(overrides, str):
        overrides = _yaml().load(overrides)
    if overrides:
        layers.insert(0, (f"command-line override for {hparams_file}", overrides))
    merged = ruamel.yaml.comments.CommentedMap()
    for source, changes in reversed(layers):
        for key in changes:
            if key not in root_keys:
                raise ValueError(
                    f"{source}: key '{key}' is not in the base {current}; fix its spelling or add it there"
                )
        recursive_update(merged, changes)
    text = StringIO()
    if merged:
        _yaml().dump(merged, text)
    return Variant(base_file=current, overrides=text.getvalue())


def load_hparams(hparams_file: Union[str, Path], overrides: Overrides = None) -> dict:
    """Loads a recipe YAML, or a variant of one, with hyperpyyaml.

    Arguments
    ---------
    hparams_file : str or Path
        A plain hyperpyyaml file or a variant naming its base with ``base_yaml``.
    overrides : str or mapping, optional
        Command-line overrides (the YAML string of ``sb.parse_arguments``); they beat the
        variant's values.

    Returns
    -------
    dict
        The loaded hyperparameters, objects built, as ``load_hyperpyyaml`` returns them.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "base.yaml").write_text("width: 8\\nlayer: !new:torch.nn.Linear [!ref <width>, 2]\\n")
    >>> _ = (folder / "wide.yaml").write_text("base_yaml: base.yaml\\nwidth: 64\\n")
    >>> load_hparams(folder / "wide.yaml")["layer"].in_features
    64
    >>> load_hparams(folder / "wide.yaml", "width: 4")["layer"].in_features
    4
    """
    variant = resolve_variant(hparams_file, overrides)
    # A named stream, so that !include paths stay relative to the base file.
    with open(variant.base_file, encoding="utf-8") as fin:
        return load_hyperpyyaml(fin, variant.overrides)


def _yaml() -> ruamel.yaml.YAML:
    """The round-trip parser hyperpyyaml uses for references: keeps tags such as !ref."""
    return ruamel.yaml.YAML()


def _read(path: Path) -> ruamel.yaml.comments.CommentedMap:
    """Parses one YAML file without building anything; its top level must be a mapping."""
    with open(path, encoding="utf-8") as fin:
        tree = _yaml().load(fin)
    if not isinstance(tree, Mapping):
        raise ValueError(f"{path}: a recipe YAML must be a mapping of keys at its top level")
    return tree


def create_experiment_directory(hparams_file: Union[str, Path], overrides: Overrides, hparams: dict) -> None:
    """speechbrain's ``create_experiment_directory`` for a (possibly variant) recipe YAML.

    The output folder's ``hyperparams.yaml`` is the root base with every variant key and
    command-line override applied, so ``load_hparams`` on it reproduces the run.
    """
    variant = resolve_variant(hparams_file, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=str(variant.base_file),
        overrides=variant.overrides,
    )
    # speechbrain copies the file that called it (this one); the run's record wants the recipe.
    script = getattr(sys.modules["__main__"], "__file__", None)
    if sb.utils.distributed.if_main_process() and script:
        (Path(hparams["output_folder"]) / Path(__file__).name).unlink(missing_ok=True)
        shutil.copy(script, hparams["output_folder"])
