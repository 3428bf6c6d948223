"""Multi-process data parallel training (``torchrun``) helpers.

Launch: ``torchrun --nproc_per_node=G -m esrgan_lesson.train --config C``.
Each rank trains on its own device (``cuda:LOCAL_RANK``, or CPU with gloo),
with a :class:`~esrgan_lesson.data.DevicePatchSampler` seeded ``seed + rank``
so ranks draw different patches (no DistributedSampler is needed for random
crops); gradients are averaged by DDP, so all ranks keep identical weights.
Only rank 0 logs, validates and writes checkpoints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (``world_size == 1``: not distributed)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info_from_env() -> DistInfo:
    """Read ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` as set by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world)


def init_distributed(info: DistInfo, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, gloo otherwise) unless already joined."""
    if info.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def rank_device(info: DistInfo, device: torch.device) -> torch.device:
    """``cuda:LOCAL_RANK`` for a distributed CUDA job, else ``device``."""
    if info.enabled and device.type == "cuda":
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return device


def any_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any rank."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_buffers(module: torch.nn.Module | None, info: DistInfo) -> None:
    """Copy rank 0's buffers (e.g. BN running statistics) to every rank.

    DDP syncs buffers at the start of each forward, so after the last step
    each rank still holds the statistics of its own last batch; call this
    before comparing or exporting weights.
    """
    if module is None or not info.enabled:
        return
    for buf in module.buffers():
        dist.broadcast(buf.data, src=0)
