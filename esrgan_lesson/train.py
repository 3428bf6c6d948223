"""``python -m esrgan_lesson.train`` (and ``torchrun ... -m esrgan_lesson.train``).

Same arguments as ``esrgan-lesson train``; see :mod:`esrgan_lesson.commands.train`.
"""
from __future__ import annotations

import argparse
import sys

from .errors import ESRGANError


def main(argv: list[str] | None = None) -> int:
    from .commands.train import add_arguments, run

    parser = argparse.ArgumentParser(prog="python -m esrgan_lesson.train", description="Train ESRGAN (both stages).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ESRGANError as exc:
        print(f"esrgan_lesson.train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
