"""course.exercises.check_against: a checker that tells a right answer from wrong, unfinished or broken ones."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from esrgan_lesson.course.exercises import check_against, logit_cases
from esrgan_lesson.losses import ragan_d_loss, standard_d_loss


def _by_hand(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    d_rf = torch.sigmoid(real - fake.mean())
    d_fr = torch.sigmoid(fake - real.mean())
    return 0.5 * (-torch.log(d_rf).mean() - torch.log(1 - d_fr).mean())


def test_a_right_answer_passes(capsys) -> None:
    assert check_against(_by_hand, ragan_d_loss, logit_cases(), atol=1e-5)
    assert capsys.readouterr().out.startswith("✓ matches esrgan_lesson.losses.adversarial.ragan_d_loss on 5 cases")


def test_wrong_unfinished_and_broken_answers_fail(capsys) -> None:
    assert not check_against(standard_d_loss, ragan_d_loss, logit_cases())  # another loss
    assert "differs from" in capsys.readouterr().out
    assert not check_against(lambda r, f: None, ragan_d_loss, logit_cases())
    assert "not implemented yet" in capsys.readouterr().out
    assert not check_against(lambda r, f: 1 / 0, ragan_d_loss, logit_cases())
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check_against(lambda r, f: F.logsigmoid(r), ragan_d_loss, logit_cases())
    assert "shape (16, 1), expected ()" in capsys.readouterr().out
    # missing the factor 1/2: off by the loss itself
    assert not check_against(lambda r, f: 2 * _by_hand(r, f), ragan_d_loss, logit_cases())
