"""The course checkpoints: small generators trained by the package's own Trainer.

Chapters that compare trained models load these files instead of training for
minutes. Each one is built on the CPU, on one thread, from a committed config
that stops on a step budget, so anyone can rebuild it (bitwise equal on one
machine; another CPU can differ in the last bits, so rebuilds elsewhere are
compared by held-out score)::

    python -m esrgan_lesson.lesson build lesson-psnr    # stage 1 (L1)
    python -m esrgan_lesson.lesson build lesson-gan     # stage 2, from the file above
    python -m esrgan_lesson.lesson check lesson-psnr    # rebuild elsewhere, compare scores

``make assets`` runs every build in dependency order; ``make assets-check``
runs the check. A build can stop and continue later with ``--resume``
(training resume is exact). Each file's safetensors metadata records the
rebuild ``command`` and everything in
:data:`esrgan_lesson.training.provenance.PROVENANCE_KEYS` (config, seed,
steps, threads, torch, commit, stage) besides the architecture.

``$ESRGAN_LESSON_ASSETS`` points the lookup at another folder (e.g. your own
re-trained models).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .errors import ESRGANError, run_reporting_errors

if TYPE_CHECKING:
    from .training.config import ModelConfig

#: Folder of the shipped lesson files inside the package.
ASSETS_DIR = Path(__file__).parent / "assets"
#: Files above this size are stored in float16 (the course keeps each model small).
FP16_ABOVE_BYTES = 2 * 1024 * 1024
#: The module that builds the checkpoints (its ``build`` command is recorded in each file).
BUILD_MODULE = "esrgan_lesson.lesson"


@dataclass(frozen=True)
class CourseCheckpoint:
    """One shipped generator: its file, the config that trains it and its stage.

    ``overrides`` are dotted config keys applied on top of ``config`` (an
    ablation arm is its chapter's base config with one switch and a seed
    changed); they are part of the checkpoint's definition, so its recorded
    ``command`` stays the plain ``build NAME``.
    """

    name: str
    file: str
    config: str
    stage: str
    overrides: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        """The shell command, run from the repository root, that rebuilds the file in place."""
        return f"python -m {BUILD_MODULE} build {self.name}"


def _arm_file(name: str) -> str:
    """The asset file name of ablation arm ``name``: ``ch2-bn-s0`` -> ``ch2_bn_s0_x4.safetensors``."""
    return name.replace("-", "_") + "_x4.safetensors"


def _arm(name: str, config: str, stage: str, *overrides: str) -> CourseCheckpoint:
    """An ablation arm: ``config`` plus ``overrides``, trained in ``runs/<name>``."""
    return CourseCheckpoint(name, _arm_file(name), config, stage, tuple(overrides) + (f"paths.output_dir=runs/{name}",))


#: Chapter 4's ablation (issue 15): standard-GAN against RaGAN fine-tunes of lesson-psnr with the
#: paper's loss, 3 seeds each; everything but ``train.gan_type`` and the seed is lesson-gan's.
#: RaGAN seed 1 is lesson-gan itself. The pre-registered claim and threshold are in the chapter.
CH4_ARMS: dict[str, dict[int, str]] = {
    "standard": {0: "ch4-standard-s0", 1: "ch4-standard-s1", 2: "ch4-standard-s2"},
    "ragan": {0: "ch4-ragan-s0", 1: "lesson-gan", 2: "ch4-ragan-s2"},
}

#: Chapter 3's ablation (issue 15): RRDBNet against a plain residual network of (nearly) equal size, both
#: trained with the lesson-psnr config to its budget, 3 seeds each; RRDB seed 0 is lesson-psnr itself.
CH3_PLAIN_BLOCKS = 19  # plain blocks whose parameter count (390,179) is closest to lesson-psnr's RRDBNet (398,755)
CH3_ARMS: dict[str, dict[int, str]] = {
    "rrdb": {0: "lesson-psnr", 1: "ch3-rrdb-s1", 2: "ch3-rrdb-s2"},
    "plain": {0: "ch3-plain-s0", 1: "ch3-plain-s1", 2: "ch3-plain-s2"},
}

#: Chapter 3's second ablation (issue 15): the dense blocks' initialisation, ESRGAN's Kaiming x0.1 (the RRDB
#: arms above) against Kaiming x1 and PyTorch's default Conv2d init (``model.rdb_init``), lesson-psnr's config
#: and budget otherwise, 3 seeds each. The pre-registered claim and threshold are in the chapter.
CH3_INIT_ARMS: dict[str, dict[int, str]] = {
    "kaiming_x0.1": CH3_ARMS["rrdb"],
    "kaiming": {0: "ch3-kaiming-s0", 1: "ch3-kaiming-s1", 2: "ch3-kaiming-s2"},
    "pytorch": {0: "ch3-pytorch-s0", 1: "ch3-pytorch-s1", 2: "ch3-pytorch-s2"},
}

#: Chapter 5's ablation (issue 15): perceptual features before (conv4_2) against after (relu4_2) the
#: activation, as RaGAN fine-tunes of lesson-psnr with the paper's loss, 3 seeds each. The ``before`` arms
#: are chapter 4's RaGAN arms (same config, conv4_2); the ``after`` arms change only the layer and the seed.
CH5_ARMS: dict[str, dict[int, str]] = {
    "before": CH4_ARMS["ragan"],
    "after": {0: "ch5-post-s0", 1: "ch5-post-s1", 2: "ch5-post-s2"},
}

#: Chapter 2's ablation (issue 15): SRResNet (nf32, 8 blocks) with and without batch norm, trained with
#: lesson-psnr's L1 recipe to one budget, then fine-tuned as GANs with lesson-gan's loss (the paper's Eq. 3)
#: for a fixed 1,000 steps, 3 seeds each. The budget is the first validated step at which the no-BN arm
#: (ESRGAN's choice) with seed 0 beats bicubic by 1 dB on the held-out images (search cap 6,000).
#: The claims, thresholds and the GAN step count were pre-registered in commit f46eb2f, before any run;
#: chapter 2 states them ahead of its results.
CH2_NUM_BLOCK = 8
#: Seed-0 search (validation every 200 steps): no BN first reaches +1.028 dB over bicubic at step 2,800
#: (2,600: +0.997 dB); the BN arm has +1.015 dB there.
CH2_PSNR_STEPS = 2800
CH2_ARMS: dict[str, dict[int, str]] = {
    "bn": {0: "ch2-bn-s0", 1: "ch2-bn-s1", 2: "ch2-bn-s2"},
    "nobn": {0: "ch2-nobn-s0", 1: "ch2-nobn-s1", 2: "ch2-nobn-s2"},
}
CH2_GAN_STEPS = 1000  # fixed before any run (lesson-gan's 1,500 cut for the CPU time of six fine-tunes)
#: Each GAN fine-tune starts from the PSNR arm of the same model and seed.
CH2_GAN_ARMS: dict[str, dict[int, str]] = {
    arm: {seed: name.replace(arm + "-", arm + "-gan-") for seed, name in seeds.items()} for arm, seeds in CH2_ARMS.items()
}


def _ch2_model(arm: str) -> tuple[str, ...]:
    return ("model.type=srresnet", f"model.num_block={CH2_NUM_BLOCK}", f"model.use_bn={str(arm == 'bn').lower()}")


#: The course checkpoints in build order (a GAN stage starts from its PSNR model).
COURSE_CHECKPOINTS: dict[str, CourseCheckpoint] = {
    c.name: c for c in (
        CourseCheckpoint("lesson-psnr", "lesson_psnr_x4.safetensors", "lesson-psnr", "psnr"),
        *(_arm(name, "lesson-psnr", "psnr", f"engine.seed={seed}")
          for seed, name in CH3_ARMS["rrdb"].items() if name != "lesson-psnr"),
        *(_arm(name, "lesson-psnr", "psnr", "model.type=plain_resnet", f"model.num_block={CH3_PLAIN_BLOCKS}",
               f"engine.seed={seed}") for seed, name in CH3_ARMS["plain"].items()),
        *(_arm(name, "lesson-psnr", "psnr", f"model.rdb_init={init}", f"engine.seed={seed}")
          for init, seeds in CH3_INIT_ARMS.items() if init != "kaiming_x0.1" for seed, name in seeds.items()),
        *(_arm(name, "lesson-psnr", "psnr", *_ch2_model(arm), f"train.iterations={CH2_PSNR_STEPS}", f"engine.seed={seed}")
          for arm, seeds in CH2_ARMS.items() for seed, name in seeds.items()),
        CourseCheckpoint("lesson-gan", "lesson_gan_x4.safetensors", "lesson-gan", "gan"),
        *(_arm(name, "lesson-gan", "gan", *_ch2_model(arm), f"train.iterations={CH2_GAN_STEPS}", f"engine.seed={seed}",
               f"paths.pretrained_g=esrgan_lesson/assets/{_arm_file(CH2_ARMS[arm][seed])}")
          for arm, seeds in CH2_GAN_ARMS.items() for seed, name in seeds.items()),
        *(_arm(name, "lesson-gan", "gan", f"train.gan_type={gan_type}", f"engine.seed={seed}")
          for gan_type, seeds in CH4_ARMS.items() for seed, name in seeds.items() if name != "lesson-gan"),
        *(_arm(name, "lesson-gan", "gan", "train.perceptual.layer=relu4_2", f"engine.seed={seed}")
          for seed, name in CH5_ARMS["after"].items()),
    )
}
#: Stage name -> (file name, the checkpoint that holds it), as the chapters ask for them.
LESSON_FILES = {c.stage: (c.file, c.name) for c in COURSE_CHECKPOINTS.values() if not c.overrides}


def _checkpoint(name: str) -> CourseCheckpoint:
    if name not in COURSE_CHECKPOINTS:
        raise ESRGANError(f"unknown course checkpoint {name!r}; choose from {', '.join(COURSE_CHECKPOINTS)}")
    return COURSE_CHECKPOINTS[name]


def checkpoint_path(name: str) -> Path:
    """Path of course checkpoint ``name`` (a key of :data:`COURSE_CHECKPOINTS`).

    Looks in ``$ESRGAN_LESSON_ASSETS`` when set, else in the package's assets.
    Raises :class:`ESRGANError` with the command that makes a missing file.
    """
    ckpt = _checkpoint(name)
    path = Path(os.environ.get("ESRGAN_LESSON_ASSETS") or ASSETS_DIR) / ckpt.file
    if not path.is_file():
        raise ESRGANError(f"{path} is missing; rebuild it with `{ckpt.command}`")
    return path


def lesson_weights(stage: str) -> Path:
    """Path of the lesson ``"psnr"`` or ``"gan"`` generator file (see :func:`checkpoint_path`)."""
    if stage not in LESSON_FILES:
        raise ESRGANError(f"lesson stage must be one of {sorted(LESSON_FILES)}, got {stage!r}")
    return checkpoint_path(LESSON_FILES[stage][1])


def load_lesson_generator(stage: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The lesson ``"psnr"`` or ``"gan"`` RRDBNet, in eval mode on ``device``.

    Input (N, 3, h, w) in [0, 1]; output (N, 3, 4h, 4w).
    """
    from .weights import load_generator

    return load_generator(lesson_weights(stage), device=device)


