#!/usr/bin/env bash
# Regenerates the bundled data set under data/ (see data/README.md).
# Needs: apt-get install -y dataset-fashion-mnist; pip install -r scripts/requirements.txt
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
COMMON=(--backbone efficientnet_lite0 --root data --train-per-class 80 --test-per-class 30 --seed 0)
for source in fashion-mnist mnist5k digits; do
    "$PY" scripts/extract_embeddings.py --source "$source" "${COMMON[@]}"
done
