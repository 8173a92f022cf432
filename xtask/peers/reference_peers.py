"""Peers of `cargo xtask bench-peers` that need the reference's own environment.

Usage: python reference_peers.py, driven by cargo xtask bench-peers (see
peer_protocol.py).

Runs in the environment made from scripts/reference_check/requirements.txt
(the reference's pinned torch, NumPy, scikit-learn and scikit-learn-extra),
because scikit-learn-extra has no build for the NumPy of peers.py's
environment. Same cases and measurements as peers.py.
"""

import os
import sys
import time

import numpy as np
import sklearn
import sklearn_extra
from peer_protocol import serve
from sklearn_extra.cluster import KMedoids

THREADS = os.cpu_count() or 1


def kmedoids(case):
    """The reference's call (src/proxy/selection.py): KMedoids(n_clusters=k, random_state=seed)."""
    x = np.load(case["x"])
    ours = set(case["medoids"])
    seconds, fit = [], None
    for _ in range(case["reps"]):
        start = time.perf_counter()
        fit = KMedoids(n_clusters=case["k"], random_state=17121997).fit(x)
        seconds.append(time.perf_counter() - start)
    same = len(ours & set(int(i) for i in fit.medoid_indices_)) / len(ours)
    return [
        {
            "case": case["case"],
            "implementation": "scikit-learn-extra KMedoids",
            "seconds": seconds,
            "quality": {"inertia": float(fit.inertia_), "same medoids %": 100.0 * same},
            "peak_rss_mib": None,
            "note": "euclidean, alternate, heuristic init, max_iter 300 (the reference's call)",
        }
    ]


KINDS = {"kmedoids": kmedoids}


def main():
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    versions = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "scikit-learn-extra": sklearn_extra.__version__,
    }
    serve(KINDS, versions, THREADS)


if __name__ == "__main__":
    main()
