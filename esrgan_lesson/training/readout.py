"""Reading each step's status and logged terms back from the device without stalling it.

:func:`~esrgan_lesson.training.step.train_step` leaves its status code and its
logged terms on the device. :class:`StepReadout` packs them into one small
vector per step and copies it to the host asynchronously (into pinned memory
on CUDA, with an event marking when it has landed). The trainer reads a
step's values ``lag`` steps later, by which time the copy is done, so the
host can queue the next step while the device finishes the current one. On
a CPU the copy is a plain read and ``lag`` changes nothing but the order of
bookkeeping; the values read are the same in every case.

One read per step (not one ``float()`` per logged value, each a device sync):
the vector is ``[status, *logs.values()]`` as float32, exactly the values a
``float(tensor)`` of each 0-dim float32/bf16/fp16 term would give.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import torch

from .step import StepStatus


@dataclass
class StepRecord:
    """One step's results on the host: its number, status and logged terms."""

    step: int
    status: StepStatus
    logs: dict[str, float]


class StepReadout:
    """Asynchronous per-step copies of ``(status, logs)``; see the module docstring.

    Args:
        device: where the step runs.
        lag: how many newer steps may be queued before a step is read
            (0: read each step at once; 1 lets the host run one step ahead).
    """

    def __init__(self, device: torch.device, lag: int = 0) -> None:
        if lag < 0:
            raise ValueError(f"lag must be >= 0, got {lag}")
        self.device, self.lag = torch.device(device), lag
        self._pending: deque[tuple[int, list[str], torch.Tensor, torch.cuda.Event | None]] = deque()

    def push(self, step: int, status: torch.Tensor, logs: dict[str, torch.Tensor]) -> None:
        """Queue step ``step``'s 0-dim ``status`` and ``logs`` tensors for reading."""
        values = torch.stack([status.float().reshape(()), *(v.detach().float().reshape(()) for v in logs.values())])
        event = None
        if values.device.type == "cuda":
            host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
            host.copy_(values, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
        else:
            host = values.cpu()
        self._pending.append((step, list(logs), host, event))

    def __len__(self) -> int:
        return len(self._pending)

    def ready(self) -> list[StepRecord]:
        """The queued steps older than the newest ``lag``, oldest first."""
        out = []
        while len(self._pending) > self.lag:
            out.append(self._read(self._pending.popleft()))
        return out

    def drain(self) -> list[StepRecord]:
        """Every queued step, oldest first (before logging, validation or a checkpoint)."""
        out = []
        while self._pending:
            out.append(self._read(self._pending.popleft()))
        return out

    @staticmethod
    def _read(entry: tuple[int, list[str], torch.Tensor, torch.cuda.Event | None]) -> StepRecord:
        step, keys, host, event = entry
        if event is not None:
            event.synchronize()
        values = host.tolist()
        return StepRecord(step, StepStatus(int(values[0])), dict(zip(keys, values[1:])))
