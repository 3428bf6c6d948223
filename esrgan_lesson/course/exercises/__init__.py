"""Checkers for the chapters' "implement it yourself" exercises.

Modules: :mod:`.check` (the checker), :mod:`.images`, :mod:`.networks` and
:mod:`.training` (each chapter's cases and references); everything is
imported here, so a chapter writes ``from esrgan_lesson.course.exercises import ...``.

A learner writes a function; :func:`check_against` runs it and the package's
own function on the same inputs and says, in one line, whether they agree.
It never raises for a wrong or unfinished answer (a notebook cell that checks
an exercise should not stop the notebook): it returns ``False`` and says why.

Cases for the chapters' exercises: :func:`logit_cases` (the GAN losses,
chapter 4), :func:`sr_cases` (Y-PSNR, chapter 1), :func:`rdb_cases` (the
residual dense block, chapter 3), :func:`perceptual_cases` with its reference
:func:`perceptual_reference` (the perceptual loss before and after the
activation, chapter 5), :func:`schedule_cases` with its reference
:func:`scheduled_lr` (the learning-rate schedule, chapter 7),
:func:`batch_norm_cases` with its reference :func:`bn_train_forward`
(batch normalisation in training mode, chapter 2) and
:func:`interpolation_cases` with its reference :func:`interpolation_reference`
and the adapter :func:`flat_answer` (network interpolation of two state
dicts, chapter 6), and :func:`ssim_cases` (SSIM on Y, chapter 8, checked
against the package's :func:`esrgan_lesson.metrics.ssim` itself).
"""

from .check import check_against
from .images import perceptual_cases, perceptual_reference, sr_cases, ssim_cases
from .networks import (batch_norm_cases, bn_train_forward, flat_answer, flat_state_dict, interpolation_cases,
                       interpolation_reference, rdb_cases)
from .training import logit_cases, schedule_cases, scheduled_lr

__all__ = ["batch_norm_cases", "bn_train_forward", "check_against", "flat_answer", "flat_state_dict",
           "interpolation_cases", "interpolation_reference", "logit_cases", "perceptual_cases",
           "perceptual_reference", "rdb_cases", "schedule_cases", "scheduled_lr", "sr_cases",
           "ssim_cases"]
