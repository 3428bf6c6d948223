"""Shared test settings: one torch thread, deterministic seeds.

The test networks are tiny; for them one intra-op thread is as fast as two on
an idle 2-core machine and many times faster on a busy one (two threads spend
their time waiting for each other).
"""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
