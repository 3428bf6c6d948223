"""Data-parallel training with two CPU (gloo) processes ends with identical weights."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp
from skimage import data as skdata

from esrgan_lesson.imageio import write_image


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, overrides: list[str], out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    from esrgan_lesson.training.config import load_config
    from esrgan_lesson.training import Trainer
    from esrgan_lesson.training.distributed import cleanup, dist_info_from_env

    trainer = Trainer(load_config("lesson-gan", overrides))
    first_batch_hr = next(trainer.sampler)[1]
    result = trainer.run()
    torch.save({"g": trainer.net_g.state_dict(), "d": trainer.net_d.state_dict(), "hr0": first_batch_hr,
                "has_ckpt": result.checkpoint_path is not None}, Path(out) / f"rank{rank}.pt")
    cleanup(dist_info_from_env())


def test_two_gloo_ranks_end_identical(tmp_path: Path) -> None:
    img = skdata.astronaut()[::4, ::4][:64, :64].astype(np.float32) / 255.0
    write_image(tmp_path / "train" / "a.png", img)
    overrides = [
        "data.demo=false", f"data.train_hr=[{tmp_path / 'train'}]", "model.num_feat=8", "model.num_block=1",
        "model.num_grow_ch=8", "network_d.num_feat=8", "network_d.input_size=32", "train.hr_patch=32",
        "train.batch_size=2", "train.iterations=2", "train.max_seconds=0", "engine.device=cpu",
        "engine.ema_decay=0.5", "logging.val_every=0", "logging.save_every=0", "logging.progress=false",
        f"paths.output_dir={tmp_path / 'run'}", "paths.pretrained_g=null",
    ]
    mp.start_processes(_worker, args=(2, _free_port(), overrides, str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert not torch.equal(r0["hr0"], r1["hr0"])  # each rank draws its own patches
    for part in ("g", "d"):
        for k, v in r0[part].items():
            assert torch.equal(v, r1[part][k]), f"{part}.{k} differs between ranks"
    assert r0["has_ckpt"] and not r1["has_ckpt"]  # rank 0 alone writes checkpoints
    assert (tmp_path / "run" / "generator.safetensors").is_file()
