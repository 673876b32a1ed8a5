"""tools/plot_train_logs.py parses speechbrain logs and writes a PNG."""

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "plot_train_logs.py"


def test_plot_train_logs_writes_png(tmp_path):
    logs = []
    for name, slope in (("a", 1.0), ("b", 2.0)):
        log = tmp_path / name / "steps_log.txt"
        log.parent.mkdir()
        log.write_text("".join(f"step: {s}, loss: {5 - slope * s / 100:.3f}, accuracy: {s / 400:.3f}\n" for s in (10, 20, 30)))
        logs.append(str(log))
    out = tmp_path / "curves.png"
    cmd = [sys.executable, str(TOOL), "--logs", *logs, "--keys", "loss", "accuracy", "--output", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parse_log_keeps_section_prefixes(tmp_path):
    sys.path.insert(0, str(TOOL.parent))
    try:
        from plot_train_logs import parse_log
    finally:
        sys.path.pop(0)
    path = tmp_path / "train_log.txt"
    path.write_text("epoch: 2, lr: 1.00e-03 - train loss: 2.5 - valid loss: 2.1, valid accuracy: 0.3\n")
    (row,) = parse_log(path)
    assert row == {"epoch": 2.0, "lr": 1e-3, "train loss": 2.5, "valid loss": 2.1, "valid accuracy": 0.3}
