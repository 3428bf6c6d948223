"""Inference: tiling without seams, input multiples, grey/alpha/16-bit, precision guard."""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.imageio import LoadedImage, read_image, write_image
from esrgan_lesson.inference import DEFAULT_TILE_OVERLAP, tile_grid, upscale
from esrgan_lesson.inference.tiles import forward_guarded
from esrgan_lesson.models import RRDBNet, receptive_field


def tiny_net(scale: int = 4, nf: int = 8, nb: int = 1, gc: int = 4, small_init: bool = False) -> RRDBNet:
    """A random RRDBNet whose output sits mid-range (so clamping hides nothing)."""
    torch.manual_seed(0)
    net = RRDBNet(scale=scale, num_feat=nf, num_block=nb, num_grow_ch=gc, small_init=small_init).eval()
    with torch.no_grad():
        net.conv_last.bias.fill_(0.5)
    return net


def test_tile_grid_cores_partition_the_axis() -> None:
    grid = tile_grid(70, 32, 5)
    assert [(a, b) for a, b, _, _ in grid] == [(0, 32), (32, 64), (64, 70)]
    assert [(c, d) for _, _, c, d in grid] == [(0, 37), (27, 69), (59, 70)]


@pytest.mark.parametrize("scale,size,tile", [(1, (52, 60), 16), (2, (50, 45), 12), (3, (41, 47), 12),
                                             (4, (45, 61), 16), (8, (25, 30), 8)])
def test_tiled_equals_untiled_when_overlap_covers_receptive_field(scale: int, size: tuple, tile: int) -> None:
    net = tiny_net(scale)
    radius = (receptive_field(net) - 1) // 2
    x = torch.rand(1, 3, *size)
    whole = upscale(net, x)
    assert whole.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert 0.05 < whole.mean() < 0.95 and (whole > 0).float().mean() > 0.9  # not all clamped
    tiled = upscale(net, x, tile=tile, tile_overlap=radius)
    assert (tiled - whole).abs().max().item() < 1e-5
    if scale >= 3:  # with no context the tile borders differ: the test can fail
        seams = upscale(net, x, tile=tile, tile_overlap=0)
        assert (seams - whole).abs().max().item() > 1e-3


def test_default_overlap_on_a_photo() -> None:
    """Tiles of 24 with the default overlap on astronaut (96 px) with a small random RRDBNet.

    Bound: 0.5/255, i.e. after rounding to 8 bits no pixel moves by more than
    one level. The theoretical receptive field (38 px) is wider than the
    overlap, so this measures the *effective* field of this network.
    """
    from skimage import data

    img = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    net = tiny_net(4, nf=16, nb=1, gc=8)
    assert receptive_field(net) > 2 * DEFAULT_TILE_OVERLAP + 1
    whole = upscale(net, img)
    tiled = upscale(net, img, tile=24)
    diff = float(np.abs(whole - tiled).max())
    print(f"\nmax |tiled - untiled| with overlap {DEFAULT_TILE_OVERLAP}: {diff:.3g} ({diff * 255:.3g} 8-bit levels)")
    assert diff < 0.5 / 255


def test_input_multiple_padding_and_too_small_images() -> None:
    net = tiny_net(1)
    x = torch.rand(3, 37, 45)  # not multiples of 4
    y = upscale(net, x)
    assert y.shape == (3, 37, 45) and y.min() >= 0 and y.max() <= 1
    padded = nn.functional.pad(x[None], (0, 3, 0, 3), mode="reflect")
    with torch.no_grad():
        ref = net(padded)[0, :, :37, :45].clamp(0, 1)
    assert torch.allclose(y, ref, atol=1e-6)
    with pytest.raises(ESRGANError, match="needs at least 4x4"):
        upscale(net, torch.rand(3, 3, 9))


def test_numpy_tensor_batch_and_output_clamping() -> None:
    net = tiny_net(4)
    img = np.random.default_rng(0).random((9, 11, 3)).astype(np.float32)
    out = upscale(net, img)
    assert isinstance(out, np.ndarray) and out.shape == (36, 44, 3) and out.dtype == np.float32
    batch = torch.from_numpy(img).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    out_b = upscale(net, batch)
    assert out_b.shape == (2, 3, 36, 44)
    assert np.allclose(out_b[1].permute(1, 2, 0).numpy(), out, atol=1e-6)
    with torch.no_grad():
        net.conv_last.bias.fill_(5.0)  # far out of range: must be clamped
    assert upscale(net, img).min() == 1.0
    for bad in (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32), [1, 2]):
        with pytest.raises(ESRGANError):
            upscale(net, bad)


