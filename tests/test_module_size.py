"""Module size (issue 10): no module of esrgan_lesson/ is over 400 lines, and one parameter count."""
from __future__ import annotations

import ast
from pathlib import Path

import torch
from torch import nn

PACKAGE = Path(__file__).resolve().parent.parent / "esrgan_lesson"
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in sorted(PACKAGE.rglob("*.py"))}
    assert len(sizes) > 50  # the walk saw the package
    over = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def test_parameters_are_counted_in_one_place() -> None:
    from esrgan_lesson.models import count_params

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2, bias=False))
    net[1].weight.requires_grad_(False)
    assert count_params(net) == 3 * 4 * 9 + 4 + 8 and count_params(net, trainable_only=True) == 3 * 4 * 9 + 4
    assert count_params(None) == 0 and count_params([torch.zeros(2, 3)]) == 6
    sums = [f"{p.relative_to(PACKAGE)}:{n.lineno}" for p in sorted(PACKAGE.rglob("*.py"))
            for n in ast.walk(ast.parse(p.read_text()))
            if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "sum" and "numel()" in ast.unparse(n)]
    assert sums == [s for s in sums if s.startswith("models/params.py:")] and len(sums) == 1, sums
