#!/usr/bin/env python3
"""Expected values for imprint-rs's ports of the reference's random draws.

Writes tests/fixtures/reference_rng.json from the reference's pinned versions
(torch 2.2.2, numpy 1.26.4, scikit-learn 1.5.2, scipy 1.14.1; see
requirements.txt beside this file), for tests/tests/reference_rng.rs:

  * MT19937 raw outputs (numpy's RandomState, the same engine torch seeds);
  * torch: randperm, randint (32- and 64-bit draws), uniform_, xavier_uniform_,
    and one generator consumed by a mixed sequence of them;
  * numpy RandomState: random_sample, uniform, randint (32- and 64-bit masked
    rejection), choice with float32 weights;
  * scikit-learn's k-means++ initial centres (_kmeans_plusplus, as KMeans
    calls it) and KMeans centres on a small data set;
  * torch.arange quantile levels and torch.quantile in float32;
  * scipy.stats.weibull_min.fit and ppf on float32 samples, with numpy's
    default kernels and with its AVX-512 kernels disabled (see weibull_cases).

Run it with the environment run_reference.py creates:

    python3 scripts/reference_check/run_reference.py --make-rng-fixtures

Values are written exactly: float32 values as their float64 decimal, float64
as repr (both round-trip). torch's float32 `uniform_` uses a fused multiply-add
on AVX2/AVX-512 CPUs; the script records the CPU capability it ran with.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import scipy
import sklearn
import torch
from scipy.stats import weibull_min
from sklearn.cluster import KMeans
from sklearn.cluster._kmeans import _kmeans_plusplus
from sklearn.utils.extmath import row_norms

SEEDS = [0, 1, 5489, 17121997, 123987, 12412312, 2**32 - 1]


def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def sampled(values, every=5):
    """Long arrays are kept as every `every`-th value (the file stays small)."""
    return {"every": every, "values": values[::every]}


def mt19937():
    out = {}
    for seed in SEEDS:
        rs = np.random.RandomState(seed)
        out[str(seed)] = [int(v) for v in rs.randint(0, 2**32, size=1000, dtype=np.uint64)]
    # Keep the file small: first 8 and every 97th of the first 1000.
    return {k: {"first": v[:8], "every_97th": v[::97]} for k, v in out.items()}


def torch_draws():
    cases = {}
    randperm = []
    for seed in [0, 17121997, 123987, 12412312, 2**32 + 7]:
        for n in [1, 2, 5, 80, 160, 400] + ([1000] if seed == 0 else []):
            torch.manual_seed(seed)
            randperm.append({"seed": seed, "n": n, "perm": torch.randperm(n).tolist()})
    cases["randperm"] = randperm
    randint = []
    for seed in [0, 17121997, 123987]:
        for high in [1, 3, 80, 401, 2**31 + 11, 2**32 + 5, 2**40 + 3]:
            torch.manual_seed(seed)
            randint.append({"seed": seed, "high": high, "values": torch.randint(high, (6,)).tolist()})
    cases["randint"] = randint
    uniform = []
    for seed, lo, hi in [(0, -0.3, 0.7), (17121997, -0.0684, 0.0684), (5, 2.0, 3.5), (9, -1e-3, 1e-3)]:
        torch.manual_seed(seed)
        uniform.append({"seed": seed, "from": lo, "to": hi, "values": f32list(torch.empty(64).uniform_(lo, hi))})
    cases["uniform"] = uniform
    xavier = []
    for seed, rows, cols in [(0, 3, 7), (17121997, 5, 40), (123987, 1, 1), (12412312, 2, 1280)]:
        torch.manual_seed(seed)
        w = torch.empty(rows, cols)
        torch.nn.init.xavier_uniform_(w)
        xavier.append({"seed": seed, "rows": rows, "cols": cols, **sampled(f32list(w), 1 if w.numel() < 300 else 7)})
    cases["xavier"] = xavier
    # One generator consumed by the reference's calls in a row.
    torch.manual_seed(17121997)
    seq = {
        "seed": 17121997,
        "randperm_80_head_10": torch.randperm(80)[:10].tolist(),
        "randperm_160": torch.randperm(160).tolist(),
        "randint_80": torch.randint(80, (1,)).item(),
        "xavier_2_16": f32list(torch.nn.init.xavier_uniform_(torch.empty(2, 16))),
        "randperm_7": torch.randperm(7).tolist(),
    }
    cases["sequence"] = seq
    return cases


def numpy_draws():
    out = []
    for seed in SEEDS:
        rs = np.random.RandomState(seed)
        sample = [float(v) for v in rs.random_sample(5)]
        uniform = [float(v) for v in rs.uniform(size=5)]
        small = [int(v) for v in rs.randint(0, 10, size=8)]
        signed = [int(v) for v in rs.randint(-5, 1000, size=8)]
        wide = [int(v) for v in rs.randint(0, 2**40, size=4)]
        n = 80
        w = np.ones(n, dtype=np.float32)
        choice = int(rs.choice(n, p=w / w.sum()))
        out.append({
            "seed": seed, "random_sample": sample, "uniform": uniform, "randint_0_10": small,
            "randint_m5_1000": signed, "randint_0_2p40": wide, "choice_80_f32": choice,
        })
    return out


def kmeans_data():
    rng = np.random.default_rng(20240607)
    centres = rng.normal(size=(5, 4)) * 3.0
    x = (centres[np.arange(90) % 5] + rng.normal(size=(90, 4))).astype(np.float32)
    return x


def kmeans_cases():
    x = kmeans_data()
    xc = x - x.mean(axis=0)
    norms = row_norms(xc, squared=True)
    weight = np.ones(x.shape[0], dtype=np.float32)
    cases = []
    for seed in [0, 17121997, 123987, 12412312]:
        for k in [2, 5, 9, 20]:
            _, init = _kmeans_plusplus(xc, k, norms, weight, np.random.RandomState(seed))
            km = KMeans(n_clusters=k, random_state=seed).fit(x)
            cases.append({
                "seed": seed, "k": k, "init": [int(i) for i in init],
                "centres": f32list(km.cluster_centers_), "n_iter": int(km.n_iter_),
                "inertia": float(km.inertia_),
            })
    return {"x": f32list(x), "rows": int(x.shape[0]), "cols": int(x.shape[1]), "cases": cases}


def quantile_ref(count):
    # Deterministic in any language: exact float64 rationals rounded to float32.
    i = np.arange(count, dtype=np.float64)
    return ((((i * 7919) % 10007) / 10007 - 0.5) * 0.1).astype(np.float32)


def quantile_cases():
    levels = {}
    for n in [4, 7, 20, 49, 100, 1280, 2048]:
        values = f32list(torch.arange(0, 1, 1 / n, dtype=torch.float32) + 1 / (2 * n))
        levels[str(n)] = {"len": len(values), **sampled(values, 1 if n <= 100 else 5)}
    quantiles = []
    for dim, count in [(7, 17), (20, 100), (33, 663), (1280, 6400), (1280, 25603)]:
        ref = torch.from_numpy(quantile_ref(count))
        q = torch.arange(0, 1, 1 / dim, dtype=torch.float32) + 1 / (2 * dim)
        values = f32list(torch.quantile(ref, q))
        quantiles.append({"dim": dim, "count": count, **sampled(values, 1 if dim <= 100 else 5)})
    return {"levels": levels, "quantiles": quantiles}


def weibull_data():
    samples = []
    rng = np.random.default_rng(7)
    for shape, loc, scale, n in [(1.5, 0.3, 0.2, 30), (2.5, 0.5, 0.1, 80), (4.0, 0.1, 0.4, 160),
                                 (0.9, 0.0, 1.0, 400), (8.0, 1.0, 0.05, 80)]:
        x = (rng.weibull(shape, size=n) * scale + loc).astype(np.float32)
        samples.append(("weibull", x))
    # Left-skewed data (skewness below -1.14): SciPy's generic start.
    x = (1.0 - rng.exponential(0.1, size=120)).astype(np.float32)
    samples.append(("left_skewed", x))
    # Distances from a class mean of normalized Gaussian vectors, like the reference's input.
    v = rng.normal(size=(80, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    d = np.linalg.norm(v - v.mean(axis=0), axis=1).astype(np.float32)
    samples.append(("distances", d))
    return samples


WEIBULL_QUANTILES = [0.0, 0.05, 0.5, 0.95]


def weibull_fits():
    """weibull_min.fit and ppf of every sample, as JSON, with this process's numpy kernels."""
    out = []
    for kind, x in weibull_data():
        params = weibull_min.fit(x)
        out.append({
            "shape": float(params[0]), "loc": float(params[1]), "scale": float(params[2]),
            "ppf": [float(weibull_min.ppf(q, *params)) for q in WEIBULL_QUANTILES],
        })
    return out