def build_checkpoint(name: str, out_dir: str | Path = ASSETS_DIR, overrides: list[str] | tuple[str, ...] = (),
                     resume: bool = False, run_dir: str | Path | None = None) -> Path:
    """Train course checkpoint ``name`` with its committed config and write ``out_dir/<file>``.

    Args:
        name: a key of :data:`COURSE_CHECKPOINTS`.
        out_dir: where the finished file goes (the package's assets by default).
        overrides: extra dotted config keys (tests use ``train.iterations=2``);
            a build with overrides records them in its ``command``.
        resume: continue the run in ``run_dir`` from its latest checkpoint.
        run_dir: the training run's folder (default: the config's ``paths.output_dir``).

    Returns:
        The written file. Its metadata holds the Trainer's provenance plus ``command``.
    """
    from .training.config import load_config
    from .training import train
    from .weights import save_generator
    from .weights.io import load_checkpoint

    ckpt = _checkpoint(name)
    cfg = load_config(ckpt.config, checkpoint_overrides(name, overrides, run_dir))
    if cfg.engine.threads != 1 or cfg.engine.device != "cpu":
        raise ESRGANError(f"config {ckpt.config} must set engine.threads: 1 and engine.device: cpu "
                          "(course checkpoints are CPU-built on one thread so anyone can rebuild them)")
    result = train(cfg, resume="auto" if resume else None)
    # the file shipped is the generator that validation scores: the EMA or the raw G
    source = result.ema_path if cfg.logging.val_model == "ema" else result.generator_path
    if source is None:
        raise ESRGANError(f"training {name} wrote no {cfg.logging.val_model} generator")
    state, meta = load_checkpoint(source)  # one read: the weights and the Trainer's provenance
    model = _generator_from_state(state, cfg.model)
    command = ckpt.command + "".join(f" --override {shlex.quote(o)}" for o in overrides)
    meta.update(command=command, checkpoint=name, dtype="float32", weights=cfg.logging.val_model)
    out = Path(out_dir) / ckpt.file
    save_generator(model, out, meta)
    if out.stat().st_size > FP16_ABOVE_BYTES:
        meta["dtype"] = "float16"
        save_generator(model.half(), out, meta)
    return out


