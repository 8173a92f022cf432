"""Seeded data for the tests."""

import numpy as np


def blobs(n_classes=4, n_per_class=40, dim=16, modes=2, seed=0, spread=0.3):
    """Rows of ``n_classes`` classes with ``modes`` modes each (float32,
    C-contiguous), labels ``0..n_classes-1``, rows shuffled."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes * modes, dim))
    y = np.repeat(np.arange(n_classes), n_per_class)
    mode = rng.integers(0, modes, size=len(y))
    X = centres[y * modes + mode] + spread * rng.normal(size=(len(y), dim))
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order], dtype=np.float32), y[order]


def split(X, y, test_every=4):
    """Every ``test_every``-th row for testing, the rest for training."""
    test = np.arange(len(y)) % test_every == 0
    return X[~test], y[~test], X[test], y[test]
