"""Where and how the benchmark scripts write their markdown tables."""
from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from esrgan_lesson.fileio import atomic_path  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_report(lines: list[str], script: str, device_type: str, out: Path | None = None) -> Path:
    """Write ``lines`` atomically to ``out`` (default ``results/<script>-<device_type>.md``); print the path."""
    target = out or RESULTS_DIR / f"{script}-{device_type}.md"
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten to {target}")
    return target


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu"
