#!/usr/bin/env python
"""Write the offline demo set (scikit-image's bundled pictures) as PNGs.

    python data_scripts/make_demo_set.py [--root data/demo] [--scale 4]

Existing files are kept, so reruns are instant. See esrgan_lesson/data/demo.py.
"""
from __future__ import annotations

import argparse
import sys

from esrgan_lesson.data.demo import TRAIN_NAMES, VAL_NAMES, build_demo_set
from esrgan_lesson.errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="data/demo", help="output folder (default data/demo)")
    parser.add_argument("--scale", type=int, default=4, help="downscaling factor of the validation LR (default 4)")
    args = parser.parse_args(argv)

    def run() -> None:
        paths = build_demo_set(args.root, args.scale)
        print(f"train HR ({len(TRAIN_NAMES)}): {paths.train_hr}")
        print(f"val HR ({len(VAL_NAMES)}): {paths.val_hr}")
        print(f"val LR x{args.scale}: {paths.val_lr}")

    return run_reporting_errors("make_demo_set.py", run)


if __name__ == "__main__":
    sys.exit(main())
