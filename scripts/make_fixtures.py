#!/usr/bin/env python3
"""Writes the HDF5 test fixtures of imprint-data (imprint-data/tests/fixtures/) with h5py.

Run once when the fixtures change and commit the output; tests never run Python.
    python scripts/make_fixtures.py [--out imprint-data/tests/fixtures]

Every good file holds the same data: 12 rows, dim 5, embeddings[i, j] = i + j / 10,
labels[i] = i % 3, so the Rust tests can check values exactly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

N, D = 12, 5


def data():
    x = (np.arange(N)[:, None] + np.arange(D)[None, :] / 10.0).astype(np.float32)
    y = (np.arange(N) % 3).astype(np.int32)
    return x, y


def write(path: Path, emb=None, labels=None, **kw):
    with h5py.File(path, "w") as f:
        if emb is not None:
            f.create_dataset("embeddings", data=emb, **kw)
        if labels is not None:
            f.create_dataset("labels", data=labels, **{k: v for k, v in kw.items() if k != "chunks"})
        f.attrs["backbone"] = "fixture"
        f.attrs["seed"] = 7
        f.attrs["scale"] = 0.5


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(Path(__file__).resolve().parent.parent
                                        / "imprint-data" / "tests" / "fixtures"))
    out = Path(p.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    if h5py.version.hdf5_version_tuple < (2, 0, 0):
        sys.exit("needs h5py built with HDF5 >= 2.0 (h5py >= 3.16 wheels) for latest_v200.h5")
    x, y = data()

    # Readable files, in the ways h5py users write them.
    write(out / "contiguous.h5", x, y)
    # Exactly what the reference's EmbeddingExtractor.save_embeddings does.
    with h5py.File(out / "reference_style.h5", "w") as f:
        f.create_dataset("embeddings", data=x, maxshape=(None, D), dtype=np.float32)
        f.create_dataset("labels", data=y, maxshape=(None,), dtype=np.int32)
    write(out / "chunked_gzip.h5", x, y, chunks=(4, D), compression="gzip",
          compression_opts=6, shuffle=True)
    # libver="latest" as h5py wheels with HDF5 1.14 write it (v2 superblock, layout v4,
    # extensible-array / fixed-array chunk indexes, v2 object headers with checksums).
    # HDF5 2.0's "latest" (layout message v5) is written too, to test its clear error.
    for name, libver in (("latest_gzip.h5", "v114"), ("latest_v200.h5", "latest")):
        with h5py.File(out / name, "w", libver=libver) as f:
            f.create_dataset("embeddings", data=x, chunks=(5, D), maxshape=(None, D),
                             compression="gzip")
            f.create_dataset("labels", data=y, chunks=(5,), maxshape=(None,),
                             compression="gzip")
            f.create_dataset("fixed", data=x, chunks=(5, D), compression="gzip")
            f.attrs["backbone"] = "fixture-latest"
            f.attrs["libver"] = str(f.libver)
    # Appended in two steps like the reference does above 1 GB (resized chunked datasets).
    with h5py.File(out / "appended.h5", "w") as f:
        f.create_dataset("embeddings", data=x[:7], maxshape=(None, D), dtype=np.float32)
        f.create_dataset("labels", data=y[:7], maxshape=(None,), dtype=np.int32)
    with h5py.File(out / "appended.h5", "a") as f:
        f["embeddings"].resize(N, axis=0)
        f["embeddings"][7:] = x[7:]
        f["labels"].resize(N, axis=0)
        f["labels"][7:] = y[7:]
    write(out / "labels_int64.h5", x, y.astype(np.int64))
    write(out / "big_endian.h5", x.astype(">f4"), y.astype(">i4"))

    # Malformed files, one problem each.
    write(out / "embeddings_f64.h5", x.astype(np.float64), y)
    write(out / "labels_float.h5", x, y.astype(np.float32))
    write(out / "embeddings_rank1.h5", x.reshape(-1), y)
    write(out / "embeddings_rank3.h5", x.reshape(N, D, 1), y)
    write(out / "labels_rank2.h5", x, y.reshape(N, 1))
    write(out / "length_mismatch.h5", x, y[:-2])
    x_nan = x.copy()
    x_nan[3, 2] = np.nan
    x_nan[5, 0] = np.inf
    write(out / "nan_row.h5", x_nan, y)
    x_inf = x.copy()
    x_inf[8, 4] = -np.inf
    write(out / "inf_row.h5", x_inf, y)
    y_neg = y.copy()
    y_neg[4] = -1
    write(out / "negative_label.h5", x, y_neg)
    write(out / "missing_labels.h5", x, None)
    write(out / "missing_embeddings.h5", None, y)
    write(out / "zero_rows.h5", np.zeros((0, D), np.float32), np.zeros((0,), np.int32))
    with h5py.File(out / "embeddings_group.h5", "w") as f:
        f.create_group("embeddings")
        f.create_dataset("labels", data=y)

    (out / "empty.h5").write_bytes(b"")
    (out / "not_hdf5.h5").write_bytes(b"embeddings,labels\n0.0,1\n")
    good = (out / "chunked_gzip.h5").read_bytes()
    (out / "truncated.h5").write_bytes(good[: len(good) // 2])
    (out / "truncated_tail.h5").write_bytes(good[:-64])
    bad = bytearray(good)
    bad[0:8] = b"\x00" * 8  # destroy the superblock signature
    (out / "corrupt_signature.h5").write_bytes(bytes(bad))
    # Flip bytes inside the first compressed chunk of `embeddings`.
    with h5py.File(out / "chunked_gzip.h5", "r") as f:
        info = f["embeddings"].id.get_chunk_info(0)
    bad = bytearray(good)
    for i in range(info.byte_offset + 4, info.byte_offset + min(info.size, 24)):
        bad[i] ^= 0xFF
    (out / "corrupt_chunk.h5").write_bytes(bytes(bad))
    for p in sorted(out.iterdir()):
        print(f"{p.stat().st_size:8d}  {p.name}")


if __name__ == "__main__":
    main()
