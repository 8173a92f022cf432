"""Fit plus predict from Python at the paper's scale: imprint_rs against
scikit-learn and the reference implementation's imprinting path.

    python imprint-py/bench/bench_peers.py [--reference-src DIR] [--json OUT] [--quick]

Data: seeded synthetic embeddings, 60,000 x 512 training rows (10 classes of
6,000, four modes per class) and 10,000 queries, float32 (what a frozen
backbone gives). Every case fits on the training rows and predicts the
queries, starting from the same NumPy arrays; times are wall clock, median
over repetitions (one repetition for cases slower than 10 s), everything in
one process on the same machine. Prints a Markdown section for
BENCHMARKS.md; --json writes every number.

The reference's path ("ImprintedModel") is the runner of DATEXIS/IMPRINT
for one task: per class a boolean mask, L2 normalization
(`x / torch.norm(x)`), `select_proxies` (`torch.mean`, or scikit-learn
`KMeans(n_clusters=k, random_state=seed)`), `ImprintedModel.extend_ws`
(`F.normalize`), then `ImprintedModel.forward` (`F.normalize`, matmul, max
per class) and argmax. With torch installed and --reference-src pointing at
the reference's `src/` (not part of this repository: `git archive` of
DATEXIS/IMPRINT), its own `ImprintedModel` and `select_proxies` run;
otherwise the same operations in NumPy and scikit-learn, labelled so.
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import types

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from threadpoolctl import threadpool_info

import imprint_rs

SEED = 17121997


def make_data(n_classes, per_class, n_queries, dim, modes, seed=0):
    """Classes of several Gaussian modes; queries drawn like the training rows."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes * modes, dim)).astype(np.float32)

    def draw(n):
        y = rng.integers(0, n_classes, size=n)
        mode = rng.integers(0, modes, size=n)
        x = centres[y * modes + mode] + 4.0 * rng.standard_normal(size=(n, dim), dtype=np.float32)
        return np.ascontiguousarray(x, dtype=np.float32), y

    x_train, y_train = draw(n_classes * per_class)
    x_test, y_test = draw(n_queries)
    return x_train, y_train, x_test, y_test


def sklearn_case(make):
    def run(x, y, q):
        return make().fit(x, y).predict(q)

    return run


def numpy_mean_argmax(x, y, q):
    """The floor a practitioner writes by hand: class means and an argmax of inner products."""
    classes = np.unique(y)
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    return classes[(q @ means.T).argmax(axis=1)]


