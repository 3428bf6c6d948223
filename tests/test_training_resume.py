"""SIGKILL a real training process after a checkpoint, resume it, and end where a straight run ends.

Every path: the device sampler and the DataLoader sampler (0 and 2 workers),
one process and DDP (gloo, 2 processes under torchrun). Plus a kill *during*
a checkpoint write, and a newest checkpoint that no longer loads.

The killed process is given a large ``train.iterations`` so it is certainly
still running when the checkpoint we wait for appears; ``iterations`` only
decides where a run stops (the LR milestones are explicit), so the resumed
run, stopped at ``STEPS``, replays exactly the straight run's steps.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from esrgan_lesson.training.config import load_config
from esrgan_lesson.imageio import write_image
from esrgan_lesson.training import Trainer
from esrgan_lesson.training.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint

STEPS = 10  # the straight run and the resumed one stop here
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Six 72x72 training pictures (3 batches of 2 per epoch) in two folders (a ConcatDataset's parts)."""
    root = tmp_path_factory.mktemp("data")
    photos = [skdata.astronaut(), skdata.coffee(), skdata.rocket(), skdata.chelsea(), skdata.astronaut()[::-1],
              skdata.coffee()[:, ::-1]]
    for k, img in enumerate(photos):
        small = img[::4, ::4][:72, :72].astype(np.float32) / 255.0
        write_image(root / ("train_a" if k < 4 else "train_b") / f"{k}.png", small)
    return root


