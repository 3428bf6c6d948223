"""Training logs: CSV files (always flushed), TensorBoard when installed, tqdm bar."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class CSVLog:
    """Append rows of a fixed set of columns to ``path``; a resumed run drops rows past its step."""

    def __init__(self, path: str | Path, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.columns: list[str] | None = None
        if self.path.is_file() and resume_step is not None:
            with self.path.open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            if rows:
                self.columns = list(rows[0].keys())
            self._rewrite([r for r in rows if int(float(r["step"])) <= resume_step])
        elif self.path.is_file():
            self.path.unlink()

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        if self.columns is None:
            return
        with self.path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict[str, Any]) -> None:
        new = not self.path.is_file()
        if self.columns is None:
            self.columns = list(row)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


class RunLogger:
    """Writes ``train_log.csv``/``val_log.csv`` and TensorBoard scalars under ``folder``."""

    def __init__(self, folder: Path, csv_on: bool, tensorboard: bool, resume_step: int | None) -> None:
        self.train_csv = CSVLog(folder / "train_log.csv", resume_step) if csv_on else None
        self.val_csv = CSVLog(folder / "val_log.csv", resume_step) if csv_on else None
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(folder / "tensorboard"), purge_step=resume_step)
            except ImportError:  # optional dependency
                self.tb = None

    def log(self, kind: str, step: int, values: dict[str, float]) -> None:
        log = self.train_csv if kind == "train" else self.val_csv
        if log is not None:
            log.write({"step": step, **values})
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"{kind}/{k}", v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
