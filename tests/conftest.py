"""Fixtures shared by the library and toolchain tests."""

import pytest

from tinytorch.core.data import load_digits


@pytest.fixture(scope="session")
def digits():
    """The shipped digits with their fixed split; tests only read it."""
    return load_digits()
