"""Head files from Python as from the command line: atomic writes through
links, kept modes, refused special files, the update lock shared with
``imprint``, and heads that load identically through every door."""

import csv
import fcntl
import json
import os
import stat
import subprocess
import threading
import time

import numpy as np
import pytest

import imprint_rs
from imprint_rs import ImprintClassifier

from helpers import blobs

CLI = os.environ.get("IMPRINT_CLI")
needs_cli = pytest.mark.skipif(
    not CLI and os.environ.get("IMPRINT_REQUIRE_CLI") != "1",
    reason="set IMPRINT_CLI to the imprint binary (target/debug/imprint)",
)


def fitted(seed=0, labels=None):
    X, y = blobs(n_classes=3, seed=seed)
    if labels is not None:
        y = np.asarray(labels, dtype=object)[y]
    return ImprintClassifier(generator="mean").fit(X, y), X


def test_a_link_keeps_pointing_at_its_target_which_is_replaced_with_its_mode(tmp_path):
    clf, X = fitted()
    real = tmp_path / "store" / "real.safetensors"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = tmp_path / "head.safetensors"
    link.symlink_to("store/real.safetensors")
    clf.save(link)
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    np.testing.assert_array_equal(imprint_rs.load(real).predict(X), clf.predict(X))
    assert sorted(os.listdir(tmp_path)) == ["head.safetensors", "store"]
    assert os.listdir(real.parent) == ["real.safetensors"]


def test_a_new_file_follows_the_umask(tmp_path):
    clf, _ = fitted()
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    clf.save(tmp_path / "new.safetensors")
    assert stat.S_IMODE((tmp_path / "new.safetensors").stat().st_mode) == stat.S_IMODE(probe.stat().st_mode)


def test_special_files_are_refused_without_waiting(tmp_path):
    clf, _ = fitted()
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(ValueError, match="FIFO"):
        clf.save(fifo)
    with pytest.raises(ValueError, match="regular file"):
        imprint_rs.load(fifo)
    with pytest.raises(ValueError, match="regular file"):
        imprint_rs.load("/dev/zero")
    with pytest.raises(ValueError, match="folder"):
        clf.save(tmp_path)
    assert time.monotonic() - start < 10
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_json_names_save_json_text_that_loads_back(tmp_path):
    clf, X = fitted(labels=["cat", "dog", "ému"])
    path = tmp_path / "head.json"
    clf.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "imprint-rs head"
    loaded = imprint_rs.load(path)
    assert loaded._core == clf._core
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_save_waits_for_another_writer_and_gives_up_after_wait(tmp_path):
    clf, X = fitted()
    path = tmp_path / "head.safetensors"
    clf.save(path)
    before = path.read_bytes()
    holder = open(path, "rb")
    fcntl.flock(holder, fcntl.LOCK_EX)
    other, _ = fitted(seed=1)
    with pytest.raises(TimeoutError, match="another process is updating"):
        other.save(path, wait=0)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="wait"):
        other.save(path, wait=-1)
    threading.Timer(0.3, holder.close).start()
    start = time.monotonic()
    other.save(path, wait=30)
    assert time.monotonic() - start >= 0.25, "the save waited for the lock"
    assert imprint_rs.load(path)._core == other._core


def test_stale_temporaries_of_killed_writers_are_swept(tmp_path):
    clf, _ = fitted()
    stale = tmp_path / ".head.safetensors.AbC123.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    clf.save(tmp_path / "head.safetensors")
    assert os.listdir(tmp_path) == ["head.safetensors"]


# ------------------------------------------------ every door, one head


def cli(*args):
    out = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def random_labels(rng, n):
    """``n`` distinct labels: integers (negative and huge included), or text
    with accents, emoji, quotes, commas, long runs and leading formula signs."""
    if rng.random() < 0.4:
        return [int(v) for v in rng.choice([-(2**62), -7, 0, 3, 10**12, 2**62], size=n, replace=False)]
    pieces = ["cat", "é", "猫", "🐈‍⬛", '"q"', "a,b", "=SUM(1)", "-x", " sp ", "x" * 300]
    labels = set()
    while len(labels) < n:
        labels.add("".join(rng.choice(pieces, size=rng.integers(1, 4))))
    return sorted(labels)


@needs_cli
@pytest.mark.parametrize("seed", range(8))
def test_heads_written_by_fit_and_add_load_identically_in_python_and_back(tmp_path, seed):
    """Property over seeds: a head the command line writes (fit, then add;
    safetensors or JSON) loads in Python with the same classes and the same
    predictions as the command line's, and Python's save of it reads back in
    the command line with the same predictions."""
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 5))
    labels = random_labels(rng, n_classes + 1)
    X, y = blobs(n_classes=n_classes + 1, dim=8, seed=seed)
    names = np.asarray(labels, dtype=object)[y]
    known = y < n_classes
    first, last, rows = tmp_path / "first.csv", tmp_path / "last.csv", tmp_path / "rows.csv"
    for path, keep in [(first, known), (last, ~known), (rows, np.ones_like(known))]:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([f"f{j}" for j in range(X.shape[1])] + ["label"])
            for row, label in zip(X[keep], names[keep]):
                w.writerow([repr(float(v)) for v in row] + [label])
    suffix = ".json" if seed % 2 else ".safetensors"
    head = tmp_path / f"head{suffix}"
    generator = [["--generator", "mean"], ["--generator", "kmeans", "--k", "2"], ["--generator", "all"]][seed % 3]
    cli("fit", "--train", first, *generator, "--out", head)
    cli("add", "--head", head, "--train", last)
    loaded = imprint_rs.load(head)
    cli_pred = [json.loads(line)["label"] for line in cli("predict", "--head", head, "--input", rows, "--format", "jsonl").splitlines()]
    assert [str(p) for p in loaded.predict(X)] == [str(p) for p in cli_pred]
    again = tmp_path / f"again{suffix}"
    loaded.save(again)
    assert cli("predict", "--head", again, "--input", rows, "--format", "jsonl") == cli(
        "predict", "--head", head, "--input", rows, "--format", "jsonl"
    )
    info = json.loads(cli("inspect", again, "--json"))
    assert info["encoding"] == ("json" if suffix == ".json" else "safetensors")
