"""Checkpoint I/O: key layouts, wrappers, safetensors, bad files, network interpolation."""
from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from esrgan_lesson.errors import CheckpointError, ESRGANError
from esrgan_lesson.models import RRDBNet, VGGStyleDiscriminator
from esrgan_lesson.weights import (
    convert_state_dict,
    interpolate_generators,
    interpolate_images,
    interpolate_state_dicts,
    load_generator,
    load_state_dict_file,
    save_generator,
)


SMALL = dict(num_feat=8, num_block=2, num_grow_ch=4)


def small_net(scale: int = 4, seed: int = 0, **kw) -> RRDBNet:
    torch.manual_seed(seed)
    net = RRDBNet(scale=scale, **{**SMALL, **kw})
    with torch.no_grad():  # make every tensor distinct so a swapped key would show
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return net.eval()


# --- Foreign layouts, written out by hand from each repository's module tree ---
def _rdb_items(sd: dict, block_prefix: str, rdb_fmt: str, conv_suffix: str) -> dict:
    out = {}
    for key, v in sd.items():
        if key.startswith("body."):
            _, i, rdb, conv, kind = key.split(".")  # body.i.rdbj.convk.kind
            j = rdb[len("rdb"):]
            out[f"{block_prefix}{i}.{rdb_fmt.format(j)}.{conv}{conv_suffix}.{kind}"] = v
    return out


def to_esrgan_2019(sd: dict) -> dict:
    """The ESRGAN repository's RRDBNet_arch.py names (2019+)."""
    names = {"conv_first": "conv_first", "conv_body": "trunk_conv", "conv_hr": "HRconv", "conv_last": "conv_last"}
    names.update({f"conv_up{n}": f"upconv{n}" for n in (1, 2, 3)})
    out = _rdb_items(sd, "RRDB_trunk.", "RDB{}", "")
    for key, v in sd.items():
        module, kind = key.rsplit(".", 1)
        if module in names:
            out[f"{names[module]}.{kind}"] = v
    return out


def to_old_arch(sd: dict, num_block: int, up_stages: int) -> dict:
    """The old arch's flattened ``model`` Sequential.

    Built by listing the modules in the order the old ``RRDB_Net`` puts them,
    so the indices come from the structure, not from a formula.
    """
    seq: list[str | None] = ["conv_first", "SHORTCUT"]
    for s in range(1, up_stages + 1):
        seq += [None, f"conv_up{s}", None]  # Upsample, conv, LeakyReLU
    seq += ["conv_hr", None, "conv_last"]  # HR conv, LeakyReLU, last conv
    index = {name: i for i, name in enumerate(seq) if name}
    out = _rdb_items(sd, "model.1.sub.", "RDB{}", ".0")
    for key, v in sd.items():
        module, kind = key.rsplit(".", 1)
        if module == "conv_body":
            out[f"model.1.sub.{num_block}.{kind}"] = v
        elif module in index:
            out[f"model.{index[module]}.{kind}"] = v
    return out


def assert_same_weights(model: torch.nn.Module, ref: torch.nn.Module) -> None:
    a, b = model.state_dict(), ref.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# --- Layout conversion --------------------------------------------------------
# The old arch predates Real-ESRGAN's pixel-unshuffle x1/x2 models.
@pytest.mark.parametrize(
    "layout,scale",
    [(lay, s) for lay in ("basicsr", "esrgan") for s in (1, 2, 3, 4, 8)] + [("old", s) for s in (3, 4, 8)],
)
def test_every_layout_round_trips_with_strict_loading(layout: str, scale: int) -> None:
    ref = small_net(scale)
    sd = ref.state_dict()
    n_up = len(ref.up_factors)
    foreign = {"basicsr": sd, "esrgan": to_esrgan_2019(sd), "old": to_old_arch(sd, SMALL["num_block"], n_up)}[layout]
    assert len(foreign) == len(sd)
    converted, arch = convert_state_dict(foreign)
    assert arch == dict(num_in_ch=3, num_out_ch=3, scale=scale, **SMALL)
    model = load_generator(foreign)
    assert not model.training and model.scale == scale
    assert_same_weights(model, ref)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_old_arch_x4_uses_the_published_indices() -> None:
    keys = set(to_old_arch(small_net(4).state_dict(), 2, 2))
    for k in ["model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight", "model.1.sub.1.RDB3.conv5.0.bias",
              "model.1.sub.2.weight", "model.3.weight", "model.6.weight", "model.8.weight", "model.10.bias"]:
        assert k in keys
    assert {k.split(".")[1] for k in keys if not k.startswith("model.1.")} == {"0", "3", "6", "8", "10"}


