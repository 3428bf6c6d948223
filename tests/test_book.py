"""The built book, opened in headless Chromium: titles, images, no errors, no network.

Builds the book with warnings as errors (about 10 s without chapters; more as
they are added) and saves a screenshot of every page to ``_build/screenshots/``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from book_browser import SCREENSHOT_DIR, book_pages, inspect_page, page_url

pytestmark = pytest.mark.browser

_BAD_PAGE = """<!doctype html><html><body><main>
<p>No title here.</p>
<img src="missing.png" alt="broken">
<div class="cell_output docutils container">
  <div class="output traceback highlight-ipythontb"><pre>ZeroDivisionError: division by zero</pre></div>
  <div class="output stderr highlight-myst-ansi"><pre>Traceback (most recent call last):</pre></div>
</div>
<script>undefinedFunction();</script>
<script src="https://cdn.example.org/widgets.js"></script>
<p>Raw maths: <span class="math notranslate nohighlight">\\(\\alpha^2\\)</span></p>
</main></body></html>"""

_GOOD_PAGE = """<!doctype html><html><body><main><h1>A title</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///ywAAAAAAQABAAACAUwAOw==" alt="pixel">
<div class="cell_output"><div class="output stderr"><pre>UserWarning: fine</pre></div></div>
</main></body></html>"""


def test_page_checker_reports_each_kind_of_problem(browser_context, tmp_path: Path) -> None:
    """The checker itself: a page with every fault is reported on each; a clean one passes."""
    bad = tmp_path / "bad.html"
    bad.write_text(_BAD_PAGE)
    report = inspect_page(browser_context, page_url(bad))
    problems = "\n".join(report.problems)
    assert "no <h1> title" in problems
    assert "missing.png" in problems
    assert "ZeroDivisionError" in problems and "Traceback" in problems
    assert "undefinedFunction" in problems
    assert "cdn.example.org" in problems
    assert "equation shown as raw TeX" in problems and "alpha^2" in problems
    good = tmp_path / "good.html"
    good.write_text(_GOOD_PAGE)
    report = inspect_page(browser_context, page_url(good))
    assert report.problems == [] and report.title == "A title" and report.images == 1


def test_every_page_renders_offline(book_html: Path, browser_context) -> None:
    """Each page of the built book has a title, loaded images, no errors, no network needs."""
    pages = book_pages(book_html)
    names = {p.stem for p in pages}
    assert {"intro", "references"} <= names, f"pages built: {sorted(names)}"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOT_DIR.glob("*.png"):  # no stale screenshots of removed pages
        old.unlink()
    failures = []
    for page in pages:
        report = inspect_page(browser_context, page_url(page), screenshot=SCREENSHOT_DIR / f"{page.stem}.png")
        failures += [f"{page.name}: {problem}" for problem in report.problems]
    assert not failures, "\n".join(failures)


def test_launch_buttons_and_citations_render(book_html: Path) -> None:
    """Citations resolve to the references page, and chapter pages offer Colab and Binder."""
    intro = (book_html / "book" / "intro.html").read_text(encoding="utf-8")
    assert "references.html#id" in intro or 'href="references.html' in intro, "intro citations do not link"
    refs = (book_html / "book" / "references.html").read_text(encoding="utf-8")
    assert "enhanced super-resolution generative" in refs.lower()
    for chapter in (p for p in book_pages(book_html) if p.stem[:2].isdigit()):
        text = chapter.read_text(encoding="utf-8")
        assert "colab.research.google.com/github/" in text, f"{chapter.name} has no Colab button"
        assert "mybinder.org/v2/gh/" in text, f"{chapter.name} has no Binder button"
