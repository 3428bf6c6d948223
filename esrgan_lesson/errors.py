"""Errors that are the user's to fix (bad input, bad config, wrong checkpoint).

The CLI prints these as a single line on stderr and exits non-zero; any other
exception is a bug in the package and keeps its traceback.
"""
from __future__ import annotations

import sys
from typing import Callable


class ESRGANError(Exception):
    """Base class for errors caused by input the user can correct."""


class ImageReadError(ESRGANError):
    """An input file is missing, corrupt, or in a mode we cannot handle."""


class CheckpointError(ESRGANError):
    """A checkpoint is missing, unreadable, or not the network we expected."""


class ConfigError(ESRGANError):
    """A configuration file or override names an unknown key or a bad value."""


class DataError(ESRGANError):
    """A dataset folder is missing, empty, or its images do not fit together."""


#: Exit status of a command line stopped by an :class:`ESRGANError`.
USER_ERROR_EXIT = 2


def run_reporting_errors(prog: str, run: Callable[[], int | None]) -> int:
    """Call ``run`` and return its exit status (``None`` counts as 0).

    An :class:`ESRGANError` becomes one line, ``<prog>: error: <message>``, on
    stderr and exit status 2; any other exception propagates with its
    traceback. Every command line of the package and of ``data_scripts`` ends
    this way.
    """
    try:
        return int(run() or 0)
    except ESRGANError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
