"""Shared fixtures: where the real example CTs live, and a skip when they are absent."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "totalseg_example"


@pytest.fixture(scope="session")
def totalseg_example() -> Path:
    """../shared/data/totalseg_example, or a skip saying it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real example CTs not available: {SHARED_DATA} is absent")
    return SHARED_DATA
