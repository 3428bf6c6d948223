"""Published GPU figures, in one table: dense peak TFLOP/s per precision and memory, each with its datasheet.

``benchmarks/`` reports achieved TFLOP/s as a share of these peaks, and chapter 7
(:mod:`esrgan_lesson.course.gpus`) projects the paper's schedule from them; both
read :data:`GPU_SPECS` (``tests/test_gpu_specs.py`` fails if a second table of
peak figures appears in the package or the benchmarks).

Every figure is *dense*: NVIDIA's datasheets print the tensor-core rates (TF32,
BF16, FP16) "with sparsity", twice the dense rate, and these are half of those.
FP32 is the non-tensor-core rate. ``None``: the GPU has no such tensor-core path
(or its datasheet gives no figure for it). Memory is the datasheet's, in GB.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from .errors import ESRGANError

#: The precisions a :class:`GPUSpec` lists, in the order reports print them.
PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16", "fp16")


@dataclass(frozen=True)
class GPUSpec:
    """One GPU's datasheet figures: dense peak TFLOP/s per precision, memory (GB), and the source.

    ``device_names``: fragments of ``torch.cuda.get_device_name()`` that name
    this GPU (matched as whole words, case-insensitive; see :func:`spec_for_device_name`).
    """

    name: str
    fp32: float
    tf32: float | None
    bf16: float | None
    fp16: float | None
    memory_gb: float
    source: str
    device_names: tuple[str, ...]

    def peak(self, precision: str) -> float | None:
        """Dense peak TFLOP/s at ``precision`` (one of :data:`PRECISIONS`), ``None`` if the GPU has none."""
        if precision not in PRECISIONS:
            raise ESRGANError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
        value: float | None = getattr(self, precision)
        return value

    def peaks(self) -> dict[str, float]:
        """``{precision: TFLOP/s}`` for the precisions the GPU has, in :data:`PRECISIONS` order."""
        return {p: v for p in PRECISIONS if (v := self.peak(p)) is not None}


#: The table. Sources are NVIDIA's product datasheets, by title; the comment above each row
#: gives the datasheet's own figures where they differ from the dense ones in the row.
GPU_SPECS: tuple[GPUSpec, ...] = (
    # FP32 8.1, FP16 mixed precision 65; no TF32, no BF16.
    GPUSpec("T4", fp32=8.1, tf32=None, bf16=None, fp16=65.0, memory_gb=16,
            source="NVIDIA T4 Tensor Core GPU datasheet", device_names=("T4",)),
    # SXM2 column: FP32 15.7, FP16 tensor 125; no TF32, no BF16.
    GPUSpec("V100 SXM2", fp32=15.7, tf32=None, bf16=None, fp16=125.0, memory_gb=16,
            source="NVIDIA Tesla V100 datasheet (SXM2)", device_names=("V100",)),
    # FP32 30.3; TF32 120 and BF16/FP16 242 with sparsity.
    GPUSpec("L4", fp32=30.3, tf32=60.0, bf16=121.0, fp16=121.0, memory_gb=24,
            source="NVIDIA L4 Tensor Core GPU datasheet", device_names=("L4",)),
    # FP32 19.5, TF32 156, BF16/FP16 312 (twice with sparsity). Every A100 name gets these peaks
    # (the 40 GB model's compute figures are the same; its memory is not).
    GPUSpec("A100 80GB", fp32=19.5, tf32=156.0, bf16=312.0, fp16=312.0, memory_gb=80,
            source="NVIDIA A100 Tensor Core GPU datasheet", device_names=("A100",)),
    # SXM5: FP32 67; TF32 989 and BF16/FP16 1,979 with sparsity. A CUDA name with "H100" and
    # without "PCIe" gets this row (the SXM5 module reports "NVIDIA H100 80GB HBM3").
    GPUSpec("H100 SXM", fp32=67.0, tf32=494.7, bf16=989.4, fp16=989.4, memory_gb=80,
            source="NVIDIA H100 Tensor Core GPU datasheet (SXM)", device_names=("H100",)),
    # PCIe column; tensor-core figures dense, as for the SXM row.
    GPUSpec("H100 PCIe", fp32=51.2, tf32=378.0, bf16=756.0, fp16=756.0, memory_gb=80,
            source="NVIDIA H100 Tensor Core GPU datasheet (PCIe)", device_names=("H100 PCIe",)),
    # SXM: FP32 67; TF32 989 and BF16/FP16 1,979 with sparsity (the H100 SXM's compute), 141 GB.
    GPUSpec("H200", fp32=67.0, tf32=494.7, bf16=989.4, fp16=989.4, memory_gb=141,
            source="NVIDIA H200 Tensor Core GPU datasheet (SXM)", device_names=("H200",)),
)


def gpu_spec(name: str) -> GPUSpec:
    """The row of :data:`GPU_SPECS` called ``name`` (e.g. ``"H100 SXM"``)."""
    for spec in GPU_SPECS:
        if spec.name == name:
            return spec
    raise ESRGANError(f"no GPU {name!r} in the table; known: {', '.join(s.name for s in GPU_SPECS)}")


def _names(fragment: str, device_name: str) -> bool:
    """``fragment`` occurs in ``device_name`` as whole words (spaces optional, case-insensitive)."""
    words = r"\s*".join(re.escape(w) for w in fragment.split())
    return re.search(rf"(?<![a-z0-9]){words}(?![a-z0-9])", device_name, re.IGNORECASE) is not None


def spec_for_device_name(device_name: str) -> GPUSpec | None:
    """The row whose longest matching fragment names ``device_name``, or ``None``.

    ``"NVIDIA H100 80GB HBM3"`` is the H100 SXM, ``"NVIDIA H100 PCIe"`` the PCIe
    card (the longer fragment wins), ``"NVIDIA L40S"`` nothing (``L4`` is not a
    whole word of it).
    """
    hits = [(len(f), spec) for spec in GPU_SPECS for f in spec.device_names if _names(f, device_name)]
    return max(hits, key=lambda hit: hit[0])[1] if hits else None


def spec_for_device(device: torch.device) -> GPUSpec | None:
    """The row of a CUDA ``device`` (by its name); ``None`` off CUDA or for a GPU not in the table."""
    if device.type != "cuda":
        return None
    return spec_for_device_name(torch.cuda.get_device_name(device))


__all__ = ["GPUSpec", "GPU_SPECS", "PRECISIONS", "gpu_spec", "spec_for_device", "spec_for_device_name"]
