"""The engine's GPU speed switches: cuDNN autotuning, the step as one CUDA graph, one compiled RRDB.

``engine.deterministic`` / cuDNN: :func:`configure_backends` turns on
``cudnn.benchmark`` for CUDA runs unless the run asks to be deterministic.

``engine.cuda_graph`` (single GPU, CUDA only): :class:`GraphedStep` runs the
first ``warmup`` steps eagerly (real training steps, on a side stream, which
also lets cuDNN pick its algorithms and Adam make its state), then captures
:func:`~esrgan_lesson.training.step.train_step` -- G step, D step, the fused
``capturable`` Adam steps, the finite flags and the EMA -- once, with static
input buffers, and replays it for every later step. Nothing in the step reads
a value on the host, which is what makes it capturable. The captured step is
the same function the eager trainer calls, not a second implementation.

The learning rate is baked into the graph, so a change of any optimiser's
learning rate (a milestone) triggers a new capture before the next replay.
Capture happens on the first call, i.e. after a resume or a pretrained load;
the checkpoint format is unchanged.

``engine.compile_blocks``: :func:`compile_repeated_blocks` compiles each RRDB
of the generator with ``torch.compile``. The blocks share one class and one
``forward``, and with parameters treated as graph inputs (the default,
``inline_inbuilt_nn_modules``) the compiled code is made once and reused by
all 23 blocks, instead of tracing 23 unrolled copies. Inside a block the
bias, LeakyReLU, ``cat`` and residual scaling can then fuse.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Literal

import torch
from torch import nn

from ..errors import ConfigError
from .step import StepParts, train_step

Backend = Literal["cuda", "eager"]


def configure_backends(device: torch.device, deterministic: bool) -> None:
    """cuDNN for a run on ``device``: ``benchmark`` autotuning on CUDA unless ``deterministic``.

    ``deterministic`` (``engine.deterministic``) on CUDA: no autotuning,
    deterministic cuDNN kernels and torch's deterministic algorithms (a
    warning where an op has none), for bitwise-repeatable GPU runs at some
    cost in speed. CPU runs are repeatable for a fixed thread count either
    way, and nothing is changed for them. These are process-wide settings.
    """
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's reproducibility condition
        torch.use_deterministic_algorithms(True, warn_only=True)


def check_cuda_graph_config(engine: Any, device: torch.device, distributed: bool) -> bool:
    """One-line :class:`ConfigError` for an impossible ``engine.cuda_graph``; True when it is on.

    ``engine`` is the config's engine section (``cuda_graph``, ``amp``,
    ``compile``, ``compile_blocks``); also checks that ``engine.compile``
    and ``engine.compile_blocks`` are not both on.
    """
    if engine.compile and engine.compile_blocks:
        raise ConfigError("engine.compile_blocks: choose it or engine.compile (the whole model), not both")
    if not engine.cuda_graph:
        return False
    problems = [(device.type != "cuda", f"needs a CUDA device (this run is on {device.type})"),
                (distributed, "captures a single-GPU step; run it without torchrun"),
                (engine.amp == "fp16", "fp16's GradScaler reads its scale on the host; use engine.amp=bf16 or none")]
    for bad, why in problems:
        if bad:
            raise ConfigError(f"engine.cuda_graph: {why}")
    return True


class GraphedStep:
    """:func:`train_step` replayed from a CUDA graph (see the module docstring).

    Args:
        parts: the step's modules; on CUDA the optimisers must be fused with
            ``capturable=True`` and there must be no GradScaler.
        warmup: eager steps before the first capture (at least 1).
        backend: ``"cuda"`` captures with :class:`torch.cuda.CUDAGraph`;
            ``"eager"`` runs :func:`train_step` on the same static buffers
            instead of replaying, so everything around the capture (warm-up,
            static inputs, re-capture on a learning-rate change) runs and is
            tested on a CPU.

    Calling it with an ``(lr, hr)`` batch returns ``(logs, status)`` like
    :func:`train_step`; after capture these are the graph's static output
    tensors, overwritten by the next replay (copy or read them first).
    """

    def __init__(self, parts: StepParts, warmup: int = 3, backend: Backend = "cuda") -> None:
        if warmup < 1:
            raise ConfigError("engine.cuda_graph: needs at least one warm-up step before capture")
        if backend == "cuda":
            check_capturable(parts)
        self.parts, self.warmup, self.backend = parts, warmup, backend
        self.eager_steps = 0
        self.captures = 0
        self.replays = 0
        self._graph: torch.cuda.CUDAGraph | None = None
        self._captured_lrs: list[float] | None = None
        self._static: tuple[torch.Tensor, torch.Tensor] | None = None
        self._out: tuple[dict[str, torch.Tensor], torch.Tensor] | None = None
        self._side = torch.cuda.Stream() if backend == "cuda" else None

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [o for o in (self.parts.opt_g, self.parts.opt_d) if o is not None]

    def learning_rates(self) -> list[float]:
        """Every optimiser group's current learning rate (what a capture bakes in)."""
        return [float(g["lr"]) for o in self._optimizers() for g in o.param_groups]

    def _side_stream(self) -> contextlib.AbstractContextManager:
        if self._side is None:
            return contextlib.nullcontext()
        self._side.wait_stream(torch.cuda.current_stream())
        return torch.cuda.stream(self._side)

    def _eager(self, lr: torch.Tensor, hr: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        with self._side_stream():
            out = train_step(self.parts, lr, hr)
        if self._side is not None:
            torch.cuda.current_stream().wait_stream(self._side)
        self.eager_steps += 1
        return out

    def _capture(self, lr: torch.Tensor, hr: torch.Tensor) -> None:
        """(Re-)capture the step with static buffers shaped like ``lr``/``hr``."""
        if self._static is None or self._static[0].shape != lr.shape or self._static[1].shape != hr.shape:
            self._static = (torch.empty_like(lr), torch.empty_like(hr))
        self._graph, self._out = None, None  # free the previous graph's pool first
        self._captured_lrs = self.learning_rates()
        self.captures += 1
        if self.backend == "eager":
            return
        for opt in self._optimizers():
            opt.zero_grad(set_to_none=True)  # backward allocates the gradients inside the graph's pool
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._out = train_step(self.parts, *self._static)  # recorded, not run
        self._graph = graph

    def __call__(self, lr: torch.Tensor, hr: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        if self.eager_steps < self.warmup:
            return self._eager(lr, hr)
        if self._captured_lrs is None or self._captured_lrs != self.learning_rates() or self._static is None \
                or self._static[0].shape != lr.shape or self._static[1].shape != hr.shape:
            self._capture(lr, hr)
        assert self._static is not None
        self._static[0].copy_(lr)
        self._static[1].copy_(hr)
        self.replays += 1
        if self.backend == "eager":
            return train_step(self.parts, *self._static)
        assert self._graph is not None and self._out is not None
        self._graph.replay()
        return self._out


def check_capturable(parts: StepParts) -> None:
    """One-line :class:`ConfigError` unless ``parts`` can be captured in a CUDA graph."""
    if parts.scaler_g is not None or parts.scaler_d is not None:
        raise ConfigError("engine.cuda_graph: fp16's GradScaler reads its scale on the host; use engine.amp=bf16 or none")
    for opt in (parts.opt_g, parts.opt_d):
        if opt is None:
            continue
        if not (opt.defaults.get("fused") and opt.defaults.get("capturable")):
            raise ConfigError("engine.cuda_graph: the optimisers must be fused Adam with capturable=True (on CUDA)")
        if any(p.device.type != "cuda" for g in opt.param_groups for p in g["params"]):
            raise ConfigError("engine.cuda_graph: needs every parameter on a CUDA device")


def compile_repeated_blocks(net: nn.Module, block_type: type[nn.Module] | None = None) -> int:
    """``torch.compile`` every ``block_type`` submodule of ``net`` in place; returns how many.

    ``block_type`` defaults to :class:`~esrgan_lesson.models.rrdbnet.RRDB`.
    The rest of ``net`` stays eager; outputs agree with eager to float
    rounding (the fused kernels sum in a different order).
    """
    if block_type is None:
        from ..models.rrdbnet import RRDB

        block_type = RRDB
    blocks = [m for m in net.modules() if isinstance(m, block_type)]
    if not blocks:
        raise ConfigError(f"engine.compile_blocks: {type(net).__name__} has no {block_type.__name__} blocks")
    for block in blocks:
        block.compile()
    return len(blocks)
