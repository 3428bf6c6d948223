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
(:func:`esrgan_lesson.training.gradient_energy` and
:func:`~esrgan_lesson.training.high_frequency_energy`), and the gradient
energy inside *flat* regions of the ground truth (:func:`flat_mask`), where
any detail a model adds is noise or artefact rather than texture.

All images are RGB in [0, 1]: tensors (3, H, W) or numpy (H, W, 3).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import html
import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ESRGANError
from .fileio import atomic_write_text
from .metrics import psnr
from .paper import INTERP_ALPHA_STEP
from .training.evaluation import luma as _engine_luma
from .training.evaluation import gradient_energy, high_frequency_energy
from .weights import interpolate_images, interpolate_state_dicts

if TYPE_CHECKING:  # pragma: no cover - imported for type hints only
    import ipywidgets

#: Step of the explorer's alpha grid: finer than the paper's 0.2 so the slider feels continuous.
ALPHA_STEP = 0.1
#: The explorer's default alphas, 0, 0.1, ..., 1 (alpha 0 = PSNR model, 1 = GAN model).
DEFAULT_ALPHAS: tuple[float, ...] = tuple(round(i * ALPHA_STEP, 10) for i in range(int(round(1 / ALPHA_STEP)) + 1))
#: The alphas ESRGAN Fig. 9 shows: 0, 0.2, ..., 1.
PAPER_ALPHAS: tuple[float, ...] = tuple(
    round(i * INTERP_ALPHA_STEP, 10) for i in range(int(round(1 / INTERP_ALPHA_STEP)) + 1)
)
#: Largest frame side (SR pixels) :func:`precompute_frames` accepts: frames are
#: embedded in the page, so a chapter keeps them small (an LR crop of 24-40 px at x4).
MAX_FRAME_SIDE = 256
#: Default on-screen magnification of the frames (CSS, nearest neighbour).
DEFAULT_ZOOM = 3
#: Side (HR pixels) of the box over which :func:`flat_mask` averages the local gradient energy.
FLAT_WINDOW = 9
#: :func:`flat_mask` keeps the pixels whose local gradient energy is in this lowest fraction.
FLAT_FRACTION = 0.3

Mode = Literal["network", "image"]
MODES: tuple[Mode, ...] = ("network", "image")

_ids = itertools.count()


