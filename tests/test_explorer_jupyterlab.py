"""The live alpha explorer as a learner uses it: JupyterLab, chapter 6, headless Chromium, no network.

Starts JupyterLab on 127.0.0.1 (a free port, a random token, its own config,
settings and workspace folders), opens a copy of chapter 6 trimmed to its
set-up cells and the live-explorer cell, runs them from the Run menu, then
drags the slider and types a value into its readout, and checks that the
image and the alpha label follow. The browser may reach only the local
server: every other request is aborted and fails the test. The widget
JavaScript (``@jupyter-widgets/jupyterlab-manager`` from jupyterlab_widgets)
must come from that server.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from book_browser import SCREENSHOT_DIR

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "06_network_interpolation.ipynb"
#: Seconds allowed for the server to answer, and for the notebook's cells to run.
SERVER_TIMEOUT_S = 60
RUN_TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trimmed_chapter(dest: Path) -> Path:
    """Chapter 6 with its cells up to the one that builds ``pairs``, and the live-explorer cell."""
    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    cells = nb["cells"]
    src = ["".join(c["source"]) for c in cells]
    setup_end = next(i for i, s in enumerate(src) if re.search(r"^pairs = ", s, re.M))
    live = [i for i, s in enumerate(src) if cells[i]["cell_type"] == "code" and "explorer.live_explorer(" in s]
    assert len(live) == 1, "chapter 6 should have one live-explorer cell"
    nb["cells"] = [dict(c, outputs=[], execution_count=None) if c["cell_type"] == "code" else c
                   for c in cells[: setup_end + 1] + [cells[live[0]]]]
    dest.write_text(json.dumps(nb), encoding="utf-8")
    return dest


@pytest.fixture
def jupyterlab(tmp_path: Path):
    """A JupyterLab server on 127.0.0.1 serving ``tmp_path/nb``; yields (base URL, token, notebook name)."""
    root = tmp_path / "nb"
    root.mkdir()
    trimmed_chapter(root / "chapter6.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"), "JUPYTER_PLATFORM_DIRS": "1"}
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
         "--ServerApp.terminals_enabled=False", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (tmp_path / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"JupyterLab did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(0.5)
        yield base, token, "chapter6.ipynb"
    finally:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this fixture started: server and kernel
            proc.wait(timeout=10)
        log.close()


def _explorer_state(page) -> dict:
    return page.evaluate("""() => {
      const out = document.querySelector('.jp-OutputArea-output .widget-vbox');
      if (!out) return null;
      const labels = Array.from(out.querySelectorAll('.widget-label')).filter(e => !e.closest('.widget-slider'));
      const label = labels[labels.length - 1];
      return {label: label ? label.textContent : '',
              srcs: Array.from(out.querySelectorAll('.widget-html img')).map(i => i.src),
              loaded: Array.from(out.querySelectorAll('.widget-html img')).every(i => i.naturalWidth > 0),
              readout: (out.querySelector('.widget-readout') || {}).textContent};
    }""")


def _wait_for_change(page, before: dict, timeout_ms: int = 30_000) -> dict:
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        now = _explorer_state(page)
        if now and now["label"] != before["label"] and now["srcs"] != before["srcs"] and now["loaded"]:
            return now
        page.wait_for_timeout(200)
    raise AssertionError(f"the explorer did not change: {before} -> {_explorer_state(page)}")


def test_live_explorer_in_jupyterlab_offline(jupyterlab, browser_context, tmp_path: Path) -> None:
    base, token, name = jupyterlab
    blocked: list[str] = []
    errors: list[str] = []
    widget_js: list[tuple[str, int]] = []
    page = browser_context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc).splitlines()[0]))
    page.on("response", lambda r: widget_js.append((r.url, r.status)) if "jupyterlab-manager" in r.url else None)

    def _route(route) -> None:
        url = route.request.url
        if url.startswith((base + "/", "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", _route)
    try:
        page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="load", timeout=60_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        select = page.locator(".jp-Dialog .jp-Dialog-button", has_text=re.compile(r"^Select$"))
        try:  # JupyterLab may ask which kernel to start: the notebook's own (Python 3)
            select.wait_for(timeout=10_000)
            select.click()
        except Exception:  # Playwright's TimeoutError: no dialog, the kernel started by itself
            pass
        page.wait_for_function("() => /\\| Idle/.test(document.body.innerText)", timeout=60_000)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        page.wait_for_selector(".jp-OutputArea-output .widget-slider", timeout=RUN_TIMEOUT_MS)
        start = _explorer_state(page)
        page.wait_for_function("() => Array.from(document.querySelectorAll('.widget-html img'))"
                               ".every(i => i.naturalWidth > 0)", timeout=30_000)
        start = _explorer_state(page)
        assert start["label"].startswith("\u03b1 = 0.00") and len(start["srcs"]) == 2, start

        handle = page.locator(".jp-OutputArea-output .widget-slider .noUi-handle").first
        handle.scroll_into_view_if_needed()
        track = page.locator(".jp-OutputArea-output .widget-slider .noUi-target").first.bounding_box()
        box = handle.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(track["x"] + track["width"] * 0.8, y, steps=10)
        page.mouse.up()
        dragged = _wait_for_change(page, start)
        alpha = float(re.match(r"\u03b1 = ([0-9.]+)", dragged["label"]).group(1))
        assert 0.5 < alpha < 1.0, dragged["label"]
        assert dragged["readout"].strip() == f"{alpha:.2f}"

        readout = page.locator(".jp-OutputArea-output .widget-readout").first
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("0.25")
        page.keyboard.press("Enter")
        typed = _wait_for_change(page, dragged)
        assert typed["label"].startswith("\u03b1 = 0.25") and "0.75 x PSNR model + 0.25 x GAN model" in typed["label"]
        assert typed["srcs"] != start["srcs"]
    except BaseException:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "jupyterlab-explorer-failure.png"))
        outputs = page.evaluate("() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))"
                                ".map(e => e.textContent.slice(0, 300))")
        print("cell outputs:", outputs, "\nblocked:", blocked, "\nerrors:", errors)
        raise
    finally:
        page.close()
    assert any(status == 200 and url.startswith(base) for url, status in widget_js), widget_js
    assert blocked == [], blocked
    assert errors == [], errors
