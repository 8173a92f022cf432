"""Heads cross the door both ways (fixtures/, see make_interop_fixtures.py
and imprint/tests/python_interop.rs): a head saved by Rust loads in Python
and equals the head Python fits from the same rows; the committed
Python-saved head is what this package fits now; a JSON text head written
by the command line loads, with or without a byte order mark, and
unpickles."""

import json
import pathlib
import pickle

import numpy as np
import pytest
from make_interop_fixtures import PYTHON_HEAD

import imprint_rs
from imprint_rs import ImprintClassifier

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
DATA = json.loads((FIXTURES / "interop_data.json").read_text())
X = np.asarray(DATA["x"], dtype=np.float32)
QUERIES = np.asarray(DATA["queries"], dtype=np.float32)


def test_a_head_saved_by_rust_loads_and_equals_the_python_fit():
    loaded = imprint_rs.load(FIXTURES / "rust_head.safetensors")
    np.testing.assert_array_equal(loaded.classes_, [1, 11, 21])
    assert loaded.classes_.dtype == np.int64
    params = loaded.get_params()
    assert (params["generator"], params["aggregation"], params["m"], params["distance"], params["weighting"]) == (
        "mean",
        "mnn",
        3,
        "euclidean",
        "weighted_by_distance",
    )
    assert params["random_state"] == 11 and params["zero_vectors"] == "reject"
    fitted = ImprintClassifier(**params).fit(X, np.asarray(DATA["int_labels"]))
    assert fitted._core == loaded._core
    np.testing.assert_array_equal(loaded.predict(QUERIES), fitted.predict(QUERIES))
    np.testing.assert_array_equal(loaded.predict_proba(QUERIES), fitted.predict_proba(QUERIES))


def test_the_python_head_fixture_is_what_this_package_fits():
    committed = imprint_rs.load(FIXTURES / "python_head.safetensors")
    fitted = ImprintClassifier(**PYTHON_HEAD).fit(X, np.asarray(DATA["text_labels"]))
    assert fitted._core == committed._core, "stale fixture: python imprint-py/tests/make_interop_fixtures.py"
    assert fitted.predict(QUERIES).tolist() == DATA["python_head"]["predict"]
    expected_open = ["unknown" if v is None else v for v in DATA["python_head"]["predict_open"]]
    assert fitted.predict_open(QUERIES).tolist() == expected_open


def test_saved_heads_are_plain_safetensors(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    clf = ImprintClassifier(generator="kmeans", k=3).fit(X, np.asarray(DATA["text_labels"]))
    path = tmp_path / "head.safetensors"
    clf.save(path)
    tensors = load_file(str(path))
    proxies = tensors["proxies"]
    assert proxies.dtype == np.float32 and proxies.shape == (9, X.shape[1])
    np.testing.assert_array_equal(tensors["proxy_counts"], [3, 3, 3])
    # k-means keeps each class's rows for exact updates.
    np.testing.assert_array_equal(tensors["shot_counts"], [12, 12, 12])
    with safe_open(str(path), "np") as f:
        metadata = f.metadata()
    assert metadata["format"] == imprint_rs.FORMAT and int(metadata["version"]) == imprint_rs.VERSION
    header = json.loads(metadata["header"])
    assert header["labels"] == ["ant", "bee", "cat"] and header["dim"] == X.shape[1]
    assert header["recipe"]["generator"] == {"name": "kmeans", "k": 3}
    # The proxies are the L2-normalized k-means centres: unit rows.
    np.testing.assert_allclose(np.linalg.norm(proxies, axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["json", "json-with-bom"])
def test_a_json_head_written_by_the_command_line_loads(tmp_path, bom):
    text = (FIXTURES / "cli_head.json").read_bytes()
    assert text.lstrip().startswith(b"{"), "the fixture is JSON text"
    path = tmp_path / "head.json"
    path.write_bytes(bom + text)
    loaded = imprint_rs.load(path)
    assert loaded.classes_.tolist() == ["ant", "bee", "cat"]
    params = loaded.get_params()
    assert (params["generator"], params["k"], params["random_state"], params["reject_tpr"]) == (
        "kmeans",
        3,
        5,
        0.8,
    )
    # The command line fits through the same library: the Python fit of the
    # same rows with the head's parameters is the same head.
    fitted = ImprintClassifier(**params).fit(X, np.asarray(DATA["text_labels"]))
    assert fitted._core == loaded._core, "stale fixture: make_interop_fixtures.py --cli target/debug/imprint"
    np.testing.assert_array_equal(loaded.predict_proba(QUERIES), fitted.predict_proba(QUERIES))
    np.testing.assert_array_equal(loaded.predict_open(QUERIES), fitted.predict_open(QUERIES))
    # A pickle carries the head's bytes; one carrying the JSON text unpickles too.
    state = loaded.__getstate__()
    state["_core_bytes"] = bom + text
    restored = pickle.loads(pickle.dumps(loaded))
    restored.__setstate__(state)
    assert restored._core == loaded._core
    assert restored.predict(QUERIES).tolist() == loaded.predict(QUERIES).tolist()


def test_a_file_that_is_neither_encoding_says_so(tmp_path):
    path = tmp_path / "head.json"
    path.write_bytes(b"\xef\xbb\xbf[1, 2]")
    with pytest.raises(ValueError, match="saved head") as e:
        imprint_rs.load(path)
    assert "header too large" not in str(e.value)
