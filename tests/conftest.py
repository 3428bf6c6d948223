"""Shared test settings: one torch thread, deterministic seeds.

The test networks are tiny; for them one intra-op thread is as fast as two on
an idle 2-core machine and many times faster on a busy one (two threads spend
their time waiting for each other).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from esrgan_lesson.training.ema import ModelEMA

# The browser fixtures are registered here, once for the whole session: two
# test modules importing them would each start their own Playwright, and a
# second sync Playwright in the same thread fails.
from book_browser import book_html, browser_context, chromium_path  # noqa: E402,F401

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def ema_pair() -> tuple[nn.Sequential, ModelEMA]:
    """A one-weight model (Linear(1, 1) without bias, then BatchNorm1d(1)) and its EMA (decay 0.75).

    The EMA was taken while the weight was 2.0; the model's weight is now 6.0,
    its BatchNorm buffers untouched (running mean 0, counter 0): one update
    moves the EMA weight to 0.75 * 2 + 0.25 * 6 = 3.
    """
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.fill_(2.0)
    ema = ModelEMA(model, decay=0.75)
    with torch.no_grad():
        model[0].weight.fill_(6.0)
    return model, ema
