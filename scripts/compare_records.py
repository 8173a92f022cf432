#!/usr/bin/env python3
"""Compare two folders of result records, combination by combination.

Checks that both folders hold the same record ids and that every record has
the same accuracy and per-class F1 (bit for bit unless --tolerance is given).
Timing fields (runtime, total_GEN_time, created_at) are ignored. Exit code 0
when everything agrees, 1 otherwise. Python standard library only.

    python3 scripts/compare_records.py BASELINE/records NEW/records
    python3 scripts/compare_records.py A B --tolerance 0.05   # points, per record
"""

import argparse
import json
import sys
from pathlib import Path

IGNORED = {"runtime", "total_GEN_time", "created_at"}


def load(folder: Path) -> dict:
    records = {}
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):
            continue
        with open(path, encoding="utf-8") as f:
            records[path.stem] = json.load(f)
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.0, help="allowed |accuracy difference| in points")
    args = parser.parse_args()
    a, b = load(args.baseline), load(args.new)
    problems = []
    for only, side in ((set(a) - set(b), "baseline"), (set(b) - set(a), "new")):
        for rid in sorted(only):
            problems.append(f"{rid}: only in the {side} folder")
    worst = 0.0
    for rid in sorted(set(a) & set(b)):
        ra, rb = a[rid], b[rid]
        diff = abs(ra["task_acc"] - rb["task_acc"])
        worst = max(worst, diff)
        if diff > args.tolerance:
            problems.append(f"{rid}: task_acc {ra['task_acc']} vs {rb['task_acc']} ({ra['proxy_method']}, k={ra['k']}, seed {ra['seed']})")
        other = sorted(k for k in set(ra) | set(rb) if k not in IGNORED | {"task_acc"} and ra.get(k) != rb.get(k))
        if other and args.tolerance == 0.0:
            problems.append(f"{rid}: fields differ: {', '.join(other)}")
    print(f"{len(set(a) & set(b))} records in both folders, largest |accuracy difference| {worst:.6g} points")
    for p in problems[:50]:
        print(p)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
