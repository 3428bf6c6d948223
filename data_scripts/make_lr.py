#!/usr/bin/env python
"""Make MATLAB-bicubic LR images (DIV2K naming) from an HR folder.

    python data_scripts/make_lr.py HR_DIR OUT_ROOT [--scales 2 3 4]

Writes OUT_ROOT/X<s>/<stem>x<s>.png from HR mod-cropped to s; existing files are skipped.
"""
from __future__ import annotations

import argparse
import sys

from esrgan_lesson.data.prepare import make_lr
from esrgan_lesson.errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hr_dir", help="folder of HR images")
    parser.add_argument("out_root", help="output root, e.g. data/DIV2K_train_LR_bicubic")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4], help="factors (default 2 3 4)")
    args = parser.parse_args(argv)

    def run() -> None:
        n = make_lr(args.hr_dir, args.out_root, tuple(args.scales))
        print(f"wrote {n} LR images under {args.out_root}")

    return run_reporting_errors("make_lr.py", run)


if __name__ == "__main__":
    sys.exit(main())