# --------------------------------------------------------------------------- #
# Checking inputs
# --------------------------------------------------------------------------- #
def check_alphas(alphas: Iterable[float]) -> tuple[float, ...]:
    """Return ``alphas`` as a tuple of floats; each in [0, 1], strictly increasing, at least one.

    Raises :class:`ESRGANError` otherwise.
    """
    try:
        values = tuple(float(a) for a in alphas)
    except (TypeError, ValueError):
        raise ESRGANError(f"alphas must be numbers in [0, 1], got {alphas!r}") from None
    if not values:
        raise ESRGANError("alphas is empty; give at least one alpha in [0, 1]")
    bad = [a for a in values if not 0.0 <= a <= 1.0]
    if bad:
        raise ESRGANError(f"alpha must be in [0, 1] (0 = PSNR model, 1 = GAN model), got {bad[0]}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ESRGANError(f"alphas must be strictly increasing, got {list(values)}")
    return values


def alpha_label(alpha: float) -> str:
    """The label shown for ``alpha``: ``"α = 0.30"``."""
    return f"\u03b1 = {alpha:.2f}"


def as_lr_batch(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """An LR image as a (1, 3, h, w) float32 CPU tensor in [0, 1].

    Accepts numpy (h, w, 3) (uint8 or float in [0, 1]) or a tensor (3, h, w) /
    (1, 3, h, w) in [0, 1]. Raises :class:`ESRGANError` for other shapes.
    """
    if isinstance(image, torch.Tensor):
        t = image.detach().to("cpu", torch.float32)
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[:2] != (1, 3):
            raise ESRGANError(f"expected an LR tensor (3, h, w) or (1, 3, h, w), got {tuple(image.shape)}")
        return t.contiguous()
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ESRGANError(f"expected an LR array (h, w, 3), got shape {arr.shape}")
    arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).unsqueeze(0)


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- #
# Running the interpolated network
# --------------------------------------------------------------------------- #
class InterpolatedGenerator:
    """Runs ``(1 - alpha) * theta_PSNR + alpha * theta_GAN`` on LR images (ESRGAN Eq. 4).

    Keeps one working copy of ``psnr_model`` and, on every call, loads into it
    the blend of the two models' *current* weights -- so training or editing
    either model afterwards is reflected at once (nothing is cached). The
    working copy lives on ``psnr_model``'s device and runs in eval mode.
    """

    def __init__(self, psnr_model: nn.Module, gan_model: nn.Module) -> None:
        self.psnr_model = psnr_model
        self.gan_model = gan_model
        # Fails early, naming the keys, if the two models are not the same network.
        interpolate_state_dicts(psnr_model.state_dict(), gan_model.state_dict(), 0.0)
        self._work = copy.deepcopy(psnr_model).eval()

    def network(self, alpha: float) -> nn.Module:
        """The working copy holding the interpolated weights for ``alpha`` (eval mode)."""
        mixed = interpolate_state_dicts(self.psnr_model.state_dict(), self.gan_model.state_dict(), alpha)
        self._work.load_state_dict(mixed, strict=True)
        return self._work.eval()

    @torch.no_grad()
    def __call__(self, lr: np.ndarray | torch.Tensor, alpha: float) -> torch.Tensor:
        """Upscale one LR image with the network at ``alpha``; returns (3, H, W) on CPU, clamped to [0, 1]."""
        net = self.network(alpha)
        x = as_lr_batch(lr).to(_device_of(net))
        return net(x)[0].clamp(0, 1).float().cpu()


def network_interpolation(psnr_model: nn.Module, gan_model: nn.Module, lr: np.ndarray | torch.Tensor,
                          alphas: Iterable[float] = DEFAULT_ALPHAS) -> list[torch.Tensor]:
    """SR outputs (3, H, W) in [0, 1] of the *interpolated network* at each alpha."""
    gen = InterpolatedGenerator(psnr_model, gan_model)
    return [gen(lr, a) for a in check_alphas(alphas)]


def image_interpolation(psnr_model: nn.Module, gan_model: nn.Module, lr: np.ndarray | torch.Tensor,
                        alphas: Iterable[float] = DEFAULT_ALPHAS) -> list[torch.Tensor]:
    """``(1 - alpha) * SR_PSNR + alpha * SR_GAN`` (3, H, W) in [0, 1]: blending the two *outputs* (ESRGAN Fig. 9)."""
    gen = InterpolatedGenerator(psnr_model, gan_model)
    sr_psnr, sr_gan = gen(lr, 0.0), gen(lr, 1.0)
    return [interpolate_images(sr_psnr, sr_gan, a) for a in check_alphas(alphas)]


def interpolation_outputs(psnr_model: nn.Module, gan_model: nn.Module, lr: np.ndarray | torch.Tensor,
                          alphas: Iterable[float] = DEFAULT_ALPHAS, mode: Mode = "network") -> list[torch.Tensor]:
    """:func:`network_interpolation` or :func:`image_interpolation`, chosen by ``mode``."""
    if mode == "network":
        return network_interpolation(psnr_model, gan_model, lr, alphas)
    if mode == "image":
        return image_interpolation(psnr_model, gan_model, lr, alphas)
    raise ESRGANError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


# --------------------------------------------------------------------------- #
# PNG frames
# --------------------------------------------------------------------------- #
def to_uint8(img: np.ndarray | torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor or (H, W, 3) array in [0, 1] -> (H, W, 3) uint8 (rounded, clipped)."""
    if isinstance(img, torch.Tensor):
        t = img.detach().float().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] != 3:
            raise ESRGANError(f"expected an image tensor (3, H, W), got {tuple(img.shape)}")
        arr = t.permute(1, 2, 0).numpy()
    else:
        arr = np.asarray(img)
        if arr.dtype == np.uint8:
            return np.ascontiguousarray(arr)
        arr = arr.astype(np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ESRGANError(f"expected an RGB image (H, W, 3), got shape {arr.shape}")
    return np.ascontiguousarray(np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8))


def to_png(img: np.ndarray | torch.Tensor) -> bytes:
    """Encode an RGB image in [0, 1] (or uint8) as PNG bytes (lossless; same pixels -> same bytes)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8(img), mode="RGB").save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def from_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes to an (H, W, 3) uint8 array."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB")).copy()
    except (OSError, ValueError) as exc:
        raise ESRGANError(f"not a readable PNG frame: {exc}") from None


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR header."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ESRGANError("frame is not PNG data")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def precompute_frames(psnr_model: nn.Module, gan_model: nn.Module, lr_image: np.ndarray | torch.Tensor,
                      alphas: Iterable[float] = DEFAULT_ALPHAS, mode: Mode = "network",
                      max_side: int = MAX_FRAME_SIDE) -> list[bytes]:
    """One PNG frame per alpha: the SR output of ``lr_image`` at that alpha.

    Args:
        psnr_model, gan_model: the two generators (same architecture).
        lr_image: a small LR crop, (h, w, 3) array or (3, h, w) tensor in [0, 1].
        alphas: increasing values in [0, 1] (default 0, 0.1, ..., 1).
        mode: ``"network"`` interpolates the weights (ESRGAN Eq. 4); ``"image"``
            blends the two models' output images.
        max_side: refuse SR frames larger than this many pixels per side, so
            pages that embed the frames stay small.

    Returns:
        ``len(alphas)`` PNG byte strings, each (H, W) = the SR output size.
    """
    alphas = check_alphas(alphas)
    lr = as_lr_batch(lr_image)
    scale = int(getattr(psnr_model, "scale", 1) or 1)
    side = max(lr.shape[-2:]) * scale
    if side > max_side:
        raise ESRGANError(
            f"an LR crop of {lr.shape[-1]}x{lr.shape[-2]} gives {side}-pixel frames at x{scale}; "
            f"crop it so frames stay within max_side={max_side} (they are embedded in the page)"
        )
    return [to_png(img) for img in interpolation_outputs(psnr_model, gan_model, lr, alphas, mode)]


