"""CostReport: the one record of what a run cost, saved as cost_<name>.json.

Result-table tools read these files; the keys below are a stable contract
(new keys may be added, existing ones keep their name, unit and meaning).
``None`` (JSON ``null``) means "not measured".

=====================  ======================================================
key                    meaning
=====================  ======================================================
name                   what was measured, e.g. ``"test_inference"``
device                 ``"cpu"`` or ``"cuda:N"``
device_name            CPU model or GPU name
num_threads            torch intra-op threads (CPU runs)
params                 parameters of the model (int)
trainable_params       parameters with requires_grad (int)
flops                  FLOPs of one run (matmul, conv and attention only)
macs                   ``flops // 2``
flops_per_audio_s      flops / audio_s
macs_per_audio_s       macs / audio_s
peak_mem_mb            peak tensor memory allocated in the run, MiB
rss_peak_mb            peak resident memory of the whole process, MiB
wall_time_s            wall seconds of one run
audio_s                seconds of audio processed by one run
rtf                    real-time factor, wall_time_s / audio_s
audio_s_per_s          throughput, audio_s / wall_time_s
energy_j               joules of one run
energy_j_per_audio_s   energy_j / audio_s
energy_method          how energy_j was obtained (efficiency.energy names)
extra                  free-form dict (batch size, step count, ...)
schema_version         version of this key set
=====================  ======================================================
"""

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

COST_SCHEMA_VERSION = 1


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Return numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclasses.dataclass
class CostReport:
    """What one run cost (see the module docstring for every key and unit).

    Derived figures left as None are computed from the measured ones:
    ``macs`` from ``flops``, the per-audio-second figures, ``rtf`` and
    ``audio_s_per_s`` from ``audio_s``.

    Example
    -------
    >>> report = CostReport("demo", "cpu", flops=8_000, wall_time_s=0.5, audio_s=2.0)
    >>> report.macs, report.flops_per_audio_s, report.rtf, report.audio_s_per_s
    (4000, 4000.0, 0.25, 4.0)
    >>> CostReport.from_dict(report.to_dict()) == report
    True
    """

    name: str
    device: str
    device_name: str = ""
    num_threads: int | None = None
    params: int | None = None
    trainable_params: int | None = None
    flops: int | None = None
    macs: int | None = None
    flops_per_audio_s: float | None = None
    macs_per_audio_s: float | None = None
    peak_mem_mb: float | None = None
    rss_peak_mb: float | None = None
    wall_time_s: float | None = None
    audio_s: float | None = None
    rtf: float | None = None
    audio_s_per_s: float | None = None
    energy_j: float | None = None
    energy_j_per_audio_s: float | None = None
    energy_method: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    schema_version: int = COST_SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.audio_s is not None and self.audio_s <= 0:
            raise ValueError(f"CostReport '{self.name}': audio_s={self.audio_s} must be > 0")
        if self.macs is None and self.flops is not None:
            self.macs = self.flops // 2
        if self.flops_per_audio_s is None:
            self.flops_per_audio_s = _ratio(self.flops, self.audio_s)
        if self.macs_per_audio_s is None:
            self.macs_per_audio_s = _ratio(self.macs, self.audio_s)
        if self.rtf is None:
            self.rtf = _ratio(self.wall_time_s, self.audio_s)
        if self.audio_s_per_s is None:
            self.audio_s_per_s = _ratio(self.audio_s, self.wall_time_s)
        if self.energy_j_per_audio_s is None:
            self.energy_j_per_audio_s = _ratio(self.energy_j, self.audio_s)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (keys of the module docstring)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "cost report") -> "CostReport":
        """Build a report from :meth:`to_dict` output.

        Arguments
        ---------
        data : dict
            The keys of the module docstring; missing optional keys are None.
        source : str
            Named in error messages (e.g. the file path).

        Returns
        -------
        CostReport
            The report.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{source}: unknown key '{unknown[0]}': written by a newer efficient_ssl? "
                "update this checkout"
            )
        for required in ("name", "device"):
            if required not in data:
                raise ValueError(f"{source}: missing key '{required}': not a cost report")
        return cls(**data)

    def save(self, folder: str | Path, name: str | None = None) -> Path:
        """Write ``folder/cost_<name>.json`` atomically (temp file + os.replace).

        Arguments
        ---------
        folder : str | Path
            Output folder, created if missing.
        name : str | None
            File name part; defaults to ``self.name``.

        Returns
        -------
        Path
            The written file.

        Example
        -------
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> path = CostReport("demo", "cpu", params=10).save(folder)
        >>> path.name, CostReport.load(path).params
        ('cost_demo.json', 10)
        """
        name = name or self.name
        if not name or os.sep in name or "/" in name:
            raise ValueError(
                f"CostReport.save: bad file name '{name}': pass name= without path separators"
            )
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"cost_{name}.json"
        descriptor, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w") as tmp_file:
                json.dump(self.to_dict(), tmp_file, indent=2)
                tmp_file.write("\n")
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CostReport":
        """Read a report written by :meth:`save`.

        Arguments
        ---------
        path : str | Path
            A ``cost_<name>.json`` file.

        Returns
        -------
        CostReport
            The report.
        """
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error}): re-run the measurement") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object: not a cost report")
        return cls.from_dict(data, source=str(path))

    def summary(self) -> str:
        """Return a one-line human-readable summary for logs.

        Example
        -------
        >>> CostReport("demo", "cpu", params=1_500_000, flops=4_000_000_000, wall_time_s=0.2).summary()
        'demo [cpu]: 1.50M params, 4.00 GFLOPs (2.00 GMACs), 0.200 s'
        """
        parts = []
        if self.params is not None:
            parts.append(f"{self.params / 1e6:.2f}M params")
        if self.flops is not None:
            parts.append(f"{self.flops / 1e9:.2f} GFLOPs ({self.macs / 1e9:.2f} GMACs)")
        if self.peak_mem_mb is not None:
            parts.append(f"peak {self.peak_mem_mb:.1f} MiB")
        if self.wall_time_s is not None:
            parts.append(f"{self.wall_time_s:.3f} s")
        if self.rtf is not None:
            parts.append(f"RTF {self.rtf:.4f}")
        if self.energy_j is not None:
            parts.append(f"{self.energy_j:.2f} J ({self.energy_method})")
        return f"{self.name} [{self.device}]: " + ", ".join(parts)
