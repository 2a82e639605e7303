"""The on-disk cache of the parser tables, safe against a hostile cache directory.

Building the LALR tables takes ~0.2 s, loading them ~10 ms. Lark's own cache is a pickle
at a predictable path, and unpickling runs code, so this module reads and writes the
cache itself, under these rules (threat model: docs/hardening.md):

* The directory (`$XDG_CACHE_HOME/inception-dsl`, else `~/.cache/inception-dsl`) is used
  only if it is a real directory (not a symlink), owned by the current user, and not
  writable by group or others. It is opened once (`O_DIRECTORY | O_NOFOLLOW`) and every
  file below is reached through that descriptor, so swapping the path midway changes
  nothing.
* A file is read only if it is a regular file (`O_NOFOLLOW | O_NONBLOCK`, then `fstat`:
  never a symlink, FIFO or device), owned by the user, not writable by group or others,
  and not larger than `MAX_CACHE_BYTES`; the size is enforced while reading.
* Content is verified before unpickling: the file is `MAGIC + HMAC-SHA256(key, stamp +
  payload) + payload`, with a random 32-byte key kept in the directory as `key` (mode
  0600, the same ownership rules). A planted or corrupted file fails the check and is
  never unpickled; the tables are then rebuilt and the file rewritten.
* Writes go to a fresh temporary name (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600) and
  are renamed over the cache name: a symlink planted there is replaced, never followed.

Any failure only costs the rebuild; nothing here raises. `INCEPTION_DSL_NO_CACHE=1` turns
the cache off. No torch here."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

__all__ = ["read_cache", "write_cache", "prune", "cache_directory", "MAX_CACHE_BYTES", "MAGIC"]

MAGIC = b"inception-dsl parser cache v1\n"
MAX_CACHE_BYTES = 16 * 1024 * 1024  # the tables are ~100 KiB
KEY_NAME = "key"
_KEY_BYTES = 32
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def cache_directory() -> Path | None:
    if os.environ.get("INCEPTION_DSL_NO_CACHE") or not hasattr(os, "getuid") or not hasattr(os, "O_NOFOLLOW"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "inception-dsl"


def _private(info: os.stat_result) -> bool:
    """Owned by the current user and not writable by group or others."""
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _open_directory(create: bool) -> int | None:
    directory = cache_directory()
    if directory is None:
        return None
    try:
        if create:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode) and _private(info):
        return fd
    os.close(fd)
    return None


def _read_private(directory: int, name: str, limit: int) -> bytes | None:
    """The bytes of a regular, private file in `directory`, at most `limit` of them."""
    try:
        fd = os.open(name, _FLAGS, dir_fd=directory)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not _private(info) or info.st_size > limit:
            return None
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > limit:  # grew while being read
                return None
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)


def _write_private(directory: int, name: str, data: bytes, *, replace: bool = True) -> bool:
    """Write through a fresh temporary file, then rename (or link, when not replacing)."""
    temporary = f".{name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     0o600, dir_fd=directory)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if replace:
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        else:  # the key: never replace one another process made first
            os.link(temporary, name, src_dir_fd=directory, dst_dir_fd=directory, follow_symlinks=False)
        return True
    except OSError:
        return False
    finally:
        try:
            os.unlink(temporary, dir_fd=directory)
        except OSError:
            pass


def _key(directory: int, create: bool) -> bytes | None:
    key = _read_private(directory, KEY_NAME, _KEY_BYTES)
    if key is None and create:
        _write_private(directory, KEY_NAME, secrets.token_bytes(_KEY_BYTES), replace=False)
        key = _read_private(directory, KEY_NAME, _KEY_BYTES)
    return key if key is not None and len(key) == _KEY_BYTES else None


def _mac(key: bytes, stamp: str, payload: bytes) -> bytes:
    return hmac.new(key, stamp.encode("utf-8") + b"\0" + payload, hashlib.sha256).digest()


def read_cache(name: str, stamp: str) -> bytes | None:
    """The verified payload stored under `name` for `stamp` (grammar hash and versions), or None."""
    directory = _open_directory(create=False)
    if directory is None:
        return None
    try:
        key = _key(directory, create=False)
        data = _read_private(directory, name, MAX_CACHE_BYTES)
        if key is None or data is None or not data.startswith(MAGIC):
            return None
        mac, payload = data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
        return payload if hmac.compare_digest(mac, _mac(key, stamp, payload)) else None
    finally:
        os.close(directory)


def write_cache(name: str, stamp: str, payload: bytes) -> bool:
    """Store `payload` under `name`, signed for `stamp`; False where the cache is unusable."""
    directory = _open_directory(create=True)
    if directory is None:
        return False
    try:
        key = _key(directory, create=True)
        if key is None:
            return False
        return _write_private(directory, name, MAGIC + _mac(key, stamp, payload) + payload)
    finally:
        os.close(directory)


def prune(prefix: str, keep: int) -> None:
    """Remove all but the `keep` most recently written files whose names start with `prefix`
    (language/caches/large_file_parses.py keeps a few parsed files; the tables are never pruned)."""
    directory = _open_directory(create=False)
    if directory is None:
        return
    try:
        found = []
        for name in os.listdir(directory):
            if name.startswith(prefix):
                try:
                    found.append((os.stat(name, dir_fd=directory, follow_symlinks=False).st_mtime_ns, name))
                except OSError:
                    continue
        for _, name in sorted(found, reverse=True)[keep:]:
            try:
                os.unlink(name, dir_fd=directory)
            except OSError:
                pass
    finally:
        os.close(directory)
