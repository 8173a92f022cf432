"""Python peers of `cargo xtask bench-peers`.

Usage: python peers.py, driven by cargo xtask bench-peers (see peer_protocol.py).

cargo xtask bench-peers sends the cases one at a time, each right after
measuring ours on it; a case's inputs are .npy files. Every case runs here with
the libraries the reference implementation (DATEXIS/IMPRINT) and the wider
Python stack use: scikit-learn, faiss-cpu, torch and numpy, each on all cores.
The answer is one measurement per peer: wall-clock seconds of every repetition
and quality figures computed the same way for every implementation (inertia in
float64 from the returned centres, accuracy, agreement with our predictions).
"""

import os
import sys
import time

import numpy as np

THREADS = os.cpu_count() or 1

import faiss  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from peer_protocol import serve  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

torch.set_num_threads(THREADS)
faiss.omp_set_num_threads(THREADS)


def timed(reps, f):
    seconds, out = [], None
    for _ in range(reps):
        start = time.perf_counter()
        out = f()
        seconds.append(time.perf_counter() - start)
    return seconds, out


def measurement(case, implementation, seconds, quality=None, note=""):
    return {
        "case": case["case"],
        "implementation": implementation,
        "seconds": seconds,
        "quality": {k: float(v) for k, v in (quality or {}).items()},
        "peak_rss_mib": None,
        "note": note,
    }


def inertia(x64, centres):
    """Sum of squared distances to the nearest centre, float64."""
    c = np.asarray(centres, dtype=np.float64)
    d = (x64**2).sum(1)[:, None] - 2.0 * x64 @ c.T + (c**2).sum(1)[None, :]
    labels = d.argmin(1)
    return float(((x64 - c[labels]) ** 2).sum())


def kmeans(case):
    x = np.load(case["x"])
    x64 = x.astype(np.float64)
    n, d = x.shape
    k, reps = case["k"], case["reps"]
    runs = {"ref": ([], [], []), "init": ([], [], []), "faiss": ([], [], []), "faiss_same": ([], [], [])}
    for seed, init_path, our_iters in zip(case["seeds"], case["init"], case["iterations"]):
        # The reference's call (src/proxy/selection.py).
        t, km = timed(reps, lambda: KMeans(n_clusters=k, random_state=seed).fit(x))
        runs["ref"][0].extend(t), runs["ref"][1].append(inertia(x64, km.cluster_centers_)), runs["ref"][2].append(km.n_iter_)
        # Lloyd from our k-means++ centres: an iteration-matched comparison.
        init = x[np.load(init_path)]
        t, km = timed(reps, lambda: KMeans(n_clusters=k, init=init, n_init=1).fit(x))
        runs["init"][0].extend(t), runs["init"][1].append(inertia(x64, km.cluster_centers_)), runs["init"][2].append(km.n_iter_)
        # faiss with every point used (by default it subsamples to 256 per centroid).

        def train():
            f = faiss.Kmeans(d, k, niter=25, seed=seed, max_points_per_centroid=n, verbose=False)
            f.train(x)
            return f

        t, f = timed(reps, train)
        runs["faiss"][0].extend(t), runs["faiss"][1].append(inertia(x64, f.centroids)), runs["faiss"][2].append(25)

        # The same work as ours: faiss's Lloyd from our k-means++ centres, as many
        # iterations as ours took on this seed.
        def train_same():
            f = faiss.Kmeans(d, k, niter=our_iters, seed=seed, max_points_per_centroid=n, verbose=False)
            f.train(x, init_centroids=init)
            return f

        t, f = timed(reps, train_same)
        runs["faiss_same"][0].extend(t)
        runs["faiss_same"][1].append(inertia(x64, f.centroids))
        runs["faiss_same"][2].append(our_iters)
    names = {
        "ref": ("scikit-learn KMeans", "KMeans(n_clusters=k, random_state=seed), the reference's call"),
        "init": ("scikit-learn KMeans (our init)", "Lloyd from our k-means++ centres"),
        "faiss": ("faiss Kmeans", "niter=25 (default), random init, max_points_per_centroid=n"),
        "faiss_same": (
            "faiss Kmeans (our init, our iterations)",
            "init_centroids = our k-means++ centres, niter = our iterations, max_points_per_centroid=n",
        ),
    }
    return [
        measurement(case, names[key][0], t, {"inertia": np.mean(i), "iterations": np.mean(it)}, names[key][1])
        for key, (t, i, it) in runs.items()
    ]


