"""``esrgan-lesson``: the command-line entry point.

Each sub-command is a module of this package (:mod:`.train`, :mod:`.upscale`,
:mod:`.evaluate`, :mod:`.weights`) with ``add_parser(subparsers)`` and
``run(args) -> int``, listed in :data:`COMMANDS`. Errors the user can fix
(:class:`~esrgan_lesson.errors.ESRGANError`) are printed as one line on stderr
with exit status 2; nothing prints a traceback for bad input.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from esrgan_lesson import __version__
from esrgan_lesson.errors import run_reporting_errors

#: The sub-commands, each a module of this package; a new one is one module plus one entry here.
COMMANDS: tuple[str, ...] = ("evaluate", "train", "upscale", "weights")


def command_names() -> list[str]:
    """The sub-commands, sorted."""
    return sorted(COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esrgan-lesson", description="ESRGAN course tools: upscale images, evaluate and train models."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in command_names():
        module = importlib.import_module(f"esrgan_lesson.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run_reporting_errors(f"esrgan-lesson {args.command}", lambda: args.run(args))
    except KeyboardInterrupt:
        print(f"esrgan-lesson {args.command}: interrupted", file=sys.stderr)
        return 130

