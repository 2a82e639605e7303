"""Shared test helpers: golden files and paths.

Golden files are plain text stored next to their inputs; `pytest --update-goldens`
rewrites them (review the diff), CI never does."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
CASES = Path(__file__).resolve().parent / "cases"


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files instead of comparing")


def pytest_collection_modifyitems(config, items):
    """The long fuzz profiles are slow too: `-m "not slow"` (the inner loop) leaves them out."""
    for item in items:
        if item.get_closest_marker("fuzz") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def golden(request):
    """golden(path, actual): compare `actual` with the file at `path` (or rewrite it)."""
    update = request.config.getoption("--update-goldens")

    def check(path: Path, actual: str) -> None:
        path = Path(path)
        if update or not path.exists():
            if not update:
                pytest.fail(f"golden file {path} is missing; run pytest --update-goldens and review it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8", newline="\n")
            return
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from {path.relative_to(ROOT)} (pytest --update-goldens to accept)"

    return check
