"""ImprintClassifier: fitting, labels, exact updates, probabilities,
open-set prediction, pickling, saving and scikit-learn composition."""

import os
import pickle
import threading
import time
import tracemalloc

import joblib
import numpy as np
import pytest
from helpers import blobs, split
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

import imprint_rs
from imprint_rs import ImprintClassifier


def test_fit_predict_score_with_the_paper_defaults():
    X, y = blobs(n_classes=5, n_per_class=60, dim=24, modes=3, seed=1)
    Xtr, ytr, Xte, yte = split(X, y)
    clf = ImprintClassifier().fit(Xtr, ytr)
    assert clf.get_params()["generator"] == "kmeans" and clf.get_params()["k"] == 20
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    assert clf.n_features_in_ == 24
    # Classes have 45 training rows: k = 20 proxies each.
    np.testing.assert_array_equal(clf.n_proxies_, np.full(5, 20))
    assert clf.score(Xte, yte) > 0.95
    pred = clf.predict(Xte)
    assert pred.dtype == ytr.dtype and pred.shape == yte.shape
    # The recipe travels with the head.
    assert clf._core.recipe()["describe"] == (
        "l2 / kmeans k=20 / l2 / l2 / max (inner_product), seed 17121997"
    )


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "fox"]),
        np.array(["cat", "dog", "fox"], dtype=object),
        np.array([-3, 7, 100]),
        np.array([0.0, 1.0, 2.0]),
    ],
    ids=["str", "object-str", "int", "float"],
)
def test_labels_of_every_kind_come_back_unchanged(labels):
    X, codes = blobs(n_classes=3, seed=2)
    y = labels[codes]
    clf = ImprintClassifier(generator="mean").fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    pred = clf.predict(X)
    assert pred.dtype == clf.classes_.dtype
    assert np.mean(pred == y) > 0.9


def test_string_labels_are_saved_as_text_and_integers_as_integers(tmp_path):
    X, codes = blobs(n_classes=3, seed=3)
    text = ImprintClassifier(generator="mean").fit(X, np.array(["b", "a", "c"])[codes])
    assert text._core.classes() == ["a", "b", "c"]
    ints = ImprintClassifier(generator="mean").fit(X, codes * 10)
    assert ints._core.classes() == [0, 10, 20]
    ints.save(tmp_path / "h.safetensors")
    loaded = imprint_rs.load(tmp_path / "h.safetensors")
    assert loaded.classes_.dtype == np.int64


def test_k_larger_than_a_class_keeps_all_its_samples():
    X, y = blobs(n_classes=3, n_per_class=30, seed=4)
    keep = (y != 2) | (np.cumsum(y == 2) <= 3)  # class 2 keeps 3 rows
    clf = ImprintClassifier(k=20).fit(X[keep], y[keep])
    np.testing.assert_array_equal(clf.n_proxies_, [20, 20, 3])
    # A single class works too: it is predicted everywhere.
    one = ImprintClassifier().fit(X[:5], np.zeros(5, dtype=int))
    np.testing.assert_array_equal(one.predict(X), np.zeros(len(X), dtype=int))
    np.testing.assert_allclose(one.predict_proba(X), 1.0)


@pytest.mark.parametrize("generator", ["kmeans", "mean", "random", "kmedoids", "all"])
def test_partial_fit_in_batches_equals_fit_at_once(generator):
    X, y = blobs(n_classes=3, n_per_class=50, seed=5)
    once = ImprintClassifier(generator=generator, k=4).fit(X, y)
    grown = ImprintClassifier(generator=generator, k=4)
    # The first batch has every class; the others add shots to known classes.
    for part in np.array_split(np.arange(len(y)), 3):
        grown.partial_fit(X[part], y[part], classes=[0, 1, 2])
    if generator == "all":
        # `all` keeps every row: the same proxies, grouped by batch.
        np.testing.assert_array_equal(grown.n_proxies_, once.n_proxies_)
    else:
        assert grown._core == once._core
    np.testing.assert_array_equal(grown.predict(X), once.predict(X))