def test_progress_callback_and_bar() -> None:
    net = tiny_net(4)
    calls: list[tuple[int, int]] = []
    upscale(net, torch.rand(3, 20, 30), tile=10, tile_overlap=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 6) for i in range(1, 7)]

    class Bar:
        total, n = None, 0

        def reset(self, total):
            self.total = total

        def update(self, k):
            self.n += k

    bar = Bar()
    upscale(net, torch.rand(3, 20, 30), tile=10, tile_overlap=2, progress=bar)
    assert (bar.total, bar.n) == (6, 6)


def test_grey_image_stays_grey() -> None:
    net = tiny_net(4)
    grey = np.repeat(np.random.default_rng(1).random((8, 8, 1)).astype(np.float32), 3, axis=2)
    out = upscale(net, LoadedImage(rgb=grey, alpha=None, grey=True, bit_depth=8))
    assert out.grey and out.alpha is None and out.rgb.shape == (32, 32, 3)
    assert np.array_equal(out.rgb[..., 0], out.rgb[..., 1]) and np.array_equal(out.rgb[..., 1], out.rgb[..., 2])
    colour = upscale(net, grey)  # the random net alone gives a colour cast on grey input
    assert np.abs(colour[..., 0] - colour[..., 1]).max() > 1e-3
    assert np.allclose(out.rgb[..., 0], colour.mean(axis=2), atol=1e-6)


def test_alpha_is_upscaled_bicubically_within_range() -> None:
    net = tiny_net(4)
    rgb = np.random.default_rng(2).random((8, 10, 3)).astype(np.float32)
    opaque = upscale(net, LoadedImage(rgb=rgb, alpha=np.ones((8, 10), np.float32), grey=False, bit_depth=8))
    assert opaque.alpha.shape == (32, 40) and np.all(opaque.alpha == 1.0)
    step = np.zeros((8, 10), np.float32)
    step[:, 5:] = 1.0
    out = upscale(net, LoadedImage(rgb=rgb, alpha=step, grey=False, bit_depth=8))
    assert out.alpha.min() >= 0.0 and out.alpha.max() <= 1.0  # bicubic overshoot clamped
    assert np.all(out.alpha[:, :16] < 0.05) and np.all(out.alpha[:, 24:] > 0.95)
    assert np.allclose(out.rgb, upscale(net, rgb))  # alpha does not touch the colour


def test_sixteen_bit_png_round_trip(tmp_path: Path) -> None:
    net = tiny_net(2)
    src = (np.random.default_rng(3).random((8, 12, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "in.png"), src)
    img = read_image(tmp_path / "in.png")
    assert img.bit_depth == 16
    out = upscale(net, img)
    assert out.bit_depth == 16 and out.rgb.shape == (16, 24, 3)
    write_image(tmp_path / "out.png", out.rgb, alpha=out.alpha, grey=out.grey, bit_depth=out.bit_depth)
    back = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (16, 24, 3)
    # 16-bit keeps detail 8 bits would round away.
    assert np.abs(back[..., ::-1].astype(np.float64) / 65535 - out.rgb).max() < 1e-4


def test_half_precision_is_cuda_only_and_non_finite_tiles_fall_back() -> None:
    net = tiny_net(4)
    x = torch.rand(1, 3, 8, 8)
    with pytest.warns(RuntimeWarning, match="only used on CUDA"):
        y = upscale(net, x, dtype=torch.float16)
    assert torch.equal(y, upscale(net, x))

    class OverflowsInLowPrecision(nn.Module):
        """Returns inf whenever autocast is on, like an fp16 overflow."""

        scale = 1

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            if torch.is_autocast_enabled(t.device.type):
                return torch.full_like(t, float("inf")).bfloat16()
            return t * 0.5

    with pytest.warns(RuntimeWarning, match="recomputed it in float32"):
        out = forward_guarded(OverflowsInLowPrecision(), x, torch.bfloat16)
    assert out.dtype == torch.float32 and torch.equal(out, x * 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(forward_guarded(OverflowsInLowPrecision(), x, None), x * 0.5)
