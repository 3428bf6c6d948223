"""esrgan_lesson: the code behind the ESRGAN course.

Submodules, one job each:

- :mod:`esrgan_lesson.models`    RRDBNet, SRResNet, discriminator, VGG/MINC feature nets
- :mod:`esrgan_lesson.weights`   checkpoint loading/saving in every key layout, ncnn models,
                                 the pretrained catalogue (x4plus offline, the official pair online),
                                 interpolation
- :mod:`esrgan_lesson.inference` tiled upscaling of images
- :mod:`esrgan_lesson.imageio`   reading and writing images safely
- :mod:`esrgan_lesson.data.imresize`  MATLAB-compatible bicubic resize
- :mod:`esrgan_lesson.metrics`   PSNR/SSIM as SR papers report them, NIQE
- :mod:`esrgan_lesson.data`      datasets, crops and augmentation
- :mod:`esrgan_lesson.losses`    pixel, perceptual and (relativistic) GAN losses
- :mod:`esrgan_lesson.training`  the two-stage training engine
- :mod:`esrgan_lesson.paper`     the paper's constants, named and cited

Submodules are imported lazily so that ``import esrgan_lesson`` stays cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"
