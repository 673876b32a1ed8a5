"""Recipe YAMLs: variants (``base_yaml:``), shared fragments (``fragments:``), clear errors.

**Variants.** hyperpyyaml's ``!include`` nests one file inside another; it cannot say "this
file, but with these keys changed". A variant does that with one reserved top-level key,
``base_yaml``, the path of its base relative to the variant::

    # hparams/wav2vec2_mini.yaml: the mini size, trains on 2 CPU cores in minutes
    base_yaml: wav2vec2_base.yaml
    num_layers: 4
    d_model: 144

The variant's other keys are applied to the base as hyperpyyaml overrides, so every ``!ref``
derived from them follows, and values may themselves be ``!ref`` or ``!new:`` nodes. A base
may itself be a variant (chains resolve root first, the file named on the command line last),
and command-line overrides go on top of everything. Every changed top-level key must exist in
the root base: a misspelt key is an error naming the key and the file, never a silent new key.

**Fragments.** ``!include`` also cannot share top-level keys: the included file's keys land
under one key of the including file, so ``--d_model=...`` could not reach them and its ``!ref``
cannot see the including file's keys. Recipes therefore share YAML through a second reserved
key, ``fragments``, a list of files (paths relative to the YAML that lists them, usually under
the repository's ``hparams/`` folder) whose top-level keys are spliced in, in order, where the
``fragments`` key stands, before hyperpyyaml sees the text::

    # Data
    max_duration: 30.0
    fragments: [../../../../hparams/wav2vec2/pretrain.yaml]  # training, model, objects

A fragment is a plain YAML of top-level keys and may list fragments of its own; it has no
``base_yaml``. A key of the listing file beats the same key of its fragments (a recipe keeps a
fragment but changes one default); one key in two fragments is an error naming both files.
Fragment keys are ordinary top-level keys: ``--key=value`` and variants change them, their
``!ref`` see every key of the composed file, and any YAML (a variant too) may list fragments.
The composed root base is what hyperpyyaml loads and what ``<output_folder>/hyperparams.yaml``
records, fully resolved.

**Errors.** Bad hparams raise :class:`HparamsError` (a ``ValueError``) with a one-line message
naming the key and the YAML: an unknown key, a value whose type differs from the base's scalar
(an int may stand for a float; a null base takes anything; ``!ref`` and other tags are not
checked), a ``!PLACEHOLDER`` left without a value, a missing or cyclic base or fragment. Left
uncaught in a script, it prints as one ``error: ...`` line, not a traceback.

Authors
 * efficient_ssl contributors
"""

import shutil
import sys
from collections.abc import Mapping
from datetime import date
from io import StringIO
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import ruamel.yaml
import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml, resolve_references
from hyperpyyaml.core import recursive_update

BASE_KEY = "base_yaml"
FRAGMENTS_KEY = "fragments"

Overrides = str | Mapping | None


class HparamsError(ValueError):
    """A bad recipe YAML or override; the message is one line naming the key and the file."""


class Variant(NamedTuple):
    """A variant YAML flattened to its composed root base and one set of overrides.

    :func:`create_experiment_directory` resolves both into ``<output_folder>/hyperparams.yaml``.
    """

    base_file: Path
    overrides: str
    base_text: str  # the root base with its fragments spliced in, as YAML text

    def base_stream(self) -> StringIO:
        """``base_text`` as a stream named after ``base_file`` (``!include`` paths stay relative to it)."""
        stream = StringIO(self.base_text)
        stream.name = str(self.base_file)
        return stream


def compose(path: str | Path) -> ruamel.yaml.comments.CommentedMap:
    """Reads one YAML (nothing built) and splices the keys of its ``fragments`` in their place.

    Arguments
    ---------
    path : str or Path
        A recipe YAML, variant or fragment; its top level must be a mapping.

    Returns
    -------
    CommentedMap
        Its top-level keys in order, fragments expanded (recursively), tags such as ``!ref`` kept.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "size.yaml").write_text("width: 8\\ndepth: 2\\n")
    >>> _ = (folder / "net.yaml").write_text("seed: 1\\nfragments: [size.yaml]\\ndepth: 4\\nname: !ref n<width>\\n")
    >>> net = compose(folder / "net.yaml")  # the listing file's depth beats the fragment's
    >>> list(net), net["width"], net["depth"], net["name"].tag.value
    (['seed', 'width', 'depth', 'name'], 8, 4, '!ref')
    """
    return _compose(Path(path), [])


