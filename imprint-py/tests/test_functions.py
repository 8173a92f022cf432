"""imprint_rs.kmeans and imprint_rs.neural_collapse against scikit-learn and
a plain NumPy version of the paper's formulas."""

import numpy as np
import pytest
from helpers import blobs
from sklearn.cluster import KMeans

import imprint_rs


def test_kmeans_returns_a_consistent_clustering():
    X, _ = blobs(n_classes=1, n_per_class=500, dim=8, modes=6, seed=1, spread=0.2)
    result = imprint_rs.kmeans(X, 6, random_state=3)
    centroids, labels, inertia, n_iter = result
    assert centroids.shape == (6, 8) and centroids.dtype == np.float32
    assert labels.shape == (500,) and labels.dtype == np.int64
    assert 1 <= n_iter <= 300
    # Every row is labelled with its nearest centroid, and inertia is the
    # sum of squared distances to it (computed by the library in float64).
    d2 = ((X[:, None, :].astype(np.float64) - centroids[None].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, d2.argmin(axis=1))
    assert inertia == pytest.approx(d2.min(axis=1).sum(), rel=1e-6)
    # Centroids are the means of their clusters.
    for c in range(6):
        np.testing.assert_allclose(centroids[c], X[labels == c].mean(axis=0), rtol=1e-5, atol=1e-5)
    # Seeded: the same seed, the same result; None is the paper's seed.
    again = imprint_rs.kmeans(X, 6, random_state=3)
    np.testing.assert_array_equal(again.centroids, centroids)
    paper = imprint_rs.kmeans(X, 6, random_state=imprint_rs.PAPER_SEED)
    np.testing.assert_array_equal(imprint_rs.kmeans(X, 6).centroids, paper.centroids)


def test_kmeans_matches_scikit_learn_in_quality():
    X, _ = blobs(n_classes=1, n_per_class=2000, dim=16, modes=10, seed=2, spread=0.5)
    ours = imprint_rs.kmeans(X, 10, random_state=0)
    theirs = KMeans(n_clusters=10, random_state=0, n_init=1).fit(X)
    # Different random numbers, the same algorithm: separated modes give the
    # same optimum.
    assert ours.inertia == pytest.approx(theirs.inertia_, rel=1e-3)


def test_kmeans_with_one_cluster_is_the_mean():
    X, _ = blobs(n_classes=1, n_per_class=100, dim=5, seed=3)
    result = imprint_rs.kmeans(X, 1)
    np.testing.assert_allclose(result.centroids[0], X.astype(np.float64).mean(axis=0), rtol=1e-6)
    assert result.n_iter == 0 and np.all(result.labels == 0)


def _nc1_vci(X, y, centering):
    """The paper's NC1 and VCI in float64 NumPy (pseudo-inverses by pinv)."""
    X = X.astype(np.float64)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    classes = np.unique(y)
    mu_g = X.mean(axis=0)
    means = np.stack([X[y == c].mean(axis=0) for c in classes])
    d = X.shape[1]
    sw = np.zeros((d, d))
    for c, mu in zip(classes, means):
        centre = mu if centering == "paper" else mu - mu_g
        diff = X[y == c] - centre
        sw += diff.T @ diff / len(diff)
    sw /= len(classes)
    diff = means - mu_g
    sb = diff.T @ diff / len(classes)
    nc1 = np.trace(sw @ np.linalg.pinv(sb)) / len(classes)
    vci = 1 - np.trace(sb @ np.linalg.pinv(sw + sb)) / np.linalg.matrix_rank(sb)
    return nc1, vci


@pytest.mark.parametrize("centering", ["paper", "reference"])
def test_neural_collapse_matches_the_formula(centering):
    X, y = blobs(n_classes=5, n_per_class=60, dim=12, modes=2, seed=4, spread=0.8)
    labels = np.array(["a", "b", "c", "d", "e"])[y]
    nc1, vci = imprint_rs.neural_collapse(X, labels, centering=centering)
    expected_nc1, expected_vci = _nc1_vci(X, y, centering)
    assert nc1 == pytest.approx(expected_nc1, rel=1e-6)
    assert vci == pytest.approx(expected_vci, rel=1e-6, abs=1e-9)
    # Tighter classes collapse more.
    tight, y_tight = blobs(n_classes=5, n_per_class=60, dim=12, modes=1, seed=4, spread=0.05)
    assert imprint_rs.neural_collapse(tight, y_tight).nc1 < nc1
