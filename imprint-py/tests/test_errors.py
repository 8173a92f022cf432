"""Bad input ends in a Python exception with a useful message, never in a
crash of the interpreter."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import blobs
from sklearn.exceptions import NotFittedError

import imprint_rs
from imprint_rs import ImprintClassifier
from imprint_rs._core import _Classifier

X, Y = blobs(n_classes=3, n_per_class=10, dim=6, seed=0)


@pytest.mark.parametrize(
    "data, match",
    [
        (np.zeros((0, 6), dtype=np.float32), "0 sample"),
        (np.zeros((30, 0), dtype=np.float32), "0 feature"),
        (np.float32(1.0), "scalar array"),
        (np.zeros(30, dtype=np.float32), "1D array"),
        (np.zeros((30, 2, 3), dtype=np.float32), "dim 3"),
        (np.array([["a"] * 6] * 30, dtype=object), "could not convert"),
        (np.full((30, 6), "x"), "could not convert"),
        (np.full((30, 6), 1 + 2j), "Complex data"),
    ],
    ids=["empty", "no-columns", "0-d", "1-d", "3-d", "object", "strings", "complex"],
)
def test_bad_arrays_are_value_errors(data, match):
    y = Y if np.ndim(data) and len(data) == len(Y) else np.zeros(max(np.shape(data)[:1] or (0,)), dtype=int)
    with pytest.raises(ValueError, match=match):
        ImprintClassifier().fit(data, y)
    fitted = ImprintClassifier(generator="mean").fit(X, Y)
    if np.ndim(data) == 2 and data.shape[1] == 6:
        return  # a valid shape for predict
    with pytest.raises(ValueError):
        fitted.predict(data)


@pytest.mark.parametrize("value, name", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_values_are_named_with_row_and_column(value, name):
    bad = X.copy()
    bad[4, 2] = value
    with pytest.raises(ValueError, match=rf"non-finite value \({name}\) at row 4, column 2"):
        ImprintClassifier().fit(bad, Y)
    with pytest.raises(ValueError, match=rf"\({name}\) at row 4, column 2"):
        ImprintClassifier(generator="mean").fit(bad, Y)
    fitted = ImprintClassifier(generator="mean").fit(X, Y)
    for method in (fitted.predict, fitted.predict_proba, fitted.decision_function):
        with pytest.raises(ValueError, match=rf"queries holds a non-finite value \({name}\) at row 4, column 2"):
            method(bad)
    # float64 beyond float32's range becomes infinity, and says so.
    big = X.astype(np.float64)
    big[1, 1] = 1e300
    with pytest.raises(ValueError, match=r"\(inf\) at row 1, column 1"):
        fitted.predict(big)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(generator="kmeans++"), "unknown proxy generator 'kmeans\\+\\+'; known: all, random, mean"),
        (dict(pre_norm="l1"), "unknown input normalization 'l1'"),
        (dict(post_norm="l3"), "unknown weight normalization 'l3'"),
        (dict(input_norm="zscore"), "unknown input normalization 'zscore'"),
        (dict(aggregation="vote"), "unknown aggregation method 'vote'"),
        (dict(distance="hamming"), "unknown distance 'hamming'"),
        (dict(aggregation="mnn", m=3, weighting="gauss"), "unknown weighting 'gauss'"),
        (dict(zero_vectors="drop"), "unknown zero-vector policy 'drop'"),
        (dict(rng="torch"), "unknown rng mode 'torch'; known: portable, reference"),
        (dict(aggregation="mnn"), "needs m"),
        (dict(m=3), "m applies to aggregation 'mnn' only"),
        (dict(weighting="weighted_by_distance"), "weighting applies to aggregation 'mnn' only"),
        (dict(aggregation="mnn", m=0), "m must be at least 1"),
        (dict(k=0), "k must be at least 1"),
        (dict(k=-5), "k must be at least 1"),
        (dict(k=2.5), "k must be a positive int"),
        (dict(k="20"), "k must be a positive int"),
        (dict(k=2**64), "k must be below 2\\*\\*63"),
        (dict(aggregation="mnn", m=2**70), "m must be below 2\\*\\*63"),
        (dict(generator=3), "generator must be a string"),
        (dict(random_state=-1), "random_state must be a non-negative"),
        (dict(random_state="seed"), "random_state must be None"),
        (dict(reject_tpr=0.0), "reject_tpr must be a float in"),
        (dict(reject_tpr=1.5), "reject_tpr must be a float in"),
        (dict(ridge=0.1), "'kmeans' has no ridge parameter"),
        (dict(generator="kls", k=2), "needs a ridge parameter lambda"),
        (dict(generator="ls", ridge=-1.0), "lambda"),
    ],
)
def test_bad_parameters_are_value_errors_with_the_librarys_message(params, match):
    with pytest.raises(ValueError, match=match):
        ImprintClassifier(**params).fit(X, Y)


def test_bad_labels_and_shapes():
    with pytest.raises(ValueError, match="Unknown label type"):
        ImprintClassifier().fit(X, np.linspace(0, 1, len(Y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ImprintClassifier().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="one sortable kind|Unknown label type"):
        ImprintClassifier().fit(X, np.array([1, "a"] * 15, dtype=object))
    fitted = ImprintClassifier(generator="mean").fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :4])
    with pytest.raises(NotFittedError):
        ImprintClassifier().predict(X)
    with pytest.raises(NotFittedError):
        ImprintClassifier().save("never.safetensors")


def test_zero_vectors_follow_the_policy():
    Z = X.copy()
    Z[5] = 0.0
    kept = ImprintClassifier(generator="mean").fit(Z, Y)  # "keep": like the reference
    assert kept.predict(Z).shape == Y.shape
    with pytest.raises(ValueError, match="row 5 is an all-zero vector"):
        ImprintClassifier(generator="mean", zero_vectors="reject").fit(Z, Y)
    with pytest.raises(ValueError, match="all-zero vector"):
        ImprintClassifier(zero_vectors="reject").fit(Z, Y)
    strict = ImprintClassifier(generator="mean", zero_vectors="reject").fit(X, Y)
    with pytest.raises(ValueError, match="queries .*row 5 is an all-zero vector"):
        strict.predict(Z)


def test_rejection_needs_two_rows_in_some_class():
    with pytest.raises(ValueError, match="every class has one sample"):
        ImprintClassifier(reject_tpr=0.9).fit(X[:3], [0, 1, 2])


def test_functions_reject_bad_input():
    with pytest.raises(ValueError, match="cannot make 40 clusters from n = 30"):
        imprint_rs.kmeans(X, 40)
    with pytest.raises(ValueError, match="k must be a positive int"):
        imprint_rs.kmeans(X, 0)
    with pytest.raises(ValueError, match="non-finite"):
        imprint_rs.kmeans(np.full((5, 2), np.nan), 2)
    with pytest.raises(ValueError, match="2D array"):
        imprint_rs.kmeans(np.zeros(5), 2)
    with pytest.raises(ValueError, match="at least two classes"):
        imprint_rs.neural_collapse(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="one label per row"):
        imprint_rs.neural_collapse(X, Y[:-2])
    with pytest.raises(ValueError, match="unknown centering"):
        imprint_rs.neural_collapse(X, Y, centering="global")


def test_the_private_core_checks_its_input_too():
    core = ImprintClassifier()._new_core(6)
    with pytest.raises(TypeError):
        core.fit(X.astype(np.float64), Y.astype(np.int64), [0, 1, 2])
    with pytest.raises(ValueError, match="not below"):
        core.partial_fit(X, Y.astype(np.int64), [0, 1])
    with pytest.raises(ValueError, match="negative"):
        core.fit(X, -Y.astype(np.int64) - 1, [0, 1, 2])
    with pytest.raises(ValueError, match="only 2 classes"):
        core.fit(X, Y.astype(np.int64), [0, 1])
    with pytest.raises(ValueError, match="str or 64-bit integers"):
        core.fit(X, Y.astype(np.int64), [0.5, 1, 2])
    with pytest.raises(ValueError, match="no class imprinted"):
        core.predict(X)
    with pytest.raises(ValueError, match="saved head"):
        _Classifier.from_bytes(b"\x00" * 64)
    assert (core == "not a classifier") is False


def test_hostile_calls_do_not_crash_the_interpreter():
    """Each call runs in a fresh interpreter: any exception is fine, a
    segfault or abort (a negative return code) is not."""
    calls = [
        "ImprintClassifier().fit(np.empty((0, 0), np.float32), [])",
        "ImprintClassifier().fit(np.zeros((1, 1), np.float32), [0])",
        "ImprintClassifier(k=10**30).fit(np.ones((4, 2), np.float32), [0, 0, 1, 1])",
        "ImprintClassifier(aggregation='mnn', m=10**30, generator='all', k=None).fit(np.ones((4, 2), np.float32), [0, 0, 1, 1])",
        "ImprintClassifier(random_state=2**64).fit(np.ones((4, 2), np.float32), [0, 0, 1, 1])",
        "ImprintClassifier().fit(np.ones((4, 2), np.float32), np.array([2**63, 1, 1, 1], dtype=np.uint64))",
        "imprint_rs.kmeans(np.ones((3, 2), np.float32), 3)",
        "imprint_rs.kmeans(np.float32([[3e38, 0], [-3e38, 0], [0, 1]]), 2)",
        "imprint_rs.neural_collapse(np.zeros((4, 3), np.float32), [0, 0, 1, 1])",
        "imprint_rs._core._Classifier.from_bytes(bytes(range(256)) * 50)",
        "imprint_rs._core.kmeans(np.ones((3, 2), np.float32), 2**62, 0)",
        "imprint_rs._core.neural_collapse(np.ones((3, 2), np.float32), np.array([0, 5, 1]), 2, 'paper')",
    ]
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import imprint_rs
        from imprint_rs import ImprintClassifier
        for i, call in enumerate(json.loads(sys.argv[1])):
            print("start", i, flush=True)
            try:
                exec(call)
            except Exception as e:
                print(type(e).__name__, e, flush=True)
        print("done", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(calls)], capture_output=True, text=True, timeout=300
    )
    started = [line for line in done.stdout.splitlines() if line.startswith("start")]
    last = calls[len(started) - 1] if started else None
    assert done.returncode == 0, (last, done.returncode, done.stderr[-2000:])
    assert done.stdout.rstrip().endswith("done") and len(started) == len(calls)
    assert "PanicException" not in done.stdout + done.stderr
