"""The alpha explorer: interpolated outputs, PNG frames, the static HTML slider, the live widget, sweep scores."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.course.explorer import DEFAULT_ALPHAS, PAPER_ALPHAS, InterpolatedGenerator, alpha_label, flat_mask, from_png, image_interpolation, live_explorer, masked_gradient_energy, mean_curve, network_interpolation, png_size, precompute_frames, static_explorer_html, sweep, to_png, to_uint8
from esrgan_lesson.models import RRDBNet
from esrgan_lesson.weights import interpolate_images

LR_SIDE = 12  # LR crop side; frames are 48 px at x4


def _tiny(seed: int) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4).eval()


@pytest.fixture(scope="module")
def models() -> tuple[RRDBNet, RRDBNet]:
    """A 'PSNR' net and a 'GAN' net: the same architecture, the second one's weights perturbed."""
    psnr_model = _tiny(0)
    gan_model = _tiny(0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in gan_model.parameters():
            p.add_(0.5 * p.abs().mean() * torch.randn(p.shape, generator=gen))
    return psnr_model, gan_model


@pytest.fixture(scope="module")
def lr_crop() -> np.ndarray:
    """A small made-up RGB picture: a ramp, a stripe pattern and a bright square."""
    y, x = np.mgrid[0:LR_SIDE, 0:LR_SIDE].astype(np.float32) / LR_SIDE
    img = np.stack([x, 0.5 + 0.4 * np.sin(9 * y), 1 - 0.5 * (x + y)], axis=2)
    img[3:7, 5:9] = 0.95
    return np.clip(img, 0, 1).astype(np.float32)


def _run(model: RRDBNet, lr: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.from_numpy(lr).permute(2, 0, 1)[None])[0].clamp(0, 1)


# --- interpolated outputs and frames --------------------------------------------


def test_frames_at_alpha_0_and_1_are_the_two_models(models, lr_crop) -> None:
    psnr_model, gan_model = models
    frames = precompute_frames(psnr_model, gan_model, lr_crop, alphas=(0.0, 0.5, 1.0))
    assert len(frames) == 3 and all(png_size(f) == (4 * LR_SIDE, 4 * LR_SIDE) for f in frames)
    first, mid, last = (from_png(f) for f in frames)
    np.testing.assert_array_equal(first, to_uint8(_run(psnr_model, lr_crop)))
    np.testing.assert_array_equal(last, to_uint8(_run(gan_model, lr_crop)))
    assert not np.array_equal(mid, first) and not np.array_equal(mid, last)


def test_network_interpolation_differs_from_image_interpolation(models, lr_crop) -> None:
    """Same endpoints; in between, blending weights of a nonlinear net is not blending its outputs."""
    psnr_model, gan_model = models
    net = network_interpolation(psnr_model, gan_model, lr_crop, (0.0, 0.5, 1.0))
    img = image_interpolation(psnr_model, gan_model, lr_crop, (0.0, 0.5, 1.0))
    assert torch.equal(net[0], img[0]) and torch.equal(net[2], img[2])
    assert torch.allclose(img[1], 0.5 * (img[0] + img[2]), atol=1e-6)
    assert (net[1] - img[1]).abs().max() > 1e-3


def test_image_mode_frames_are_pixel_blends(models, lr_crop) -> None:
    psnr_model, gan_model = models
    frames = precompute_frames(psnr_model, gan_model, lr_crop, alphas=(0.0, 0.3, 1.0), mode="image")
    blend = interpolate_images(_run(psnr_model, lr_crop), _run(gan_model, lr_crop), 0.3)
    np.testing.assert_array_equal(from_png(frames[1]), to_uint8(blend))


def test_generator_reads_current_weights(lr_crop) -> None:
    """Nothing is cached: editing a model after building the generator changes its output."""
    a, b = _tiny(0), _tiny(1)
    gen = InterpolatedGenerator(a, b)
    before = gen(lr_crop, 1.0)
    with torch.no_grad():
        b.conv_last.bias.add_(0.25)
    after = gen(lr_crop, 1.0)
    assert (after - before).abs().max() > 0.05
    assert torch.allclose(after, _run(b, lr_crop), atol=1e-6)


def test_png_round_trip_is_lossless_and_deterministic() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    data = to_png(img)
    assert data == to_png(img.copy())
    assert png_size(data) == (30, 20)
    np.testing.assert_array_equal(from_png(data), img)
    np.testing.assert_array_equal(to_uint8(torch.from_numpy(img).permute(2, 0, 1).float() / 255), img)


def test_bad_inputs_give_one_line_errors(models, lr_crop) -> None:
    psnr_model, gan_model = models
    with pytest.raises(ESRGANError, match="strictly increasing"):
        precompute_frames(psnr_model, gan_model, lr_crop, alphas=(0.0, 0.5, 0.5))
    with pytest.raises(ESRGANError, match=r"in \[0, 1\]"):
        precompute_frames(psnr_model, gan_model, lr_crop, alphas=(0.0, 1.5))
    with pytest.raises(ESRGANError, match="max_side"):
        precompute_frames(psnr_model, gan_model, np.zeros((80, 80, 3), np.float32))
    with pytest.raises(ESRGANError, match="mode"):
        precompute_frames(psnr_model, gan_model, lr_crop, mode="pixels")
    with pytest.raises(ESRGANError, match="frames for"):
        static_explorer_html([to_png(np.zeros((4, 4, 3)))] * 2, alphas=(0.0, 0.5, 1.0))
    with pytest.raises(ESRGANError, match="PNG"):
        static_explorer_html([b"GIF89a not a png"], alphas=(0.0,))
    with pytest.raises(ESRGANError, match="keys differ"):
        InterpolatedGenerator(psnr_model, RRDBNet(scale=4, num_feat=8, num_block=2, num_grow_ch=4))


# --- the static explorer's HTML -----------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _frames(n: int, side: int = 6) -> list[bytes]:
    return [to_png(np.full((side, side, 3), i / max(1, n - 1), np.float32)) for i in range(n)]


def test_static_html_has_every_frame_label_and_a_range_input() -> None:
    frames = _frames(len(DEFAULT_ALPHAS))
    ex = static_explorer_html(frames, DEFAULT_ALPHAS, title="Demo")
    html = ex._repr_html_()
    assert html == str(ex) == ex.html
    assert ex.frame_count == 11 and ex.labels[3] == alpha_label(0.3) == "\u03b1 = 0.30"
    tags = _tags(html)
    (rng,) = [a for t, a in tags if t == "input"]
    assert rng["type"] == "range" and rng["min"] == "0" and rng["max"] == "10" and rng["value"] == "0"
    ids = [a["id"] for _, a in tags if a.get("id")]
    assert len(ids) == len(set(ids)) == 3 and all(i.startswith(ex.uid) for i in ids)
    (label_for,) = [a["for"] for t, a in tags if t == "label"]
    assert label_for == rng["id"]
    # every frame is embedded once in the script (the first also as the initial <img>)
    b64 = [re.escape(f"data:image/png;base64,{__import__('base64').b64encode(f).decode()}") for f in frames]
    assert [len(re.findall(p, html)) for p in b64] == [2] + [1] * 10
    for a in DEFAULT_ALPHAS:  # labels appear in the script's JSON, ASCII-escaped, in order
        assert f'"\\u03b1 = {a:.2f}"' in html
    assert html.count("<script") == 1 and "<script>" in html
    assert "Demo" in html and 'data-frames="11"' in html


def test_static_html_requests_nothing_external() -> None:
    ex = static_explorer_html({"Network": _frames(6), "Image": _frames(6)}, PAPER_ALPHAS)
    html = ex.html
    for tag, attrs in _tags(html):
        for key in ("src", "href", "srcset", "action", "data"):
            value = attrs.get(key)
            assert value is None or value.startswith("data:image/png;base64,"), (tag, key, value[:40])
    without_data = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "DATA", html)
    assert "http" not in without_data.lower()
    assert "//" not in without_data and "url(" not in without_data and "@import" not in without_data
    assert len([t for t, a in _tags(html) if t == "img"]) == 2


