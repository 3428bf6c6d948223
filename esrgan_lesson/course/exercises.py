"""Checkers for the chapters' "implement it yourself" exercises.

A learner writes a function; :func:`check_against` runs it and the package's
own function on the same inputs and says, in one line, whether they agree.
It never raises for a wrong or unfinished answer (a notebook cell that checks
an exercise should not stop the notebook): it returns ``False`` and says why.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch


def _describe(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


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
        expected = torch.as_tensor(reference(*case)).detach().double()
        try:
            got = answer(*case)
        except Exception as exc:  # a learner's bug is reported, not raised
            print(f"✗ case {n}: your function raised {type(exc).__name__}: {exc}")
            return False
        if got is None:
            print("✗ not implemented yet: your function returned None")
            return False
        got_t = torch.as_tensor(got).detach().double()
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


def logit_cases(n: int = 5, batch: int = 16, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` pairs of (real, fake) discriminator logits of shape (batch, 1), spread widening with k (within about ±10)."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for k in range(n):
        spread = 1.0 + 0.5 * k
        cases.append((torch.randn(batch, 1, generator=g) * spread + 1.0,
                      torch.randn(batch, 1, generator=g) * spread - 1.0))
    return cases


__all__ = ["check_against", "logit_cases"]