def _compose(path: Path, stack: list[Path]) -> ruamel.yaml.comments.CommentedMap:
    """:func:`compose` with the chain of files listing ``path``, to name them in errors."""
    if any(path.resolve() == seen.resolve() for seen in stack):
        raise HparamsError(f"{stack[-1]}: fragment {path} closes a cycle of fragments; remove it from one list")
    tree = _read(path)
    names = tree.get(FRAGMENTS_KEY, [])
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise HparamsError(f"{path}: {FRAGMENTS_KEY} must be a list of file names relative to it, not {names!r}")
    spliced, origin = {}, {}  # key -> value / -> the fragment that gave it
    for name in names:
        fragment_file = path.parent / name
        if not fragment_file.is_file():
            raise HparamsError(
                f"{path}: fragment {fragment_file} does not exist; give a path relative to {path.name}"
            )
        fragment = _compose(fragment_file, stack + [path])
        if BASE_KEY in fragment:
            raise HparamsError(f"{fragment_file}: a fragment cannot name a {BASE_KEY}; list the fragment in the variant")
        for key, value in fragment.items():
            if key in origin:
                raise HparamsError(
                    f"{path}: key '{key}' is in both fragments {origin[key]} and {fragment_file}; keep one"
                )
            spliced[key], origin[key] = value, fragment_file
    composed = ruamel.yaml.comments.CommentedMap()
    for key, value in tree.items():
        if key == FRAGMENTS_KEY:
            for fragment_key, fragment_value in spliced.items():
                if fragment_key not in tree:  # the listing file's own key beats the fragment's
                    composed[fragment_key] = fragment_value
        else:
            composed[key] = value
    return composed


