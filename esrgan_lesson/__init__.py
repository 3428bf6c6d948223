"""esrgan_lesson: the code behind the ESRGAN course.

The core library, in the order data flows (``ARCHITECTURE.md`` at the repository root has the map):

- :mod:`esrgan_lesson.data`      MATLAB bicubic (:mod:`~esrgan_lesson.data.imresize`), datasets, crops, augmentation
- :mod:`esrgan_lesson.models`    RRDBNet, SRResNet, discriminator, VGG/MINC/texture feature nets, and the
                                 tables of generators and discriminators (:mod:`~esrgan_lesson.models.tables`)
- :mod:`esrgan_lesson.losses`    pixel, perceptual and (relativistic) adversarial losses
- :mod:`esrgan_lesson.metrics`   PSNR/SSIM as SR papers report them, NIQE
- :mod:`esrgan_lesson.training`  config, builders, the G/D step (Eq. 1-3), the two-stage trainer, validation
- :mod:`esrgan_lesson.weights`   checkpoints in every key layout, ncnn models, the pretrained catalogue,
                                 interpolation
- :mod:`esrgan_lesson.inference` tiled upscaling (the one ``upscale``), streamed large outputs
- :mod:`esrgan_lesson.cli`       the ``esrgan-lesson`` command
- :mod:`esrgan_lesson.paper`, :mod:`~esrgan_lesson.imageio`, :mod:`~esrgan_lesson.fileio`, :mod:`~esrgan_lesson.errors`

On top, :mod:`esrgan_lesson.course` holds what only the book needs (one module per chapter
topic, the explorer, the lesson/paper switch); no core module imports it.

Submodules are imported lazily so that ``import esrgan_lesson`` stays cheap.
"""
from __future__ import annotations

__version__ = "0.2.0"