def load_agg(case):
    return (
        np.load(case["proxies"]),
        np.load(case["proxy_labels"]),
        np.load(case["queries"]),
        np.load(case["query_labels"]),
        np.load(case["reference_predictions"]),
    )


def agg_quality(pred, truth, ours):
    return {"accuracy %": 100.0 * np.mean(pred == truth), "agreement with ours %": 100.0 * np.mean(pred == ours)}


def vote(neighbour_classes, n_classes):
    votes = np.zeros((neighbour_classes.shape[0], n_classes))
    np.add.at(votes, (np.arange(neighbour_classes.shape[0])[:, None], neighbour_classes), 1.0)
    return votes.argmax(1)


def mnn(case):
    p, pl, q, ql, ours = load_agg(case)
    m, c, reps = case["m"], case["n_classes"], case["reps"]
    metric = case.get("metric", "euclidean")

    def sk():
        # The reference's call is NearestNeighbors(metric=...) with algorithm
        # "auto", which is brute force above 15 dimensions.
        _, idx = NearestNeighbors(n_neighbors=m, algorithm="brute", metric=metric).fit(p).kneighbors(q)
        return vote(pl[idx], c)

    def fa():
        if metric == "euclidean":
            index = faiss.IndexFlatL2(p.shape[1])
        else:
            index = faiss.IndexFlat(p.shape[1], {"manhattan": faiss.METRIC_L1, "chebyshev": faiss.METRIC_Linf}[metric])
        index.add(p)
        _, idx = index.search(q, m)
        return vote(pl[idx], c)

    def th():
        # torch.cdist by blocks of 1,000 queries (bounded memory), then topk.
        pt = torch.from_numpy(p)
        order = {"euclidean": 2.0, "manhattan": 1.0, "chebyshev": float("inf")}[metric]
        blocks = [
            torch.cdist(torch.from_numpy(q[i : i + 1000]), pt, p=order).topk(m, largest=False).indices
            for i in range(0, len(q), 1000)
        ]
        return vote(pl[torch.cat(blocks).numpy()], c)

    faiss_name = "faiss IndexFlatL2" if metric == "euclidean" else f"faiss IndexFlat ({metric})"
    peers = [
        ("scikit-learn NearestNeighbors (brute)", sk, "fit + kneighbors + uniform vote"),
        (faiss_name, fa, "exact search + uniform vote"),
    ]
    if metric != "euclidean":
        peers.append(("torch cdist + topk", th, "blocks of 1,000 queries + uniform vote"))
    out = []
    for name, f, note in peers:
        t, pred = timed(reps, f)
        out.append(measurement(case, name, t, agg_quality(pred, ql, ours), note))
    return out


def max_agg(case):
    p, pl, q, ql, ours = load_agg(case)
    c, reps = case["n_classes"], case["reps"]
    assert np.all(np.diff(pl) >= 0), "proxies are grouped by class"
    per = len(pl) // c

    def with_torch():
        s = torch.from_numpy(q) @ torch.from_numpy(p).T
        return s.view(len(q), c, per).amax(-1).argmax(1).numpy()

    def with_numpy():
        return (q @ p.T).reshape(len(q), c, per).max(-1).argmax(1)

    out = []
    for name, f in [("torch", with_torch), ("numpy", with_numpy)]:
        t, pred = timed(reps, f)
        out.append(measurement(case, name, t, agg_quality(pred, ql, ours), "scores, per-class max, argmax"))
    return out


def ls_weights(classes, lam):
    """The reference's compute_least_squares_weights, in float32 torch."""
    n_classes, dim = len(classes), classes[0].shape[1]
    total = sum(len(x) for x in classes)
    mu = torch.zeros(dim)
    for x in classes:
        mu += x.sum(dim=0)
    mu /= total
    means = torch.zeros((dim, n_classes))
    for i, x in enumerate(classes):
        means[:, i] = x.mean(dim=0)
    sigma = torch.zeros((dim, dim))
    for x in classes:
        centred = x - mu.unsqueeze(0)
        sigma += centred.T @ centred
    sigma /= total
    inverse = torch.inverse(sigma + torch.outer(mu, mu) + lam * torch.eye(dim))
    return (means.T @ inverse) * (1.0 / n_classes)


