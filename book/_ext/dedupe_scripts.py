"""Sphinx extension: drop repeated inline <script> blocks from each HTML page.

With Sphinx 7.4, inline scripts that extensions add while the environment is
read (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's
selector) are emitted twice on every page; the second ``const`` declaration is
a JavaScript SyntaxError in the browser. This keeps the first copy of each.
"""
from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _dedupe(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Remove later copies of identical inline scripts from the page's script list."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[str] = set()
    kept = []
    for script in scripts:
        body = getattr(script, "attributes", {}).get("body", "") if not isinstance(script, str) else ""
        if body:
            if body in seen:
                continue
            seen.add(body)
        kept.append(script)
    scripts[:] = kept


def setup(app: Sphinx) -> dict[str, bool]:
    """Register the page hook; safe for parallel builds."""
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
