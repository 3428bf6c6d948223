"""Config loading: named configs, strict keys and types, dotted overrides."""
from __future__ import annotations

import pytest

from esrgan_lesson import paper
from esrgan_lesson.training.config import TrainConfig, from_dict, load_config, named_configs, save_config
from esrgan_lesson.errors import ConfigError


def test_named_configs_load_and_paper_values_match_paper_module() -> None:
    assert {"lesson-psnr", "lesson-gan", "paper-psnr", "paper-gan"} <= set(named_configs())
    psnr, gan = load_config("paper-psnr"), load_config("paper-gan")
    assert (psnr.model.num_feat, psnr.model.num_block) == (paper.NUM_FEAT, paper.NUM_BLOCKS)
    assert psnr.train.iterations == paper.PSNR_TOTAL_ITERS
    assert psnr.train.lr_g == paper.PSNR_LR and psnr.train.halving_period == paper.PSNR_LR_HALVING_STEP
    assert psnr.train.batch_size == paper.BATCH_SIZE and psnr.train.hr_patch == paper.HR_PATCH
    assert gan.train.lr_g == gan.train.lr_d == paper.GAN_LR
    assert tuple(gan.train.milestones) == paper.GAN_LR_MILESTONES
    assert gan.train.iterations == paper.GAN_TOTAL_ITERS
    assert gan.train.gan_weight == paper.LAMBDA_ADV and gan.train.pixel_weight == paper.ETA_L1
    assert gan.train.perceptual.layer == paper.PERCEPTUAL_LAYER and gan.train.perceptual.network == "vgg19"
    assert gan.train.betas == paper.ADAM_BETAS
    lesson = load_config("lesson-gan")
    assert lesson.train.stage == "gan" and lesson.paths.pretrained_g


def test_overrides_are_parsed_and_type_checked() -> None:
    cfg = load_config("lesson-psnr", ["train.lr_g=3e-4", "engine.amp=bf16", "train.milestones=[10, 20]",
                                      "model.num_feat=8", "train.betas=[0.5, 0.9]"])
    assert cfg.train.lr_g == pytest.approx(3e-4)
    assert cfg.engine.amp == "bf16" and cfg.train.milestones == [10, 20] and cfg.model.num_feat == 8
    assert cfg.train.betas == (0.5, 0.9)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lr_g=abc", "train.lr_g: expected float, got 'abc'"),
        ("train.iterations=1.5", "train.iterations: expected int"),
        ("engine.amp=fp8", "engine.amp: expected"),
        ("engine.channels_last=3", "engine.channels_last: expected bool"),
        ("train.nope=1", "train.nope: unknown key"),
        ("bogus.x=1", "bogus: unknown key"),
        ("train.betas=[0.9]", "train.betas: expected 2 values"),
        ("train.perceptual.weight=x", "train.perceptual.weight: expected float"),
        ("train.lr_g", "expected key=value"),
        ("train.hr_patch=30", "train.hr_patch: must be a positive multiple"),
    ],
)
def test_bad_values_name_the_dotted_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("lesson-psnr", [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_file_roundtrip_and_errors(tmp_path) -> None:
    cfg = load_config("lesson-gan", ["train.iterations=7"])
    path = save_config(cfg, tmp_path / "c.yaml")
    again = load_config(path)
    assert again == cfg and isinstance(again, TrainConfig)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="cannot read YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="neither a file nor one of the named configs"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="network_d.input_size"):
        from_dict({**cfg.to_dict(), "network_d": {"num_feat": 8, "input_size": 32}})
