"""Peers of `cargo xtask bench-peers` that need the reference's own environment.

Usage: python reference_peers.py PLAN.json OUT.json

Runs in the environment made from scripts/reference_check/requirements.txt
(the reference's pinned torch, NumPy, scikit-learn and scikit-learn-extra),
because scikit-learn-extra has no build for the NumPy of peers.py's
environment. Same plan and output format as peers.py.
"""

import json
import os
import sys
import time

import numpy as np
import sklearn
import sklearn_extra
import threadpoolctl
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
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plan = json.load(open(sys.argv[1]))
    results = []
    with threadpoolctl.threadpool_limits(THREADS):
        for case in plan["cases"]:
            print(case["case"], file=sys.stderr, flush=True)
            for m in KINDS[case["kind"]](case):
                print(f"  {m['implementation']:<40} {np.median(m['seconds']):9.4f} s", file=sys.stderr, flush=True)
                results.append(m)
    versions = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "scikit-learn-extra": sklearn_extra.__version__,
    }
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"versions": versions, "measurements": results}, f)
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
