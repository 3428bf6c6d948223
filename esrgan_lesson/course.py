"""Helpers the course chapters share: the scale switch, figures, timing, seeding.

The chapters run at one of two scales:

``"lesson"``
    small networks and short runs that finish on a laptop CPU in minutes
    (the default, and what the committed notebook outputs show);
``"paper"``
    the paper's network sizes and schedules, for a GPU (e.g. on Colab).

The scale comes from the environment variable ``ESRGAN_SCALE`` unless a chapter's
settings cell passes one explicitly::

    SCALE = scale()            # or scale("paper") on a GPU
    steps = pick(SCALE, lesson=300, paper=400_000)

Nothing here is specific to one chapter; chapter-specific code belongs in the
package module the chapter teaches.
"""
from __future__ import annotations

import html
import inspect
import os
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Sequence, TypeVar

import numpy as np
import torch

from .device import select_device
from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - imported for type hints only
    from matplotlib.figure import Figure

Scale = Literal["lesson", "paper"]
T = TypeVar("T")

#: Environment variable that selects the scale when a chapter does not pass one.
SCALE_ENV = "ESRGAN_SCALE"
#: Environment variable the Colab setup cell sets to pick the device.
DEVICE_ENV = "ESRGAN_DEVICE"
#: The scales a chapter can run at; the first is the default.
SCALES: tuple[Scale, ...] = ("lesson", "paper")


def scale(value: str | None = None) -> Scale:
    """Return the scale to run at: ``value`` if given, else ``$ESRGAN_SCALE``, else "lesson".

    Raises :class:`ConfigError` for anything other than "lesson" or "paper"
    (case and surrounding spaces are ignored).
    """
    raw = value if value is not None else os.environ.get(SCALE_ENV, SCALES[0])
    name = raw.strip().lower()
    if name not in SCALES:
        source = "scale()" if value is not None else f"${SCALE_ENV}"
        raise ConfigError(f"{source} is {raw!r}; choose one of {', '.join(SCALES)}")
    return name  # type: ignore[return-value]


def pick(current: str, *, lesson: T, paper: T) -> T:
    """Return ``lesson`` or ``paper`` according to the scale ``current``.

    ``pick(SCALE, lesson=16, paper=128)`` keeps both values visible side by side
    in the chapter, so the reader sees what the paper used.
    """
    return lesson if scale(current) == "lesson" else paper


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


# --- showing package source -----------------------------------------------------


@dataclass(frozen=True)
class SourceView:
    """Source code of a package object, displayed highlighted in notebooks and the book.

    ``text/plain`` is the source itself and ``text/html`` is Pygments' output with
    the ``highlight`` CSS class that the book's theme already styles; both depend
    only on the code, so nbval sees the same output on every run.
    """

    name: str
    location: str
    source: str

    def __repr__(self) -> str:
        return f"# {self.name}  ({self.location})\n{self.source}"

    def _repr_html_(self) -> str:
        caption = f'<p class="esrgan-source-caption"><code>{html.escape(self.name)}</code> &mdash; {html.escape(self.location)}</p>'
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # pragma: no cover - pygments ships with IPython
            body = f'<div class="highlight"><pre>{html.escape(self.source)}</pre></div>'
        else:
            body = highlight(self.source, PythonLexer(), HtmlFormatter(cssclass="highlight"))
        return f'<div class="esrgan-source">{caption}{body}</div>'


def show_source(obj: Any) -> SourceView:
    """Return the source of a package function, class or module for display.

    The location is given relative to the package (``esrgan_lesson/models/rrdbnet.py,
    lines 10-42``), so the output does not depend on where the package is installed.
    """
    try:
        lines, first = inspect.getsourcelines(obj)
        path = inspect.getsourcefile(obj)
    except (OSError, TypeError) as exc:
        raise ConfigError(f"cannot show the source of {obj!r}: {exc}") from None
    module = inspect.getmodule(obj)
    module_name = module.__name__ if module else "?"
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", module_name)
    name = qualname if inspect.ismodule(obj) else f"{module_name}.{qualname}"
    rel = _package_relative(path) if path else "?"
    first = max(first, 1)
    location = f"{rel}, lines {first}-{first + len(lines) - 1}"
    return SourceView(name=name, location=location, source="".join(lines).rstrip("\n") + "\n")


