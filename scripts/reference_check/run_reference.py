#!/usr/bin/env python3
"""Run the reference's own code on the bundled embeddings and record its accuracies.

    python3 scripts/reference_check/run_reference.py --reference PATH_TO_IMPRINT_CHECKOUT

PATH_TO_IMPRINT_CHECKOUT is a checkout of the reference implementation
(https://github.com/DATEXIS/IMPRINT). The script

  1. creates a virtual environment (default .venv-reference) from
     requirements.txt beside it (the reference's versions of torch, numpy,
     scikit-learn, scikit-learn-extra, scipy, h5py) if it is missing, and
     re-runs itself in it;
  2. imports the reference's runner (src/experiments/runner.py) from the
     checkout. Packages the runner imports but never calls on this path
     (wandb, transformers, torchvision, rasterio, pandas, tqdm, requests,
     python-dotenv, Pillow: logging, image data sets and backbones) are
     replaced by empty stand-ins when they are not installed; touching one
     would fail loudly;
  3. for every task of the bundled data (data/, the task families of
     imprint-bench/presets.rs) loads it with the runner's own `load_data`
     and runs every configuration below for the paper's three seeds through
     the runner's own `run_combination` (wandb off). That function calls
     set_all_seeds, the per-class NORMpre, prefilter_data, select_proxies /
     compute_*least_squares_weights, ImprintedModel and its accuracy and F1
     in the reference's order; nothing here reimplements them;
  4. writes accuracies and per-class F1 scores to
     tests/fixtures/reference_check.json, which tests/tests/reference_exact.rs
     compares with imprint-rs's reference RNG mode (CI needs no Python).

`--make-rng-fixtures` instead runs make_rng_fixtures.py in the same
environment. `--combinations FILE.json --out OUT.json` instead runs the given
combinations (a JSON list of records or combinations in the reference's
format, e.g. imprint-rs's records of a paper-scale run; `cargo xtask
bench-grid --reference` writes one) on `--data`, and writes each one's
accuracy and wall time, data loading excluded. About 10 minutes on 2 cores (5.6 GB of wheels on first use).
The bundled backbone has no lambda in the reference; the ls/kls
configurations use imprint-rs's BUNDLED_LAMBDA (0.01), added to the
runner's table for this run.
"""

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SEEDS = [17121997, 123987, 12412312]
BACKBONE = "efficientnet_lite0"
LAMBDA = 0.01  # imprint_bench::presets::BUNDLED_LAMBDA

# The task families of imprint-bench/src/presets.rs.
TASKS = []
for _ds in ["FashionMNIST", "MNIST5k", "Digits"]:
    TASKS.append({"name": f"{_ds}/plain", "datasets": [_ds], "mapping_name": "none", "mapping": {},
                  "split": list(range(10))})
    TASKS.append({"name": f"{_ds}/2in1", "datasets": [_ds], "mapping_name": "2in1",
                  "mapping": {0: 0, 5: 0, 1: 1, 6: 1, 2: 2, 7: 2, 3: 3, 8: 3, 4: 4, 9: 4},
                  "split": [0, 1, 2, 3, 4]})
    TASKS.append({"name": f"{_ds}/5in1", "datasets": [_ds], "mapping_name": "5in1",
                  "mapping": {0: 0, 2: 0, 4: 0, 6: 0, 8: 0, 1: 1, 3: 1, 5: 1, 7: 1, 9: 1}, "split": [0, 1]})
_combined = {}
for _d in range(10):
    _combined[_d] = _d
    _combined[10 + _d] = _d
TASKS.append({"name": "MNIST5k+Digits/combined", "datasets": ["MNIST5k", "Digits"], "mapping_name": "combined",
              "mapping": _combined, "split": list(range(10))})


def config(name, proxy, k=1, pre="l2", post="l2", inf="l2", presampling="all", quantiles=(0, 1.0), fewshot=-1):
    return {"name": name, "normalize_for_proxy_selection": pre, "proxy_method": proxy, "k": k,
            "normalize_weights": post, "normalize_input_data": inf, "presampling_method": presampling,
            "presampling_quantiles_value": list(quantiles), "presampling_fewshot_value": fewshot,
            "aggregation_method": "max", "aggregation_distance_function": "inner_product",
            "aggregation_weighting": "uniform", "m": -1}


