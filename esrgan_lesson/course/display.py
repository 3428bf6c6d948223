"""What the chapters show: package source (:func:`show_source`) and image grids (:func:`show_grid`).

The source a chapter shows comes from the package itself (``inspect``), never
from a copy.
"""
from __future__ import annotations

import html
import inspect
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from esrgan_lesson.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - imported for type hints only
    from matplotlib.figure import Figure


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
