"""Sphinx extension: serve MathJax from the built book, so equations render offline.

Sphinx loads MathJax from a CDN by default; without a network a reader then
sees raw TeX. This extension points ``mathjax_path`` at a copy of MathJax 2.7
inside the HTML output (``_static/mathjax/``). The copy comes from the
``jupyter-server-mathjax`` package (BSD-3, the MathJax build that Jupyter
itself serves), which ``pip install -e ".[book]"`` installs; nothing is
downloaded while the book builds.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

#: MathJax 2 configuration file to load (TeX and MathML input, HTML-CSS output).
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"
#: Folder under ``_static`` of the HTML output that receives MathJax.
TARGET = "mathjax"
#: The package ships only the STIX-Web fonts (MathJax 2's default is TeX), so
#: both output processors are told to use them and to skip local or image fonts.
MATHJAX2_CONFIG: dict[str, Any] = {
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    "SVG": {"font": "STIX-Web"},
}


def mathjax_source() -> Path:
    """Folder holding ``MathJax.js`` in the installed ``jupyter_server_mathjax`` package."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise ExtensionError("offline_mathjax: the 'jupyter-server-mathjax' package is missing; "
                             "install the book extras: pip install -e \".[book]\"") from None
    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (static / "MathJax.js").is_file():
        raise ExtensionError(f"offline_mathjax: no MathJax.js in {static}")
    return static


def _use_local_mathjax(app: Sphinx, config: Config) -> None:
    mathjax_source()  # fail at the start of the build, not at its end
    # A relative mathjax_path is resolved against _static of the built pages.
    config.mathjax_path = f"{TARGET}/MathJax.js?config={MATHJAX_CONFIG}"
    config.mathjax2_config = MATHJAX2_CONFIG
    # MyST would add a MathJax 3 configuration object (window.MathJax = {...});
    # MathJax 2 takes such an object as its whole configuration and then typesets nothing.
    config.mathjax3_config = None
    if "myst_update_mathjax" in config:
        config.myst_update_mathjax = False


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    shutil.copytree(mathjax_source(), Path(app.outdir) / "_static" / TARGET, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
