"""Course checkpoints: rebuilt bit for bit by their recorded command, with complete metadata.

The full rebuild (minutes) is ``make assets-check``; here each checkpoint's
first two training steps are built twice and must agree bitwise, and every
shipped file must carry the metadata that says how to rebuild it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.lesson import ASSETS_DIR, COURSE_CHECKPOINTS, build_checkpoint, lesson_weights, main
from esrgan_lesson.training.config import load_config
from esrgan_lesson.training.provenance import PROVENANCE_KEYS

REQUIRED = ("command",) + PROVENANCE_KEYS


def _read(path: Path) -> tuple[dict, dict[str, str]]:
    with safe_open(str(path), "pt") as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})


def _one_per_recipe() -> list[str]:
    """The first checkpoint of each training recipe: arms that differ only in seed and run folder share one."""
    seen, names = set(), []
    for name, ckpt in COURSE_CHECKPOINTS.items():
        recipe = (ckpt.config,) + tuple(o for o in ckpt.overrides if not o.startswith(("engine.seed=", "paths.")))
        if recipe not in seen:
            seen.add(recipe)
            names.append(name)
    return names


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize("name", _one_per_recipe())
def test_two_builds_of_the_first_steps_are_bitwise_equal(name, tmp_path, demo_root) -> None:
    overrides = ["train.iterations=2", f"data.demo_root={demo_root}", "logging.progress=false"]
    files = [build_checkpoint(name, out_dir=tmp_path / k, overrides=overrides, run_dir=tmp_path / f"run{k}")
             for k in ("a", "b")]
    (ta, ma), (tb, mb) = _read(files[0]), _read(files[1])
    assert ta.keys() == tb.keys()
    for key in ta:
        assert ta[key].dtype == tb[key].dtype and ta[key].equal(tb[key]), key
    assert ma["steps"] == "2" and ma["threads"] == "1"
    assert ma["command"].startswith(COURSE_CHECKPOINTS[name].command + " --override train.iterations=2")


@pytest.mark.parametrize("name", list(COURSE_CHECKPOINTS))
def test_shipped_file_records_how_to_rebuild_it(name) -> None:
    ckpt = COURSE_CHECKPOINTS[name]
    _, meta = _read(ASSETS_DIR / ckpt.file)
    missing = [k for k in REQUIRED if not meta.get(k)]
    assert not missing, f"{ckpt.file} lacks metadata {missing}"
    assert meta["command"] == ckpt.command  # a plain rebuild, no overrides
    assert meta["stage"] == ckpt.stage and meta["threads"] == "1"
    assert len(meta["commit"].split("-")[0]) == 40
    committed = load_config(ckpt.config, list(ckpt.overrides))
    # read back through the loader: a field added to the schema later takes its default (which reproduces old builds)
    recorded = json.loads(json.dumps(load_config(json.loads(meta["config"])).to_dict()))
    recorded["paths"].pop("resume")  # a build continued with --resume ends with the same weights (exact resume)
    expected = json.loads(json.dumps(committed.to_dict()))
    expected["paths"].pop("resume")
    assert recorded == expected, f"{ckpt.file} was trained with a config that differs from the committed {ckpt.config}"
    assert int(meta["steps"]) == committed.train.iterations


def _flat(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def test_ablation_arms_differ_from_their_base_only_where_declared() -> None:
    arms = [(name, ckpt) for name, ckpt in COURSE_CHECKPOINTS.items() if ckpt.overrides]
    assert arms
    for name, ckpt in arms:
        base = _flat(json.loads(json.dumps(load_config(ckpt.config).to_dict())))
        arm = _flat(json.loads(json.dumps(load_config(ckpt.config, list(ckpt.overrides)).to_dict())))
        changed = {key for key in arm if arm[key] != base[key]}
        declared = {o.split("=", 1)[0] for o in ckpt.overrides}
        assert changed <= declared, (name, changed, declared)  # an arm may restate a base value (ragan)
        assert arm["paths.output_dir"] == f"runs/{name}"  # its own run folder: arms never resume each other


def test_list_prints_the_build_order(capsys) -> None:
    assert main(["list"]) == 0
    order = capsys.readouterr().out.split()
    assert order == list(COURSE_CHECKPOINTS) and order.index("lesson-psnr") < order.index("lesson-gan")


def test_missing_file_names_the_rebuild_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ESRGAN_LESSON_ASSETS", str(tmp_path))
    with pytest.raises(ESRGANError, match="python -m esrgan_lesson.lesson build lesson-psnr"):
        lesson_weights("psnr")


def test_unknown_checkpoint_is_a_one_line_error(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["build", "no-such-model"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_plain_arm_builds_and_loads_as_its_own_network(tmp_path, demo_root, monkeypatch) -> None:
    from esrgan_lesson.lesson import load_course_model
    from esrgan_lesson.models import PlainResNet
    from esrgan_lesson.weights.io import load_checkpoint

    overrides = ["train.iterations=2", f"data.demo_root={demo_root}", "logging.progress=false"]
    out = build_checkpoint("ch3-plain-s0", out_dir=tmp_path, overrides=overrides, run_dir=tmp_path / "run")
    monkeypatch.setenv("ESRGAN_LESSON_ASSETS", str(tmp_path))
    net = load_course_model("ch3-plain-s0")
    assert isinstance(net, PlainResNet) and len(net.body) == 19 and not net.training
    state, _ = load_checkpoint(out)
    assert state.keys() == net.state_dict().keys()
    assert all(torch.equal(net.state_dict()[k], state[k].float()) for k in state)
    with torch.no_grad():
        assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)
