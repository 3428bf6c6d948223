"""imresize against MATLAB's bicubic definition, worked out by hand, plus its properties."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.data.imresize import imresize


def keys(x: float) -> float:
    """Keys' cubic with a = -0.5, written out from the textbook piecewise form."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x < 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def test_downscale_4_to_2_by_hand() -> None:
    # MATLAB: scale 0.5, kernel 0.5*keys(0.5*d) over 8 taps, u_i = i/0.5 + 0.5*(1 - 2) = 2i - 0.5.
    # Symmetric padding of [1, 2, 3, 4] (1-based positions -2..7):
    padded = {-2: 3, -1: 2, 0: 1, 1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 3, 7: 2}
    expected = []
    for u in (1.5, 3.5):
        ws = {k: 0.5 * keys(0.5 * (u - k)) for k in padded if abs(u - k) < 4}
        total = sum(ws.values())
        expected.append(sum(w * padded[k] for k, w in ws.items()) / total)
    got = imresize(torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64), scale=(1, 0.5))
    assert got.shape == (1, 2)
    assert torch.allclose(got[0], torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=0)
    # the same numbers in the MATLAB documentation's 4-decimal form
    assert [round(v, 4) for v in expected] == [1.4609, 3.5391]


def test_upscale_x2_by_hand() -> None:
    # scale 2: u_i = i/2 + 0.25, taps where |u - k| < 2, no kernel widening.
    signal = [0.2, 0.9, 0.4, 0.7, 0.1]
    n = len(signal)

    def mirrored(k: int) -> float:  # 1-based symmetric extension, written out
        if k < 1:
            k = 1 - k
        if k > n:
            k = 2 * n + 1 - k
        return signal[k - 1]

    expected = []
    for i in range(1, 2 * n + 1):
        u = i / 2 + 0.25
        ks = range(math.floor(u) - 2, math.floor(u) + 3)
        ws = {k: keys(u - k) for k in ks if abs(u - k) < 2}
        expected.append(sum(w * mirrored(k) for k, w in ws.items()) / sum(ws.values()))
    x = torch.tensor(signal, dtype=torch.float64).view(1, 1, 1, n)
    got = imresize(x, scale=(1, 2))[0, 0, 0]
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("scale", [0.25, 0.5, 2.0])
def test_interior_matches_pillow(scale: float) -> None:
    # Pillow's float bicubic uses the same kernel, widening and pixel centres,
    # but renormalises at borders instead of mirroring: compare the interior.
    rng = np.random.default_rng(1)
    a = rng.random((48, 64)).astype(np.float32)
    oh, ow = int(48 * scale), int(64 * scale)
    ref = np.asarray(Image.fromarray(a, mode="F").resize((ow, oh), Image.BICUBIC))
    got = imresize(a, scale=scale)
    m = 4
    assert got.shape == ref.shape
    assert np.abs(got - ref)[m:-m, m:-m].max() < 1e-5
    assert np.abs(got - ref).max() > 1e-4  # borders do differ: MATLAB mirrors


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.37, 1.7, 3.0])
def test_constant_stays_constant(scale: float) -> None:
    x = torch.full((2, 3, 23, 17), 0.6180339887, dtype=torch.float64)
    y = imresize(x, scale=scale)
    assert torch.allclose(y, torch.full_like(y, 0.6180339887), atol=1e-12)


def test_identity_at_scale_one() -> None:
    x = torch.rand(3, 19, 21)
    assert torch.equal(imresize(x, scale=1.0), x)


@pytest.mark.parametrize("shape,scale,expected", [
    ((17, 23), 0.25, (5, 6)), ((10, 11), 1 / 3, (4, 4)), ((9, 7), 2.5, (23, 18)), ((510, 339), 0.25, (128, 85)),
    ((12, 30), 1 / 3, (4, 10)),  # 12 * (1/3) is 4.000...004 in floating point: MATLAB gives 4, not 5
])
def test_output_shape_is_matlab_ceil(shape: tuple[int, int], scale: float, expected: tuple[int, int]) -> None:
    y = imresize(torch.rand(1, *shape), scale=scale)
    assert tuple(y.shape[-2:]) == expected


