"""The one checker of the exercises: a learner's function against the package's, case by case, one verdict line."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch


#: The exercises' own references are named by the package a learner imports them from, not by its submodule.
_EXERCISES = __name__.rpartition(".")[0]


def _describe(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", "?") or "?"
    if module.startswith(_EXERCISES + "."):
        module = _EXERCISES
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def _float64(value: Any) -> torch.Tensor:
    """``value`` (tensor, NumPy array or number) as a float64 tensor; a Python float keeps its 53 bits (not float32's 24)."""
    if isinstance(value, torch.Tensor):
        return value.detach().double()
    return torch.as_tensor(value, dtype=torch.float64)


def check_against(answer: Callable[..., Any], reference: Callable[..., Any], cases: Iterable[Sequence[Any]],
                  atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Compare ``answer(*case)`` with ``reference(*case)`` for every case; print one verdict line.

    Both must return tensors (or numbers) of the same shape; values must agree
    within ``atol + rtol * |reference|``. A function that raises, returns
    ``None`` (an unfinished stub), the wrong shape or the wrong values gives
    ``False`` with the first failing case; otherwise ``True``.
    """
    worst, n = 0.0, 0
    for n, case in enumerate(cases, start=1):
        expected = _float64(reference(*case))
        try:
            got = answer(*case)
        except Exception as exc:  # a learner's bug is reported, not raised
            print(f"✗ case {n}: your function raised {type(exc).__name__}: {exc}")
            return False
        if got is None:
            print("✗ not implemented yet: your function returned None")
            return False
        try:
            got_t = _float64(got)
        except (TypeError, ValueError, RuntimeError):
            print(f"✗ case {n}: your function returned a {type(got).__name__}, not a number, array or tensor")
            return False
        if got_t.shape != expected.shape:
            print(f"✗ case {n}: shape {tuple(got_t.shape)}, expected {tuple(expected.shape)}")
            return False
        gap = (got_t - expected).abs()
        if not bool((gap <= atol + rtol * expected.abs()).all()):
            print(f"✗ case {n}: differs from {_describe(reference)} by up to {float(gap.max()):.3g}")
            return False
        worst = max(worst, float(gap.max()) if gap.numel() else 0.0)
    if n == 0:
        raise ValueError("check_against needs at least one case")
    print(f"✓ matches {_describe(reference)} on {n} cases (largest difference {worst:.1e})")
    return True


__all__ = ["check_against"]