def resolve_variant(hparams_file: str | Path, overrides: Overrides = None) -> Variant:
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
        the bases nearest the root first, then the variant's, then ``overrides``;
        ``base_text``: the root base with its fragments spliced in.

    Example
    -------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "base.yaml").write_text("width: 8\\nname: !ref net<width>\\n")
    >>> _ = (folder / "wide.yaml").write_text("base_yaml: base.yaml\\nwidth: 64\\n")
    >>> variant = resolve_variant(folder / "wide.yaml", "name: custom")
    >>> variant.base_file.name, variant.overrides
    ('base.yaml', 'width: 64\\nname: custom\\n')
    >>> resolve_variant(folder / "wide.yaml", "width: wide")
    Traceback (most recent call last):
    ...
    efficient_ssl.hparams.HparamsError: command-line override for ...wide.yaml: key 'width' must be an int like its value 8 in ...base.yaml, not 'wide'
    """
    hparams_file = Path(hparams_file)
    layers = []  # (where, changed keys): the command line (if any), hparams_file, ..., the last variant
    current, tree = hparams_file, compose(hparams_file)
    while BASE_KEY in tree:
        base_name = tree.pop(BASE_KEY)
        if not isinstance(base_name, str):
            raise HparamsError(f"{current}: {BASE_KEY} must be a file name relative to it, not {base_name!r}")
        layers.append((current, tree))
        base_file = current.parent / base_name
        if not base_file.is_file():
            raise HparamsError(
                f"{current}: {BASE_KEY} {base_file} does not exist; give a path relative to {current.name}"
            )
        if any(base_file.resolve() == seen.resolve() for seen, _ in layers):
            raise HparamsError(
                f"{current}: {BASE_KEY} {base_file} closes a cycle of bases; end the chain at a plain YAML"
            )
        current, tree = base_file, compose(base_file)
    if isinstance(overrides, str):
        overrides = _yaml().load(overrides)
    if overrides:
        layers.insert(0, (f"command-line override for {hparams_file}", overrides))
    merged = ruamel.yaml.comments.CommentedMap()
    for source, changes in reversed(layers):
        for key, value in changes.items():
            _check_change(source, key, value, tree, current)
        recursive_update(merged, changes)
    return Variant(base_file=current, overrides=_dump(merged) if merged else "", base_text=_dump(tree))


def _check_change(source: str, key: Any, value: Any, root: Mapping, root_file: Path) -> None:
    """Rejects a change of a key the root base lacks, or of a scalar to another type (a str may
    become a list: a selection such as ``all`` or ``[ffn, mixer]``)."""
    if key not in root:
        raise HparamsError(f"{source}: key '{key}' is not in the base {root_file}; fix its spelling or add it there")
    expected = _scalar_type(root[key])
    if expected is None or _is_tagged(value) or root[key] is None or (expected is str and isinstance(value, list)):
        return
    given = _scalar_type(value)
    if given is not expected and not (expected is float and given is int):
        article = "an" if expected is int else "a"
        raise HparamsError(
            f"{source}: key '{key}' must be {article} {expected.__name__} like its value {root[key]!r} "
            f"in {root_file}, not {value!r}"
        )


def _scalar_type(value: Any) -> type | None:
    """bool, int, float or str for a plain YAML scalar (ruamel's subclasses included), else None.

    Example
    -------
    >>> [_scalar_type(v) for v in _yaml().load("[true, 3, 0.5, 1e-3, abc, null, [1]]")]
    [<class 'bool'>, <class 'int'>, <class 'float'>, <class 'float'>, <class 'str'>, None, None]
    """
    if isinstance(value, (bool, ruamel.yaml.scalarbool.ScalarBoolean)):
        return bool
    for kind in (int, float, str):
        if isinstance(value, kind) and not _is_tagged(value):
            return kind
    return None


def _is_tagged(value: Any) -> bool:
    """Whether a parsed node carries an explicit tag (``!ref``, ``!new:``, ``!PLACEHOLDER``, ...)."""
    tag = getattr(getattr(value, "tag", None), "value", None)
    return bool(tag) and tag.startswith("!")


def _check_placeholders(hparams_file: Path, variant: Variant) -> None:
    """Names every top-level ``!PLACEHOLDER`` of the root base that no layer gave a value."""
    root = _yaml().load(variant.base_text)
    if variant.overrides:
        recursive_update(root, _yaml().load(variant.overrides))
    missing = [key for key, value in root.items() if _tag(value) == "!PLACEHOLDER"]
    if missing:
        keys = ", ".join(f"'{key}'" for key in missing)
        fix = " ".join(f"--{key}=..." for key in missing)
        has = "has" if len(missing) == 1 else "have"
        raise HparamsError(f"{hparams_file}: {keys} {has} no value (!PLACEHOLDER); give it on the command line: {fix}")


def _tag(value: Any) -> str | None:
    """The explicit tag of a parsed node, if any."""
    return getattr(getattr(value, "tag", None), "value", None)


def _print_hparams_error(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """``sys.excepthook`` that prints an uncaught :class:`HparamsError` as one line."""
    if issubclass(kind, HparamsError):
        print(f"error: {error}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, error, trace)


def load_hparams(hparams_file: str | Path, overrides: Overrides = None) -> dict:
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
    >>> _ = (folder / "data.yaml").write_text("data_folder: !PLACEHOLDER\\nbatch: 8\\n")
    >>> load_hparams(folder / "data.yaml")
    Traceback (most recent call last):
    ...
    efficient_ssl.hparams.HparamsError: ...data.yaml: 'data_folder' has no value (!PLACEHOLDER); give it on the command line: --data_folder=...
    """
    try:
        variant = resolve_variant(hparams_file, overrides)
        _check_placeholders(Path(hparams_file), variant)
    except HparamsError:
        sys.excepthook = _print_hparams_error  # uncaught in a recipe: one line, no traceback
        raise
    return load_hyperpyyaml(variant.base_stream(), variant.overrides)


def _yaml() -> ruamel.yaml.YAML:
    """The round-trip parser hyperpyyaml uses for references: keeps tags such as !ref."""
    return ruamel.yaml.YAML()


def _read(path: Path) -> ruamel.yaml.comments.CommentedMap:
    """Parses one YAML file without building anything; its top level must be a mapping."""
    with open(path, encoding="utf-8") as fin:
        tree = _yaml().load(fin)
    if not isinstance(tree, Mapping):
        raise HparamsError(f"{path}: a recipe YAML must be a mapping of keys at its top level")
    return tree


def _dump(tree: Mapping) -> str:
    """YAML text of a parsed tree, tags kept."""
    text = StringIO()
    _yaml().dump(tree, text)
    return text.getvalue()


def create_experiment_directory(hparams_file: str | Path, overrides: Overrides, hparams: dict) -> None:
    """speechbrain's ``create_experiment_directory`` for a (possibly variant) recipe YAML.

    The output folder's ``hyperparams.yaml`` is the composed root base (fragments spliced in)
    with every variant key and command-line override applied and every reference resolved, so
    ``load_hparams`` on it reproduces the run.
    """
    variant = resolve_variant(hparams_file, overrides)
    output_folder = Path(hparams["output_folder"])
    if sb.utils.distributed.if_main_process():
        # speechbrain's own writer reads a file: the composed base exists only in memory.
        output_folder.mkdir(parents=True, exist_ok=True)
        resolved = resolve_references(variant.base_stream(), variant.overrides).getvalue()
        header = f"# Generated {date.today()} from:\n# {Path(hparams_file).resolve()}\n# yamllint disable\n"
        (output_folder / "hyperparams.yaml").write_text(header + resolved, encoding="utf-8")
    sb.create_experiment_directory(experiment_directory=str(output_folder))
    # speechbrain copies the file that called it (this one); the run's record wants the recipe.
    script = getattr(sys.modules["__main__"], "__file__", None)
    if sb.utils.distributed.if_main_process() and script:
        (output_folder / Path(__file__).name).unlink(missing_ok=True)
        shutil.copy(script, output_folder)