def test_partial_fit_adds_classes_and_keeps_classes_sorted():
    X, y = blobs(n_classes=4, n_per_class=40, seed=6)
    labels = np.array(["d", "c", "b", "a"])[y]
    clf = ImprintClassifier(generator="mean")
    first = np.isin(labels, ["c", "d"])
    clf.partial_fit(X[first], labels[first])
    clf.partial_fit(X[~first], labels[~first])
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c", "d"])
    # The head imprinted c, d first, then a, b.
    assert clf._core.classes() == ["c", "d", "a", "b"]
    # Mean proxies do not depend on order: scores equal a fit at once,
    # column for column in classes_ order.
    once = ImprintClassifier(generator="mean").fit(X, labels)
    np.testing.assert_array_equal(clf.decision_function(X), once.decision_function(X))
    np.testing.assert_array_equal(clf.predict_proba(X), once.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), once.predict(X))
    np.testing.assert_array_equal(clf.n_proxies_, [1, 1, 1, 1])


def test_partial_fit_checks_labels_and_features():
    X, y = blobs(n_classes=3, seed=7)
    clf = ImprintClassifier(generator="mean").partial_fit(X, y)
    with pytest.raises(ValueError, match="kind"):
        clf.partial_fit(X, np.array(["a"] * len(y)))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :-1], y)
    with pytest.raises(ValueError, match="not in `classes`"):
        ImprintClassifier().partial_fit(X, y, classes=[0, 1])


def test_probabilities_and_decision_function():
    X, y = blobs(n_classes=4, seed=8)
    clf = ImprintClassifier(generator="kmeans", k=5).fit(X, y)
    p = clf.predict_proba(X)
    assert p.shape == (len(y), 4) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(clf.classes_[p.argmax(axis=1)], clf.predict(X))
    s = clf.decision_function(X)
    np.testing.assert_array_equal(clf.classes_[s.argmax(axis=1)], clf.predict(X))
    # Scores are the largest cosine similarity to a class's proxies.
    assert np.all(s <= 1.0 + 1e-6) and np.all(s >= -1.0 - 1e-6)
    np.testing.assert_allclose(np.log(p), clf.predict_log_proba(X), rtol=1e-6)
    # Two classes: the margin of class 1 over class 0.
    two = y < 2
    binary = ImprintClassifier(k=5).fit(X[two], y[two])
    margin = binary.decision_function(X[two])
    assert margin.shape == (two.sum(),)
    np.testing.assert_array_equal(binary.classes_[(margin > 0).astype(int)], binary.predict(X[two]))


def test_temperature_calibration_sharpens_probabilities():
    X, y = blobs(n_classes=3, seed=9)
    Xtr, ytr, Xte, yte = split(X, y)
    clf = ImprintClassifier(generator="mean").fit(Xtr, ytr)
    before = clf.predict_proba(Xte).max(axis=1).mean()
    report = clf.calibrate_temperature(Xte, yte)
    assert report["n"] == len(yte) and report["nll_after"] <= report["nll_before"]
    assert clf._core.temperature() == pytest.approx(report["temperature"])
    # Well separated classes: the fitted temperature is below 1 (sharper).
    assert report["temperature"] < 1.0
    assert clf.predict_proba(Xte).max(axis=1).mean() > before
    with pytest.raises(ValueError, match="class of the classifier"):
        clf.calibrate_temperature(Xte, yte + 10)


def test_mnn_and_distances():
    X, y = blobs(n_classes=3, seed=10)
    Xtr, ytr, Xte, yte = split(X, y)
    for kwargs in [
        dict(generator="all", k=None, aggregation="mnn", m=5, distance="euclidean"),
        dict(generator="all", k=-1, aggregation="mnn", m=3, distance="cosine", weighting="weighted_by_distance"),
        dict(generator="kmeans", k=5, aggregation="max", distance="euclidean"),
        # Mahalanobis needs more proxies than features (its VI inverts their covariance).
        dict(generator="all", k=None, aggregation="mnn", m=2, distance="mahalanobis"),
    ]:
        clf = ImprintClassifier(**kwargs).fit(Xtr, ytr)
        assert clf.score(Xte, yte) > 0.8, kwargs
        if kwargs["aggregation"] == "mnn":
            # m-nn scores are vote shares.
            np.testing.assert_allclose(clf.decision_function(Xte).sum(axis=1), 1.0, atol=1e-5)


def test_oracles_need_ridge():
    X, y = blobs(n_classes=3, seed=11)
    clf = ImprintClassifier(generator="ls", ridge=0.1).fit(X, y)
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="lambda"):
        ImprintClassifier(generator="ls").fit(X, y)


