"""The repository's packaging files agree with each other."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in ("train", "book", "dev"):
        reqs |= set(project["optional-dependencies"][extra])
    return reqs


def test_environment_yml_matches_pyproject() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pip_reqs = {r for r in pip_section if not r.startswith("-e")}
    assert pip_reqs == _pyproject_requirements()
    assert "-e ." in pip_section


def test_torch_is_only_lower_bounded() -> None:
    """Colab must keep its own torch: no upper bounds or pins on torch/torchvision."""
    for req in _pyproject_requirements():
        if req.startswith(("torch>", "torch=", "torchvision")):
            assert ">=" in req and "<" not in req and "==" not in req, req


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "esrgan_lesson.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "esrgan-lesson" in out.stdout


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert "make test" in ci.splitlines()[-1]