def test_separable_rows_then_cols() -> None:
    x = torch.rand(3, 20, 28, dtype=torch.float64)
    both = imresize(x, scale=0.5)
    rows_then_cols = imresize(imresize(x, scale=(0.5, 1.0)), scale=(1.0, 0.5))
    cols_then_rows = imresize(imresize(x, scale=(1.0, 0.5)), scale=(0.5, 1.0))
    assert torch.allclose(both, rows_then_cols, atol=1e-12)
    assert torch.allclose(both, cols_then_rows, atol=1e-12)


def test_numpy_torch_batch_agree_and_dtypes() -> None:
    rng = np.random.default_rng(0)
    hwc = rng.random((20, 24, 3))
    np_out = imresize(hwc, scale=0.5)
    assert isinstance(np_out, np.ndarray) and np_out.shape == (10, 12, 3) and np_out.dtype == np.float64
    chw = torch.from_numpy(hwc).permute(2, 0, 1)
    t_out = imresize(chw, scale=0.5)
    assert np.allclose(t_out.permute(1, 2, 0).numpy(), np_out, atol=1e-12)
    batch = imresize(torch.stack([chw, chw.flip(-1)]), scale=0.5)
    assert torch.allclose(batch[0], t_out, atol=1e-12)
    assert torch.allclose(batch[1], t_out.flip(-1), atol=1e-12)  # the sampling grid is mirror-symmetric
    f32 = imresize(chw.float(), scale=0.5)
    assert f32.dtype == torch.float32 and torch.allclose(f32.double(), t_out, atol=1e-5)


def test_uint8_rounds_and_clips_like_matlab() -> None:
    a = (np.random.default_rng(2).random((16, 16, 3)) * 255).round().astype(np.uint8)
    a[4:8, 4:8] = 255  # bright square: bicubic overshoots above 255 next to it
    out = imresize(a, scale=2)
    ref = imresize(a.astype(np.float64), scale=2)
    assert out.dtype == np.uint8
    assert ref.max() > 255  # otherwise the clipping is not exercised
    assert np.array_equal(out, np.clip(np.round(ref), 0, 255).astype(np.uint8))


def test_size_argument_and_errors() -> None:
    x = torch.rand(1, 12, 16)
    assert imresize(x, size=(5, 7)).shape == (1, 5, 7)
    with pytest.raises(ESRGANError):
        imresize(x)
    with pytest.raises(ESRGANError):
        imresize(x, scale=0.5, size=(6, 8))
    with pytest.raises(ESRGANError):
        imresize(x, scale=-1)
    with pytest.raises(ESRGANError):
        imresize(np.zeros((2, 2, 2, 2)), scale=2)
    with pytest.raises(ESRGANError):
        imresize([1, 2, 3], scale=2)  # type: ignore[call-overload]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:  # pragma: no cover - runs on GPU machines
    x = torch.rand(2, 3, 40, 44)
    assert torch.allclose(imresize(x.to("cuda"), scale=0.25).cpu(), imresize(x, scale=0.25), atol=1e-5)


def test_dense_and_gather_paths_agree(monkeypatch) -> None:
    import esrgan_lesson.data.imresize as mod

    x = torch.rand(2, 3, 30, 26, dtype=torch.float64)
    dense = [imresize(x, scale=s) for s in (0.25, 1 / 3, 2.0)]
    monkeypatch.setattr(mod, "DENSE_LIMIT", 0)
    gather = [imresize(x, scale=s) for s in (0.25, 1 / 3, 2.0)]
    for a, b in zip(dense, gather):
        assert torch.allclose(a, b, atol=1e-12)