def test_basicsr_wrappers_prefer_params_ema_and_strip_module_prefix() -> None:
    ema, plain = small_net(4, seed=1), small_net(4, seed=2)
    wrapped = {"params": plain.state_dict(), "params_ema": ema.state_dict()}
    assert_same_weights(load_generator(wrapped), ema)
    assert_same_weights(load_generator({"params": plain.state_dict()}), plain)
    dp = OrderedDict((f"module.{k}", v) for k, v in ema.state_dict().items())
    assert_same_weights(load_generator(dp), ema)


def test_scale_argument_and_inconsistent_scale() -> None:
    sd = small_net(3).state_dict()
    assert convert_state_dict(sd, scale=3)[1]["scale"] == 3
    with pytest.raises(CheckpointError, match="x4 does not fit"):
        convert_state_dict(sd, scale=4)


def test_grey_and_unusual_channel_counts() -> None:
    grey_x2 = small_net(2, num_in_ch=1, num_out_ch=1)
    assert convert_state_dict(grey_x2.state_dict())[1]["num_in_ch"] == 1
    assert convert_state_dict(grey_x2.state_dict())[1]["scale"] == 2


# --- Files --------------------------------------------------------------------
def test_safetensors_round_trip_keeps_architecture_metadata(tmp_path: Path) -> None:
    # 4 input channels, 1 output at x4 looks like an x2 unshuffle model from
    # the shapes alone (4 = 2*2*1); the stored metadata must win.
    net = small_net(4, num_in_ch=4, num_out_ch=1)
    assert convert_state_dict(net.state_dict())[1]["scale"] == 2
    path = save_generator(net, tmp_path / "g.safetensors", metadata={"stage": "psnr", "iters": 10})
    loaded = load_generator(path)
    assert (loaded.scale, loaded.num_in_ch, loaded.num_out_ch) == (4, 4, 1)
    assert_same_weights(loaded, net)
    assert [p.name for p in tmp_path.iterdir()] == ["g.safetensors"]  # no temp file left
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        assert fh.metadata()["stage"] == "psnr" and fh.metadata()["iters"] == "10"


def test_pth_with_wrapper_and_format_sniffing(tmp_path: Path) -> None:
    net = small_net(8)
    torch.save({"params_ema": to_esrgan_2019(net.state_dict())}, tmp_path / "g.pth")
    assert_same_weights(load_generator(tmp_path / "g.pth"), net)
    # A safetensors file with a .pth name is still read as safetensors.
    save_generator(net, tmp_path / "g.safetensors")
    (tmp_path / "g.safetensors").rename(tmp_path / "renamed.pth")
    assert_same_weights(load_generator(tmp_path / "renamed.pth"), net)


class _Evil:  # a pickled custom object: weights_only=True must refuse it
    def __reduce__(self):
        return (print, ("should never run",))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"\x00garbage" * 50), "cannot be read"),
        (lambda p: p.write_bytes(pickle.dumps(_Evil(), protocol=2)), "weights_only"),
        (lambda p: torch.save([torch.zeros(1)], p), "not a dict"),
        (lambda p: torch.save({}, p), "no tensors found"),
        (lambda p: torch.save({"epoch": 3, "lr": 1e-4}, p), "no tensors found.*epoch"),
        (lambda p: torch.save(VGGStyleDiscriminator(num_feat=4).state_dict(), p), "discriminator.*conv0_0.weight"),
        (lambda p: torch.save({"features.0.weight": torch.zeros(1)}, p), "VGG"),
        (lambda p: torch.save({"foo.weight": torch.zeros(1)}, p), "other than an RRDBNet.*foo.weight"),
    ],
)
def test_bad_checkpoints_give_one_clear_error(tmp_path: Path, make, match: str) -> None:
    path = tmp_path / "bad.pth"
    make(path)
    with pytest.raises(CheckpointError, match=match) as info:
        load_generator(path)
    assert "\n" not in str(info.value)


