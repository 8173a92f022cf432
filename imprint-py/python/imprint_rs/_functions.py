"""Functions for researchers: k-means and neural collapse."""

import numbers
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

from . import _core, _labels
from ._estimator import _seed


class KMeansResult(NamedTuple):
    """The result of :func:`kmeans`."""

    centroids: np.ndarray
    """``(k, n_features)`` float32 cluster centres."""
    labels: np.ndarray
    """``(n_samples,)`` int64 cluster of every row (its nearest centroid)."""
    inertia: float
    """Sum of squared distances of the rows to their centroid (float64)."""
    n_iter: int
    """Lloyd iterations run (0 for ``k = 1``, solved in closed form)."""


class NeuralCollapse(NamedTuple):
    """The result of :func:`neural_collapse`."""

    nc1: float
    """``Tr(Sigma_W Sigma_B^+) / C`` (paper eq. 1); 0 means collapsed classes."""
    vci: float
    """Variability collapse index ``1 - Tr(Sigma_B (Sigma_W + Sigma_B)^+) / rank(Sigma_B)``."""


def _float32(X):
    return check_array(X, dtype=np.float32, order="C", ensure_all_finite=False, input_name="X")


def kmeans(X, k, random_state=None):
    """k-means with scikit-learn's ``KMeans(n_clusters=k, random_state=seed)``
    semantics: greedy k-means++ (``2 + floor(ln k)`` candidates per centre),
    one initialization, Lloyd iterations (at most 300, until the labels no
    longer change or the centroid shift is below 1e-4 of the mean feature
    variance), empty clusters re-seeded from the farthest points.

    This is the ``kmeans`` proxy generator of imprint-rs: ``kmeans(X, k, s)``
    gives the proxies that class 0 of a head with seed ``s`` gets from ``X``
    before normalization. Its random numbers differ from scikit-learn's, so
    centroids match scikit-learn's in quality, not bit for bit.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k : int
        Clusters, at most ``n_samples``.
    random_state : None, int, RandomState or Generator, default=None
        ``None`` is the paper's seed 17121997.

    Returns
    -------
    KMeansResult
        ``(centroids, labels, inertia, n_iter)``. A :class:`~sklearn.exceptions.ConvergenceWarning`
        is issued when ``max_iter`` iterations did not converge.
    """
    X = _float32(X)
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k < 2**63:
        raise ValueError(f"k must be a positive int below 2**63, got {k!r}")
    centroids, labels, inertia, n_iter, converged = _core.kmeans(X, int(k), _seed(random_state))
    if not converged:
        warnings.warn(
            f"k-means did not converge in {n_iter} iterations", ConvergenceWarning, stacklevel=2
        )
    return KMeansResult(centroids, labels, inertia, n_iter)


def neural_collapse(X, y, centering="paper"):
    """Neural-collapse measures of labelled embeddings, on their
    L2-normalized rows: NC1 (the paper's eq. 1) and VCI.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        At least two classes.
    centering : {"paper", "reference"}, default="paper"
        ``"paper"`` centres each class on its mean; ``"reference"`` uses the
        reference code's ``mu_c - mu_G``, which adds ``mu_G mu_G^T`` to the
        within-class scatter (for comparison with its numbers).

    Returns
    -------
    NeuralCollapse
        ``(nc1, vci)``.
    """
    X = _float32(X)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != X.shape[0]:
        raise ValueError(
            f"y must be one label per row of X: {X.shape[0]} rows, y of shape {y.shape}"
        )
    classes, codes = _labels.unique_labels(y)
    if not isinstance(centering, str):
        raise ValueError(f"centering must be 'paper' or 'reference', got {centering!r}")
    nc1, vci, _rank = _core.neural_collapse(X, codes, len(classes), centering)
    return NeuralCollapse(nc1, vci)