def overrides(data: Path, out: Path, iterations: int, **extra: str) -> list[str]:
    ov = {
        "data.demo": "false", "data.train_hr": f"[{data / 'train_a'},{data / 'train_b'}]", "data.val_hr": "null",
        "model.num_feat": "8", "model.num_block": "1", "model.num_grow_ch": "8", "network_d.num_feat": "8",
        "network_d.input_size": "32", "train.hr_patch": "32", "train.batch_size": "2",
        "train.iterations": str(iterations), "train.max_seconds": "0", "train.milestones": "[5]",
        "engine.ema_decay": "0.9", "engine.device": "cpu", "engine.threads": "1", "logging.log_every": "1",
        "logging.val_every": "0", "logging.save_every": "2", "logging.keep_last": "2", "logging.progress": "false",
        "paths.output_dir": str(out), "paths.pretrained_g": "null", "train.stage": "psnr",
    }
    ov.update(extra)
    return [f"{k}={v}" for k, v in ov.items()]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _train_cmd(args: list[str], nproc: int) -> list[str]:
    launcher = [sys.executable, "-m", "esrgan_lesson.train"]
    if nproc > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                    "-m", "esrgan_lesson.train"]
    return launcher + ["--config", "lesson-psnr", "--override", *args]


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (torchrun starts each worker in a session of its own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started at once (a crash of the whole job)."""
    victims = _descendants(proc.pid)
    for pid in [proc.pid, *victims]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_after_checkpoint(args: list[str], ckpt_dir: Path, min_step: int, nproc: int = 1) -> int:
    """Start a training job, SIGKILL it (all its processes) once a checkpoint of step >= ``min_step`` exists."""
    log = ckpt_dir.parent.with_name(ckpt_dir.parent.name + ".stderr")
    with log.open("wb") as err:
        proc = subprocess.Popen(_train_cmd(args, nproc), env=_env(), stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any(int(p.stem[5:]) >= min_step for p in list_checkpoints(ckpt_dir)):
                _kill_tree(proc)
                break
            time.sleep(0.001)
    finally:
        if proc.poll() is None:
            _kill_tree(proc)
        rc = proc.wait()
    assert rc == -signal.SIGKILL, f"the run was not killed (rc {rc}): {log.read_text(errors='replace')[-2000:]}"
    time.sleep(0.2)  # let the kernel reap the killed workers before the next job starts
    return rc


def run_to_end(args: list[str], nproc: int = 1, resume: bool = False) -> None:
    cmd = _train_cmd(args, nproc) + (["--resume"] if resume else [])
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def assert_same_weights(straight: dict, resumed: dict) -> None:
    for part in ("net_g", "net_g_ema", "opt_g"):
        a, b = straight[part], resumed[part]
        if part == "opt_g":
            a = {k: v for k, v in a["state"].items()}
            b = {k: v for k, v in b["state"].items()}
            for k in a:
                for name, x in a[k].items():
                    assert torch.allclose(x.float(), b[k][name].float(), atol=1e-6, rtol=0), (part, k, name)
            continue
        for name, x in a.items():
            assert torch.allclose(x.float(), b[name].float(), atol=1e-6, rtol=0), (part, name)


def final_state(out: Path) -> dict:
    ckpts = list_checkpoints(out / "checkpoints")
    assert ckpts and ckpts[-1].name == f"ckpt_{STEPS:08d}.pt"
    return load_checkpoint(ckpts[-1])


@pytest.mark.slow  # each runs real training processes (~10-30 s)
@pytest.mark.parametrize(("sampler", "workers", "kill_at"), [("device", 0, 2), ("dataset", 0, 2),
                                                             ("dataset", 2, 4)])
def test_sigkill_then_resume_matches_straight_run(data: Path, tmp_path: Path, sampler: str, workers: int,
                                                  kill_at: int) -> None:
    extra = {"data.sampler": sampler, "data.num_workers": str(workers)}
    straight = Trainer(load_config("lesson-psnr", overrides(data, tmp_path / "straight", STEPS, **extra)))
    straight.run()
    out = tmp_path / "killed"
    kill_after_checkpoint(overrides(data, out, 100_000, **extra), out / "checkpoints", kill_at)
    saved = [int(p.stem[5:]) for p in list_checkpoints(out / "checkpoints")]
    assert saved and kill_at <= saved[-1] < STEPS  # resumed from a checkpoint inside the run
    if sampler == "dataset":  # 3 batches an epoch: the checkpoint knows how far into its epoch it was
        state = load_checkpoint(list_checkpoints(out / "checkpoints")[-1])["samplers"][0]
        assert (state["epoch"], state["batch"]) == ((saved[-1] - 1) // 3, (saved[-1] - 1) % 3 + 1)
    run_to_end(overrides(data, out, STEPS, **extra), resume=True)
    assert_same_weights(straight.state_dict([None]), final_state(out))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="killing torchrun's workers needs Linux /proc")
@pytest.mark.parametrize("sampler", ["device", "dataset"])
def test_ddp_gloo_sigkill_then_resume_matches_straight_run(data: Path, tmp_path: Path, sampler: str) -> None:
    extra = {"data.sampler": sampler}
    run_to_end(overrides(data, tmp_path / "straight", STEPS, **extra), nproc=2)
    out = tmp_path / "killed"
    kill_after_checkpoint(overrides(data, out, 100_000, **extra), out / "checkpoints", 2, nproc=2)
    saved = [int(p.stem[5:]) for p in list_checkpoints(out / "checkpoints")]
    assert saved and saved[-1] < STEPS
    assert len(load_checkpoint(list_checkpoints(out / "checkpoints")[-1])["samplers"]) == 2  # one per rank
    run_to_end(overrides(data, out, STEPS, **extra), nproc=2, resume=True)
    assert_same_weights(final_state(tmp_path / "straight"), final_state(out))


_SLOW_WRITE = """
import sys, torch
from esrgan_lesson.training.checkpoint import load_checkpoint, save_checkpoint
state = load_checkpoint(sys.argv[1])
state["step"] = 6
state["pad"] = torch.ones(400_000_000, dtype=torch.uint8)  # a write that takes a while
save_checkpoint(state, sys.argv[2])
"""


def test_kill_during_checkpoint_write_falls_back_to_previous(data: Path, tmp_path: Path) -> None:
    straight = Trainer(load_config("lesson-psnr", overrides(data, tmp_path / "straight", 8)))
    straight.run()
    out = tmp_path / "run"
    Trainer(load_config("lesson-psnr", overrides(data, out, 4))).run()
    ckpt_dir = out / "checkpoints"
    assert [p.name for p in list_checkpoints(ckpt_dir)] == ["ckpt_00000002.pt", "ckpt_00000004.pt"]

    # A real process killed while it writes ckpt 6: only its hidden temporary file is left.
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITE, str(ckpt_dir / "ckpt_00000004.pt"),
                             str(ckpt_dir / "ckpt_00000006.pt")], env=_env())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        parts = list(ckpt_dir.glob(".ckpt_00000006.pt.*.part"))
        if parts and parts[0].stat().st_size > 10_000_000:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    assert proc.wait() == -signal.SIGKILL
    part = list(ckpt_dir.glob(".ckpt_00000006.pt.*.part"))
    assert len(part) == 1 and not (ckpt_dir / "ckpt_00000006.pt").exists()
    # What a disk that lost unflushed data could leave under a final name: a truncated checkpoint 5.
    (ckpt_dir / "ckpt_00000005.pt").write_bytes(part[0].read_bytes()[:5_000_000])

    resumed = Trainer(load_config("lesson-psnr", overrides(data, out, 8, **{"paths.resume": "auto"})))
    assert resumed.resumed_from == ckpt_dir / "ckpt_00000004.pt" and resumed.step == 4
    resumed.run()
    assert_same_weights(straight.state_dict([None]), resumed.state_dict([None]))
    # Pruning kept the 2 newest checkpoints that load and removed the damaged one and the partial file.
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["ckpt_00000006.pt", "ckpt_00000008.pt"]


def test_prune_keeps_newest_that_load_and_removes_partials(tmp_path: Path) -> None:
    from esrgan_lesson.training.checkpoint import latest_checkpoint, load_latest_checkpoint, prune_checkpoints

    for step in (2, 4, 6):
        save_checkpoint({"step": step, "w": torch.full((64,), float(step))}, tmp_path / f"ckpt_{step:08d}.pt")
    good = (tmp_path / "ckpt_00000006.pt").read_bytes()
    (tmp_path / "ckpt_00000008.pt").write_bytes(good[: len(good) // 2])  # truncated
    (tmp_path / ".ckpt_00000010.pt.x1.part").write_bytes(good[:100])
    (tmp_path / ".best.pt.x2.part").write_bytes(good[:100])
    assert latest_checkpoint(tmp_path) == tmp_path / "ckpt_00000006.pt"
    path, state, problems = load_latest_checkpoint(tmp_path)
    assert path.name == "ckpt_00000006.pt" and state["step"] == 6
    assert len(problems) == 1 and "ckpt_00000008.pt" in problems[0]
    gone = prune_checkpoints(tmp_path, keep_last=2)
    assert sorted(p.name for p in gone) == [".best.pt.x2.part", ".ckpt_00000010.pt.x1.part", "ckpt_00000002.pt",
                                            "ckpt_00000008.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000004.pt", "ckpt_00000006.pt"]
