"""One estimator shared by threads: writers (fit, partial_fit,
calibrate_temperature) beside readers (predict, predict_proba,
decision_function). Every output must be that of one of the models the
writers publish, computed beforehand, and no call may raise."""

import sys
import threading
import time

import numpy as np
import pytest
from helpers import blobs

from imprint_rs import ImprintClassifier

#: Seconds each hammering test runs its threads.
SECONDS = 1.5
READERS = 3
#: The interpreter's thread switch interval while hammering: short, so that
#: threads interleave at many more points than the default 5 ms allows.
SWITCH_INTERVAL = 1e-5

X, Y = blobs(n_classes=6, n_per_class=12, dim=8, seed=3)
QUERIES = X[::3].copy()


def _outputs(clf):
    """What the readers compute, for comparison."""
    return {
        "predict": clf.predict(QUERIES),
        "predict_proba": clf.predict_proba(QUERIES),
        "decision_function": clf.decision_function(QUERIES),
    }


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def _hammer(clf, write_steps, expected, unexpected_error=None):
    """Runs ``write_steps`` in a loop in one writer thread and the readers
    beside it for ``SECONDS``; returns (outputs checked, problems)."""
    stop = threading.Event()
    problems = []
    checked = [0] * READERS

    def writer():
        try:
            while not stop.is_set():
                for step in write_steps:
                    step(clf)
        except Exception as e:  # noqa: BLE001 - every exception is a failure
            problems.append(f"writer: {type(e).__name__}: {e}")
            stop.set()

    def reader(r):
        methods = list(expected[0])
        i = 0
        while not stop.is_set():
            method = methods[i % len(methods)]
            i += 1
            try:
                out = getattr(clf, method)(QUERIES)
            except Exception as e:  # noqa: BLE001
                if unexpected_error is None or not unexpected_error(e):
                    problems.append(f"{method}: {type(e).__name__}: {e}")
                    stop.set()
                continue
            if not any(_same(out, model[method]) for model in expected):
                problems.append(f"{method}: an output of no model: {out!r}")
                stop.set()
            checked[r] += 1

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(r,)) for r in range(READERS)
    ]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        for t in threads:
            t.start()
        time.sleep(SECONDS)
        stop.set()
        for t in threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a thread hangs"
    finally:
        sys.setswitchinterval(interval)
    return sum(checked), problems


def test_fit_beside_readers_gives_outputs_of_one_model():
    # Two models whose classes differ (labels and count), so that a label
    # table of one with the head of the other shows.
    first = (X[Y < 4], Y[Y < 4] * 10)
    second = (X[Y >= 1], Y[Y >= 1] * 10 + 5)
    expected = [_outputs(ImprintClassifier(generator="mean").fit(*data)) for data in (first, second)]
    clf = ImprintClassifier(generator="mean").fit(*first)
    steps = [lambda c: c.fit(*second), lambda c: c.fit(*first)]
    checked, problems = _hammer(clf, steps, expected)
    assert not problems, problems[:5]
    assert checked > 100


def test_partial_fit_and_calibration_beside_readers_give_outputs_of_one_model():
    # The writer's cycle: fit on classes 0-2, add class 3 (a new class),
    # add shots to class 0, calibrate the temperature (changes the
    # probabilities only). Each step's model, in order, computed beforehand.
    base = Y < 3
    new = Y == 3
    steps = [
        lambda c: c.fit(X[base][:24], Y[base][:24]),
        lambda c: c.partial_fit(X[new], Y[new]),
        lambda c: c.partial_fit(X[base][24:], Y[base][24:]),
        lambda c: c.calibrate_temperature(X[Y <= 3], Y[Y <= 3]),
    ]
    reference = ImprintClassifier()
    expected = []
    for step in steps:
        step(reference)
        expected.append(_outputs(reference))
    assert reference._core.temperature() != 1.0
    clf = ImprintClassifier()
    steps[0](clf)
    checked, problems = _hammer(clf, steps, expected)
    assert not problems, problems[:5]
    assert checked > 100


def test_a_refit_to_another_width_is_checked_against_the_model_that_predicts():
    """While the writer alternates between 8 and 5 features, a reader with
    8-feature rows either gets the 8-feature model's outputs or the
    scikit-learn error naming the 5 features of the model it met, never an
    error of a head of one width checked against the other's."""
    narrow = (np.ascontiguousarray(X[:, :5]), Y)
    expected = [_outputs(ImprintClassifier(generator="mean").fit(X, Y))]
    clf = ImprintClassifier(generator="mean").fit(X, Y)
    steps = [lambda c: c.fit(*narrow), lambda c: c.fit(X, Y)]

    def refused_by_the_narrow_model(e):
        return isinstance(e, ValueError) and "is expecting 5 features" in str(e)

    checked, problems = _hammer(clf, steps, expected, refused_by_the_narrow_model)
    assert not problems, problems[:5]
    assert checked > 10


def test_concurrent_writers_lose_no_update():
    """Threads adding different classes at once each block until the
    others are done; every class added is in the final model."""
    # generator "all": a class's proxies are its rows, so they count its updates.
    clf = ImprintClassifier(generator="all", k=None).fit(X[Y == 0], Y[Y == 0])
    labels = [1, 2, 3, 4, 5]
    problems = []
    start = threading.Barrier(len(labels))

    def add(label):
        start.wait()
        try:
            for _ in range(20):
                clf.partial_fit(X[Y == label][:2], Y[Y == label][:2])
        except Exception as e:  # noqa: BLE001
            problems.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=add, args=(label,)) for label in labels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not problems, problems[:5]
    assert clf.classes_.tolist() == [0, 1, 2, 3, 4, 5]
    # 20 updates of 2 rows each reached every class.
    assert clf.n_proxies_.tolist() == [12] + [40] * 5


def test_fitted_attributes_are_those_of_the_model_that_predicts():
    clf = ImprintClassifier(generator="mean").fit(X, Y)
    assert clf.n_proxies_.tolist() == [1] * 6
    with pytest.raises(ValueError, match="read-only"):
        clf.classes_[0] = 99
    with pytest.raises(AttributeError):
        clf.classes_ = np.arange(3)
    assert clf.classes_.tolist() == list(range(6))