# The paper's configurations that draw random numbers, and a few deterministic ones.
CONFIGS = [
    config("l2/mean/l2/l2/max", "mean"),
    config("l2/kmedoids k=5/l2/l2/max", "kmedoids", k=5),
    config("none/ls/none/none/max", "ls", pre="none", post="none", inf="none"),
    config("none/mean/quantile/none/max", "mean", pre="none", post="quantile", inf="none"),
    config("l2/kmeans k=5/l2/l2/max", "kmeans", k=5),
    config("l2/kmeans k=20/l2/l2/max", "kmeans", k=20),
    config("l2/random k=5/l2/l2/max", "random", k=5),
    config("l2/random k=20/l2/l2/max", "random", k=20),
    config("l2/fps k=5/l2/l2/max", "fps", k=5),
    config("l2/fps k=20/l2/l2/max", "fps", k=20),
    config("l2/none k=5/l2/l2/max", "none", k=5),
    config("none/kls k=5/none/none/max", "kls", k=5, pre="none", post="none", inf="none"),
    config("10-shot l2/mean/l2/l2/max", "mean", fewshot=10),
    config("50-shot l2/mean/l2/l2/max", "mean", fewshot=50),
    config("10-shot l2/kmeans k=5/l2/l2/max", "kmeans", k=5, fewshot=10),
    config("50-shot l2/kmeans k=5/l2/l2/max", "kmeans", k=5, fewshot=50),
    config("weibull (0.05, 0.95) l2/mean/l2/l2/max", "mean", presampling="weibull", quantiles=(0.05, 0.95)),
    config("weibull (0.05, 0.95) 10-shot l2/kmeans k=5/l2/l2/max", "kmeans", k=5, presampling="weibull",
           quantiles=(0.05, 0.95), fewshot=10),
]

# Imported by the runner's modules, never called on the path used here.
UNUSED_PACKAGES = ["wandb", "transformers", "torchvision", "rasterio", "pandas", "tqdm", "requests", "dotenv",
                   "PIL"]


def ensure_environment(args):
    """Re-runs this script in the pinned virtual environment, creating it if needed."""
    venv = os.path.abspath(args.venv)
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    if not os.path.exists(python):
        print(f"[setup] creating {venv} from {HERE}/requirements.txt (first use: several minutes)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", os.path.join(HERE, "requirements.txt")],
                       check=True)
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


class _Anything(type):
    """A stand-in class: any attribute is another stand-in, so module-level
    references (`ResNet18_Weights.IMAGENET1K_V1`, `class MNISTM(VisionDataset)`)
    import; calling one returns it."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything(name, (), {})

    def __call__(cls, *args, **kwargs):
        return cls


class _StubModule(types.ModuleType):
    __path__ = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything(name, (), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots):
        self.roots = set(roots)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module):
        pass


def import_runner(reference):
    missing = [p for p in UNUSED_PACKAGES if importlib.util.find_spec(p) is None]
    sys.meta_path.insert(0, _StubFinder(missing))
    sys.path.insert(0, os.path.abspath(reference))
    from src.experiments import runner  # noqa: E402  (the reference's code)

    runner.backbone_lambda_regs.setdefault(BACKBONE, LAMBDA)
    return runner, missing


def combination(task, cfg, seed):
    keys = {k: v for k, v in cfg.items() if k != "name"}
    return {**keys, "backbone_name": BACKBONE, "dataset_name": list(task["datasets"]),
            "mapping": dict(task["mapping"]), "mapping_name": task["mapping_name"], "seed": seed,
            "task_name": "all", "task_splits": [list(task["split"])]}


# The 19 input keys of a record (the rest are results).
COMBINATION_KEYS = [
    "aggregation_distance_function", "aggregation_method", "aggregation_weighting", "backbone_name",
    "dataset_name", "k", "m", "mapping", "mapping_name", "normalize_for_proxy_selection", "normalize_input_data",
    "normalize_weights", "presampling_fewshot_value", "presampling_method", "presampling_quantiles_value",
    "proxy_method", "seed", "task_name", "task_splits",
]


def run_listed(runner, args, device, versions):
    """Runs every combination of --combinations through the reference's run_combination, timed."""
    listed = json.load(open(args.combinations))
    results = []
    loaded = {}  # the runner's loader per task, loaded once (as run_combinations does)
    with tempfile.TemporaryDirectory() as res_dir:
        for i, record in enumerate(listed):
            comb = {key: record[key] for key in COMBINATION_KEYS}
            comb["mapping"] = {int(k): v for k, v in comb["mapping"].items()}
            task = json.dumps([comb["backbone_name"], comb["dataset_name"], sorted(comb["mapping"].items()),
                               comb["task_splits"]])
            if task not in loaded:
                loaded[task] = runner.load_data(
                    comb["backbone_name"], comb["dataset_name"], comb["mapping"], comb["task_splits"], args.data,
                    True, device, False)
            loader, embedding_size = loaded[task]
            start = time.perf_counter()
            runner.run_combination(loader, comb["dataset_name"], embedding_size, False, res_dir, device, True, False,
                                   comb)
            seconds = time.perf_counter() - start
            results.append({**{key: comb[key] for key in COMBINATION_KEYS if key != "mapping"},
                            "task_acc": comb["task_acc"], "seconds": seconds})
            print(f"[{i + 1}/{len(listed)}] {comb['proxy_method']} k={comb['k']} {comb['aggregation_method']} "
                  f"{comb['aggregation_distance_function']}: {comb['task_acc']:.2f} % in {seconds:.1f} s",
                  file=sys.stderr, flush=True)
    out = {"generated_by": "scripts/reference_check/run_reference.py --combinations",
           "reference_commit": reference_commit(args.reference), "versions": versions,
           "torch_threads": args.threads, "results": results}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, args.out)


