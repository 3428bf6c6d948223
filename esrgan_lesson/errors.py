"""Errors that are the user's to fix (bad input, bad config, wrong checkpoint).

The CLI prints these as a single line on stderr and exits non-zero; any other
exception is a bug in the package and keeps its traceback.
"""
from __future__ import annotations


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
