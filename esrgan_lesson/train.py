"""``python -m esrgan_lesson.train`` (and ``torchrun ... -m esrgan_lesson.train``).

Same arguments as ``esrgan-lesson train``; see :mod:`esrgan_lesson.cli.train`.
"""
from __future__ import annotations

import argparse
import sys

from .errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    from esrgan_lesson.cli.train import add_arguments, run

    parser = argparse.ArgumentParser(prog="python -m esrgan_lesson.train", description="Train ESRGAN (both stages).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_reporting_errors("esrgan_lesson.train", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