def test_predict_open_rejects_far_rows():
    X, y = blobs(n_classes=4, n_per_class=80, seed=12, spread=0.2)
    known = y < 3
    clf = ImprintClassifier(k=5, reject_tpr=0.95).fit(X[known], y[known])
    assert clf.rejection_thresholds_.shape == (3,)
    open_pred = clf.predict_open(X)
    # Most rows of known classes are accepted, most of the fourth class rejected.
    assert np.mean(open_pred[known] == y[known]) > 0.85
    assert np.mean(open_pred[~known] == -1) > 0.85
    # Accepted rows get the closed-set prediction.
    accepted = open_pred != -1
    np.testing.assert_array_equal(open_pred[accepted], clf.predict(X)[accepted])
    # String classes: "unknown" by default; any other marker on request.
    text = ImprintClassifier(k=5, reject_tpr=0.95).fit(X[known], np.array(["a", "b", "c", "d"])[y[known]])
    assert set(text.predict_open(X[~known]).tolist()) <= {"a", "b", "c", "unknown"}
    assert "?" in text.predict_open(X[~known], unknown="?").tolist()
    with pytest.raises(ValueError, match="is a class label"):
        text.predict_open(X, unknown="a")
    with pytest.raises(ValueError, match="reject_tpr"):
        ImprintClassifier(k=5).fit(X, y).predict_open(X)
    # Thresholds follow exact updates: a new class is calibrated from its rows.
    clf.partial_fit(X[~known], y[~known])
    assert clf.rejection_thresholds_.shape == (4,)
    assert np.mean(clf.predict_open(X[~known]) == 3) > 0.85


@pytest.mark.parametrize("labels", [None, np.array(["x", "y", "z"])])
def test_pickle_round_trip_keeps_the_head_exactly(labels):
    X, y = blobs(n_classes=3, seed=13)
    if labels is not None:
        y = labels[y]
    clf = ImprintClassifier(k=4, reject_tpr=0.9).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert again._core == clf._core
    np.testing.assert_array_equal(again.classes_, clf.classes_)
    np.testing.assert_array_equal(again.predict_open(X), clf.predict_open(X))
    assert again.get_params() == clf.get_params()
    # It keeps learning exactly like the original.
    clf.partial_fit(X[:10], y[:10])
    again.partial_fit(X[:10], y[:10])
    assert again._core == clf._core
    # Unfitted estimators pickle too.
    assert pickle.loads(pickle.dumps(ImprintClassifier(k=3))).k == 3


def test_clone_pipeline_grid_search_and_cross_validation_in_parallel():
    X, y = blobs(n_classes=3, n_per_class=40, dim=20, seed=14)
    clf = ImprintClassifier(generator="mean").fit(X, y)
    fresh = clone(clf)
    assert not hasattr(fresh, "classes_") and fresh.get_params() == clf.get_params()
    pipe = make_pipeline(PCA(n_components=8, random_state=0), ImprintClassifier(k=5))
    assert pipe.fit(X, y).score(X, y) > 0.9
    grid = GridSearchCV(
        ImprintClassifier(),
        {"generator": ["mean", "kmeans"], "k": [2, 5]},
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    assert grid.best_score_ > 0.9 and len(grid.cv_results_["params"]) == 4
    parallel = cross_val_score(ImprintClassifier(k=5), X, y, cv=4, n_jobs=2)
    serial = cross_val_score(ImprintClassifier(k=5), X, y, cv=4, n_jobs=1)
    np.testing.assert_array_equal(parallel, serial)
    # Threads share the process: the estimators compute with the GIL released.
    with joblib.parallel_backend("threading", n_jobs=2):
        threads = cross_val_score(ImprintClassifier(k=5), X, y, cv=4, n_jobs=2)
    np.testing.assert_array_equal(threads, serial)


def test_save_and_load_round_trip_atomically(tmp_path):
    X, y = blobs(n_classes=3, seed=15)
    clf = ImprintClassifier(
        generator="kmeans", k=3, aggregation="mnn", m=3, distance="euclidean", random_state=5, reject_tpr=0.9
    ).fit(X, np.array(["a", "b", "c"])[y])
    path = tmp_path / "head.safetensors"
    path.write_bytes(b"an older file")
    clf.save(path)
    assert os.listdir(tmp_path) == ["head.safetensors"], "no temporary file is left behind"
    loaded = imprint_rs.load(str(path))
    assert loaded._core == clf._core
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_open(X), clf.predict_open(X))
    # The paper's seed loads as random_state=None.
    default = ImprintClassifier(generator="mean").fit(X, y)
    default.save(path)
    assert imprint_rs.load(path).random_state is None
    # A loaded head keeps learning exactly like the one in memory.
    default.partial_fit(X[:7], y[:7])
    reloaded = imprint_rs.load(path).partial_fit(X[:7], y[:7])
    assert reloaded._core == default._core


