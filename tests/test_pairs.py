"""The one LR/HR pair maker (esrgan_lesson.data.pairs) and who uses it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from esrgan_lesson.data import downscale_lr, make_pair, make_pairs
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.errors import DataError
from esrgan_lesson.imageio import write_image


def _image(h: int = 37, w: int = 42, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).integers(0, 256, (h, w, 3)) / 255.0).astype(np.float32)


def test_make_pair_mod_crops_hr_and_rounds_matlab_bicubic_lr() -> None:
    img = _image()
    lr, hr = make_pair(img, 4)
    assert hr.shape == (36, 40, 3) and lr.shape == (9, 10, 3) and lr.dtype == hr.dtype == np.float32
    assert np.array_equal(hr, img[:36, :40])
    assert np.array_equal(lr * 255, np.round(lr * 255))  # on the 8-bit grid
    bicubic = np.clip(imresize(hr.astype(np.float64), scale=0.25), 0, 1)
    assert np.abs(lr - bicubic).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(lr, (np.round(bicubic * 255) / 255).astype(np.float32))


def test_tensor_and_numpy_lr_agree_and_bad_sizes_fail() -> None:
    hr = _image(32, 24)
    t = downscale_lr(torch.from_numpy(hr).permute(2, 0, 1), 4)
    assert torch.equal(t, torch.from_numpy(downscale_lr(hr, 4)).permute(2, 0, 1))
    with pytest.raises(DataError):
        downscale_lr(_image(30, 24), 4)
    with pytest.raises(DataError):
        make_pair(_image(3, 3), 4)


def test_make_pairs_tensors_and_every_evaluation_path_agrees(tmp_path: Path) -> None:
    from esrgan_lesson.course.experiments import lr_hr_pairs
    from esrgan_lesson.data.benchmark import load_eval_pair
    from esrgan_lesson.training.evaluation import load_val_pairs

    images = {"a": _image(40, 44, 1), "b": _image(33, 29, 2)}
    pairs = make_pairs(images, 4)
    assert [n for n, _, _ in pairs] == ["a", "b"]
    (tmp_path / "HR").mkdir()
    for name, img in images.items():
        write_image(tmp_path / "HR" / f"{name}.png", img)
    for (n, lr, hr), (n2, lr2, hr2), (n3, lr3, hr3) in zip(pairs, load_val_pairs(tmp_path / "HR", None, 4),
                                                          lr_hr_pairs(images, 4)):
        assert n == n2 == n3 and lr.shape == (3, hr.shape[1] // 4, hr.shape[2] // 4)
        assert torch.equal(lr, lr2) and torch.equal(hr, hr2) and torch.equal(lr, lr3) and torch.equal(hr, hr3)
        hr_np, lr_np = load_eval_pair(tmp_path / "HR" / f"{n}.png", None, 4)
        assert np.array_equal(lr_np, lr.permute(1, 2, 0).numpy()) and np.array_equal(hr_np, hr.permute(1, 2, 0).numpy())


def test_chapter_helpers_delegate_to_the_pair_maker() -> None:
    from esrgan_lesson.course.pretrained_demo import clean_lr
    from esrgan_lesson.course.sr_problem import downscale

    hr = _image(32, 48, 3)
    assert np.array_equal(clean_lr(hr, 4), downscale_lr(hr, 4))
    assert np.array_equal(downscale(hr, 4, "matlab"), downscale_lr(hr, 4))


# --- no chapter makes its pairs by hand ------------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent
#: Chapter 1 compares resizers, MATLAB's unrounded one among them (sr_problem.downscale(quantized=False)).
RESIZER_COMPARISON = REPO / "esrgan_lesson" / "course" / "sr_problem.py"


def _below_one(node) -> bool:
    import ast

    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return isinstance(node.left, ast.Constant) and node.left.value == 1
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and 0 < node.value < 1


def inline_downscales(source: str) -> list[int]:
    """Lines of ``imresize(x, scale=1 / s)`` (or a constant below 1) calls: an LR made by hand."""
    import ast

    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "imresize":
            scale = [k.value for k in node.keywords if k.arg == "scale"] + node.args[1:2]
            if any(_below_one(s) for s in scale):
                hits.append(node.lineno)
    return hits


@pytest.mark.parametrize("source, found", [
    ("lr = imresize(hr, scale=1 / UPSCALE).clamp(0, 1)\n", True),
    ("%matplotlib inline\nlr = imresize.imresize(hr, 0.25)\n", True),
    ("from esrgan_lesson.data import imresize as m\nlr = m.imresize(hr, scale=1/s)\n", True),
    ("bic = imresize(lr, scale=float(UPSCALE)).clamp(0, 1)\nlr = make_pairs(images, 4)\n", False),
])
def test_the_pair_check_sees_a_hand_made_lr(source: str, found: bool) -> None:
    assert bool(inline_downscales(source)) is found


def test_chapters_make_their_pairs_with_the_pair_maker() -> None:
    import nbformat

    offenders = []
    for nb_path in sorted((REPO / "book").glob("*.ipynb")):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            if cell.cell_type == "code":
                offenders += [f"{nb_path.name} cell {cell.get('id')}" for _ in inline_downscales(cell.source)]
    for path in sorted((REPO / "esrgan_lesson" / "course").rglob("*.py")):
        if path != RESIZER_COMPARISON:
            offenders += [f"{path.relative_to(REPO)}:{line}" for line in inline_downscales(path.read_text())]
    assert not offenders, ("LR images made inline; use esrgan_lesson.data.make_pairs (or downscale_lr):\n"
                           + "\n".join(offenders))
