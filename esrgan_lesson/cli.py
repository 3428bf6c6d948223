"""``esrgan-lesson``: the command-line entry point.

Each sub-command lives in :mod:`esrgan_lesson.commands` as a module with
``add_parser(subparsers)`` and ``run(args) -> int``. Errors the user can fix
(:class:`~esrgan_lesson.errors.ESRGANError`) are printed as one line on stderr
with exit status 2; nothing prints a traceback for bad input.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__
from .errors import run_reporting_errors

from . import commands as _commands


def command_names() -> list[str]:
    """The sub-commands: every module in :mod:`esrgan_lesson.commands`, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(_commands.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esrgan-lesson", description="ESRGAN course tools: upscale images, evaluate and train models."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in command_names():
        module = importlib.import_module(f".commands.{name}", __package__)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
