"""Shared test settings: one torch thread, deterministic seeds.

The test networks are tiny; for them one intra-op thread is as fast as two on
an idle 2-core machine and many times faster on a busy one (two threads spend
their time waiting for each other).
"""
from __future__ import annotations

import pytest
import torch

# The browser fixtures are registered here, once for the whole session: two
# test modules importing them would each start their own Playwright, and a
# second sync Playwright in the same thread fails.
from book_browser import book_html, browser_context, chromium_path  # noqa: E402,F401

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
