#!/usr/bin/env python
"""Download ESRGAN's training and benchmark data (resumable, verified, safely extracted).

    python data_scripts/download.py div2k flickr2k benchmark [--root data]

Interrupted downloads resume from ``<file>.part`` on the next run; finished
archives and extractions are skipped. See esrgan_lesson/data/download.py.
"""
from __future__ import annotations

import argparse
import sys

from esrgan_lesson.data.download import SOURCES, fetch
from esrgan_lesson.errors import ESRGANError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", choices=[*SOURCES, "all"], help="what to fetch")
    parser.add_argument("--root", default="data", help="download/extract under this folder (default data)")
    parser.add_argument("--no-extract", action="store_true", help="keep the archives packed")
    parser.add_argument("--url", help="fetch this URL instead (a mirror; one dataset only)")
    parser.add_argument("--sha256", help="expected SHA-256 of the file (with --url)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    names = [n for n in SOURCES if SOURCES[n]] if "all" in args.datasets else args.datasets
    if args.url and len(names) != 1:
        parser.error("--url needs exactly one dataset")
    status = 0
    for name in names:
        try:
            for path in fetch(name, args.root, not args.no_extract, not args.quiet, args.url, args.sha256):
                print(f"{name}: {path}")
        except ESRGANError as exc:
            print(f"download.py: {name}: error: {exc}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