def _generator_from_state(state: dict[str, torch.Tensor], model_cfg: "ModelConfig") -> torch.nn.Module:
    """The float32 generator ``model_cfg`` describes, holding ``state`` (``strict=True``), in eval mode."""
    from .errors import CheckpointError
    from .training.builders import build_generator
    from .weights import load_generator

    if model_cfg.type == "rrdbnet":  # any key layout, architecture read from the keys
        return load_generator(state)
    net = build_generator(model_cfg)
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"weights do not fit {model_cfg}: {str(exc).splitlines()[0]}") from None
    return net.eval()


def load_course_model(name: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Course checkpoint ``name`` as a network in eval mode on ``device``, any ``model.type``.

    The network is built from the ``model`` section of the config recorded in
    the file (an RRDBNet also from its keys), and every weight is loaded with
    ``strict=True``. Input (N, 3, h, w) in [0, 1]; output (N, 3, scale*h, scale*w).
    """
    import json

    from .training.config import ModelConfig
    from .weights.io import load_checkpoint

    path = checkpoint_path(name)
    state, meta = load_checkpoint(path)
    try:
        model_cfg = ModelConfig(**json.loads(meta["config"])["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ESRGANError(f"{path}: no usable recorded config ({type(exc).__name__}: {exc}); "
                          f"rebuild it with `{_checkpoint(name).command}`") from None
    return _generator_from_state(state, model_cfg).to(torch.device(device))


def checkpoint_overrides(name: str, overrides: list[str] | tuple[str, ...] = (),
                         run_dir: str | Path | None = None) -> list[str]:
    """The config overrides that train checkpoint ``name``: its own, then ``overrides``, then ``run_dir``."""
    return (list(_checkpoint(name).overrides) + list(overrides)
            + ([f"paths.output_dir={run_dir}"] if run_dir is not None else []))


def check_checkpoint(name: str, max_gap_db: float = 0.2) -> tuple[float, float]:
    """Rebuild ``name`` in a temporary folder and compare its held-out Y-PSNR with the shipped file's.

    Returns ``(shipped_db, rebuilt_db)``; raises :class:`ESRGANError` when they
    differ by more than ``max_gap_db``.
    """
    from .training.builders import build_val_pairs
    from .training.config import load_config
    from .training.evaluation import evaluate_generator
    from .weights.io import load_checkpoint

    ckpt = _checkpoint(name)
    shipped = checkpoint_path(name)
    cfg = load_config(ckpt.config, checkpoint_overrides(name))
    scale = cfg.model.scale
    with tempfile.TemporaryDirectory(prefix=f"{name}-check-") as tmp:
        rebuilt = build_checkpoint(name, out_dir=tmp, run_dir=Path(tmp) / "run")
        pairs = build_val_pairs(cfg)  # the held-out pairs the config validates on
        a, b = (evaluate_generator(_generator_from_state(load_checkpoint(f)[0], cfg.model), pairs, scale
                                   ).summary()["psnr"] for f in (shipped, rebuilt))
    if abs(a - b) > max_gap_db:
        raise ESRGANError(f"{name}: rebuilt Y-PSNR {b:.3f} dB differs from the shipped {a:.3f} dB "
                          f"by more than {max_gap_db} dB")
    return a, b


def main(argv: list[str] | None = None) -> int:
    """``python -m esrgan_lesson.lesson build|check NAME`` or ``list``."""
    ap = argparse.ArgumentParser(prog=f"python -m {BUILD_MODULE}", description="Build or check course checkpoints.")
    sub = ap.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="train one checkpoint with its committed config and write it into the package")
    b.add_argument("name", choices=sorted(COURSE_CHECKPOINTS))
    b.add_argument("--resume", action="store_true", help="continue the run from its latest training checkpoint")
    b.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    b.add_argument("--out-dir", default=str(ASSETS_DIR))
    c = sub.add_parser("check", help="rebuild in a temporary folder and compare held-out Y-PSNR (0.2 dB)")
    c.add_argument("name", choices=sorted(COURSE_CHECKPOINTS))
    sub.add_parser("list", help="print the checkpoint names in build order (a GAN stage after its PSNR model)")
    args = ap.parse_args(argv)

    def go() -> int:
        if args.action == "list":
            print("\n".join(COURSE_CHECKPOINTS))
        elif args.action == "build":
            print("wrote", build_checkpoint(args.name, args.out_dir, args.override, resume=args.resume))
        else:
            a, b = check_checkpoint(args.name)
            print(f"{args.name}: shipped {a:.3f} dB, rebuilt {b:.3f} dB (held-out Y-PSNR): within 0.2 dB")
        return 0

    return run_reporting_errors(f"{BUILD_MODULE} {args.action}", go)


if __name__ == "__main__":
    sys.exit(main())