def reference_commit(reference):
    try:
        out = subprocess.run(["git", "-C", reference, "rev-parse", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", help="checkout of DATEXIS/IMPRINT")
    parser.add_argument("--data", default=os.path.join(REPO, "data"), help="embeddings root (default: data/)")
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "reference_check.json"))
    parser.add_argument("--venv", default=os.path.join(REPO, ".venv-reference"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--make-rng-fixtures", action="store_true", help="run make_rng_fixtures.py instead")
    parser.add_argument("--combinations", help="JSON list of combinations to run and time instead of the fixture")
    args = parser.parse_args()
    ensure_environment(args)
    if args.make_rng_fixtures:
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, os.path.join(HERE, "make_rng_fixtures.py")])
    if not args.reference:
        parser.error("--reference PATH (a checkout of DATEXIS/IMPRINT) is required")

    import numpy as np
    import scipy
    import sklearn
    import torch

    torch.set_num_threads(args.threads)
    runner, stubbed = import_runner(args.reference)
    device = torch.device("cpu")
    if args.combinations:
        run_listed(runner, args, device, {"python": sys.version.split()[0], "torch": torch.__version__,
                                          "numpy": np.__version__, "scikit-learn": sklearn.__version__})
        return
    results = []
    start = time.time()
    with tempfile.TemporaryDirectory() as res_dir:
        for task in TASKS:
            loader, embedding_size = runner.load_data(
                BACKBONE, task["datasets"], task["mapping"], [task["split"]], args.data, True, device, False)
            for cfg in CONFIGS:
                for seed in SEEDS:
                    comb = combination(task, cfg, seed)
                    runner.run_combination(loader, task["datasets"], embedding_size, False, res_dir, device,
                                           True, False, comb)
                    results.append({"config": cfg["name"], "task": task["name"], "seed": seed,
                                    "acc": comb["task_acc"],
                                    "f1": [round(v, 6) for v in comb["task_f1s"]["one-vs-rest-f1"]],
                                    "gen_seconds": round(comb["total_GEN_time"], 4)})
            print(f"[{time.time() - start:7.1f} s] {task['name']}: {len(CONFIGS) * len(SEEDS)} combinations",
                  file=sys.stderr)
    fixture = {
        "generated_by": "scripts/reference_check/run_reference.py",
        "reference_commit": reference_commit(args.reference),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                     "scikit-learn": sklearn.__version__, "scipy": scipy.__version__},
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "stubbed_unused_packages": stubbed,
        "backbone": BACKBONE,
        "lambda": LAMBDA,
        "seeds": SEEDS,
        "tasks": TASKS,
        "configs": CONFIGS,
        "seconds": round(time.time() - start, 1),
        "results": results,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(fixture, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out}: {len(results)} results in {fixture['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