def _package_relative(path: str) -> str:
    """Path from the directory that holds ``esrgan_lesson`` (or the bare file name)."""
    parts = os.path.normpath(path).split(os.sep)
    if "esrgan_lesson" in parts:
        idx = len(parts) - 1 - parts[::-1].index("esrgan_lesson")
        return "/".join(parts[idx:])
    return os.path.basename(path)


# --- figures -----------------------------------------------------------------------


def as_image(img: np.ndarray | torch.Tensor) -> np.ndarray:
    """Convert an image to HxWx3 (or HxW) float32 numpy in [0, 1] for display.

    Accepts HxW, HxWxC numpy arrays (uint8 or float) and CxHxW or 1xCxHxW tensors
    with values in [0, 1]; float values are clipped to [0, 1].
    """
    if isinstance(img, torch.Tensor):
        t = img.detach().float().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3:
            raise ConfigError(f"expected a CxHxW or 1xCxHxW tensor, got shape {tuple(img.shape)}")
        arr = t.permute(1, 2, 0).numpy()
    else:
        arr = np.asarray(img)
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ConfigError(f"cannot display an image of shape {arr.shape}")
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


def show_grid(
    images: Sequence[np.ndarray | torch.Tensor],
    titles: Sequence[str] | None = None,
    crop: tuple[float, float, float] | None = None,
    size: float = 3.0,
) -> "Figure":
    """Show images side by side; with ``crop``, add a second row of zoomed crops.

    ``images`` may differ in resolution (an LR input beside its SR output); the
    crop is given in relative coordinates so it picks the same region in each:
    ``crop=(top, left, side)`` with all three in [0, 1] as fractions of the height
    (``top``, ``side``) and width (``left``). Crops are shown with nearest-neighbour
    interpolation so that pixels stay visible, and the region is outlined in the
    top row.

    Returns the :class:`matplotlib.figure.Figure`, already closed in pyplot, so a
    notebook displays it exactly once (as the cell's value, ``text/plain``
    ``<Figure size ... with N Axes>``) and scripts and tests need no display.
    """
    import matplotlib.pyplot as plt  # importing pyplot enables the notebook's figure display
    from matplotlib.patches import Rectangle

    if not images:
        raise ConfigError("show_grid needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ConfigError(f"got {len(images)} images but {len(titles)} titles")
    if crop is not None:
        top, left, side = crop
        if not (0 <= top < 1 and 0 <= left < 1 and 0 < side <= 1):
            raise ConfigError(f"crop must be (top, left, side) fractions in [0, 1], got {crop}")
    arrays = [as_image(im) for im in images]
    rows = 2 if crop is not None else 1
    fig = plt.figure(figsize=(size * len(arrays), size * rows), layout="constrained")
    plt.close(fig)
    axes = fig.subplots(rows, len(arrays), squeeze=False)
    for col, arr in enumerate(arrays):
        cmap = "gray" if arr.ndim == 2 else None
        ax = axes[0, col]
        ax.imshow(arr, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[col])
        if crop is not None:
            h, w = arr.shape[:2]
            y0, x0 = int(top * h), int(left * w)
            side_px = max(1, round(side * h))  # square crop, in this image's pixels
            y1, x1 = min(h, y0 + side_px), min(w, x0 + side_px)
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="yellow", linewidth=1.5))
            axes[1, col].imshow(arr[y0:y1, x0:x1], cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    for ax in axes.flat:
        ax.set_axis_off()
    return fig
