"""The on-disk parser cache (parse._cache_file): made per user, used when present, and
never a reason to fail: an unusable cache directory only costs the rebuild."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import ROOT

CHECK = [sys.executable, "-m", "inception_dsl", "check", "specs/v4.incp"]


def run_with_cache_home(cache_home, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "INCEPTION_DSL_NO_CACHE"}
    env.update(XDG_CACHE_HOME=str(cache_home), **extra)
    return subprocess.run(CHECK, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_cache_is_written_in_a_private_directory_and_reused(tmp_path):
    first = run_with_cache_home(tmp_path)
    assert first.returncode == 0, first.stderr
    directory = tmp_path / "inception-dsl"
    (cache,) = directory.glob("grammar-*.lark-cache")
    assert directory.stat().st_mode & 0o077 == 0  # not readable or writable by others
    written = cache.stat().st_mtime_ns
    second = run_with_cache_home(tmp_path)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert cache.stat().st_mtime_ns == written  # loaded, not rebuilt


def test_unusable_cache_directory_still_checks(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go\n")
    done = run_with_cache_home(blocker)
    assert done.returncode == 0 and "384x35x35" in done.stdout, done.stderr


def test_corrupt_cache_file_is_rebuilt(tmp_path):
    assert run_with_cache_home(tmp_path).returncode == 0
    (cache,) = (tmp_path / "inception-dsl").glob("grammar-*.lark-cache")
    cache.write_bytes(b"not a pickle")
    done = run_with_cache_home(tmp_path)
    assert done.returncode == 0 and "384x35x35" in done.stdout and not done.stderr, done.stderr


def test_cache_can_be_turned_off(tmp_path):
    done = run_with_cache_home(tmp_path, INCEPTION_DSL_NO_CACHE="1")
    assert done.returncode == 0
    assert not (tmp_path / "inception-dsl").exists()
