"""``python -m esrgan_lesson.cli``: the same as the ``esrgan-lesson`` console script."""
from __future__ import annotations

import sys

from esrgan_lesson.cli import main

sys.exit(main())
