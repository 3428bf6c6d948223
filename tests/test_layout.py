"""The package's layout: the core library never imports the course (esrgan_lesson/course/); one upscale; no module over 400 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "esrgan_lesson"
COURSE = PACKAGE / "course"


def _module_name(path: Path, package: Path = PACKAGE) -> tuple[str, bool]:
    """(dotted module name, is a package ``__init__``) of a file under the package."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_pkg else parts), is_pkg


def imported_modules(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, at any depth (function-level ones too).

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a module).
    """
    name, is_pkg = _module_name(path, package)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def core_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if COURSE not in p.parents)


def course_imports(path: Path, package: Path = PACKAGE) -> list[str]:
    return [f"{path.relative_to(package.parent)}:{line} imports {mod}" for line, mod in imported_modules(path, package)
            if mod == "esrgan_lesson.course" or mod.startswith("esrgan_lesson.course.")]


def test_no_core_module_imports_the_course() -> None:
    files = core_files()
    assert len(files) > 40 and (PACKAGE / "models" / "rrdbnet.py") in files
    offenders = [hit for path in files for hit in course_imports(path)]
    assert not offenders, "core modules must not import esrgan_lesson.course:\n" + "\n".join(offenders)


@pytest.mark.parametrize("source", [
    "from esrgan_lesson.course.scale import pick\n",
    "from esrgan_lesson import course\n",
    "def f():\n    import esrgan_lesson.course.explorer as ex\n    return ex\n",
    "from ..course import display\n",
])
def test_the_check_sees_every_form_of_import(tmp_path: Path, source: str) -> None:
    fake_pkg = tmp_path / "esrgan_lesson"
    (fake_pkg / "models").mkdir(parents=True)
    bad = fake_pkg / "models" / "bad.py"
    bad.write_text(source)
    assert course_imports(bad, fake_pkg), source
    bad.write_text("from esrgan_lesson.models import rrdbnet\nfrom . import coursework\n")
    assert not course_imports(bad, fake_pkg)


# --- one upscale -------------------------------------------------------------------------
REPO = PACKAGE.parent


def _upscale_imports(source: str, where: str) -> list[str]:
    """``where: module`` for every import of a name ``upscale`` (any alias) in ``source``."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and any(a.name == "upscale" for a in node.names):
            hits.append(f"{where}: {'.' * node.level}{node.module or ''}")
    return hits


def test_there_is_one_def_upscale_and_everyone_imports_it_from_inference() -> None:
    defs = [f"{p.relative_to(REPO)}:{n.lineno}" for p in sorted(PACKAGE.rglob("*.py"))
            for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.FunctionDef) and n.name == "upscale"
            and not any(getattr(d, "id", getattr(d, "attr", None)) == "overload" for d in n.decorator_list)]
    assert defs == ["esrgan_lesson/inference/tiled.py:" + defs[0].rsplit(":", 1)[1]], defs

    import nbformat

    sources = [(str(p.relative_to(REPO)), p.read_text()) for d in ("esrgan_lesson", "benchmarks", "tests")
               for p in sorted((REPO / d).rglob("*.py"))]
    for nb_path in sorted((REPO / "book").glob("*.ipynb")):
        cells = nbformat.read(nb_path, as_version=4).cells
        code = "\n".join("\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                         for c in cells if c.cell_type == "code")
        sources.append((str(nb_path.relative_to(REPO)), code))
    imports = [hit for where, src in sources for hit in _upscale_imports(src, where)]
    assert any(hit.startswith("esrgan_lesson/training/evaluation.py") for hit in imports)
    assert any(hit.startswith("book/") for hit in imports)
    others = [hit for hit in imports if not hit.endswith((" esrgan_lesson.inference", " ..inference"))
              and hit != "esrgan_lesson/inference/__init__.py: esrgan_lesson.inference.tiled"]
    assert not others, "upscale imported from elsewhere than esrgan_lesson.inference:\n" + "\n".join(others)


def test_training_validation_super_resolves_through_inference_upscale(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from esrgan_lesson import inference
    from esrgan_lesson.models import RRDBNet
    from esrgan_lesson.training.evaluation import evaluate_generator

    calls = []
    real = inference.upscale

    def spy(model, image, *args, **kwargs):
        calls.append(tuple(image.shape))
        return real(model, image, *args, **kwargs)

    monkeypatch.setattr(inference, "upscale", spy)
    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=2, num_feat=4, num_block=1, num_grow_ch=4)
    pairs = [(f"im{i}", torch.rand(3, 16, 20), torch.rand(3, 32, 40)) for i in range(2)]
    report = evaluate_generator(net, pairs, scale=2)
    assert calls == [(3, 16, 20), (3, 16, 20)] and len(report.images) == 2


#: Issue 10's ceiling: one job a module, so no module of the package grows past this many lines.
MAX_MODULE_LINES = 400


def test_no_module_is_over_the_line_ceiling() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert len(sizes) > 50  # the walk found the package
    over = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not over, f"split these along their jobs: {over}"