def test_corrupt_safetensors_and_truncated_generator(tmp_path: Path) -> None:
    net = small_net(4)
    good = save_generator(net, tmp_path / "g.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="corrupt safetensors"):
        load_state_dict_file(tmp_path / "cut.safetensors")
    sd = dict(net.state_dict())
    del sd["body.1.rdb2.conv3.bias"]
    with pytest.raises(CheckpointError, match="body.1.rdb2.conv3.bias"):
        load_generator(sd)
    sd = dict(net.state_dict())
    sd["conv_hr.weight"] = torch.zeros(8, 8, 1, 1)
    with pytest.raises(CheckpointError, match="conv_hr.weight"):
        load_generator(sd)


# --- Interpolation (ESRGAN Eq. 4) ------------------------------------------------
def test_interpolation_endpoints_are_exact_and_midpoint_is_the_mean() -> None:
    psnr, gan = small_net(4, seed=1), small_net(4, seed=2)
    a, b = psnr.state_dict(), gan.state_dict()
    for k, v in interpolate_state_dicts(a, b, 0.0).items():
        assert torch.equal(v, a[k])
    for k, v in interpolate_state_dicts(a, b, 1.0).items():
        assert torch.equal(v, b[k])
    mid = interpolate_state_dicts(a, b, 0.25)
    for k in a:
        torch.testing.assert_close(mid[k], 0.75 * a[k] + 0.25 * b[k], rtol=0, atol=1e-7)
    model = interpolate_generators(psnr, gan, 0.25)
    assert model is not psnr and isinstance(model, RRDBNet)
    for k, v in model.state_dict().items():
        assert torch.equal(v, mid[k])
    assert_same_weights(psnr, small_net(4, seed=1))  # the inputs are untouched


def test_interpolation_names_mismatches_and_copies_non_float_tensors() -> None:
    a = {"w": torch.ones(2), "bn.num_batches_tracked": torch.tensor(5)}
    b = {"w": torch.zeros(2), "bn.num_batches_tracked": torch.tensor(9)}
    out = interpolate_state_dicts(a, b, 0.5)
    assert out["bn.num_batches_tracked"].item() == 5 and out["bn.num_batches_tracked"].dtype == torch.int64
    assert torch.equal(out["w"], torch.full((2,), 0.5))
    with pytest.raises(CheckpointError, match="only in the GAN model: extra"):
        interpolate_state_dicts(a, {**b, "extra": torch.ones(1)}, 0.5)
    with pytest.raises(CheckpointError, match=r"w \(2,\) vs \(3,\)"):
        interpolate_state_dicts(a, {**b, "w": torch.zeros(3)}, 0.5)
    with pytest.raises(ESRGANError, match="alpha must be in"):
        interpolate_state_dicts(a, b, 1.5)
    with pytest.raises(CheckpointError, match="shapes differ"):
        interpolate_generators(small_net(4), small_net(4, num_feat=16), 0.5)


def test_interpolate_images_numpy_and_torch() -> None:
    x, y = np.zeros((2, 2, 3), np.float32), np.ones((2, 2, 3), np.float32)
    out = interpolate_images(x, y, 0.2)
    assert out.dtype == np.float32 and np.allclose(out, 0.2)
    assert torch.allclose(interpolate_images(torch.zeros(3), torch.ones(3), 0.8), torch.full((3,), 0.8))
    with pytest.raises(ESRGANError, match="differ in shape"):
        interpolate_images(x, y[:1], 0.5)
