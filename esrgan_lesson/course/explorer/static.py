"""The static explorer: a self-contained HTML/JS slider over precomputed frames.

Frames are embedded as base64 ``data:`` URIs with an inline script and no
external resources, so the page renders in a notebook, the HTML book or a saved
``.html`` file with no kernel and no network.
"""
from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from esrgan_lesson.course.explorer.frames import (
    DEFAULT_ALPHAS,
    DEFAULT_ZOOM,
    alpha_label,
    check_alphas,
    png_size,
)
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.fileio import atomic_write_text

_ids = itertools.count()


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


