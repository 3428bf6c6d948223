"""The alpha explorer: network interpolation (ESRGAN Sec. 3.4) you can slide through.

ESRGAN blends a PSNR-oriented generator and its GAN fine-tuned copy weight by
weight, ``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN`` (Eq. 4 of the
paper; :func:`esrgan_lesson.weights.interpolate_state_dicts`), and compares
it with blending the two output *images* (Fig. 9). This module shows the
result for every alpha, in two forms:

* **live** -- :func:`live_explorer` returns an ipywidgets slider and image that
  re-run the interpolated network on an LR crop whenever the slider moves
  (Jupyter, Colab; CPU is enough for a crop). It reads both models' current
  weights on every move, so it never shows a stale result.
* **static** -- :func:`precompute_frames` renders one PNG per alpha and
  :func:`static_explorer_html` wraps them in a self-contained HTML/JS slider
  (frames as base64 ``data:`` URIs, inline script, no external resources). It
  renders wherever HTML does -- a notebook, the HTML book, a saved ``.html``
  file -- with no kernel and no network.

It also holds the measurements the network-interpolation chapter makes on an
alpha sweep: Y-PSNR (fidelity), the training engine's sharpness figures
(:func:`esrgan_lesson.metrics.gradient_energy` and
:func:`~esrgan_lesson.metrics.high_frequency_energy`), and the gradient
energy inside *flat* regions of the ground truth (:func:`flat_mask`), where
any detail a model adds is noise or artefact rather than texture.

All images are RGB in [0, 1]: tensors (3, H, W) or numpy (H, W, 3).

Layout: :mod:`.frames` (the interpolated generator and the PNG frames),
:mod:`.static` (the self-contained HTML slider), :mod:`.live` (the ipywidgets
slider), :mod:`.sweep` (scoring an alpha sweep).
"""
from __future__ import annotations

from esrgan_lesson.course.explorer.frames import (
    ALPHA_STEP,
    DEFAULT_ALPHAS,
    DEFAULT_ZOOM,
    MAX_FRAME_SIDE,
    MODES,
    PAPER_ALPHAS,
    InterpolatedGenerator,
    Mode,
    alpha_label,
    from_png,
    image_interpolation,
    interpolation_outputs,
    network_interpolation,
    png_size,
    precompute_frames,
    to_png,
    to_uint8,
)
from esrgan_lesson.course.explorer.live import LiveExplorer, live_explorer
from esrgan_lesson.course.explorer.static import StaticExplorer, static_explorer_html
from esrgan_lesson.course.explorer.sweep import (
    FLAT_FRACTION,
    FLAT_WINDOW,
    SweepPoint,
    flat_mask,
    masked_gradient_energy,
    mean_curve,
    permute_upsampler_channels,
    score_output,
    sweep,
    weight_distance,
)

__all__ = [
    "ALPHA_STEP", "DEFAULT_ALPHAS", "DEFAULT_ZOOM", "FLAT_FRACTION", "FLAT_WINDOW", "MAX_FRAME_SIDE", "MODES",
    "PAPER_ALPHAS", "InterpolatedGenerator", "LiveExplorer", "Mode", "StaticExplorer", "SweepPoint", "alpha_label",
    "flat_mask", "from_png", "image_interpolation", "interpolation_outputs", "live_explorer",
    "masked_gradient_energy", "mean_curve", "network_interpolation", "permute_upsampler_channels", "png_size",
    "precompute_frames", "score_output", "static_explorer_html", "sweep", "to_png", "to_uint8", "weight_distance",
]