def test_saving_into_a_missing_folder_fails_and_writes_nothing(tmp_path):
    X, y = blobs(n_classes=2, seed=16)
    clf = ImprintClassifier(generator="mean").fit(X, y)
    with pytest.raises(OSError):
        clf.save(tmp_path / "missing" / "head.safetensors")
    assert os.listdir(tmp_path) == []


def test_loading_bad_files_raises_value_or_os_errors(tmp_path):
    X, y = blobs(n_classes=2, seed=17)
    path = tmp_path / "head.safetensors"
    ImprintClassifier(generator="mean").fit(X, y).save(path)
    data = path.read_bytes()
    with pytest.raises(FileNotFoundError):
        imprint_rs.load(tmp_path / "none.safetensors")
    for bad in [b"", b"not a head", data[: len(data) // 2], data[:8] + b"\xff" * 32 + data[40:]]:
        path.write_bytes(bad)
        with pytest.raises(ValueError, match="saved head"):
            imprint_rs.load(path)


def test_random_state():
    X, y = blobs(n_classes=3, n_per_class=60, seed=18)
    default = ImprintClassifier(k=5).fit(X, y)
    paper = ImprintClassifier(k=5, random_state=imprint_rs.PAPER_SEED).fit(X, y)
    other = ImprintClassifier(k=5, random_state=1).fit(X, y)
    assert default._core == paper._core
    assert default._core != other._core
    assert ImprintClassifier(k=5, random_state=np.random.RandomState(0)).fit(X, y).score(X, y) > 0.9
    assert ImprintClassifier(k=5, random_state=np.random.default_rng(0)).fit(X, y).score(X, y) > 0.9


def test_float32_c_contiguous_input_is_not_copied_and_other_layouts_convert():
    X, y = blobs(n_classes=3, n_per_class=2000, dim=64, seed=19)
    clf = ImprintClassifier(generator="mean").fit(X, y)
    expected = clf.predict(X)
    # NumPy reports its allocations to tracemalloc (the library's are Rust's
    # and not traced): a copy of X would be X.nbytes.
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        tracemalloc.start()
        method(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < X.nbytes / 4, (method.__name__, peak, X.nbytes)
    tracemalloc.start()
    ImprintClassifier(generator="mean").fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < X.nbytes / 2, peak
    # float64, Fortran order, a strided view and a list all convert.
    for other in (X.astype(np.float64), np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2], X[:50].tolist()):
        np.testing.assert_array_equal(clf.predict(other), expected[: len(other)])


def test_the_gil_is_released_during_computation():
    X, y = blobs(n_classes=10, n_per_class=3000, dim=128, seed=20)
    clf = ImprintClassifier(generator="all", k=None, aggregation="mnn", m=5, distance="euclidean").fit(X, y)
    Q = X[:4000]
    done = threading.Event()
    span = []

    def work():
        start = time.perf_counter()
        clf.predict(Q)
        span.append(time.perf_counter() - start)
        done.set()

    thread = threading.Thread(target=work)
    thread.start()
    # The main thread runs Python while the worker predicts. Had the worker
    # held the GIL through the computation, the loop would stall for all of it.
    last, longest_stall = time.perf_counter(), 0.0
    while not done.is_set():
        now = time.perf_counter()
        longest_stall = max(longest_stall, now - last)
        last = now
    thread.join()
    assert span[0] > 0.2, "the prediction must take long enough to tell"
    assert longest_stall < span[0] / 3, (longest_stall, span[0])


def test_reference_rng_mode_fits_updates_exactly_and_travels_with_the_head(tmp_path):
    X, y = blobs(n_classes=3, n_per_class=50, seed=21)
    portable = ImprintClassifier(k=4).fit(X, y)
    reference = ImprintClassifier(k=4, rng="reference").fit(X, y)
    assert reference._core.recipe()["rng"] == "reference"
    assert portable._core.recipe()["rng"] == "portable"
    # Other random draws, other k-means centres; the same classes found.
    assert reference._core != portable._core
    assert reference.score(X, y) > 0.95
    # Exact updates: rows added in batches give the head fitted at once.
    grown = ImprintClassifier(k=4, rng="reference")
    for part in np.array_split(np.arange(len(y)), 3):
        grown.partial_fit(X[part], y[part])
    assert grown._core == reference._core
    reference.save(tmp_path / "head.safetensors")
    loaded = imprint_rs.load(tmp_path / "head.safetensors")
    assert loaded.get_params()["rng"] == "reference" and loaded._core == reference._core
