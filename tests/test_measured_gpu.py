"""The package's record of the H100 measurement equals the committed benchmark table.

``esrgan_lesson.course.gpus.H100_MEASURED`` copies the paper-size rows of
``benchmarks/results/train_step-cuda.md`` so that chapter 7 can quote them
without reading a file. These tests parse that markdown table (no GPU needed)
and fail if the two ever drift apart.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from esrgan_lesson.course import gpus
from esrgan_lesson.errors import ESRGANError

ROOT = Path(__file__).resolve().parents[1]
M = gpus.H100_MEASURED
TABLE = ROOT / M.source


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_after(text: str, first_column: str) -> list[dict[str, str]]:
    """Rows (as column -> text) of the first markdown table whose header starts with ``first_column``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and _cells(line)[0] == first_column:
            header = _cells(line)
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, _cells(row))))
            return rows
    raise AssertionError(f"no table with first column {first_column!r} in {TABLE}")


@pytest.fixture(scope="module")
def text() -> str:
    assert TABLE.is_file(), f"{M.source} is missing"
    return TABLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def paper_rows(text: str) -> list[dict[str, str]]:
    rows = [r for r in _table_after(text, "size") if r["size"].startswith("paper")]
    assert rows, "no paper-size rows in the table"
    return rows


def test_device_and_torch_version_match_the_file(text: str) -> None:
    heading = text.splitlines()[0]
    assert heading.startswith("# Training-step benchmark on cuda")
    assert f"({M.device})" in heading
    assert re.search(rf"^torch {re.escape(M.torch_version)},", text, re.MULTILINE)


def test_every_paper_row_is_in_the_package_with_the_same_numbers(paper_rows: list[dict[str, str]]) -> None:
    table = {(r["stage"], r["switch"]): r for r in paper_rows}
    package = {(s.stage, s.switch): s for s in M.steps}
    assert set(table) == set(package)
    for key, row in table.items():
        assert int(row["batch"]) == M.batch and int(row["HR patch"]) == M.hr_patch, key
        assert float(row["s/step"]) == package[key].seconds, key
        assert float(row["peak mem GiB"]) == package[key].peak_gib, key


def test_schedule_days_match_the_files_projection(text: str) -> None:
    rows = _table_after(text, "stage")
    iters = {r["stage"]: int(r["iterations"].replace(",", "")) for r in rows if r["stage"] in ("psnr", "gan")}
    assert iters == {"psnr": 1_000_000, "gan": 400_000}
    both = {r["switch"]: float(r["days"].strip("*")) for r in rows if r["stage"] == "both"}
    # The file projects from unrounded step times; the package keeps the table's three decimals.
    assert M.schedule_days(iters) == pytest.approx(both["fp32 eager"], abs=0.01)
    assert M.schedule_days(iters, switch=None) == pytest.approx(both["fastest"], abs=0.01)
    for r in rows:
        if r["stage"] in ("psnr", "gan") and r["switch"] != "fp32 eager":
            assert M.fastest(r["stage"]).switch == r["switch"]


def test_lookup_errors_and_record_is_frozen() -> None:
    assert M.step("psnr").switch == "fp32 eager"
    with pytest.raises(ESRGANError, match="measured"):
        M.step("psnr", "fp8")
    with pytest.raises(ESRGANError):
        M.fastest("sft")
    with pytest.raises(AttributeError):
        M.batch = 32  # type: ignore[misc]
    assert not M.perceptual          # the GAN rows were measured without the VGG loss
