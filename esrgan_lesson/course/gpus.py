"""Chapter 7: GPU figures -- the GPUs a schedule is projected on, and the step times measured on one H100.

- :data:`PROJECTED_GPUS` and :func:`project_schedule`: projected wall time of a
  schedule on common GPUs from a step's FLOPs and each GPU's published peak
  throughput at an assumed utilisation (*projections*, not measurements). The
  datasheet figures are the package's one table, :mod:`esrgan_lesson.gpu_specs`;
  this module only picks the chapter's rows;
- :data:`H100_MEASURED`: step times really measured on one H100
  (``benchmarks/results/train_step-cuda.md``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.gpu_specs import GPUSpec, gpu_spec


# --------------------------------------------------------------------------- #
# Chapter 7: projecting a schedule onto GPUs
# --------------------------------------------------------------------------- #
#: The GPUs chapter 7 projects the paper's schedule on, oldest first (rows of
#: :data:`esrgan_lesson.gpu_specs.GPU_SPECS`: dense peaks, memory in GB, datasheet).
PROJECTED_GPUS: tuple[GPUSpec, ...] = tuple(gpu_spec(name) for name in ("T4", "V100 SXM2", "L4", "A100 80GB", "H100 SXM"))


def project_schedule(step_flops: float, iterations: int, tflops: float, utilisation: float) -> float:
    """Projected seconds for ``iterations`` steps of ``step_flops`` each.

    ``tflops`` is a peak rate, ``utilisation`` the fraction of it the training
    loop is assumed to sustain (in (0, 1]). A projection, not a measurement.
    """
    if not 0 < utilisation <= 1:
        raise ESRGANError(f"utilisation must be in (0, 1], got {utilisation}")
    if tflops <= 0 or step_flops < 0 or iterations < 0:
        raise ESRGANError("tflops must be positive; step_flops and iterations non-negative")
    return step_flops * iterations / (tflops * 1e12 * utilisation)


# --------------------------------------------------------------------------- #
# Chapter 7: what one GPU really did
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class MeasuredStep:
    """One measured row: a paper-size training step under one engine switch.

    ``seconds``: wall seconds per step (mean over a timed window after
    warm-up, device synchronised). ``peak_gib``: ``torch.cuda.max_memory_allocated``
    during that row, in GiB (tensors only: the CUDA context is not counted).
    """

    stage: str      # "psnr" or "gan"
    switch: str     # label as printed by benchmarks/train_step.py, e.g. "fp32 eager"
    seconds: float
    peak_gib: float


@dataclass(frozen=True)
class MeasuredGPU:
    """Step times of the real :class:`~esrgan_lesson.training.Trainer` measured on one GPU.

    Copied from the paper-size rows of ``source`` (written by
    ``benchmarks/train_step.py``); ``tests/test_measured_gpu.py`` parses that
    file and checks that every number here equals the table. Conditions of
    the measurement: random input tensors already on the GPU (no data
    loading), the paper generator (nf64 nb23 gc32) and discriminator, and a
    GAN stage *without* the VGG perceptual loss (``perceptual`` is False):
    its pretrained weights cannot be downloaded offline, and a random VGG
    would cost the same FLOPs but was left out of the benchmark.
    """

    device: str
    torch_version: str
    batch: int
    hr_patch: int
    perceptual: bool
    source: str
    steps: tuple[MeasuredStep, ...]

    def step(self, stage: str, switch: str = "fp32 eager") -> MeasuredStep:
        """The row of ``stage`` under ``switch``."""
        for row in self.steps:
            if row.stage == stage and row.switch == switch:
                return row
        known = sorted({r.switch for r in self.steps if r.stage == stage})
        raise ESRGANError(f"no measured {stage!r} row for switch {switch!r}; measured: {known}")

    def fastest(self, stage: str) -> MeasuredStep:
        """The quickest measured switch of ``stage``."""
        rows = [r for r in self.steps if r.stage == stage]
        if not rows:
            raise ESRGANError(f"no measured rows for stage {stage!r}")
        return min(rows, key=lambda r: r.seconds)

    def schedule_days(self, iterations: Mapping[str, int], switch: str | None = "fp32 eager") -> float:
        """Days for ``iterations`` (stage -> steps) at the measured step times.

        ``switch=None`` takes each stage's fastest switch. This still
        extrapolates a few seconds of timing to days, but from a measured
        rate, not an assumed utilisation.
        """
        secs = 0.0
        for stage, n in iterations.items():
            row = self.fastest(stage) if switch is None else self.step(stage, switch)
            secs += n * row.seconds
        return secs / 86400


#: The paper-size rows measured on an NVIDIA H100 80GB HBM3 (SXM) with
#: torch 2.11.0+cu130 and cuDNN 9.19, batch 16, HR patch 128. fp32 convs run
#: in TF32 there (PyTorch's cuDNN default). Every number equals the table in
#: ``source``.
H100_MEASURED = MeasuredGPU(
    device="NVIDIA H100 80GB HBM3",
    torch_version="2.11.0+cu130",
    batch=16,
    hr_patch=128,
    perceptual=False,
    source="benchmarks/results/train_step-cuda.md",
    steps=(
        MeasuredStep("psnr", "fp32 eager", 0.115, 3.98),
        MeasuredStep("psnr", "bf16 autocast", 0.159, 2.18),
        MeasuredStep("psnr", "fp16 autocast + GradScaler", 0.172, 2.18),
        MeasuredStep("psnr", "channels_last", 0.111, 3.92),
        MeasuredStep("psnr", "bf16 + channels_last", 0.142, 2.16),
        MeasuredStep("gan", "fp32 eager", 0.170, 4.22),
        MeasuredStep("gan", "bf16 autocast", 0.206, 2.41),
        MeasuredStep("gan", "fp16 autocast + GradScaler", 0.209, 2.41),
        MeasuredStep("gan", "channels_last", 0.143, 4.21),
        MeasuredStep("gan", "bf16 + channels_last", 0.167, 2.41),
    ),
)