def split(x, labels):
    return [torch.from_numpy(np.ascontiguousarray(x[labels == c])) for c in np.unique(labels)]


def head_accuracy(weights, weight_classes, test, test_labels):
    scores = test @ weights.T
    n_classes = int(weight_classes.max()) + 1
    best = np.full((len(test), n_classes), -np.inf)
    for c in range(n_classes):
        best[:, c] = scores[:, weight_classes == c].max(1)
    return 100.0 * np.mean(best.argmax(1) == test_labels)


def ls(case):
    x, labels = np.load(case["x"]), np.load(case["labels"])
    test, test_labels = np.load(case["test"]), np.load(case["test_labels"])
    ours = np.load(case["reference_weights"]).astype(np.float64)
    classes = split(x, labels)
    t, w = timed(case["reps"], lambda: ls_weights(classes, case["lambda"]))
    w = w.numpy()
    rel = np.linalg.norm(w - ours) / np.linalg.norm(ours)
    acc = head_accuracy(w, np.arange(len(classes)), test, test_labels)
    return [measurement(case, "torch (reference formula)", t, {"accuracy %": acc, "relative difference to ours": rel}, "float32, torch.inverse")]


def kls(case):
    x, labels = np.load(case["x"]), np.load(case["labels"])
    test, test_labels = np.load(case["test"]), np.load(case["test_labels"])
    k = case["k"]

    def fit(seed):
        pseudo, owner = [], []
        for c in np.unique(labels):
            xc = x[labels == c]
            assignment = KMeans(n_clusters=k, random_state=seed).fit(xc).labels_
            for j in range(k):
                pseudo.append(torch.from_numpy(np.ascontiguousarray(xc[assignment == j])))
                owner.append(c)
        return ls_weights(pseudo, case["lambda"]).numpy(), np.array(owner)

    seconds, acc = [], 0.0
    for seed in case["seeds"]:
        t, (w, owner) = timed(case["reps"], lambda: fit(seed))
        seconds.extend(t)
        acc += head_accuracy(w, owner, test, test_labels) / len(case["seeds"])
    return [measurement(case, "scikit-learn KMeans + torch", seconds, {"accuracy %": acc}, "per-class KMeans(random_state=seed), one LS over pseudo-classes; mean accuracy over the seeds")]


def nc1(case):
    x, labels = np.load(case["x"]), np.load(case["labels"])

    def paper_formula():
        out = torch.from_numpy(x).double()
        out = out / out.norm(dim=1, keepdim=True)
        lab = torch.from_numpy(labels)
        classes = torch.unique(lab)
        mu_g = out.mean(0)
        dim, c = out.shape[1], len(classes)
        sigma_w = torch.zeros((dim, dim), dtype=torch.float64)
        means = torch.zeros((c, dim), dtype=torch.float64)
        for i, cl in enumerate(classes):
            xc = out[lab == cl]
            means[i] = xc.mean(0)
            centred = xc - means[i]
            sigma_w += centred.T @ centred / len(xc)
        sigma_w /= c
        between = means - mu_g
        sigma_b = between.T @ between / c
        nc1_value = torch.trace(sigma_w @ torch.linalg.pinv(sigma_b, hermitian=True)).item() / c
        vci = 1 - torch.trace(sigma_b @ torch.linalg.pinv(sigma_w + sigma_b, hermitian=True)).item() / torch.linalg.matrix_rank(sigma_b, hermitian=True).item()
        return nc1_value, vci

    t, (value, vci) = timed(1, paper_formula)
    return [measurement(case, "torch (paper formula, float64)", t, {"NC1": value, "VCI": vci}, "pinv by eigendecomposition")]


KINDS = {"kmeans": kmeans, "mnn": mnn, "max": max_agg, "ls": ls, "kls": kls, "nc1": nc1}


def main():
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    versions = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "faiss-cpu": faiss.__version__,
        "torch": torch.__version__,
    }
    serve(KINDS, versions, THREADS)


if __name__ == "__main__":
    main()