def test_two_explorers_with_the_same_frames_get_different_ids() -> None:
    frames = _frames(3)
    a = static_explorer_html(frames, (0.0, 0.5, 1.0))
    b = static_explorer_html(frames, (0.0, 0.5, 1.0))
    assert a.uid != b.uid
    assert f'id="{a.uid}"' in a.html and b.uid not in a.html


def test_start_alpha_picks_the_nearest_frame_and_repr_is_short() -> None:
    ex = static_explorer_html(_frames(6), PAPER_ALPHAS, start=0.55, zoom=4)
    (rng,) = [a for t, a in _tags(ex.html) if t == "input"]
    assert rng["value"] == "3" and rng["aria-valuetext"] == "\u03b1 = 0.60"
    text = repr(ex)
    assert "6 frames" in text and "6x6 px" in text and "x4" in text and len(text) < 200


def test_save_writes_a_standalone_page(tmp_path) -> None:
    ex = static_explorer_html(_frames(2), (0.0, 1.0))
    path = ex.save(tmp_path / "sub" / "explorer.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and ex.html in text and '<meta charset="utf-8">' in text
    assert sorted(p.name for p in path.parent.iterdir()) == ["explorer.html"]


# --- the live explorer ------------------------------------------------------------------


def _shown(view_html: str) -> list[np.ndarray]:
    import base64

    return [from_png(base64.b64decode(m)) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", view_html)]


def test_live_explorer_reruns_the_network_on_every_move(lr_crop) -> None:
    pytest.importorskip("ipywidgets")
    psnr_model, gan_model = _tiny(0), _tiny(1)
    live = live_explorer(psnr_model, gan_model, lr_crop, with_image_blend=True)
    (net0, img0) = _shown(live.view.value)
    np.testing.assert_array_equal(net0, to_uint8(_run(psnr_model, lr_crop)))
    np.testing.assert_array_equal(img0, net0)
    live.slider.value = 1.0
    assert "\u03b1 = 1.00" in live.label.value
    np.testing.assert_array_equal(_shown(live.view.value)[0], to_uint8(_run(gan_model, lr_crop)))
    with torch.no_grad():  # a changed model shows at the next move: nothing stale
        gan_model.conv_last.bias.add_(0.25)
    live.slider.value = 0.5
    live.slider.value = 1.0
    np.testing.assert_array_equal(_shown(live.view.value)[0], to_uint8(_run(gan_model, lr_crop)))
    bundle = live._repr_mimebundle_()
    assert bundle["text/plain"].startswith("LiveExplorer(") and "application/vnd.jupyter.widget-view+json" in bundle


# --- sweep measurements ------------------------------------------------------------------


def test_flat_mask_finds_the_flat_half() -> None:
    gen = torch.Generator().manual_seed(0)
    img = torch.full((3, 40, 80), 0.5)
    img[:, :, 40:] += 0.2 * torch.randn(3, 40, 40, generator=gen)  # right half textured
    mask = flat_mask(img.clamp(0, 1), fraction=0.3)
    assert mask.shape == (40, 80)
    assert mask[:, 40:].sum() == 0 and 0.25 <= float(mask.double().mean()) <= 0.5
    assert masked_gradient_energy(img.clamp(0, 1), mask) < 1e-12
    noisy = img.clone()
    noisy[:, :, :36] += 0.05 * torch.randn(3, 40, 36, generator=gen)
    assert masked_gradient_energy(noisy.clamp(0, 1), mask) > 1e-3
    with pytest.raises(ESRGANError, match="odd"):
        flat_mask(img, window=4)


def test_sweep_scores_both_modes_and_agrees_at_the_ends(models, lr_crop) -> None:
    psnr_model, gan_model = models
    lr = torch.from_numpy(lr_crop).permute(2, 0, 1)
    gen = torch.Generator().manual_seed(2)
    hr = (_run(psnr_model, lr_crop) + 0.05 * torch.randn(3, 4 * LR_SIDE, 4 * LR_SIDE, generator=gen)).clamp(0, 1)
    alphas = (0.0, 0.25, 0.5, 0.75, 1.0)
    points = sweep(psnr_model, gan_model, [("a", lr, hr), ("b", lr, hr)], alphas)
    assert len(points) == 2 * 2 * len(alphas)
    net = {a: p for p in points if p.scores.name == "a" and p.mode == "network" for a in [p.alpha]}
    img = {a: p for p in points if p.scores.name == "a" and p.mode == "image" for a in [p.alpha]}
    assert net[0.0] == pytest.approx(img[0.0].__class__(**{**img[0.0].__dict__, "mode": "network"}))
    assert net[1.0].scores.psnr == img[1.0].scores.psnr and net[1.0].flat_energy == img[1.0].flat_energy
    for a in alphas:  # |grad|^2 is convex, so a pixel blend's energy is at most the blend of energies
        bound = (1 - a) * img[0.0].flat_energy + a * img[1.0].flat_energy
        assert img[a].flat_energy <= bound + 1e-12
    curve = mean_curve(points, "network", "psnr_y")
    assert list(curve) == list(alphas) and curve[0.0] == pytest.approx(net[0.0].scores.psnr)
    with pytest.raises(ESRGANError, match="no sweep points"):
        mean_curve(points, "pixels", "psnr_y")


# --- why the endpoints must be relatives --------------------------------------------------


def test_permuted_copy_is_the_same_function_but_does_not_interpolate(lr_crop) -> None:
    from esrgan_lesson.course.explorer import permute_upsampler_channels, weight_distance

    model = _tiny(3)
    with torch.no_grad():
        model.conv_last.bias.fill_(0.5)  # mid-grey output, so a broken blend shows
        for name in ("conv_up1", "conv_up2", "conv_hr"):
            getattr(model, name).bias.uniform_(0.5, 1.0)  # hidden units active, so their order matters
    twin = permute_upsampler_channels(model, seed=0)
    assert weight_distance(model, twin) > 0.3 and weight_distance(model, model) == 0.0
    out, twin_out = _run(model, lr_crop), _run(twin, lr_crop)
    assert torch.allclose(out, twin_out, atol=1e-5)
    mid = InterpolatedGenerator(model, twin)(lr_crop, 0.5)
    assert (mid - out).abs().mean() > 10 * (twin_out - out).abs().mean() + 1e-3
    with pytest.raises(ESRGANError, match="not an RRDBNet"):
        permute_upsampler_channels(torch.nn.Conv2d(3, 3, 3))

