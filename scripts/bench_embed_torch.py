#!/usr/bin/env python3
"""Images per second of EfficientNet-Lite in PyTorch (scripts/extract_embeddings.py's
preprocessing and model, after decoding), on the same images and threads as
imprint-embed's `bench_lite0` example; the torch side of BENCHMARKS.md.

    .venv-embed/bin/python scripts/bench_embed_torch.py --images target/bundled-images/FashionMNIST/test --threads 2
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extract_embeddings as ex  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--images", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variant", default="lite0")
    args = p.parse_args()

    import torch
    from PIL import Image

    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    embed, preprocess, _, _ = ex.efficientnet_lite(f"efficientnet_{args.variant}")
    load_s = time.perf_counter() - t
    paths = sorted(q for q in Path(args.images).rglob("*") if q.is_file())
    t = time.perf_counter()
    images = [np.asarray(Image.open(q).convert("RGB")) for q in paths]
    decode_s = time.perf_counter() - t
    with torch.no_grad():
        embed(preprocess(images[: args.batch]))
        best, checksum = float("inf"), 0.0
        for _ in range(args.repeats):
            t = time.perf_counter()
            for lo in range(0, len(images), args.batch):
                e = embed(preprocess(images[lo : lo + args.batch]))
                checksum += float(e[0, 0])
            best = min(best, time.perf_counter() - t)
    print(json.dumps({
        "impl": f"torch {torch.__version__}", "variant": args.variant, "images": len(images),
        "threads": args.threads, "batch": args.batch, "load_s": round(load_s, 3),
        "decode_s": round(decode_s, 3), "embed_s": round(best, 3),
        "images_per_s": round(len(images) / best, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "checksum": round(checksum, 6),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
