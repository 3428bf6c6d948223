"""esrgan_lesson.gpu_specs: the one table of GPU datasheet figures, and nobody keeps a second one."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.gpu_specs import GPU_SPECS, PRECISIONS, gpu_spec, spec_for_device_name

ROOT = Path(__file__).resolve().parents[1]
TABLE_FILE = ROOT / "esrgan_lesson" / "gpu_specs.py"


@pytest.mark.parametrize("device_name,row", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"),  # what the SXM5 module reports (benchmarks/results)
    ("NVIDIA H100 PCIe", "H100 PCIe"),
    ("NVIDIA H200", "H200"),
    ("NVIDIA A100-SXM4-40GB", "A100 80GB"),
    ("NVIDIA A100 80GB PCIe", "A100 80GB"),
    ("NVIDIA L4", "L4"),
    ("Tesla T4", "T4"),
    ("Tesla V100-SXM2-16GB", "V100 SXM2"),
    ("NVIDIA L40S", None),  # "L4" is not a whole word of it
    ("NVIDIA GeForce RTX 4090", None),
])
def test_device_names_pick_their_row(device_name: str, row: str | None) -> None:
    spec = spec_for_device_name(device_name)
    assert (spec.name if spec else None) == row


def test_every_row_names_its_datasheet_and_has_dense_figures() -> None:
    assert len({s.name for s in GPU_SPECS}) == len(GPU_SPECS)
    for spec in GPU_SPECS:
        assert "datasheet" in spec.source and spec.source.startswith("NVIDIA"), spec.name
        assert spec.memory_gb > 0 and spec.fp32 > 0 and spec.device_names, spec.name
        # tensor-core paths run faster than plain FP32 on every GPU listed
        assert all(v > spec.fp32 for p, v in spec.peaks().items() if p != "fp32"), spec.name
        assert list(spec.peaks()) == [p for p in PRECISIONS if spec.peak(p) is not None]
    assert gpu_spec("H100 SXM").peaks() == {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}
    assert gpu_spec("T4").peak("bf16") is None
    with pytest.raises(ESRGANError):
        gpu_spec("H100")
    with pytest.raises(ESRGANError):
        gpu_spec("T4").peak("int8")


# --- one table ---------------------------------------------------------------------------
FIGURES = {v for spec in GPU_SPECS for v in spec.peaks().values()}


def peak_tables(source: str) -> list[int]:
    """Lines of literal containers (dict, tuple, list, set, call) holding 3+ distinct datasheet peak figures."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Dict, ast.Tuple, ast.List, ast.Set, ast.Call)):
            numbers = {float(c.value) for c in ast.walk(node) if isinstance(c, ast.Constant)
                       and isinstance(c.value, (int, float)) and not isinstance(c.value, bool)}
            if len(numbers & FIGURES) >= 3:
                hits.append(node.lineno)
    return hits


def test_the_check_finds_a_table_of_peaks() -> None:
    old_benchmark = ('PEAK_TFLOPS = {\n    "H100 SXM": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},\n'
                     '    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0},\n}\n')
    old_course = 'GPU_SPECS = (\n    GPUSpec("T4", 8.1, None, 16),\n    GPUSpec("L4", 30.3, 121.0, 24),\n)\n'
    assert peak_tables(old_benchmark) and peak_tables(old_course)
    assert not peak_tables("days = 3600 / 67.0\nsize = (16, 128, 64)\n")


def test_there_is_one_table_of_gpu_peak_figures() -> None:
    assert peak_tables(TABLE_FILE.read_text())  # the check sees the real table
    sources = [(p, p.read_text()) for d in ("esrgan_lesson", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))
               if p != TABLE_FILE]
    for nb_path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = nbformat.read(nb_path, as_version=4).cells
        code = "\n".join("\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                         for c in cells if c.cell_type == "code")
        sources.append((nb_path, code))
    assert len(sources) > 60
    found = [f"{p.relative_to(ROOT)}:{line}" for p, src in sources for line in peak_tables(src)]
    assert not found, ("GPU peak figures belong in esrgan_lesson/gpu_specs.py (one table, with sources); found "
                       "another table at:\n" + "\n".join(found))
