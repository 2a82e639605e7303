"""The one way the tools open a file they read: specs and imports, parameter and grid
files (YAML), `render --heat-from`, weights (`--weights`, `pretrained=`, `weights=`), the
lint configuration.

* The path is opened non-blocking and without a controlling terminal, and what was opened
  is checked with `fstat` of the descriptor, not of the name: only a regular file is read,
  so a FIFO (which would block forever), a device (`/dev/zero`, endless), a socket or a
  directory, also behind a symlink, is refused at once, and no race between checking and
  opening can swap the file.
* A file whose size is over the limit is refused before a byte is read; no more than the
  limit, and no more than the size fstat reported, is ever read (a file that grows while
  it is read stays bounded; a pseudo-file that reports size 0, like /proc/self/environ,
  reads as empty).

Failures are `FileRefused` (an OSError) with a message that names the file and says why;
callers turn it into their diagnostic or usage error."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ["FileRefused", "open_regular", "read_regular", "regular_file", "kind_of_mode"]

_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
          | getattr(os, "O_BINARY", 0))


class FileRefused(OSError):
    """A file that is not read: `reason` is one of "missing", "kind", "size", "error"."""

    def __init__(self, display: str, message: str, reason: str):
        super().__init__(message)
        self.display, self.message, self.reason = display, message, reason

    def __str__(self) -> str:
        return self.message


def kind_of_mode(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def open_regular(path: str | Path, max_bytes: int | None = None) -> tuple[int, int]:
    """(descriptor, size) of a regular file at most `max_bytes` long; FileRefused otherwise.
    The caller closes the descriptor."""
    display = str(path)
    if "\x00" in display:
        raise FileRefused(display, "a file name cannot contain a NUL character", "missing")
    try:
        fd = os.open(path, _FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise FileRefused(display, f"cannot find `{display}`", "missing") from None
    except (OSError, ValueError) as error:
        raise FileRefused(display, f"cannot read `{display}`: {getattr(error, 'strerror', None) or error}",
                          "error") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(display, f"cannot read `{display}`: {kind_of_mode(info.st_mode)}, not a regular file",
                              "kind")
        if max_bytes is not None and info.st_size > max_bytes:
            raise FileRefused(display, f"`{display}` is {info.st_size} bytes, over the limit of {max_bytes}", "size")
        os.set_blocking(fd, True)  # a regular file: reads never block anyway
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see the module's rules)."""
    fd, size = open_regular(path, max_bytes)
    try:
        chunks, left = [], min(size, max_bytes)
        while left > 0 and (chunk := os.read(fd, min(1 << 20, left))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise FileRefused(str(path), f"cannot read `{path}`: {error.strerror or error}", "error") from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def regular_file(path: str | Path, max_bytes: int | None = None) -> Iterator[BinaryIO]:
    """A binary file object of a regular file (for readers that want one, torch.load)."""
    fd, _ = open_regular(path, max_bytes)
    with os.fdopen(fd, "rb") as handle:
        yield handle
