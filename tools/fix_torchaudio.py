#!/usr/bin/env python3
"""Make torchaudio importable next to a CPU build of torch.

The only torchaudio wheels reachable on CPU-only machines are CUDA builds whose
compiled extension (torchaudio/lib/*.so) cannot load next to CPU torch. Its
pure-Python parts (transforms, functional.resample, compliance.kaldi), which
speechbrain needs, work once those libraries are moved aside. This script
checks in a subprocess whether `import torchaudio` works; if it fails on the
extension, it moves the .so files to torchaudio/lib/disabled/ and says so in
one line. Idempotent; uses the standard library only. Project code never calls
torchaudio.load/save (audio goes through soundfile).

Usage: python tools/fix_torchaudio.py   (run by `make setup`)
"""

import shutil
import subprocess
import sys
from pathlib import Path

PROBE = "import torchaudio, speechbrain; print(torchaudio.__file__)"


def _probe() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)


def _torchaudio_lib_dir() -> Path:
    out = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('torchaudio').origin)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip()).parent / "lib"


def main() -> int:
    result = _probe()
    if result.returncode == 0:
        return 0
    if "torchaudio" not in result.stderr or ".so" not in result.stderr:
        sys.stderr.write(result.stderr)
        print("fix_torchaudio: `import torchaudio, speechbrain` fails for another reason (above).")
        return 1
    lib_dir = _torchaudio_lib_dir()
    disabled = lib_dir / "disabled"
    disabled.mkdir(exist_ok=True)
    moved = [p.name for p in sorted(lib_dir.glob("*.so"))]
    for name in moved:
        shutil.move(str(lib_dir / name), str(disabled / name))
    result = _probe()
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        print("fix_torchaudio: torchaudio still fails to import after disabling its extension.")
        return 1
    print(
        f"fix_torchaudio: torchaudio's compiled extension does not load next to this torch; "
        f"disabled {len(moved)} libraries in {lib_dir} (pure-Python parts still work)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