# --------------------------------------------------------------------------- #
# The static explorer (self-contained HTML + inline JS)
# --------------------------------------------------------------------------- #
def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _js_json(value: Any) -> str:
    """JSON for an inline <script>: ASCII only, and no ``</`` that could close the script."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("</", "<\\/")


# The script finds its own elements by the instance's id, keeps everything in a
# function scope (no globals, so several explorers on one page do not clash),
# and updates the frame, alt text and alpha label on every input event (drag,
# click, arrow keys).
_SCRIPT = """(function () {
  var root = document.getElementById(%(uid)s);
  if (!root || root.getAttribute("data-ready") === "1") { return; }
  root.setAttribute("data-ready", "1");
  var frames = %(frames)s;
  var labels = %(labels)s;
  var names = %(names)s;
  var slider = root.querySelector("input[type=range]");
  var label = root.querySelector("output");
  var imgs = root.querySelectorAll("img.esrgan-ae-frame");
  function show(i) {
    i = Math.max(0, Math.min(labels.length - 1, parseInt(i, 10) || 0));
    for (var p = 0; p < imgs.length; p++) {
      imgs[p].src = frames[p][i];
      imgs[p].alt = names[p] + ", " + labels[i];
    }
    label.textContent = labels[i];
    slider.setAttribute("aria-valuetext", labels[i]);
  }
  slider.addEventListener("input", function () { show(slider.value); });
  slider.addEventListener("change", function () { show(slider.value); });
  show(slider.value);
})();"""


@dataclass
class StaticExplorer:
    """A self-contained HTML slider over precomputed frames (see :func:`static_explorer_html`).

    ``_repr_html_`` makes notebooks (and the HTML book, through the cell's
    ``text/html`` output) show the slider; ``str(explorer)`` is the HTML
    fragment and :meth:`save` writes a standalone ``.html`` page.
    """

    panels: tuple[tuple[str, tuple[bytes, ...]], ...]
    alphas: tuple[float, ...]
    title: str = ""
    zoom: int = DEFAULT_ZOOM
    start: int = 0
    uid: str = ""
    html: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.html = _render_explorer(self)

    @property
    def labels(self) -> list[str]:
        """The alpha label of each frame, in slider order."""
        return [alpha_label(a) for a in self.alphas]

    @property
    def frame_count(self) -> int:
        """Frames per panel (= number of alphas)."""
        return len(self.alphas)

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        names = ", ".join(name for name, _ in self.panels)
        w, h = png_size(self.panels[0][1][0])
        return (f"StaticExplorer({self.frame_count} frames x {len(self.panels)} panel(s) [{names}], "
                f"alpha {self.alphas[0]:.2f}..{self.alphas[-1]:.2f}, {w}x{h} px shown x{self.zoom})")

    def save(self, path: str | Path) -> Path:
        """Write a standalone HTML page holding the explorer (atomically); returns the path."""
        path = Path(path)
        title = html.escape(self.title or "Network interpolation explorer")
        page = ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{title}</title></head>\n<body>\n{self.html}\n</body></html>\n")
        return atomic_write_text(path, page)


def _render_explorer(ex: StaticExplorer) -> str:
    uid = ex.uid
    start = ex.start
    labels = ex.labels
    panel_html = []
    for p, (name, frames) in enumerate(ex.panels):
        w, h = png_size(frames[start])
        panel_html.append(
            '<figure style="margin:0 0.75em 0.5em 0;display:inline-block;vertical-align:top;text-align:center">'
            f'<img class="esrgan-ae-frame" data-panel="{p}" src="{_data_uri(frames[start])}" '
            f'alt="{html.escape(name)}, {html.escape(labels[start])}" width="{w * ex.zoom}" height="{h * ex.zoom}" '
            'style="image-rendering:pixelated;max-width:100%;height:auto;border:1px solid #888">'
            f'<figcaption style="font-size:0.9em">{html.escape(name)}</figcaption></figure>'
        )
    script = _SCRIPT % {
        "uid": _js_json(uid),
        "frames": _js_json([[_data_uri(f) for f in frames] for _, frames in ex.panels]),
        "labels": _js_json(labels),
        "names": _js_json([name for name, _ in ex.panels]),
    }
    title = f'<p style="font-weight:bold;margin:0 0 0.4em 0">{html.escape(ex.title)}</p>' if ex.title else ""
    return (
        f'<div class="esrgan-alpha-explorer" id="{uid}" data-frames="{ex.frame_count}">'
        f"{title}<div>{''.join(panel_html)}</div>"
        '<div style="display:flex;align-items:center;gap:0.75em;flex-wrap:wrap;margin-top:0.3em">'
        f'<label for="{uid}-slider">&alpha;: 0 = PSNR model, 1 = GAN model</label>'
        f'<input type="range" id="{uid}-slider" min="0" max="{ex.frame_count - 1}" step="1" value="{start}" '
        f'aria-valuetext="{html.escape(labels[start])}" style="width:16em">'
        f'<output id="{uid}-label" for="{uid}-slider" aria-live="polite" '
        f'style="font-family:monospace;min-width:6em">{html.escape(labels[start])}</output>'
        "</div>"
        f"<script>{script}</script>"
        "</div>"
    )


def static_explorer_html(frames: Sequence[bytes] | Mapping[str, Sequence[bytes]],
                         alphas: Iterable[float] = DEFAULT_ALPHAS, *, title: str = "",
                         zoom: int = DEFAULT_ZOOM, start: float | None = None) -> StaticExplorer:
    """A self-contained HTML/JS slider showing the frame for the chosen alpha.

    Args:
        frames: PNG frames, one per alpha (:func:`precompute_frames`), or a
            mapping ``{panel name: frames}`` to show several panels side by
            side that move together (e.g. network vs image interpolation).
        alphas: the alpha of each frame, increasing in [0, 1].
        title: optional heading above the frames.
        zoom: on-screen magnification (CSS, pixelated, so each SR pixel stays visible).
        start: the alpha shown first (the nearest frame; default the first).

    Returns:
        A :class:`StaticExplorer`: displays itself in notebooks and the HTML
        book (``_repr_html_``), ``str()`` gives the HTML, ``save()`` writes a page.
        The HTML has unique element ids, a keyboard-accessible
        ``<input type="range">``, an ``<output>`` with the alpha label, and an
        inline script that uses no globals and loads nothing.
    """
    alphas = check_alphas(alphas)
    panels_in = dict(frames) if isinstance(frames, Mapping) else {"Network interpolation": list(frames)}
    if not panels_in:
        raise ESRGANError("no frames given")
    panels: list[tuple[str, tuple[bytes, ...]]] = []
    for name, seq in panels_in.items():
        seq = tuple(seq)
        if len(seq) != len(alphas):
            raise ESRGANError(f"panel {name!r} has {len(seq)} frames for {len(alphas)} alphas")
        for f in seq:
            if not isinstance(f, (bytes, bytearray)):
                raise ESRGANError(f"frames must be PNG bytes, got {type(f).__name__}")
            png_size(bytes(f))
        panels.append((str(name), tuple(bytes(f) for f in seq)))
    if int(zoom) < 1:
        raise ESRGANError(f"zoom must be a positive integer, got {zoom}")
    first = 0 if start is None else int(np.argmin([abs(a - float(start)) for a in alphas]))
    digest = hashlib.sha1()
    for name, seq in panels:
        digest.update(name.encode())
        for f in seq:
            digest.update(f)
    digest.update(repr(alphas).encode())
    uid = f"esrgan-ae-{digest.hexdigest()[:10]}-{next(_ids)}"
    return StaticExplorer(panels=tuple(panels), alphas=alphas, title=title, zoom=int(zoom), start=first, uid=uid)


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


# --------------------------------------------------------------------------- #
# Why the two endpoints must be relatives
# --------------------------------------------------------------------------- #
def weight_distance(a: nn.Module, b: nn.Module) -> float:
    """Relative distance ``||theta_b - theta_a|| / ||theta_a||`` over all floating-point weights.

    Small when ``b`` was fine-tuned from ``a`` (as ESRGAN's GAN model is from
    its PSNR model); the two must have the same keys and shapes.
    """
    sa, sb = a.state_dict(), b.state_dict()
    interpolate_state_dicts(sa, sb, 0.0)  # same keys and shapes, or a CheckpointError naming them
    num = sum(float((sb[k].double() - sa[k].double()).pow(2).sum()) for k in sa if sa[k].is_floating_point())
    den = sum(float(sa[k].double().pow(2).sum()) for k in sa if sa[k].is_floating_point())
    return (num / den) ** 0.5 if den > 0 else float("inf")


@torch.no_grad()
def permute_upsampler_channels(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of an RRDBNet whose upsampler's hidden channels are shuffled.

    The output channels of ``conv_up1``, ``conv_up2``, ... and ``conv_hr`` are
    permuted, and the input channels of the conv after each are permuted the
    same way. LeakyReLU and nearest-neighbour upsampling act on each channel
    alone, so the copy computes *exactly the same function* -- yet its weights
    sit elsewhere, and interpolating it with the original breaks the output.
    """
    names = [f"conv_up{i}" for i in range(1, 4) if hasattr(model, f"conv_up{i}")] + ["conv_hr", "conv_last"]
    try:
        for name in names:
            getattr(model, name)
    except AttributeError as exc:
        raise ESRGANError(f"not an RRDBNet (needs conv_up*/conv_hr/conv_last): {exc}") from None
    out = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    for this, nxt in zip(names, names[1:]):
        a, b = getattr(out, this), getattr(out, nxt)
        perm = torch.randperm(a.out_channels, generator=gen).to(a.weight.device)
        a.weight.copy_(a.weight[perm])
        if a.bias is not None:
            a.bias.copy_(a.bias[perm])
        b.weight.copy_(b.weight[:, perm])
    return out


