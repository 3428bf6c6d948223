"""The :class:`~esrgan_lesson.training.Trainer`'s checkpoint side: save, prune, resume.

A checkpoint (see :mod:`.checkpoint` for the file format and crash safety)
holds both networks, both optimisers, schedulers and GradScalers, the EMA,
the counters, every global random state and each rank's data-sampler state.
The sampler state is enough to replay the data exactly: the device sampler's
generator, or the DataLoader sampler's epoch and batches consumed in it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError
from .checkpoint import (BEST_NAME, capture_rng, load_checkpoint, load_latest_checkpoint, prune_checkpoints,
                         restore_rng, save_checkpoint, step_checkpoint_path)
from .distributed import barrier

if TYPE_CHECKING:
    from .config import TrainConfig
    from .distributed import DistInfo

#: ``(attribute of the trainer, key in the checkpoint)`` of every state-dict part.
STATE_PARTS = (("net_g", "net_g"), ("net_d", "net_d"), ("ema", "net_g_ema"), ("opt_g", "opt_g"),
               ("opt_d", "opt_d"), ("sched_g", "sched_g"), ("sched_d", "sched_d"),
               ("scaler_g", "scaler_g"), ("scaler_d", "scaler_d"))


class CheckpointMixin:
    """``state_dict`` / ``save`` / ``_resume`` for :class:`~esrgan_lesson.training.Trainer`.

    The annotations below are the trainer attributes this side reads and writes,
    besides the parts named in :data:`STATE_PARTS`.
    """

    cfg: TrainConfig
    info: DistInfo
    sampler: Any  # the data sampler: state_dict() / load_state_dict()
    ckpt_dir: Path
    step: int
    elapsed: float
    best_psnr: float | None
    bad_streak: int
    skipped: int
    scaler_skips: int
    resumed_from: Path | None

    def _gather_sampler_states(self) -> list[Any]:
        state = self.sampler.state_dict()
        if not self.info.enabled:
            return [state]
        import torch.distributed as dist

        states: list[Any] = [None] * self.info.world_size
        dist.all_gather_object(states, state)
        return states

    def state_dict(self, sampler_states: list[Any]) -> dict[str, Any]:
        """Everything needed to continue exactly (tensors and primitives only)."""
        state: dict[str, Any] = {
            "step": self.step, "elapsed": self.elapsed, "best_psnr": self.best_psnr,
            "bad_streak": self.bad_streak, "skipped": self.skipped, "scaler_skips": self.scaler_skips,
            "config": self.cfg.to_dict(), "rng": capture_rng(None), "samplers": sampler_states,
        }
        for attr, key in STATE_PARTS:
            obj = getattr(self, attr)
            state[key] = obj.state_dict() if obj is not None else None
        return state

    def save(self, best: bool = False, step_file: bool = True) -> Path | None:
        """Write a step checkpoint (rank 0) and prune old ones; ``best``: also write ``best.pt``."""
        states = self._gather_sampler_states()
        path = None
        if self.info.is_main:
            state = self.state_dict(states)
            if step_file:
                path = save_checkpoint(state, step_checkpoint_path(self.ckpt_dir, self.step))
                prune_checkpoints(self.ckpt_dir, self.cfg.logging.keep_last)
            if best:
                save_checkpoint(state, self.ckpt_dir / BEST_NAME)
        barrier(self.info)
        return path

    def _resume(self, where: str) -> None:
        """Load ``where`` (a path, or ``auto``: the newest step checkpoint that loads)."""
        if where == "auto":
            found = load_latest_checkpoint(self.ckpt_dir)
            if found is None:
                return  # nothing (readable) saved yet: a fresh start
            path, state, problems = found
            if self.info.is_main:
                for line in problems:
                    print(f"[{self.cfg.name}] resume: skipped {line}", flush=True)
        else:
            path = Path(where)
            state = load_checkpoint(path)
        for attr, key in STATE_PARTS:
            obj = getattr(self, attr)
            if obj is None:
                continue
            if state.get(key) is None:
                raise CheckpointError(f"{path}: has no {key} (was it saved by a {self.cfg.train.stage} run?)")
            try:
                obj.load_state_dict(state[key])
            except (RuntimeError, KeyError, ValueError) as exc:
                raise CheckpointError(f"{path}: {key} does not fit this config ({str(exc).splitlines()[0]})") from None
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        self.best_psnr, self.bad_streak, self.skipped = state["best_psnr"], state["bad_streak"], state["skipped"]
        self.scaler_skips = int(state.get("scaler_skips", 0))
        restore_rng(state["rng"])
        samplers = state["samplers"]
        if len(samplers) != self.info.world_size:
            raise CheckpointError(f"{path}: saved by {len(samplers)} process(es), resumed by {self.info.world_size}")
        self.sampler.load_state_dict(samplers[self.info.rank])
        self.resumed_from = path
