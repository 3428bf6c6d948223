"""The training config's schema: one dataclass per section, defaults from :mod:`esrgan_lesson.paper`.

A :class:`TrainConfig` has the sections ``model`` (the generator),
``network_d``, ``data``, ``train``, ``engine``, ``logging`` and ``paths``.
Reading, type-checking and overriding them is :mod:`.loader`'s job.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from esrgan_lesson.paper import (
    ADAM_BETAS,
    BATCH_SIZE,
    EMA_DECAY,
    GROWTH_CHANNELS,
    HR_PATCH,
    LAMBDA_ADV,
    NUM_BLOCKS,
    NUM_FEAT,
    PERCEPTUAL_LAYER,
    PSNR_LR,
)


@dataclass
class ModelConfig:
    """The generator. ``type``: a name in :data:`esrgan_lesson.models.tables.GENERATORS`:
    ``rrdbnet`` (ESRGAN), ``srresnet`` (SRGAN, BN switchable) or ``plain_resnet``
    (RRDBNet's head and upsampler around plain residual blocks). ``rdb_init``
    (rrdbnet only): ``kaiming_x0.1`` (ESRGAN Sec. 3.1), ``kaiming`` (x1) or
    ``pytorch`` (the default ``Conv2d`` init) for the convs of every dense block."""

    type: str = "rrdbnet"
    scale: int = 4
    num_feat: int = NUM_FEAT
    num_block: int = NUM_BLOCKS
    num_grow_ch: int = GROWTH_CHANNELS
    use_bn: bool = False  # srresnet only
    rdb_init: str = "kaiming_x0.1"  # rrdbnet only


@dataclass
class DiscriminatorConfig:
    """The discriminator. ``type``: a name in :data:`esrgan_lesson.models.tables.DISCRIMINATORS`
    (``vgg_style``, SRGAN/ESRGAN's, is the default); ``input_size`` must equal the HR patch."""

    type: str = "vgg_style"
    num_feat: int = 64
    input_size: int = HR_PATCH


@dataclass
class DataConfig:
    """Training and validation images.

    ``demo: true`` builds the course's demo set under ``demo_root`` when it is
    missing and uses its ``train``/``val`` folders (``train_hr``/``val_hr``
    are then ignored). ``train_lr``/``val_lr`` = null: LR images are made
    from HR by MATLAB bicubic. ``sampler``: ``device`` keeps all HR images on
    the training device and crops there; ``dataset`` uses a DataLoader.
    """

    demo: bool = False
    demo_root: str = "data/demo"
    train_hr: list[str] = field(default_factory=list)
    train_lr: Optional[str] = None
    val_hr: Optional[str] = None
    val_lr: Optional[str] = None
    augment: bool = True
    cache: bool = True
    sampler: Literal["device", "dataset"] = "device"
    num_workers: int = 0
    val_max_images: int = 0  # 0 = all


@dataclass
class PerceptualConfig:
    """The perceptual loss. ``network``: ``none``, ``vgg19``/``vgg16`` (local
    ImageNet weights), ``minc`` (``weights`` = VGG16minc_53 file), a
    ``package.module:factory`` returning an ``nn.Module``, or a path to a
    TorchScript feature net. ``weight`` 0 switches the loss off."""

    network: str = "vgg19"
    layer: str = PERCEPTUAL_LAYER
    weights: Optional[str] = None
    criterion: Literal["l1", "l2"] = "l1"
    weight: float = 1.0


@dataclass
class StageConfig:
    """One training stage (ESRGAN Sec. 4.1): ``psnr`` (L1 only) or ``gan``.

    The LR schedule is MultiStepLR at ``milestones`` or, when
    ``halving_period`` > 0, StepLR halving every ``halving_period`` steps.
    ``max_seconds`` > 0 stops early after that much wall time.
    """

    stage: Literal["psnr", "gan"] = "psnr"
    iterations: int = 1_000_000
    max_seconds: float = 0.0
    batch_size: int = BATCH_SIZE
    hr_patch: int = HR_PATCH
    lr_g: float = PSNR_LR
    lr_d: float = PSNR_LR
    milestones: list[int] = field(default_factory=list)
    halving_period: int = 0
    gamma: float = 0.5
    betas: tuple[float, float] = ADAM_BETAS
    pixel_weight: float = 1.0
    pixel_criterion: Literal["l1", "l2"] = "l1"
    gan_weight: float = LAMBDA_ADV
    gan_type: Literal["standard", "ragan"] = "ragan"
    perceptual: PerceptualConfig = field(default_factory=PerceptualConfig)


@dataclass
class EngineConfig:
    """How steps run: device, mixed precision, memory format, compile, EMA, NaN guard, GPU speed switches.

    ``deterministic``: on CUDA, no cuDNN autotuning and deterministic kernels
    (bitwise-repeatable GPU runs); otherwise ``cudnn.benchmark`` is on. CPU
    runs are unaffected. ``cuda_graph``: capture the whole single-GPU step as
    one CUDA graph. ``compile_blocks``: ``torch.compile`` each RRDB (one
    compiled block reused), instead of ``compile`` (the whole model). See
    :mod:`esrgan_lesson.training.graphs`.
    """

    device: str = "auto"
    amp: Literal["none", "bf16", "fp16"] = "none"
    channels_last: bool = False
    compile: bool = False
    ema_decay: float = EMA_DECAY  # 0 disables the EMA
    nan_patience: int = 10
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 = leave torch's default
    deterministic: bool = False
    cuda_graph: bool = False
    compile_blocks: bool = False


@dataclass
class LoggingConfig:
    """Validation, checkpoints and logs (``0`` disables a periodic action)."""

    log_every: int = 50
    val_every: int = 5000
    save_every: int = 5000
    keep_last: int = 3
    tensorboard: bool = False
    csv: bool = True
    sample_images: int = 2
    progress: bool = True
    val_model: Literal["g", "ema"] = "ema"  # which generator validation scores (and "best" follows)


@dataclass
class PathsConfig:
    """Output folder, PSNR checkpoint to start the GAN stage from, resume point."""

    output_dir: str = "runs/esrgan"
    pretrained_g: Optional[str] = None
    resume: Optional[str] = None  # a checkpoint path or "auto"


@dataclass
class TrainConfig:
    """A whole training run: the seven sections (see the module docstring)."""

    name: str = "esrgan"
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    network_d: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: StageConfig = field(default_factory=StageConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), loadable again by :func:`~.loader.from_dict`."""
        plain: dict[str, Any] = plain_data(dataclasses.asdict(self))
        return plain


def plain_data(obj: Any) -> Any:
    """``obj`` with tuples turned into lists, recursively (what YAML writes and reads back)."""
    if isinstance(obj, dict):
        return {k: plain_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_data(v) for v in obj]
    return obj
