"""The static alpha explorer in headless Chromium, offline: the slider changes the frame and the label.

Runs on a page written to a temporary file (two explorers on one page, to
catch id or global-name clashes), and on the network-interpolation chapter of
the built book (a fresh build, or ``ESRGAN_BOOK_HTML``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from book_browser import page_url
from esrgan_lesson.course.explorer import DEFAULT_ALPHAS, alpha_label, precompute_frames, static_explorer_html
from esrgan_lesson.models import RRDBNet

pytestmark = pytest.mark.browser

CHAPTER = "06_network_interpolation.html"


def _models() -> tuple[RRDBNet, RRDBNet]:
    torch.manual_seed(0)
    a = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4).eval()
    torch.manual_seed(1)
    b = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4).eval()
    with torch.no_grad():  # different output levels, so every alpha gives a different frame
        a.conv_last.bias.fill_(0.2)
        b.conv_last.bias.fill_(0.8)
    return a, b


def _open_offline(context, url: str):
    """A page that aborts every non-file request and records it, plus JavaScript errors."""
    page = context.new_page()
    blocked: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def _route(route) -> None:
        if route.request.url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", _route)
    page.goto(url, wait_until="load", timeout=15000)
    return page, blocked, errors


def _state(page, root_id: str) -> dict:
    return page.evaluate(
        """(id) => { const r = document.getElementById(id);
                     return {value: r.querySelector('input[type=range]').value,
                             label: r.querySelector('output').textContent,
                             srcs: Array.from(r.querySelectorAll('img.esrgan-ae-frame')).map(i => i.src),
                             loaded: Array.from(r.querySelectorAll('img.esrgan-ae-frame')).every(i => i.naturalWidth > 0)}; }""",
        root_id,
    )


def _drive(page, root_id: str, frames: list[list[str]], alphas: tuple[float, ...]) -> None:
    """Keyboard, a drag to the right end, and a programmatic value: each shows the matching frame and label."""
    last = len(alphas) - 1
    slider = page.locator(f"#{root_id}-slider")
    start = _state(page, root_id)
    assert start["label"] == alpha_label(alphas[0]) and start["loaded"]
    assert start["srcs"] == [panel[0] for panel in frames]

    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    now = _state(page, root_id)
    assert now["value"] == "2" and now["label"] == alpha_label(alphas[2])
    assert now["srcs"] == [panel[2] for panel in frames] and now["srcs"] != start["srcs"]

    box = slider.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] + 20, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    end = _state(page, root_id)
    assert end["value"] == str(last) and end["label"] == alpha_label(alphas[last])
    assert end["srcs"] == [panel[last] for panel in frames] and end["loaded"]
    assert slider.get_attribute("aria-valuetext") == alpha_label(alphas[last])

    slider.fill("5")  # sets the value and fires 'input'
    mid = _state(page, root_id)
    assert mid["label"] == alpha_label(alphas[5]) and mid["srcs"] == [panel[5] for panel in frames]


def test_static_explorer_slider_offline(browser_context, tmp_path: Path) -> None:
    psnr_model, gan_model = _models()
    lr = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    net = precompute_frames(psnr_model, gan_model, lr, DEFAULT_ALPHAS)
    img = precompute_frames(psnr_model, gan_model, lr, DEFAULT_ALPHAS, mode="image")
    assert len(set(net)) == len(set(img)) == len(DEFAULT_ALPHAS), "test frames must all differ"
    one = static_explorer_html({"Network": net, "Image": img}, DEFAULT_ALPHAS, title="first")
    two = static_explorer_html(net, DEFAULT_ALPHAS, title="second")
    page_file = tmp_path / "explorers.html"
    page_file.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{one}<hr>{two}</body></html>",
                         encoding="utf-8")

    page, blocked, errors = _open_offline(browser_context, page_url(page_file))
    try:
        uris = lambda frames: [f"data:image/png;base64,{__import__('base64').b64encode(f).decode()}" for f in frames]  # noqa: E731
        _drive(page, two.uid, [uris(net)], DEFAULT_ALPHAS)
        untouched = _state(page, one.uid)  # moving the second explorer left the first alone
        assert untouched["value"] == "0" and untouched["label"] == alpha_label(0.0)
        _drive(page, one.uid, [uris(net), uris(img)], DEFAULT_ALPHAS)
        assert _state(page, two.uid)["value"] == "5"
    finally:
        page.close()
    assert errors == [] and blocked == []


def test_chapter_explorer_works_in_the_built_book(book_html: Path, browser_context) -> None:
    chapter = book_html / "book" / CHAPTER
    assert chapter.is_file(), f"{CHAPTER} is listed in _toc.yml, so the build must produce it"
    page, blocked, errors = _open_offline(browser_context, page_url(chapter))
    try:
        roots = page.eval_on_selector_all(
            ".esrgan-alpha-explorer", "els => els.map(e => [e.id, Number(e.dataset.frames)])")
        assert roots, "no alpha explorer on the chapter page"
        for root_id, count in roots:
            slider = page.locator(f"#{root_id}-slider")
            before = _state(page, root_id)
            slider.scroll_into_view_if_needed()
            slider.focus()
            page.keyboard.press("End")
            after = _state(page, root_id)
            assert after["value"] == str(count - 1) and after["label"] != before["label"]
            assert after["srcs"] != before["srcs"] and after["loaded"]
    finally:
        page.close()
    assert errors == [], errors
    assert blocked == [], blocked
