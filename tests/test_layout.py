"""The package's layout: the core library never imports the course (esrgan_lesson/course/)."""
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