def weibull_cases():
    """The fits with numpy's default kernels and with its AVX-512 kernels disabled.

    On AVX-512 CPUs numpy 1.26 evaluates the float32 `power` of the
    log-likelihood with SIMD code (SVML) that rounds some values differently
    from the C library, which moves Nelder-Mead's path: SciPy's own fit then
    depends on the CPU. The baseline run (no AVX-512) is what imprint-rs
    reproduces to the last bit.
    """
    import numpy.core._multiarray_umath as umath

    avx512 = [f for f, on in umath.__cpu_features__.items() if on and f.startswith("AVX512")]
    default = weibull_fits()
    if avx512:
        env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=" ".join(avx512))
        run = subprocess.run([sys.executable, __file__, "--weibull-json"], env=env, check=True,
                             capture_output=True, text=True)
        baseline = json.loads(run.stdout)
    else:
        baseline = default
    cases = []
    for (kind, x), fit, base in zip(weibull_data(), default, baseline):
        cases.append({"kind": kind, "data": f32list(x), "default": fit, "baseline": base})
    return {"quantiles": WEIBULL_QUANTILES, "avx512_features_of_default": avx512, "cases": cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join("tests", "fixtures", "reference_rng.json"))
    parser.add_argument("--weibull-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.weibull_json:
        print(json.dumps(weibull_fits()))
        return
    torch.set_num_threads(1)
    fixture = {
        "generated_by": "scripts/reference_check/make_rng_fixtures.py",
        "versions": {"torch": torch.__version__, "numpy": np.__version__,
                     "scikit-learn": sklearn.__version__, "scipy": scipy.__version__},
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mt19937": mt19937(),
        "torch": torch_draws(),
        "numpy": numpy_draws(),
        "kmeans": kmeans_cases(),
        "quantile": quantile_cases(),
        "weibull": weibull_cases(),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
