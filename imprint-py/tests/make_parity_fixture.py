"""Regenerates fixtures/parity.json: the accuracies that the experiment
runner (`cargo xtask reproduce`) records for the configurations of
fixtures/parity.yaml on the bundled embeddings.

    python imprint-py/tests/make_parity_fixture.py     # from the repository root

test_parity.py fits ImprintClassifier with the same settings and checks that
it classifies exactly as many test rows correctly.
"""

import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
KEYS = [
    "dataset_name",
    "backbone_name",
    "proxy_method",
    "k",
    "seed",
    "normalize_for_proxy_selection",
    "normalize_weights",
    "normalize_input_data",
    "aggregation_method",
    "aggregation_distance_function",
    "m",
    "aggregation_weighting",
    "presampling_fewshot_value",
    "task_acc",
]


def main():
    with tempfile.TemporaryDirectory() as out:
        command = [
            "cargo",
            "xtask",
            "reproduce",
            "--config",
            str(FIXTURES / "parity.yaml"),
            "--out",
            out,
            "--no-progress",
        ]
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        records = [json.loads(p.read_text()) for p in sorted(pathlib.Path(out, "records").glob("*.json"))]
    if not records:
        sys.exit("the runner wrote no record")
    rows = sorted(
        ({key: r[key] for key in KEYS} for r in records),
        key=lambda r: json.dumps(r, sort_keys=True),
    )
    fixture = {
        "produced_by": "cargo xtask reproduce --config imprint-py/tests/fixtures/parity.yaml "
        "(imprint-py/tests/make_parity_fixture.py)",
        "records": rows,
    }
    (FIXTURES / "parity.json").write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {len(rows)} records to {FIXTURES / 'parity.json'}")


if __name__ == "__main__":
    main()
