"""Build the book and look at its pages in headless Chromium (helpers and fixtures).

Used by ``tests/test_book.py`` and by any test that drives a page of the book.
Import the fixtures you need into your test module::

    from book_browser import book_html, browser_context  # noqa: F401  (pytest fixtures)

    @pytest.mark.browser
    def test_slider(book_html, browser_context):
        page = browser_context.new_page()
        page.goto(page_url(book_html / "book" / "06_network_interpolation.html"))
        ...

Chromium is driven with Playwright's own driver against the system browser
(``/usr/bin/chromium``); ``playwright install`` is never needed. When Chromium
is missing, the fixtures install it with apt (as root) or skip with the reason.
Set ``ESRGAN_BOOK_HTML=_build/html`` to test an already built book instead of
building a fresh one into a temporary folder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where screenshots go (CI keeps this folder as an artefact).
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"
#: System Chromium binaries, in the order we try them.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
#: Flags for a closed network: no background traffic, no updates, no QUIC, no GPU.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: External URLs a page may ask for. None: the book works offline, MathJax
#: included (book/_ext/offline_mathjax.py serves it from the built book).
ALLOWED_EXTERNAL: tuple[str, ...] = ()
#: Seconds allowed for the apt install of Chromium, and for the book build.
APT_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 600
VIEWPORT = {"width": 1280, "height": 900}


def find_chromium() -> str | None:
    """Path of an installed Chromium, or None."""
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def ensure_chromium() -> str:
    """Return the Chromium path, installing it with apt when running as root; else skip."""
    path = find_chromium()
    if path:
        return path
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        pytest.skip("Chromium is not installed and apt-get cannot run here; install the "
                    "'chromium' package (Debian/Ubuntu: apt-get install chromium) to run the browser tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium", "chromium-driver"]):
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=APT_TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired:
            pytest.skip(f"installing Chromium timed out: {' '.join(cmd)}")
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
            pytest.skip(f"could not install Chromium ({' '.join(cmd)}: {tail[0]})")
    path = find_chromium()
    if not path:
        pytest.skip("apt-get installed chromium but no chromium binary was found")
    return path


def build_book(out_dir: Path) -> Path:
    """Build the book with warnings as errors into ``out_dir``; return its html folder.

    Fails the test with the end of the build log if the build fails.
    """
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT),
           "--warningiserror", "--keep-going", "--path-output", str(out_dir)]
    if not Path(cmd[0]).exists():
        cmd[0:1] = [sys.executable, "-m", "jupyter_book"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, cwd=ROOT)
    log = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 0, "book build failed:\n" + "\n".join(log[-40:])
    html = out_dir / "_build" / "html"
    assert (html / "index.html").is_file(), f"no index.html in {html}"
    return html


def book_pages(html: Path) -> list[Path]:
    """The book's content pages (intro, chapters, references) in the built html."""
    return sorted((html / "book").glob("*.html"))


def page_url(path: Path) -> str:
    """``file://`` URL of a built page."""
    return path.resolve().as_uri()


@dataclass
class PageReport:
    """What :func:`inspect_page` found on one page; ``problems`` is empty for a good page."""

    url: str
    title: str = ""
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    error_outputs: list[str] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    untypeset_math: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """One line per problem: missing title, broken image, error output, JS error, network use."""
        out = []
        if not self.title:
            out.append("no <h1> title")
        out += [f"image did not load: {src}" for src in self.broken_images]
        out += [f"cell output shows an error: {text}" for text in self.error_outputs]
        out += [f"JavaScript error: {msg}" for msg in self.js_errors]
        out += [f"requests the network: {url}" for url in self.external_requests
                if not url.startswith(ALLOWED_EXTERNAL)]
        out += [f"equation shown as raw TeX: {tex}" for tex in self.untypeset_math]
        return out


# JavaScript run in the page: make lazy images load, then report on images,
# the title and error outputs (myst-nb's classes for tracebacks and stderr).
_WAIT_IMAGES_JS = """() => {
  for (const img of document.images) { img.loading = 'eager'; }
  return Array.from(document.images).every(img => img.complete);
}"""
# Sphinx wraps each equation in span.math.notranslate / div.math.notranslate
# (MathJax adds inner span.math of its own); MathJax 2 moves the TeX
# into a <script type="math/tex"> child once it has typeset the equation.
# Without MathJax on the page there is nothing to wait for.
_MATH_TYPESET_JS = """() => !window.MathJax || Array.from(document.querySelectorAll('span.math.notranslate, div.math.notranslate'))
  .every(el => el.querySelector('script[type^="math/tex"]'))"""
_REPORT_JS = """() => {
  const h1 = document.querySelector('main h1, article h1, h1');
  const images = Array.from(document.images);
  const broken = images.filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src') || '(no src)');
  const errors = [];
  for (const el of document.querySelectorAll('.cell_output .error, .cell_output .traceback, .output.error, .output.traceback')) {
    errors.push(el.textContent.trim().slice(0, 200));
  }
  for (const el of document.querySelectorAll('.cell_output .stderr, .output.stderr')) {
    if (/Traceback|Error:/.test(el.textContent)) errors.push(el.textContent.trim().slice(0, 200));
  }
  const raw = Array.from(document.querySelectorAll('span.math.notranslate, div.math.notranslate'))
    .filter(el => !el.querySelector('script[type^="math/tex"]'))
    .map(el => el.textContent.trim().slice(0, 80));
  return {title: h1 ? h1.textContent.replace(/[#¶]/g, '').trim() : '', images: images.length,
          broken: broken, errors: errors, raw_math: raw};
}"""


def inspect_page(context, url: str, screenshot: Path | None = None, timeout_ms: int = 15000) -> PageReport:
    """Open ``url`` in ``context`` with the network cut off and report its problems.

    Every request that is not a ``file:`` URL is aborted and recorded, so the page is
    seen as a reader without network would see it. Saves a full-page screenshot to
    ``screenshot`` when given.
    """
    report = PageReport(url=url)
    page = context.new_page()
    page.on("pageerror", lambda exc: report.js_errors.append(str(exc).splitlines()[0]))

    def _route(route) -> None:
        req_url = route.request.url
        if req_url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            report.external_requests.append(req_url)
            route.abort()

    page.route("**/*", _route)
    try:
        page.goto(url, wait_until="load", timeout=timeout_ms)
        page.wait_for_function(_WAIT_IMAGES_JS, timeout=timeout_ms)
        try:
            page.wait_for_function(_MATH_TYPESET_JS, timeout=timeout_ms)
        except Exception:  # Playwright's TimeoutError: reported below as raw TeX
            pass
        found = page.evaluate(_REPORT_JS)
        report.untypeset_math = found["raw_math"]
        report.title = found["title"]
        report.images = found["images"]
        report.broken_images = found["broken"]
        report.error_outputs = found["errors"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the system Chromium (installed on demand, or the test is skipped)."""
    return ensure_chromium()


@pytest.fixture(scope="session")
def browser_context(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Playwright browser context on headless Chromium with a fresh profile."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]' for playwright")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path, headless=True, args=LAUNCH_ARGS, viewport=VIEWPORT,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def book_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built book's html folder: ``$ESRGAN_BOOK_HTML`` if set, else a fresh build."""
    given = os.environ.get("ESRGAN_BOOK_HTML")
    if given:
        html = Path(given).resolve()
        assert (html / "index.html").is_file(), f"ESRGAN_BOOK_HTML={given} holds no built book"
        return html
    return build_book(tmp_path_factory.mktemp("book"))