def reference_case(method, k, src):
    """The reference's imprinting path for one task (see the module docstring)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = None
    if torch is not None and src is not None:
        # The reference imports its modules as `src.<package>`.
        sys.path.insert(0, os.path.dirname(os.path.abspath(src)))
        if "sklearn_extra" not in sys.modules and importlib.util.find_spec("sklearn_extra") is None:
            # selection.py imports scikit-learn-extra's KMedoids at module
            # level; mean and k-means never call it. A stand-in that fails
            # loudly if called.
            class KMedoids:
                def __init__(self, *args, **kwargs):
                    raise RuntimeError("scikit-learn-extra is not installed (not needed for mean and k-means)")

            cluster = types.ModuleType("sklearn_extra.cluster")
            cluster.KMedoids = KMedoids
            package = types.ModuleType("sklearn_extra")
            package.cluster = cluster
            sys.modules.update({"sklearn_extra": package, "sklearn_extra.cluster": cluster})
        from src.models.model import ImprintedModel
        from src.proxy.selection import select_proxies

        def run(x, y, q):
            x_t, y_t, q_t = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(q)
            labels = torch.unique(y_t)
            model = ImprintedModel(
                normalize_input_data="l2",
                normalize_weights="l2",
                aggregation_method="max",
                aggregation_distance_function="inner_product",
                embedding_size=x.shape[1],
            )
            model.extend_num_classes(len(labels))
            with torch.no_grad():
                for c, label in enumerate(labels):
                    rows = x_t[y_t == label]
                    rows = rows / torch.norm(rows, p=2, dim=1, keepdim=True)
                    model.extend_ws(data=select_proxies(rows, method=method, k=k, seed=SEED), class_index=c)
                scores = model(q_t)
            return labels[scores.argmax(dim=0)].numpy()

        return run, f"reference ImprintedModel, {method}" + (f" k={k}" if method == "kmeans" else ""), (
            f"torch {torch.__version__}: the reference's ImprintedModel and select_proxies"
        )

    def run(x, y, q):
        labels = np.unique(y)
        proxies, owner = [], []
        for c, label in enumerate(labels):
            rows = x[y == label]
            rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
            if method == "mean":
                p = rows.mean(axis=0, keepdims=True)
            else:
                p = KMeans(n_clusters=k, random_state=SEED).fit(rows).cluster_centers_.astype(np.float32)
            proxies.append(p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12))
            owner += [c] * len(p)
        w = np.vstack(proxies)
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        activations = qn @ w.T
        owner = np.asarray(owner)
        scores = np.stack([activations[:, owner == c].max(axis=1) for c in range(len(labels))], axis=1)
        return labels[scores.argmax(axis=1)]

    note = "no torch here: the reference's operations in NumPy and scikit-learn"
    return run, f"reference path (NumPy), {method}" + (f" k={k}" if method == "kmeans" else ""), note


def measure(run, data, repeats):
    x, y, q, yq = data
    times, predicted = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        predicted = run(x, y, q)
        times.append(time.perf_counter() - start)
        if times[-1] > 10.0:
            break
    return {"median_s": statistics.median(times), "runs": len(times), "accuracy": float(np.mean(predicted == yq))}


def machine():
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = [f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()]
    try:
        import torch

        torch_info = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_info = "torch not installed"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "rayon_threads": int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count())),
        "blas": blas,
        "torch": torch_info,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "imprint_rs": imprint_rs.__version__,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-src", help="the reference's src/ folder (uses its ImprintedModel with torch)")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tenth of the paper's scale, to try it out")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    data = make_data(n_classes=10, per_class=6000 // scale, n_queries=10000 // scale, dim=512, modes=4)
    n, d = data[0].shape
    ref_mean, ref_mean_name, ref_note = reference_case("mean", 1, args.reference_src)
    ref_kmeans, ref_kmeans_name, _ = reference_case("kmeans", 20, args.reference_src)
    cases = [
        ("imprint_rs ImprintClassifier, mean", "mean",
         sklearn_case(lambda: imprint_rs.ImprintClassifier(generator="mean")), "L2 / mean / L2 / L2 / max"),
        ("imprint_rs ImprintClassifier, kmeans k=20", "kmeans",
         sklearn_case(lambda: imprint_rs.ImprintClassifier()), "the paper's L2 / k-means (k = 20) / L2 / L2 / max"),
        ("scikit-learn NearestCentroid", None, sklearn_case(NearestCentroid), "defaults (euclidean, no normalization)"),
        ("scikit-learn KNeighborsClassifier 1-nn", None,
         sklearn_case(lambda: KNeighborsClassifier(n_neighbors=1, algorithm="brute")), "algorithm='brute'"),
        ("scikit-learn KNeighborsClassifier 5-nn", None,
         sklearn_case(lambda: KNeighborsClassifier(n_neighbors=5, algorithm="brute")), "algorithm='brute'"),
        (ref_mean_name, "mean", ref_mean, ref_note),
        (ref_kmeans_name, "kmeans", ref_kmeans, ref_note + "; KMeans(n_clusters=20, random_state=seed)"),
        ("NumPy mean and argmax", "mean", numpy_mean_argmax, "hand-written: class means, inner products, argmax"),
    ]
    results = []
    for name, family, run, note in cases:
        result = measure(run, data, args.repeats)
        result.update(name=name, family=family, note=note)
        results.append(result)
        print(f"{name}: {result['median_s']:.4f} s, accuracy {result['accuracy']:.4f}", file=sys.stderr)
    info = machine()
    ours = {r["family"]: r["median_s"] for r in results if r["name"].startswith("imprint_rs")}
    lines = [
        f"Fit plus predict from Python, {n:,} x {d} training rows (10 classes, four modes each), "
        f"{len(data[2]):,} queries, float32; median of up to {args.repeats} runs (one for cases over 10 s). "
        f"`python imprint-py/bench/bench_peers.py"
        + (" --reference-src <DATEXIS/IMPRINT>/src" if args.reference_src else "")
        + "`.",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores; imprint_rs on {info['rayon_threads']} rayon threads, "
        f"BLAS: {', '.join(info['blas']) or 'none loaded'}; {info['torch']}. "
        f"Python {info['python']}, NumPy {info['numpy']}, scikit-learn {info['scikit-learn']}.",
        "",
        "| implementation | fit + predict s | x mean imprint | x k-means imprint | accuracy | runs | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['median_s']:.4f} | {r['median_s'] / ours['mean']:.1f} | "
            f"{r['median_s'] / ours['kmeans']:.2f} | {100 * r['accuracy']:.2f} % | {r['runs']} | {r['note']} |"
        )
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "shape": [n, d], "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