# --------------------------------------------------------------------------- #
# Measuring an alpha sweep (fidelity, sharpness, noise in flat regions)
# --------------------------------------------------------------------------- #
def _luma(img: torch.Tensor) -> torch.Tensor:
    """(H, W) float64 BT.601 luma on the CPU, the same luma as the training engine's sharpness figures."""
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3 or img.shape[0] != 3:
        raise ESRGANError(f"expected an image tensor (3, H, W), got {tuple(img.shape)}")
    return _engine_luma(img.detach().cpu())[0]


def _local_gradient_energy(y: torch.Tensor) -> torch.Tensor:
    """|grad y|^2 per pixel (forward differences, the last row/column repeated), (H, W)."""
    dx = F.pad((y[:, 1:] - y[:, :-1]).pow(2)[None, None], (0, 1, 0, 0), mode="replicate")[0, 0]
    dy = F.pad((y[1:, :] - y[:-1, :]).pow(2)[None, None], (0, 0, 0, 1), mode="replicate")[0, 0]
    return dx + dy


def flat_mask(hr: torch.Tensor, window: int = FLAT_WINDOW, fraction: float = FLAT_FRACTION) -> torch.Tensor:
    """Boolean (H, W) mask of the *flat* regions of a ground-truth image (3, H, W) in [0, 1].

    A pixel is flat when the gradient energy of the HR luma, averaged over a
    ``window`` x ``window`` box around it, is among the lowest ``fraction`` of
    the image. There the true image has (almost) no detail, so detail that a
    model adds there is noise or artefact, not recovered texture.
    """
    if window < 1 or window % 2 == 0:
        raise ESRGANError(f"window must be a positive odd number, got {window}")
    if not 0 < fraction < 1:
        raise ESRGANError(f"fraction must be in (0, 1), got {fraction}")
    energy = _local_gradient_energy(_luma(hr))
    local = F.avg_pool2d(F.pad(energy[None, None], (window // 2,) * 4, mode="replicate"), window, stride=1)[0, 0]
    return local <= torch.quantile(local.flatten().float(), fraction).double()


def masked_gradient_energy(img: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean |grad Y|^2 of ``img`` (3, H, W) over the pixels where ``mask`` (H, W) is True.

    The same quantity as :func:`esrgan_lesson.training.gradient_energy`
    (BT.601 luma, forward differences), restricted to a region.
    """
    energy = _local_gradient_energy(_luma(img))
    if tuple(mask.shape) != tuple(energy.shape):
        raise ESRGANError(f"mask {tuple(mask.shape)} does not match the image {tuple(energy.shape)}")
    if not bool(mask.any()):
        raise ESRGANError("the mask selects no pixels")
    return float(energy[mask.bool()].mean())


@dataclass(frozen=True)
class SweepPoint:
    """Scores of one SR output at one alpha (one image, one interpolation mode).

    ``psnr_y``: Y-PSNR in dB against the HR image (``scale`` border pixels
    cropped); ``gradient_energy`` and ``hf_energy``: the training engine's
    sharpness figures of the whole output; ``flat_energy``: mean |grad Y|^2
    inside the HR image's flat regions (:func:`flat_mask`).
    """

    name: str
    mode: str
    alpha: float
    psnr_y: float
    gradient_energy: float
    hf_energy: float
    flat_energy: float


def score_output(name: str, mode: str, alpha: float, sr: torch.Tensor, hr: torch.Tensor, scale: int,
                 mask: torch.Tensor | None = None) -> SweepPoint:
    """Score one SR output (3, H, W) against ``hr`` (3, H, W), both in [0, 1]."""
    if tuple(sr.shape) != tuple(hr.shape):
        raise ESRGANError(f"SR output {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    mask = flat_mask(hr) if mask is None else mask
    return SweepPoint(
        name=name, mode=mode, alpha=float(alpha),
        psnr_y=float(psnr(sr, hr, crop_border=scale)),
        gradient_energy=gradient_energy(sr), hf_energy=high_frequency_energy(sr),
        flat_energy=masked_gradient_energy(sr, mask),
    )


def sweep(psnr_model: nn.Module, gan_model: nn.Module,
          pairs: Iterable[tuple[str, torch.Tensor, torch.Tensor]],
          alphas: Iterable[float] = DEFAULT_ALPHAS, modes: Sequence[Mode] = MODES) -> list[SweepPoint]:
    """Score network and image interpolation at every alpha on ``(name, lr, hr)`` pairs.

    ``lr`` (3, h, w) and ``hr`` (3, h*s, w*s) in [0, 1], s = ``psnr_model.scale``.
    Returns one :class:`SweepPoint` per (image, mode, alpha), in that order.
    """
    alphas = check_alphas(alphas)
    scale = int(getattr(psnr_model, "scale", 1) or 1)
    gen = InterpolatedGenerator(psnr_model, gan_model)
    points: list[SweepPoint] = []
    for name, lr, hr in pairs:
        hr = hr.detach().float().cpu()
        mask = flat_mask(hr)
        ends = (gen(lr, 0.0), gen(lr, 1.0))
        for mode in modes:
            if mode not in MODES:
                raise ESRGANError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
            for a in alphas:
                sr = gen(lr, a) if mode == "network" else interpolate_images(ends[0], ends[1], a)
                points.append(score_output(name, mode, a, sr, hr, scale, mask))
    return points


def mean_curve(points: Sequence[SweepPoint], mode: str, key: str) -> dict[float, float]:
    """``{alpha: mean of key over images}`` for one mode (``key`` a :class:`SweepPoint` field)."""
    sums: dict[float, list[float]] = {}
    for p in points:
        if p.mode == mode:
            sums.setdefault(p.alpha, []).append(float(getattr(p, key)))
    if not sums:
        raise ESRGANError(f"no sweep points for mode {mode!r}")
    return {a: sum(v) / len(v) for a, v in sorted(sums.items())}
