"""Accuracy parity with the experiment runner: on the bundled embeddings,
ImprintClassifier classifies exactly as many test rows correctly as
`cargo xtask reproduce` records for the same configuration
(fixtures/parity.json, made by make_parity_fixture.py)."""

import json
import pathlib

import numpy as np
import pytest

from imprint_rs import ImprintClassifier

h5py = pytest.importorskip("h5py", reason="h5py reads the bundled HDF5 embeddings")

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "parity.json").read_text())
RECORDS = FIXTURE["records"]


def _load(dataset, backbone, split):
    path = ROOT / "data" / "embeddings" / dataset / backbone / split / f"embeddings_{dataset}_{backbone}_{split}.h5"
    with h5py.File(path, "r") as f:
        return np.asarray(f["embeddings"], dtype=np.float32), np.asarray(f["labels"])


def _id(record):
    return "{}-{}-k{}-{}-{}-m{}-seed{}".format(
        record["dataset_name"][0],
        record["proxy_method"],
        record["k"],
        record["aggregation_method"],
        record["aggregation_distance_function"],
        record["m"],
        record["seed"],
    )


def test_the_fixture_covers_the_paper_setting_mean_and_mnn():
    settings = {(r["proxy_method"], r["aggregation_method"]) for r in RECORDS}
    assert {("kmeans", "max"), ("mean", "max"), ("kmeans", "mnn"), ("mean", "mnn")} <= settings
    assert {r["dataset_name"][0] for r in RECORDS} == {"FashionMNIST", "MNIST5k", "Digits"}


@pytest.mark.parametrize("record", RECORDS, ids=_id)
def test_accuracy_equals_the_runners(record):
    (dataset,) = record["dataset_name"]
    assert record["presampling_fewshot_value"] == -1, "the fixture uses every training row"
    Xtr, ytr = _load(dataset, record["backbone_name"], "train")
    Xte, yte = _load(dataset, record["backbone_name"], "test")
    clf = ImprintClassifier(
        generator=record["proxy_method"],
        k=record["k"],
        pre_norm=record["normalize_for_proxy_selection"],
        post_norm=record["normalize_weights"],
        input_norm=record["normalize_input_data"],
        aggregation=record["aggregation_method"],
        m=None if record["m"] == -1 else record["m"],
        distance=record["aggregation_distance_function"],
        weighting=record["aggregation_weighting"],
        random_state=record["seed"],
    ).fit(Xtr, ytr)
    correct = int(np.sum(clf.predict(Xte) == yte))
    expected = round(record["task_acc"] / 100 * len(yte))
    assert correct == expected, (correct, expected, record["task_acc"])
    assert clf.score(Xte, yte) * 100 == pytest.approx(record["task_acc"], abs=1e-9)
