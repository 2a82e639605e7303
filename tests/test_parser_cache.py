"""The on-disk parser cache (parse._cache_file): made per user, used when present, and
never a reason to fail: an unusable cache directory only costs the rebuild."""

from __future__ import annotations

import pytest

import os
import subprocess
import sys

from .conftest import ROOT

CHECK = [sys.executable, "-m", "inception_dsl", "check", str(ROOT / "specs" / "v4.incp")]


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


# -- a hostile cache directory (issue 13, family 2) ---------------------------------
EVIL = b"cos\nsystem\n(S'touch PWNED_BY_CACHE'\ntR."  # a pickle that runs a shell command when loaded


def _cache_file(cache_home):
    (cache,) = (cache_home / "inception-dsl").glob("grammar-*.lark-cache")
    return cache


def _signed(cache_home, payload: bytes) -> bytes:
    """A cache file with a valid keyed hash over `payload` (what only the user can make)."""
    import hmac

    from inception_dsl.language.caches import parser_tables

    data = _cache_file(cache_home).read_bytes()[len(parser_tables.MAGIC) + 32:]
    assert data  # the real payload, to learn nothing from: the stamp is recomputed below
    key = (cache_home / "inception-dsl" / "key").read_bytes()
    import lark

    grammar = (ROOT / "inception_dsl" / "language" / "grammar.lark").read_bytes()
    import hashlib

    stamp = f"{hashlib.sha256(grammar).hexdigest()}-lark{lark.__version__}-py{sys.version_info[0]}.{sys.version_info[1]}"
    mac = hmac.new(key, stamp.encode() + b"\0" + payload, hashlib.sha256).digest()
    return parser_tables.MAGIC + mac + payload


def _checks_without_running(cache_home, tmp_path) -> None:
    done = subprocess.run(CHECK, cwd=tmp_path, env={**os.environ, "XDG_CACHE_HOME": str(cache_home),
                                                    "INCEPTION_DSL_NO_CACHE": ""},
                          capture_output=True, text=True, timeout=120, input="")
    assert not (tmp_path / "PWNED_BY_CACHE").exists(), "the planted pickle ran"
    assert done.returncode == 0 and "384x35x35" in done.stdout, done.stderr


def test_control_a_signed_file_in_a_private_directory_is_what_gets_loaded(tmp_path):
    """The control for the tests below: their planted pickle does run when it is trusted."""
    assert run_with_cache_home(tmp_path).returncode == 0
    _cache_file(tmp_path).write_bytes(_signed(tmp_path, EVIL))
    subprocess.run(CHECK, cwd=tmp_path, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path), "INCEPTION_DSL_NO_CACHE": ""},
                   capture_output=True, timeout=120)
    assert (tmp_path / "PWNED_BY_CACHE").exists()


def test_an_unsigned_pickle_planted_at_the_cache_path_is_never_loaded(tmp_path):
    assert run_with_cache_home(tmp_path).returncode == 0
    cache = _cache_file(tmp_path)
    cache.write_bytes(EVIL)
    _checks_without_running(tmp_path, tmp_path)
    assert cache.read_bytes().startswith(b"inception-dsl parser cache")  # rebuilt and re-signed


def test_a_pickle_with_a_forged_hash_is_never_loaded(tmp_path):
    from inception_dsl.language.caches import parser_tables

    assert run_with_cache_home(tmp_path).returncode == 0
    _cache_file(tmp_path).write_bytes(parser_tables.MAGIC + b"\0" * 32 + EVIL)
    _checks_without_running(tmp_path, tmp_path)


@pytest.mark.slow
def test_a_world_or_group_writable_cache_directory_is_not_used(tmp_path):
    assert run_with_cache_home(tmp_path).returncode == 0
    cache = _cache_file(tmp_path)
    cache.write_bytes(_signed(tmp_path, EVIL))  # even a validly signed file: others could have planted it
    for mode in (0o777, 0o770, 0o722):
        os.chmod(tmp_path / "inception-dsl", mode)
        _checks_without_running(tmp_path, tmp_path)
        assert cache.read_bytes().endswith(EVIL)  # not written there either


@pytest.mark.slow
def test_a_cache_file_or_key_owned_by_someone_else_or_writable_by_others_is_not_used(tmp_path):
    assert run_with_cache_home(tmp_path).returncode == 0
    cache, key = _cache_file(tmp_path), tmp_path / "inception-dsl" / "key"
    cache.write_bytes(_signed(tmp_path, EVIL))
    os.chmod(cache, 0o666)
    _checks_without_running(tmp_path, tmp_path)
    cache.write_bytes(_signed(tmp_path, EVIL))  # the rebuild replaced it; plant again
    os.chmod(cache, 0o600)
    os.chmod(key, 0o666)
    _checks_without_running(tmp_path, tmp_path)
    if os.getuid() == 0:  # only root can hand a file to another user
        os.chmod(key, 0o600)
        cache.write_bytes(_signed(tmp_path, EVIL))
        os.chown(cache, 65534, 65534)
        _checks_without_running(tmp_path, tmp_path)
        os.chown(tmp_path / "inception-dsl", 65534, 65534)
        _checks_without_running(tmp_path, tmp_path)


@pytest.mark.slow
def test_symlinks_are_never_followed_for_reading_or_writing(tmp_path):
    assert run_with_cache_home(tmp_path).returncode == 0
    cache = _cache_file(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = tmp_path / "planted"
    planted.write_bytes(_signed(tmp_path, EVIL))
    cache.unlink()
    cache.symlink_to(planted)  # reading through it would load the signed pickle
    _checks_without_running(tmp_path, tmp_path)
    assert not cache.is_symlink()  # replaced by a regular file, the link's target untouched
    assert planted.read_bytes().endswith(EVIL)
    cache.unlink()
    cache.symlink_to(victim)
    _checks_without_running(tmp_path, tmp_path)
    assert victim.read_text() == "precious\n" and not cache.is_symlink()
    # the cache directory itself a symlink to somewhere else: not used
    real = tmp_path / "inception-dsl"
    os.rename(real, tmp_path / "elsewhere")
    real.symlink_to(tmp_path / "elsewhere")
    _checks_without_running(tmp_path, tmp_path)


@pytest.mark.slow
def test_a_fifo_or_device_at_the_cache_path_does_not_hang(tmp_path):
    assert run_with_cache_home(tmp_path).returncode == 0
    cache = _cache_file(tmp_path)
    cache.unlink()
    os.mkfifo(cache)
    _checks_without_running(tmp_path, tmp_path)  # subprocess timeout guards the hang
    key = tmp_path / "inception-dsl" / "key"
    key.unlink()
    key.symlink_to("/dev/zero")
    _checks_without_running(tmp_path, tmp_path)
