"""Helpers the course chapters share: the lesson/paper switch, the device, seeding, timing, budgets.

The chapters run at one of two scales:

``"lesson"``
    small networks and short runs that finish on a laptop CPU in minutes
    (the default, and what the committed notebook outputs show);
``"paper"``
    the paper's network sizes and schedules, for a GPU (e.g. on Colab).

The scale comes from the environment variable ``ESRGAN_SCALE`` unless a chapter's
settings cell passes one explicitly::

    SCALE = run_scale()        # or run_scale("paper") on a GPU
    steps = pick(SCALE, lesson=300, paper=400_000)

Nothing here is specific to one chapter; figures and shown source are in
:mod:`esrgan_lesson.course.display`.
"""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import torch

from esrgan_lesson.device import select_device
from esrgan_lesson.errors import ConfigError

Scale = Literal["lesson", "paper"]
T = TypeVar("T")

#: Environment variable that selects the scale when a chapter does not pass one.
SCALE_ENV = "ESRGAN_SCALE"
#: Environment variable the Colab setup cell sets to pick the device.
DEVICE_ENV = "ESRGAN_DEVICE"
#: The scales a chapter can run at; the first is the default.
SCALES: tuple[Scale, ...] = ("lesson", "paper")


def run_scale(value: str | None = None) -> Scale:
    """Return the scale to run at: ``value`` if given, else ``$ESRGAN_SCALE``, else "lesson".

    Raises :class:`ConfigError` for anything other than "lesson" or "paper"
    (case and surrounding spaces are ignored).
    """
    raw = value if value is not None else os.environ.get(SCALE_ENV, SCALES[0])
    name = raw.strip().lower()
    if name not in SCALES:
        source = "run_scale()" if value is not None else f"${SCALE_ENV}"
        raise ConfigError(f"{source} is {raw!r}; choose one of {', '.join(SCALES)}")
    return name  # type: ignore[return-value]


def pick(current: str, *, lesson: T, paper: T) -> T:
    """Return ``lesson`` or ``paper`` according to the scale ``current``.

    ``pick(SCALE, lesson=16, paper=128)`` keeps both values visible side by side
    in the chapter, so the reader sees what the paper used.
    """
    return lesson if run_scale(current) == "lesson" else paper


def course_device() -> torch.device:
    """The device chapters run on: ``$ESRGAN_DEVICE`` if set, else the best available."""
    return select_device(os.environ.get(DEVICE_ENV) or "auto")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's, NumPy's and torch's generators (all devices) with ``seed``.

    With ``deterministic=True`` torch also prefers deterministic kernels (it
    warns, rather than fails, where an operation has none).
    """
    if not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators as well
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


# --- timing -------------------------------------------------------------------


@dataclass
class Timer:
    """Wall-clock timer, used as a context manager.

    >>> with Timer("training") as t:
    ...     pass
    >>> t.elapsed >= 0
    True

    ``str(t)`` reads ``"training took 0.12 s"`` style text; its number changes
    between runs, so print it only where the nbval sanitizer hides it.
    """

    label: str = "block"
    start: float | None = None
    stop: float | None = None

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.stop = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since entering (or between entering and leaving) the block."""
        if self.start is None:
            return 0.0
        end = self.stop if self.stop is not None else time.perf_counter()
        return end - self.start

    def __str__(self) -> str:
        return f"{self.label} took {self.elapsed:.2f} s"


@dataclass
class Budget:
    """A time budget for a loop: stop early once ``seconds`` have passed.

    Training loops in the chapters run ``for step in range(max_steps)`` and
    ``break`` when ``budget.expired``, so a slow machine ends a lesson on time
    instead of running long. ``steps_done`` counts calls to :meth:`tick`.
    """

    seconds: float
    started: float = field(default_factory=time.perf_counter)
    steps_done: int = 0

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ConfigError(f"a time budget must be positive, got {self.seconds}")

    def tick(self) -> bool:
        """Count one step; return True while there is time left."""
        self.steps_done += 1
        return not self.expired

    @property
    def used(self) -> float:
        """Seconds used so far."""
        return time.perf_counter() - self.started

    @property
    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.seconds - self.used)

    @property
    def expired(self) -> bool:
        """True once the budget is used up."""
        return self.used >= self.seconds


