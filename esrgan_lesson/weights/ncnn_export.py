"""Write an RRDBNet as an ncnn model (``.param`` + ``.bin``), the inverse of :mod:`.ncnn`.

The files follow the layout Real-ESRGAN-ncnn-vulkan reads (see :mod:`.ncnn`
for the format): the graph comes from :func:`~.ncnn.expected_graph`, so what
this module writes is by construction the graph the reader checks for, with a
``Split`` layer wherever a blob feeds more than one layer, as ncnn requires.
Weights are stored as fp16 (ncnn's usual storage, half the size) or fp32.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from torch import nn

from ..errors import ESRGANError
from ..fileio import atomic_path
from .io import generator_arch
from .ncnn import PARAM_MAGIC, TAG_FP16, TAG_FP32, Sig, expected_graph, package_conv_names


def _number(p: dict[str, object], key: str) -> float:
    """A numeric parameter of a layer signature (an int or a float)."""
    value = p[key]
    if not isinstance(value, (int, float)):
        raise ESRGANError(f"ncnn export: layer parameter {key}={value!r} is not a number")
    return value


def _param_items(sig: Sig) -> str:
    kind, _, params = sig
    p = dict(params)
    if kind == "Convolution":
        cin, cout = int(_number(p, "in")), int(_number(p, "out"))
        text = f"0={cout} 1=3 4=1 5=1 6={cout * cin * 9}"
        if p["slope"] is not None:
            text += f" 9=2 -23310=1,{_number(p, 'slope'):e}"
        return text
    if kind == "Eltwise":
        coeffs = p["coeffs"]
        if not isinstance(coeffs, tuple) or len(coeffs) != 2:
            raise ESRGANError(f"ncnn export: Eltwise coeffs {coeffs!r} are not a pair")
        a, b = (float(c) for c in coeffs)
        return f"0=1 -23301=2,{a:e},{b:e}"
    if kind == "Interp":
        s = _number(p, "scale")
        return f"0={int(_number(p, 'type'))} 1={s:e} 2={s:e}"
    if kind == "BinaryOp":
        return f"0={int(_number(p, 'op'))}"
    return ""


def graph_param_text(graph: list[Sig]) -> str:
    """The ``.param`` text of ``graph`` (signatures as :func:`~.ncnn.expected_graph` makes them)."""
    consumers: dict[int, list[int]] = defaultdict(list)
    for i, (_, srcs, _) in enumerate(graph):
        for s in srcs:
            consumers[s].append(i)
    lines: list[str] = []
    # blob that consumer c reads from producer s
    feed: dict[tuple[int, int, int], str] = {}
    for i, sig in enumerate(graph):
        kind, srcs, _ = sig
        name = "data" if i == 0 else ("output" if i == len(graph) - 1 else f"b{i}")
        ins = [feed[(s, i, k)] for k, s in enumerate(srcs)]
        items = _param_items(sig)
        lines.append(f"{kind} l{i} {len(ins)} 1 {' '.join(ins + [name])}{' ' + items if items else ''}")
        users = [(c, k) for c in consumers[i] for k, s in enumerate(graph[c][1]) if s == i]
        if len(users) == 1:
            c, k = users[0]
            feed[(i, c, k)] = name
        elif users:
            outs = [f"{name}_s{j}" for j in range(len(users))]
            lines.append(f"Split split{i} 1 {len(outs)} {name} {' '.join(outs)}")
            for (c, k), blob in zip(users, outs):
                feed[(i, c, k)] = blob
    blobs = sum(int(ln.split()[3]) for ln in lines)  # every blob is some layer's output
    return "\n".join([PARAM_MAGIC, f"{len(lines)} {blobs}", *lines]) + "\n"


def save_ncnn_generator(model: nn.Module, path: str | Path, storage: str = "fp16") -> tuple[Path, Path]:
    """Write ``model`` (an RRDBNet at x3, x4 or x8) as ``<path>.param`` and ``<path>.bin``.

    ``storage`` is ``"fp16"`` (ncnn's default for these models) or ``"fp32"``.
    Both files are written atomically. Returns their paths.
    """
    if storage not in ("fp16", "fp32"):
        raise ESRGANError(f"storage must be 'fp16' or 'fp32', got {storage!r}")
    arch = generator_arch(model)
    if arch["scale"] not in (3, 4, 8):
        raise ESRGANError(f"x{arch['scale']} RRDBNet uses pixel-unshuffle, which the ncnn writer does not emit")
    n_up, factor = {3: (1, 3), 4: (2, 2), 8: (3, 2)}[arch["scale"]]
    graph = expected_graph(arch["num_feat"], arch["num_block"], arch["num_grow_ch"], n_up, factor,
                           arch["num_in_ch"], arch["num_out_ch"])
    sd = model.state_dict()
    chunks: list[bytes] = []
    for name in package_conv_names(arch["num_block"], n_up):
        w = sd[f"{name}.weight"].detach().cpu().numpy()
        b = sd[f"{name}.bias"].detach().cpu().numpy().astype("<f4")
        if storage == "fp16":
            data = w.astype("<f2").tobytes()
            data += b"\0" * (-len(data) % 4)
            chunks.append(TAG_FP16.to_bytes(4, "little") + data + b.tobytes())
        else:
            chunks.append(TAG_FP32.to_bytes(4, "little") + w.astype("<f4").tobytes() + b.tobytes())
    stem = Path(path)
    param, binary = stem.with_suffix(".param"), stem.with_suffix(".bin")
    with atomic_path(param) as tmp:
        Path(tmp).write_text(graph_param_text(graph), encoding="utf-8")
    with atomic_path(binary) as tmp:
        Path(tmp).write_bytes(b"".join(chunks))
    return param, binary


__all__ = ["graph_param_text", "save_ncnn_generator"]
