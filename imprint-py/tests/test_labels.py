"""Integer labels a head cannot hold are refused with their value named;
distinct labels never become one class, whatever their integer dtypes."""

import numpy as np
import pytest
from helpers import blobs

from imprint_rs import ImprintClassifier

X, Y = blobs(n_classes=4, n_per_class=6, dim=5, seed=1)
BIG = 2**53  # the first integer above which float64 skips integers
TOP = 2**63 - 1  # the largest label a head holds


def mean():
    return ImprintClassifier(generator="mean")


@pytest.mark.parametrize(
    "labels",
    [
        np.array([2**63, 2**63 + 1], dtype=np.uint64),
        [2**63, 2**63 + 1],
        [-1, 2**63],
        [1, 2**64 + 1],
        np.array([1, 2**63 + 1], dtype=object),
    ],
    ids=["uint64", "python-ints", "python-ints-mixed-sign", "beyond-uint64", "object"],
)
def test_labels_beyond_int64_are_refused_with_the_label_named(labels):
    rows = np.repeat(np.arange(len(labels)), 2)
    y = [labels[i] for i in rows] if isinstance(labels, list) else labels[rows]
    culprit = next(int(v) for v in labels if not -(2**63) <= int(v) <= TOP)
    with pytest.raises(ValueError, match=f"label {culprit} does not fit in a 64-bit signed integer"):
        mean().fit(X[: len(y)], y)
    fitted = mean().fit(X[:4], [0, 0, 1, 1])
    with pytest.raises(ValueError, match=f"label {culprit}"):
        fitted.partial_fit(X[: len(y)], y)


def test_the_largest_labels_a_head_holds_stay_distinct():
    y = np.array([TOP, TOP - 1, TOP, TOP - 1], dtype=np.uint64)
    clf = mean().fit(X[:4], y)
    assert clf.classes_.tolist() == [TOP - 1, TOP]
    assert clf._core.classes() == [TOP - 1, TOP]


def test_partial_fit_of_another_integer_dtype_keeps_labels_exact():
    # int64 classes_ with uint64 labels: NumPy would merge them as float64,
    # where BIG and BIG + 1 are one number.
    clf = mean().fit(X[:4], np.array([BIG, BIG, 0, 0], dtype=np.int64))
    clf.partial_fit(X[4:6], np.array([BIG + 1, BIG + 1], dtype=np.uint64))
    assert clf.classes_.tolist() == [0, BIG, BIG + 1]
    assert clf.classes_.dtype == np.int64
    assert clf._core.classes() == [0, BIG, BIG + 1]
    assert clf.n_proxies_.tolist() == [1, 1, 1]
    assert clf.predict(X[4:6]).tolist() == [BIG + 1, BIG + 1]
    # uint64 classes_ with int64 labels, likewise.
    clf = mean().fit(X[:4], np.array([BIG, BIG, 1, 1], dtype=np.uint64))
    clf.partial_fit(X[4:6], np.array([-1, -1]))
    assert clf.classes_.tolist() == [-1, 1, BIG]
    with pytest.raises(ValueError, match=f"label {2**63} does not fit"):
        clf.partial_fit(X[4:6], np.array([2**63, 2**63], dtype=np.uint64))
    assert clf.classes_.tolist() == [-1, 1, BIG]


def test_integers_that_float_labels_cannot_hold_exactly_are_refused():
    clf = mean().fit(X[:4], np.array([BIG + 1, BIG + 1, 0, 0]))
    with pytest.raises(ValueError, match=f"label {BIG + 1} cannot be held exactly"):
        clf.partial_fit(X[4:6], np.array([2.0, 2.0]))
    assert clf.classes_.tolist() == [0, BIG + 1]


def test_partial_fit_classes_are_compared_exactly():
    clf = mean().fit(X[:4], np.array([0, 0, 1, 1], dtype=np.int64))
    with pytest.raises(ValueError, match=r"labels \[9007199254740993\] are not in `classes`"):
        clf.partial_fit(
            X[4:6], np.array([BIG + 1] * 2, dtype=np.uint64), classes=np.array([0, 1, BIG], np.int64)
        )
    clf.partial_fit(X[4:6], np.array([BIG + 1] * 2, dtype=np.uint64), classes=[0, 1, BIG + 1])
    assert clf.classes_.tolist() == [0, 1, BIG + 1]


def test_calibration_labels_are_compared_exactly():
    y = np.array([TOP, TOP, TOP, 0, 0, 0], dtype=np.int64)
    clf = mean().fit(X[:6], y)
    # 2**63 is not a class, though as float64 it equals the class 2**63 - 1.
    with pytest.raises(ValueError, match="every label must be a class"):
        clf.calibrate_temperature(X[:6], y.astype(np.uint64) + np.uint64(1) * (y > 0))
    report = clf.calibrate_temperature(X[:6], y.astype(np.uint64))
    assert report["n"] == 6
