#!/usr/bin/env python
"""Crop HR images into overlapping sub-images (BasicSR's DIV2K recipe: 480 px every 240 px).

    python data_scripts/extract_subimages.py IN_DIR OUT_DIR [--crop 480] [--step 240] [--workers N]

The tile touching the right/bottom border is always kept; finished tiles are skipped on reruns.
"""
from __future__ import annotations

import argparse
import os
import sys

from esrgan_lesson.data.prepare import extract_subimages
from esrgan_lesson.errors import run_reporting_errors
from esrgan_lesson.paper import SUBIMAGE_CROP, SUBIMAGE_STEP


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="folder of HR images")
    parser.add_argument("output", help="folder for the sub-images")
    parser.add_argument("--crop", type=int, default=SUBIMAGE_CROP, help=f"tile size (default {SUBIMAGE_CROP})")
    parser.add_argument("--step", type=int, default=SUBIMAGE_STEP, help=f"stride (default {SUBIMAGE_STEP})")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    args = parser.parse_args(argv)

    def run() -> None:
        n = extract_subimages(args.input, args.output, args.crop, args.step, args.workers)
        print(f"wrote {n} sub-images to {args.output}")

    return run_reporting_errors("extract_subimages.py", run)


if __name__ == "__main__":
    sys.exit(main())
