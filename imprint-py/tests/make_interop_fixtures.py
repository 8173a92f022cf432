"""Regenerates the Python side of the cross-front-door fixtures:

* fixtures/interop_data.json: a small seeded data set (training rows with
  string and integer labels, queries) and what the Python-saved head
  predicts for the queries;
* fixtures/python_head.safetensors: a head fitted and saved from Python.

    python imprint-py/tests/make_interop_fixtures.py    # from the repository root

and, with ``--cli IMPRINT`` (the path of a built ``imprint`` binary, e.g.
``target/debug/imprint``), only fixtures/cli_head.json: the JSON text head
that ``imprint fit --out cli_head.json`` writes from the same rows
(``CLI_FIT`` below), which test_interop.py loads.

The Rust test imprint/tests/python_interop.rs loads the Python head, checks
its predictions and that Rust fits the same head from the same data; it also
checks fixtures/rust_head.safetensors, which it writes itself when run with
IMPRINT_REGENERATE_FIXTURES=1. test_interop.py does the reverse.
"""

import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from imprint_rs import ImprintClassifier

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
PYTHON_HEAD = dict(generator="kmeans", k=4, random_state=7, reject_tpr=0.9)
#: The options of ``imprint fit`` that wrote fixtures/cli_head.json.
CLI_FIT = ["--generator", "kmeans", "--k", "3", "--seed", "5", "--target-tpr", "0.8"]


def data():
    rng = np.random.default_rng(2024)
    centres = rng.normal(size=(3, 8))
    codes = np.repeat(np.arange(3), 12)
    x = (centres[codes] + 0.4 * rng.normal(size=(36, 8))).astype(np.float32)
    queries = np.concatenate(
        [centres + 0.3 * rng.normal(size=(3, 8)), 3.0 * rng.normal(size=(3, 8))]
    ).astype(np.float32)
    return x, codes, queries


def main():
    x, codes, queries = data()
    text = np.array(["ant", "bee", "cat"])[codes]
    clf = ImprintClassifier(**PYTHON_HEAD).fit(x, text)
    clf.save(FIXTURES / "python_head.safetensors")
    fixture = {
        "x": x.tolist(),
        "text_labels": text.tolist(),
        "int_labels": (codes * 10 + 1).tolist(),
        "queries": queries.tolist(),
        "python_head": {
            "params": PYTHON_HEAD,
            "predict": clf.predict(queries).tolist(),
            "predict_open": [None if v == "unknown" else v for v in clf.predict_open(queries).tolist()],
        },
    }
    (FIXTURES / "interop_data.json").write_text(json.dumps(fixture, indent=1) + "\n")
    print("wrote", FIXTURES / "python_head.safetensors", "and", FIXTURES / "interop_data.json")


def cli_head(imprint):
    """Writes fixtures/cli_head.json with ``imprint fit`` on the data's
    training rows and text labels (a CSV with a ``label`` column)."""
    x, codes, _ = data()
    text = np.array(["ant", "bee", "cat"])[codes]
    with tempfile.TemporaryDirectory() as tmp:
        train = pathlib.Path(tmp) / "train.csv"
        lines = [",".join([f"f{j}" for j in range(x.shape[1])] + ["label"])]
        # repr of a float32 as a Python float reads back as the same float32.
        lines += [",".join([repr(float(v)) for v in row] + [label]) for row, label in zip(x, text)]
        train.write_text("\n".join(lines) + "\n")
        out = FIXTURES / "cli_head.json"
        subprocess.run(
            [imprint, "fit", "--train", str(train), "--out", str(out), "--force", *CLI_FIT], check=True
        )
    print("wrote", out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cli"]:
        cli_head(sys.argv[2])
    else:
        main()
