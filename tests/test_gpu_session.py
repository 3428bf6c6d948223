"""The prepared device script runs every section on a CPU at tiny size, before a GPU session spends time on it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["smoke", "eager", "graphed", "graph_vs_eager", "skip", "vgg", "profile", "compile", "sweep", "data",
            "summary"]


@pytest.mark.slow  # ~50 s on a 2-core machine (one inductor compile of a tiny RRDB)
def test_every_section_runs_tiny_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_session.py"), "--device", "cpu", "--tiny",
                           "--out", str(out), "--demo-root", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "gpu_session-cpu.json").read_text())
    assert list(results) == SECTIONS
    assert not any("failed" in r or "skipped" in r for r in results.values())
    md = (out / "gpu_session-cpu.md").read_text()
    assert all(f". {name} (" in md for name in SECTIONS)
    # The graph's eager stand-in must be exactly the eager step: same weights after 6 and 10 steps.
    assert results["smoke"]["psnr"]["gap"] == 0.0 and results["smoke"]["gan"]["replays"] >= 1
    assert results["graph_vs_eager"]["psnr"] == 0.0 and results["graph_vs_eager"]["gan"] == 0.0
    assert results["skip"] == {**results["skip"], "status_nonfinite": True, "state_unchanged": True,
                               "next_step_applied": True}
    assert results["summary"]["fastest graphed"]["hours"] > 0
    assert results["compile"]["psnr"]["output_gap"] < 1e-2  # bf16 rounding, not a wrong network
