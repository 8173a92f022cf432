#!/usr/bin/env python3
"""Checks with h5py that a file written by imprint-data (examples/write_sample.rs) is a
standard reference-layout embedding file. Dev-time check only; Rust tests never run it.

    cargo run -p imprint-data --example write_sample -- /tmp/sample.h5
    python scripts/check_written.py /tmp/sample.h5
"""

import sys

import h5py
import numpy as np

path = sys.argv[1]
with h5py.File(path, "r") as f:
    e, y = f["embeddings"], f["labels"]
    n, d = e.shape
    assert e.dtype == np.float32 and y.dtype == np.int32, (e.dtype, y.dtype)
    assert e.maxshape == (None, d) and y.maxshape == (None,), (e.maxshape, y.maxshape)
    assert e.chunks is not None and e.compression == "gzip" and e.shuffle, e.chunks
    want = np.arange(n)[:, None] + np.arange(d)[None, :] / 10.0
    assert np.array_equal(e[()], want.astype(np.float32))
    assert np.array_equal(y[()], np.arange(n) % 3)
    assert f.attrs["backbone"] == "sample" and f.attrs["seed"] == 7 and f.attrs["scale"] == 0.5
    print(f"ok: {path}: embeddings {e.shape} {e.dtype} chunks {e.chunks} {e.compression}, "
          f"labels {y.shape} {y.dtype}, attrs {dict(f.attrs)}; h5py {h5py.__version__}, "
          f"HDF5 {h5py.version.hdf5_version}")
# Resizing like the reference's append path must work on our files too.
with h5py.File(path, "a") as f:
    f["embeddings"].resize(f["embeddings"].shape[0] + 1, axis=0)
    f["labels"].resize(f["labels"].shape[0] + 1, axis=0)
print("ok: appendable with h5py")
