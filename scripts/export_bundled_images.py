#!/usr/bin/env python3
"""Write the 3,300 images of the bundled data set (data/README.md) as PNG files,
OUT/{Dataset}/{train|test}/{class}/{row:04d}.png, where row is the image's row in
data/embeddings/{Dataset}/efficientnet_lite0/{split}/*.h5. The selection is the seeded
one of scripts/extract_embeddings.py; PNG keeps the pixels exactly.

Used by the by-hand comparison of imprint-embed with the bundled (Python) embeddings:
    .venv-embed/bin/python scripts/export_bundled_images.py target/bundled-images
    cargo run --release -p imprint-embed --example compare_bundled -- \\
        --weights "$IMPRINT_EFFICIENTNET_LITE0_PTH" --images target/bundled-images
Needs: apt-get install -y dataset-fashion-mnist; scripts/requirements-embed.txt.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_embed_fixtures import bundled  # noqa: E402


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = Path(sys.argv[1])
    n = bundled(out, per_class=-1)
    print(f"wrote {n} images under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
