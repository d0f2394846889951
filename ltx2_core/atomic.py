"""Atomic file output: every file the pack writes goes to a temporary file beside its destination and is
renamed over it only once it is complete.

    with atomic_output("clip.mp4") as tmp:
        write_everything_to(tmp)

On success the temporary file is flushed to disk (fsync) and renamed to the destination (os.replace, atomic
on one file system); on any exception, KeyboardInterrupt included, it is removed and the exception goes on.
An existing destination is therefore either untouched or replaced by a complete file, never truncated.
"""

import contextlib
import os
import stat
import tempfile
from typing import Iterator

from .errors import InputError

TEMP_MARKER = ".ltx2-tmp-"


def temp_prefix(path: str) -> str:
    """The name prefix of `path`'s temporary files (hidden, in the same folder)."""
    return "." + os.path.basename(path) + TEMP_MARKER


def _fsync_folder(folder: str) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _final_mode(path: str) -> int:
    """The permissions the finished file gets: the old file's, else what a plain open() would create."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """Yield a temporary path in `path`'s folder (same extension); rename it to `path` when the block ends.

    The folder must exist (InputError otherwise). The temporary file exists (empty) when the block starts.
    """
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise InputError(f"Output folder does not exist: {folder!r}. Create it or choose another path.")
    if os.path.isdir(path):
        raise InputError(f"Output path {path!r} is a folder: give a file name.")
    extension = os.path.splitext(path)[1]
    try:
        handle, temp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=extension, dir=folder)
    except OSError as exc:
        raise InputError(f"Cannot write to {folder!r} ({exc.strerror}): choose a writable folder.") from None
    try:
        os.close(handle)
        yield temp
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(temp, _final_mode(path))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise
    _fsync_folder(folder)
