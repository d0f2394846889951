"""Exceptions with messages meant for users: each names the problem and the fix."""


class LTX2Error(ValueError):
    """Base class for every error ltx2_core raises on purpose."""


class CheckpointError(LTX2Error):
    """A weights file is unreadable, truncated, of the wrong model, or has missing/unexpected keys."""


class UnsupportedFormatError(CheckpointError):
    """A quantization type or tensor format the pack cannot compute with."""


class InputError(LTX2Error):
    """A user-supplied argument (size, frame count, index, path) is invalid."""
