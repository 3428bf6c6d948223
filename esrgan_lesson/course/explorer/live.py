"""The live explorer: an ipywidgets slider that re-runs the interpolated network.

Needs a running kernel (Jupyter, Colab); a CPU is enough for an LR crop.
"""
from __future__ import annotations

import html
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from esrgan_lesson.course.explorer.frames import (
    DEFAULT_ZOOM,
    MAX_FRAME_SIDE,
    InterpolatedGenerator,
    alpha_label,
    as_lr_batch,
    check_alphas,
    png_size,
    to_png,
)
from esrgan_lesson.course.explorer.static import _data_uri
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.weights import interpolate_images


# --------------------------------------------------------------------------- #
# The live explorer (ipywidgets; needs a running kernel)
# --------------------------------------------------------------------------- #
def _img_tag(png: bytes, zoom: int, alt: str) -> str:
    w, h = png_size(png)
    return (f'<img src="{_data_uri(png)}" alt="{html.escape(alt)}" width="{w * zoom}" height="{h * zoom}" '
            'style="image-rendering:pixelated;max-width:100%;height:auto;border:1px solid #888">')


class LiveExplorer:
    """An ipywidgets slider that re-runs the interpolated network on an LR crop.

    Attributes: ``slider`` (FloatSlider over [0, 1]), ``view`` (HTML widget
    showing the frame(s), nearest-neighbour enlarged), ``label`` (the alpha
    and the blend it stands for), ``widget`` (the box to display). Each slider
    move reads both models' current weights (:class:`InterpolatedGenerator`),
    so nothing shown is stale. Works on CPU; the widget needs a running
    kernel (Jupyter, Colab) -- the static HTML book cannot run it.
    """

    def __init__(self, psnr_model: nn.Module, gan_model: nn.Module, lr_crop: np.ndarray | torch.Tensor,
                 step: float = 0.05, start: float = 0.0, zoom: int = DEFAULT_ZOOM,
                 with_image_blend: bool = False, max_side: int = MAX_FRAME_SIDE) -> None:
        try:
            import ipywidgets as widgets
        except ImportError:
            raise ESRGANError("the live explorer needs ipywidgets: pip install ipywidgets "
                              "(or use static_explorer_html, which needs no kernel)") from None
        if not 0 < step <= 1:
            raise ESRGANError(f"step must be in (0, 1], got {step}")
        check_alphas([start])
        self.lr = as_lr_batch(lr_crop)
        scale = int(getattr(psnr_model, "scale", 1) or 1)
        if max(self.lr.shape[-2:]) * scale > max_side:
            raise ESRGANError(f"the LR crop is too large for the live view; crop it so its SR side is <= {max_side} px")
        self.generator = InterpolatedGenerator(psnr_model, gan_model)
        self.zoom = int(zoom)
        self.with_image_blend = with_image_blend
        self.slider = widgets.FloatSlider(value=start, min=0.0, max=1.0, step=step, description="\u03b1",
                                          continuous_update=False, readout_format=".2f")
        self.view = widgets.HTML()
        self.label = widgets.Label()
        self.widget = widgets.VBox([self.slider, self.view, self.label])
        self.slider.observe(self._on_change, names="value")
        self.render(start)

    def frames(self, alpha: float) -> dict[str, bytes]:
        """PNG frame(s) for ``alpha``, computed now from the models' current weights."""
        out = {"Network interpolation": to_png(self.generator(self.lr, alpha))}
        if self.with_image_blend:
            blend = interpolate_images(self.generator(self.lr, 0.0), self.generator(self.lr, 1.0), alpha)
            out["Image interpolation"] = to_png(blend)
        return out

    def render(self, alpha: float) -> None:
        """Show the output(s) for ``alpha`` (also called on every slider move)."""
        alpha = float(alpha)
        figs = [
            '<figure style="margin:0 0.75em 0 0;display:inline-block;text-align:center">'
            f'{_img_tag(png, self.zoom, f"{name}, {alpha_label(alpha)}")}'
            f'<figcaption style="font-size:0.9em">{html.escape(name)}</figcaption></figure>'
            for name, png in self.frames(alpha).items()
        ]
        self.view.value = "".join(figs)
        self.label.value = f"{alpha_label(alpha)}: weights = {1 - alpha:.2f} x PSNR model + {alpha:.2f} x GAN model"

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.render(change["new"])

    def __repr__(self) -> str:
        h, w = self.lr.shape[-2:]
        return f"LiveExplorer(alpha slider over a {w}x{h} LR crop; needs a running kernel)"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        bundle = dict(bundle or {})
        bundle["text/plain"] = repr(self)
        return bundle


def live_explorer(psnr_model: nn.Module, gan_model: nn.Module, lr_crop: np.ndarray | torch.Tensor,
                  step: float = 0.05, start: float = 0.0, zoom: int = DEFAULT_ZOOM,
                  with_image_blend: bool = False) -> LiveExplorer:
    """A live alpha slider (ipywidgets) over ``lr_crop``; display the returned object.

    ``lr_crop``: small LR image, (h, w, 3) array or (3, h, w) tensor in [0, 1].
    ``step``: slider step; ``with_image_blend`` adds the image-interpolation
    result beside the network-interpolation one. Needs a running kernel.
    """
    return LiveExplorer(psnr_model, gan_model, lr_crop, step=step, start=start, zoom=zoom,
                        with_image_blend=with_image_blend)


